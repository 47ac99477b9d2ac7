"""katana batch: manifests (JSONL and CSV, hand-written here), DONE/ERROR markers, resumption
after SIGKILL, shards from --shard and from the Slurm / Kubernetes variables, --jobs, exit
statuses and --report. Runs the committed default model (trained weights) on synthetic clips.
"""
import json
import os
import pty
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

CLI = os.environ.get("KAT_CLI")
SRC = os.environ.get("KAT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(SRC, "models", "default")


def run(args, env=None, **kw):
    e = dict(os.environ)
    for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
              "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX",
              "KATANA_SHARD_COUNT"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([CLI] + args, env=e, capture_output=True, text=True, timeout=600, **kw)


def read(path):
    with open(path) as f:
        return f.read()


@unittest.skipUnless(CLI and os.path.exists(os.path.join(MODEL, "katana.json")),
                     "needs KAT_CLI and models/default")
class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kat-batch-")
        r = run(["synth", "--out", os.path.join(cls.tmp, "clips"), "--count", "3", "--frames", "6",
                 "--size", "128x96", "--mp4"])
        assert r.returncode == 0, r.stderr
        r = run(["synth", "--out", os.path.join(cls.tmp, "long"), "--seed", "5", "--count", "1",
                 "--frames", "150", "--size", "128x96", "--mp4"])
        assert r.returncode == 0, r.stderr
        cls.clip = [os.path.join(cls.tmp, "clips", "train-%03d" % i) for i in range(3)]
        cls.box = [read(os.path.join(c, "groundtruth.txt")).splitlines()[0] for c in cls.clip]
        # A corrupt video: the first 3000 bytes of a real MP4 (no moov atom).
        with open(os.path.join(cls.clip[0], "video.mp4"), "rb") as f:
            head = f.read(3000)
        with open(os.path.join(cls.tmp, "corrupt.mp4"), "wb") as f:
            f.write(head)
        # Relative paths: resolved against the manifest's folder (cls.tmp).
        lines = [
            {"id": "a", "source": "clips/train-000/video.mp4",
             "box": [int(v) for v in cls.box[0].split(",")],
             "groundtruth": "clips/train-000/groundtruth.txt"},
            {"id": "b", "source": "clips/train-001/img", "box": [int(v) for v in
                                                                  cls.box[1].split(",")]},
            {"id": "corrupt", "source": "corrupt.mp4", "box": [1, 1, 10, 10]},
            {"id": "c", "source": os.path.join(cls.clip[2], "video.mp4"),
             "prompts": [{"frame": 0, "obj": 0, "box": [int(v) for v in cls.box[2].split(",")]}],
             "frames": 4},
        ]
        text = "# a comment line, then a blank line\n\n" + "\n".join(json.dumps(l) for l in lines)
        text += '\n{"id": "broken", "source": }\n'
        text += '{"id": "nobox", "source": "clips/train-000/video.mp4", "box": [1, 2, 0, 5]}\n'
        text += '{"id": "a", "source": "clips/train-001/video.mp4", "box": [1, 2, 3, 4]}\n'
        cls.manifest = os.path.join(cls.tmp, "m.jsonl")
        with open(cls.manifest, "w") as f:
            f.write(text)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def batch(self, out, *extra, env=None, manifest=None):
        return run(["batch", manifest or self.manifest, "--model", MODEL, "--out", out,
                    "--quiet"] + list(extra), env=env)

    def test_run_errors_resume_report(self):
        out = os.path.join(self.tmp, "out-main")
        r = self.batch(out)
        # Failures: corrupt video, JSON syntax, a box without area, a duplicate id.
        self.assertEqual(r.returncode, 4, r.stderr)
        for d in ("a", "b", "c"):
            self.assertTrue(os.path.isfile(os.path.join(out, d, "DONE")), d)
        self.assertEqual(len(read(os.path.join(out, "c", "boxes.txt")).splitlines()), 4)
        self.assertIn("KAT_EMEDIA", read(os.path.join(out, "corrupt", "ERROR")))
        # FFmpeg's own reason is in the message, and none of its log lines on stderr.
        self.assertIn("(FFmpeg: moov atom not found)", read(os.path.join(out, "corrupt", "ERROR")))
        self.assertNotIn("[ffmpeg]", r.stderr)
        self.assertIn("manifest line 7", read(os.path.join(out, "000004", "ERROR")))
        self.assertIn("no area", read(os.path.join(out, "nobox", "ERROR")))
        self.assertIn("also the id of line 3", read(os.path.join(out, "dup-000006", "ERROR")))
        self.assertFalse(os.path.exists(os.path.join(out, "a", "ERROR")))
        done = read(os.path.join(out, "a", "DONE"))
        self.assertIn("frames 6\n", done)
        self.assertIn("mean_iou", done)  # line a has groundtruth
        # The same boxes as katana track for the same clip and box (the shared writer).
        t = run(["track", os.path.join(self.clip[0], "video.mp4"), "--model", MODEL, "--box",
                 self.box[0], "--out", os.path.join(self.tmp, "track-a"), "--quiet"])
        self.assertEqual(t.returncode, 0, t.stderr)
        self.assertEqual(read(os.path.join(self.tmp, "track-a", "boxes.txt")),
                         read(os.path.join(out, "a", "boxes.txt")))
        self.assertEqual(len(read(os.path.join(self.tmp, "track-a", "results.jsonl")).splitlines()),
                         len(read(os.path.join(out, "a", "results.jsonl")).splitlines()))
        # Rerun: done lines are skipped (DONE untouched), failed ones are tried again.
        st = os.stat(os.path.join(out, "a", "DONE"))
        r = self.batch(out)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(os.stat(os.path.join(out, "a", "DONE")).st_mtime_ns, st.st_mtime_ns)
        # A half-written line (as a kill leaves it) is redone from the start.
        os.unlink(os.path.join(out, "b", "DONE"))
        with open(os.path.join(out, "b", "boxes.txt"), "w") as f:
            f.write("1,1,1,1\n")
        r = self.batch(out, "--shard", "1/7")  # index 1 = line b
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(read(os.path.join(out, "b", "boxes.txt")).splitlines()), 6)
        rep = run(["batch", "--report", out])
        self.assertEqual(rep.returncode, 0, rep.stderr)
        self.assertIn("7: 3 done, 4 failed, 0 unfinished", rep.stdout)
        self.assertIn("frames       16", rep.stdout)
        self.assertIn("over 1 lines with groundtruth", rep.stdout)
        self.assertIn("corrupt: KAT_EMEDIA", rep.stdout)

    def results(self, d):
        """Every result file under d: text files as text (results.jsonl without the timings),
        mask PNGs as bytes; DONE, the marker and the lock left out."""
        out = {}
        for root, _, files in os.walk(d):
            for n in files:
                rel = os.path.relpath(os.path.join(root, n), d)
                if n in ("DONE", ".lock", ".katana-track"):
                    continue
                path = os.path.join(root, n)
                if n == "results.jsonl":
                    rows = [json.loads(l) for l in read(path).splitlines()]
                    for row in rows:
                        row.pop("ms", None)
                    out[rel] = rows
                elif n.endswith(".png"):
                    with open(path, "rb") as f:
                        out[rel] = f.read()
                else:
                    out[rel] = read(path)
        return out

    def test_every_prompt_kind_as_katana_track(self):
        """Lines with several objects, a prompts file (a later-frame prompt and one past the
        end), points, and masks give what katana track gives for the same prompts; --jobs 2
        gives what --jobs 1 gives."""
        video = os.path.join(self.clip[0], "video.mp4")
        b0 = [int(v) for v in self.box[0].split(",")]
        b1 = [int(v) for v in self.box[1].split(",")]
        cx, cy = b0[0] + b0[2] // 2, b0[1] + b0[3] // 2
        d = os.path.join(self.tmp, "kinds")
        os.makedirs(d, exist_ok=True)
        # A hand-written prompts file: object 1 appears on frame 2 by points; a correction of
        # object 0 on frame 50 of a 6-frame clip is never applied.
        pfile = os.path.join(d, "prompts.json")
        with open(pfile, "w") as f:
            f.write('[{"frame": 0, "obj": 0, "box": %s},\n'
                    ' {"frame": 2, "obj": 1, "points": [[%d, %d, 1]]},\n'
                    ' {"frame": 50, "obj": 0, "box": %s}]\n' % (b0, cx, cy, b1))
        lines = [
            {"id": "multi", "source": video, "prompts": [{"frame": 0, "obj": 0, "box": b0},
                                                         {"frame": 0, "obj": 1, "box": b1}]},
            {"id": "file", "source": video, "prompts": pfile},
            {"id": "points", "source": video, "points": [[cx, cy, 1], [2, 2, 0]]},
        ]
        m = os.path.join(d, "kinds.jsonl")
        with open(m, "w") as f:
            f.write("".join(json.dumps(l) + "\n" for l in lines))
        tracks = {
            "multi": ["--box", self.box[0], "--box", self.box[1]],
            "file": ["--prompts", pfile],
            "points": ["--point", "%d,%d,1" % (cx, cy), "--point", "2,2,0"],
        }
        outs = {}
        for jobs in ("1", "2"):
            outs[jobs] = os.path.join(d, "out-j" + jobs)
            r = self.batch(outs[jobs], "--masks", "--jobs", jobs, manifest=m)
            self.assertEqual(r.returncode, 0, r.stderr)
        for lid, args in tracks.items():
            t = os.path.join(d, "track-" + lid)
            r = run(["track", video, "--model", MODEL, "--out", t, "--masks", "--quiet"] + args)
            self.assertEqual(r.returncode, 0, r.stderr)
            want = self.results(t)
            self.assertTrue(any(k.endswith(".png") for k in want), lid)
            got1 = self.results(os.path.join(outs["1"], lid))
            got2 = self.results(os.path.join(outs["2"], lid))
            self.assertEqual(sorted(got1), sorted(want), lid)
            for k in want:
                self.assertEqual(got1[k], want[k], (lid, k))
                self.assertEqual(got2[k], want[k], (lid, k, "--jobs 2"))
        done = {lid: read(os.path.join(outs["1"], lid, "DONE")) for lid in tracks}
        self.assertIn("objects 2\nprompts_not_applied 0\n", done["multi"])
        self.assertIn("objects 2\nprompts_not_applied 1\n", done["file"])
        self.assertIn("objects 1\nprompts_not_applied 0\n", done["points"])
        # Object 1 of the prompts file exists from frame 2: 0,0,0,0 before, as katana track.
        obj1 = read(os.path.join(outs["1"], "file", "objects", "1", "boxes.txt")).splitlines()
        self.assertEqual(obj1[:2], ["0,0,0,0", "0,0,0,0"])
        self.assertNotEqual(obj1[2], "0,0,0,0")

    def test_csv_and_shards(self):
        csv = os.path.join(self.tmp, "m.csv")
        with open(csv, "w") as f:
            f.write("id,source,box\r\n")
            for i in range(3):
                f.write('x%d,%s,"%s"\r\n' % (i, os.path.join(self.clip[i], "video.mp4"),
                                             self.box[i]))
            f.write('x3,"%s",%s\r\n' % (os.path.join(self.clip[0], "video.mp4"),
                                         self.box[0].replace(",", " ")))
        full = os.path.join(self.tmp, "csv-full")
        r = self.batch(full, "--jobs", "2", manifest=csv)
        self.assertEqual(r.returncode, 0, r.stderr)
        # x0 and x3 are the same clip and box (quoted "x,y,w,h" and "x y w h").
        self.assertEqual(read(os.path.join(full, "x0", "boxes.txt")),
                         read(os.path.join(full, "x3", "boxes.txt")))
        # --shard I/N, Slurm's variables and JOB_COMPLETION_INDEX pick index % N == I.
        s0, s1, k1 = (os.path.join(self.tmp, n) for n in ("csv-s0", "csv-s1", "csv-k1"))
        self.assertEqual(self.batch(s0, "--shard", "0/2", manifest=csv).returncode, 0)
        r = self.batch(s1, manifest=csv, env={"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN":
                                              "3", "SLURM_ARRAY_TASK_MAX": "4",
                                              "SLURM_ARRAY_TASK_COUNT": "2"})
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.batch(k1, manifest=csv, env={"JOB_COMPLETION_INDEX": "1",
                                              "KATANA_SHARD_COUNT": "2"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(s0)), ["x0", "x2"])
        self.assertEqual(sorted(os.listdir(s1)), ["x1", "x3"])
        self.assertEqual(sorted(os.listdir(k1)), ["x1", "x3"])
        for i in range(4):
            shard = s0 if i % 2 == 0 else s1
            self.assertEqual(read(os.path.join(full, "x%d" % i, "boxes.txt")),
                             read(os.path.join(shard, "x%d" % i, "boxes.txt")))

    def test_usage_and_start_errors(self):
        out = os.path.join(self.tmp, "out-usage")
        cases = [
            (["--shard", "2/2"], None, 101, "I/N"),
            (["--shard", "1/2", "--shard-count", "2"], None, 101, "not both"),
            ([], {"JOB_COMPLETION_INDEX": "0"}, 101, "--shard-count"),
            ([], {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0",
                  "SLURM_ARRAY_TASK_MAX": "9", "SLURM_ARRAY_TASK_COUNT": "4",
                  "SLURM_ARRAY_TASK_STEP": "3"}, 101, "contiguous"),
            (["--jobs", "0"], None, 101, "--jobs"),
        ]
        for extra, env, code, text in cases:
            r = self.batch(out, *extra, env=env)
            self.assertEqual(r.returncode, code, (extra, r.stderr))
            self.assertIn(text, r.stderr)
        self.assertFalse(os.path.exists(out))
        r = run(["batch", self.manifest, "--model", MODEL])
        self.assertEqual(r.returncode, 101)
        r = self.batch(out, manifest=os.path.join(self.tmp, "missing.jsonl"))
        self.assertEqual(r.returncode, 102)
        self.assertIn("KAT_ENOENT", r.stderr)
        bad = os.path.join(self.tmp, "bad.csv")
        with open(bad, "w") as f:
            f.write("source,colour\nx.mp4,red\n")
        r = self.batch(out, manifest=bad)
        self.assertEqual(r.returncode, 102)
        self.assertIn("column 'colour'", r.stderr)
        # A folder katana did not write is refused per line, and nothing in it is touched.
        foreign = os.path.join(self.tmp, "out-foreign", "a")
        os.makedirs(foreign)
        with open(os.path.join(foreign, "boxes.txt"), "w") as f:
            f.write("mine\n")
        r = self.batch(os.path.dirname(foreign), "--shard", "0/7")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(read(os.path.join(foreign, "boxes.txt")), "mine\n")
        self.assertFalse(os.path.exists(os.path.join(foreign, "ERROR")))

    def test_sigkill_mid_line_then_resume(self):
        m = os.path.join(self.tmp, "long.jsonl")
        long_clip = os.path.join(self.tmp, "long", "train-000")
        box = [int(v) for v in read(os.path.join(long_clip, "groundtruth.txt")).split("\n")[0]
               .split(",")]
        with open(m, "w") as f:
            f.write(json.dumps({"id": "long", "source": os.path.join(long_clip, "video.mp4"),
                                "box": box}) + "\n")
            f.write(json.dumps({"id": "short", "source": os.path.join(self.clip[1], "video.mp4"),
                                "box": [int(v) for v in self.box[1].split(",")]}) + "\n")
        out = os.path.join(self.tmp, "out-kill")
        p = subprocess.Popen([CLI, "batch", m, "--model", MODEL, "--out", out, "--quiet"],
                             stderr=subprocess.DEVNULL)
        boxes = os.path.join(out, "long", "boxes.txt")
        t0 = time.time()
        while time.time() - t0 < 120:
            if os.path.exists(boxes) and len(read(boxes).splitlines()) >= 3:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        n_killed = len(read(boxes).splitlines())
        self.assertGreater(n_killed, 0)
        self.assertLess(n_killed, 150, "the kill landed after the line finished")
        self.assertFalse(os.path.exists(os.path.join(out, "long", "DONE")))
        self.assertFalse(os.path.exists(os.path.join(out, "short")))
        r = run(["batch", m, "--model", MODEL, "--out", out, "--quiet"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(read(boxes).splitlines()), 150)
        frames = [json.loads(l)["frame"] for l in
                  read(os.path.join(out, "long", "results.jsonl")).splitlines()]
        self.assertEqual(frames, list(range(150)))
        self.assertTrue(os.path.isfile(os.path.join(out, "short", "DONE")))
        self.assertFalse(any(n.endswith(".tmp") for n in os.listdir(os.path.join(out, "long"))))

    def test_sigterm_and_progress_line(self):
        """SIGTERM (what scancel sends first) mid-line: exit 143, no DONE; the progress line is
        drawn on a terminal (a pty here)."""
        m = os.path.join(self.tmp, "term.jsonl")
        long_clip = os.path.join(self.tmp, "long", "train-000")
        box = read(os.path.join(long_clip, "groundtruth.txt")).split("\n")[0]
        with open(m, "w") as f:
            f.write(json.dumps({"id": "long", "source": os.path.join(long_clip, "video.mp4"),
                                "box": [int(v) for v in box.split(",")]}) + "\n")
        out = os.path.join(self.tmp, "out-term")
        master, slave = pty.openpty()
        p = subprocess.Popen([CLI, "batch", m, "--model", MODEL, "--out", out],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        boxes = os.path.join(out, "long", "boxes.txt")
        t0 = time.time()
        while time.time() - t0 < 120:
            if os.path.exists(boxes) and len(read(boxes).splitlines()) >= 3:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=60)
        tty = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
        os.close(master)
        self.assertEqual(rc, 143, tty.decode(errors="replace"))
        self.assertFalse(os.path.exists(os.path.join(out, "long", "DONE")))
        self.assertLess(len(read(boxes).splitlines()), 150)
        text = tty.decode(errors="replace")
        self.assertRegex(text, r"\rbatch 0/1: 0/1 lines \(0 done, 0 failed\), [1-9][0-9]* frames")
        self.assertIn("interrupted by SIGTERM", text)
        r = run(["batch", m, "--model", MODEL, "--out", out, "--quiet"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(read(boxes).splitlines()), 150)


if __name__ == "__main__":
    unittest.main()
