"""The README's "Python and GStreamer" section runs as written: its three code blocks (the
`katana synth` clip, the Python example, the gst-launch-1.0 pipeline) are taken from README.md
and run in a scratch folder where `build` and `python` point at this build and checkout, with
the default model. The outputs are checked: one line per frame from Python, one katana-track
message with two objects and one PNG with the drawn boxes per frame from GStreamer."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
CLI = os.environ.get("KAT_CLI") or os.path.join(ROOT, "build", "bin", "katana")
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(CLI)))


def blocks():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("## Python and GStreamer", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


class ReadmeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cwd = cls.tmp.name
        os.symlink(BUILD, os.path.join(cls.cwd, "build"))
        os.symlink(os.path.join(ROOT, "python"), os.path.join(cls.cwd, "python"))
        cls.blocks = blocks()
        env = dict(os.environ)
        env.pop("KATANA_LIBRARY", None)  # as a user runs it: the package finds build/ itself
        env.pop("KATANA_MODEL_DIR", None)
        cls.env = env
        lang, code = cls.blocks[0]
        assert lang == "sh" and "katana synth" in code, cls.blocks[0]
        subprocess.run(["bash", "-e", "-c", code], cwd=cls.cwd, env=env, check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_three_blocks(self):
        self.assertEqual([b[0] for b in self.blocks], ["sh", "python", "sh"])
        self.assertLessEqual(len(self.blocks[1][1].strip().splitlines()), 15)

    def test_python_example(self):
        env = dict(self.env, PYTHONPATH="python")
        p = subprocess.run(["/usr/bin/python3", "-c", self.blocks[1][1]], cwd=self.cwd, env=env,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 61, p.stdout[-2000:])  # 60 frames, then the mask line
        # Two objects per frame: "0 [(1, (x, y, w, h), 'tracked'), (2, ...)]".
        self.assertTrue(lines[0].startswith("0 [(1, ("), lines[0])
        self.assertIn("), (2, (", lines[0])
        self.assertIn("tracked", lines[0])
        self.assertTrue(all(ln.startswith("%d [(1, " % i) for i, ln in enumerate(lines[:60])))
        self.assertRegex(lines[-1], r"^[1-9][0-9]* mask pixels$")

    def test_gst_launch_example(self):
        if not shutil.which("gst-launch-1.0"):
            self.skipTest("gst-launch-1.0 not installed (scripts/bootstrap installs it)")
        if not os.path.exists(os.path.join(BUILD, "gst", "libgstkatana.so")):
            self.skipTest("the katanatrack plugin was not built (no GStreamer dev packages)")
        code = self.blocks[2][1]
        env = dict(self.env, GST_REGISTRY=os.path.join(self.cwd, "registry.bin"))
        p = subprocess.run(["bash", "-e", "-c", code], cwd=self.cwd, env=env,
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        self.assertIn("Got EOS", p.stdout)
        self.assertEqual(p.stdout.count("katana-track, frame=(gint64)"), 60)
        pngs = sorted(n for n in os.listdir(self.cwd) if n.startswith("tracked-"))
        self.assertEqual(len(pngs), 60)
        # The drawn box: the first frame's outline pixels are the overlay's red, not the video's.
        frame = np.asarray(Image.open(os.path.join(self.cwd, pngs[0])).convert("RGB")).astype(int)
        msgs = [ln.replace("\\", "") for ln in p.stdout.splitlines()
                if "katana-track, frame=(gint64)" in ln]
        self.assertTrue(all("count=(int)2," in ln for ln in msgs), msgs[0])
        m = re.search(r"katana-track, frame=\(gint64\)0, .*?id=\(int\)1, x=\(double\)([0-9.]+), "
                      r"y=\(double\)([0-9.]+)", msgs[0])
        x, y = int(float(m.group(1))), int(float(m.group(2)))
        r, g, b = frame[y, x + 3]
        self.assertGreater(r - g, 80, (x, y, frame[y, x + 3]))


if __name__ == "__main__":
    unittest.main()
