"""The Python package (python/katana): its ctypes structures match the C headers, its results
equal `katana track` on the same clips (a folder our generator made, a mirrored copy written by
PIL, an MP4 that Debian's ffmpeg encoded), bad arguments raise katana.Error with the status
name and a message, trackers are freed when closed or collected, and create/close cycles do
not grow the RSS."""

import ctypes
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.environ.get("KAT_TEST_DATA") or os.path.join(ROOT, ".testdata")
CLI = os.environ.get("KAT_CLI") or os.path.join(ROOT, "build", "bin", "katana")
sys.path.insert(0, os.path.join(ROOT, "python"))

import katana  # noqa: E402
from katana import _lib  # noqa: E402

CLIP = os.path.join(DATA, "track", "clip", "img")
MICRO = os.path.join(DATA, "bundles", "micro_efficienttam")
BOX = (96, 92, 42, 29)  # the clip's first groundtruth line
# create/close cycles of the RSS test; `make test-slow` runs 1000 (KAT_PY_CYCLES).
CYCLES = int(os.environ.get("KAT_PY_CYCLES", "150"))


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                        p.stderr))
    return p.stdout


def cli_track(src, box, out, model=None, extra=()):
    cmd = [CLI, "track", src, "--box", ",".join(str(v) for v in box), "--out", out, "--quiet"]
    if model:
        cmd += ["--model", model]
    run(cmd + list(extra))
    with open(os.path.join(out, "results.jsonl")) as f:
        return [json.loads(line) for line in f]


def g9(v):
    """A float as the CLI writes it (%.9g), parsed back."""
    return float("%.9g" % v)


def load_frames(folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".png"))
    return [np.asarray(Image.open(os.path.join(folder, n)).convert("RGB")) for n in names]


class LayoutTest(unittest.TestCase):
    """Every ctypes structure has its C struct's size and field offsets."""

    def test_structs_match_headers(self):
        cc = shutil.which("cc")
        if not cc:
            self.skipTest("no C compiler to read the struct layouts")
        lines = ["#include <stdio.h>", "#include <stddef.h>", "#include \"katana/katana.h\"",
                 "int main(void) {"]
        for py, c in _lib.C_TYPES.items():
            lines.append('printf("%s size %%zu\\n", sizeof(%s));' % (py, c))
            for f, _ in getattr(_lib, py)._fields_:
                lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));' % (py, f, c, f))
        lines += ["return 0;", "}"]
        build_inc = os.path.join(os.path.dirname(_lib.library_path), "include")
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "layout.c")
            with open(src, "w") as f:
                f.write("\n".join(lines) + "\n")
            exe = os.path.join(tmp, "layout")
            run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), "-I", build_inc, src, "-o",
                 exe])
            got = run([exe]).split("\n")
        checked = 0
        for line in filter(None, got):
            py, field, value = line.split()
            cls = getattr(_lib, py)
            want = ctypes.sizeof(cls) if field == "size" else getattr(cls, field).offset
            self.assertEqual(int(value), want, "%s.%s: C %s, ctypes %d" % (py, field, value, want))
            checked += 1
        self.assertGreater(checked, 100)


class FrameTest(unittest.TestCase):
    """Packed arrays reach the library without a copy; only scattered pixels are copied."""

    def test_zero_copy(self):
        a = np.zeros((48, 64, 3), np.uint8)
        f, keep = katana._frame(a)
        self.assertIs(keep, a)
        self.assertEqual(f.data[0], a.ctypes.data)
        self.assertEqual((f.width, f.height, f.stride[0], f.format), (64, 48, 192, _lib.PIXEL_RGB24))
        wide = np.zeros((48, 80, 3), np.uint8)
        view = wide[:, 8:72]
        f, keep = katana._frame(view, bgr=True)
        self.assertIs(keep, view)
        self.assertEqual(f.data[0], view.ctypes.data)
        self.assertEqual((f.stride[0], f.format), (240, _lib.PIXEL_BGR24))
        g = np.zeros((48, 64), np.uint8)
        f, keep = katana._frame(g)
        self.assertIs(keep, g)
        self.assertEqual(f.format, _lib.PIXEL_GRAY8)
        fa = np.asfortranarray(a)
        f, keep = katana._frame(fa)
        self.assertIsNot(keep, fa)
        self.assertTrue(keep.flags.c_contiguous)
        self.assertFalse(np.shares_memory(keep, fa))


class CliParityTest(unittest.TestCase):
    """Python results equal `katana track`'s results.jsonl frame by frame."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assertSameAsCli(self, res, cli, what):
        self.assertEqual(len(res), len(cli), what)
        for r, c in zip(res, cli):
            where = "%s frame %d" % (what, c["frame"])
            self.assertEqual(r.frame, c["frame"], where)
            self.assertEqual([round(v) for v in r.box], c["box"], where)
            self.assertEqual(r.presence, c["presence"], where)
            self.assertEqual(r.candidate, c["candidate"], where)
            self.assertEqual(g9(r.scores.object), c["object_score"], where)
            self.assertEqual(g9(r.scores.iou), c["iou_pred"], where)
            self.assertEqual(None if r.scores.kf is None else g9(r.scores.kf), c["kf_score"],
                             where)

    def test_track_folder_default_model(self):
        cli = cli_track(CLIP, BOX, os.path.join(self.tmp.name, "folder"))
        self.assertEqual(len(cli), 64)
        for pipeline in (True, False):
            with katana.track(CLIP, box=BOX, pipeline=pipeline) as t:
                res = list(t)
            self.assertSameAsCli(res, cli, "track(pipeline=%s)" % pipeline)
        # The clip has to exercise more than one state for the comparison to mean something.
        self.assertGreater(len({(r["presence"], r["candidate"]) for r in cli}), 1)

    def test_tracker_step_on_pil_frames(self):
        """A mirrored copy of the clip written by PIL (not by our generator), read back into
        numpy; RGB, BGR with the flag, a non-contiguous view and a column-cropped view must all
        give the CLI's results on the same files."""
        frames = [np.ascontiguousarray(f[:, ::-1]) for f in load_frames(CLIP)]
        folder = os.path.join(self.tmp.name, "mirrored")
        os.makedirs(folder)
        for i, f in enumerate(frames):
            Image.fromarray(f).save(os.path.join(folder, "frame_%03d.png" % i))
        w = frames[0].shape[1]
        box = (w - BOX[0] - BOX[2], BOX[1], BOX[2], BOX[3])
        cli = cli_track(folder, box, os.path.join(self.tmp.name, "mirrored_out"))
        model = katana.Model()
        for variant in ("rgb", "bgr", "fortran", "padded"):
            with model.tracker() as tr:
                tr.add_object(1, box=box)
                res = []
                for f in frames:
                    if variant == "bgr":
                        out = tr.step(np.ascontiguousarray(f[:, :, ::-1]), bgr=True)
                    elif variant == "fortran":  # scattered pixels: the one copying case
                        out = tr.step(np.asfortranarray(f))
                    elif variant == "padded":  # rows longer than 3 * W: no copy, its stride
                        wide = np.zeros((f.shape[0], f.shape[1] + 17, 3), np.uint8)
                        wide[:, 5:5 + f.shape[1]] = f
                        out = tr.step(wide[:, 5:5 + f.shape[1]])
                    else:
                        out = tr.step(f)
                    self.assertEqual(len(out), 1)
                    self.assertEqual(out[0].id, 1)
                    res.append(out[0])
            self.assertSameAsCli(res, cli, "Tracker.step(%s)" % variant)

    def test_track_ffmpeg_mp4_with_masks(self):
        ffmpeg = shutil.which("ffmpeg")
        if not ffmpeg:
            self.skipTest("no ffmpeg program to encode a foreign MP4")
        mp4 = os.path.join(self.tmp.name, "clip.mp4")
        run([ffmpeg, "-loglevel", "error", "-y", "-framerate", "30", "-i",
             os.path.join(CLIP, "%05d.png"), "-pix_fmt", "yuv420p", mp4])
        out = os.path.join(self.tmp.name, "mp4_out")
        cli = cli_track(mp4, BOX, out, extra=["--masks"])
        with katana.track(mp4, box=BOX, masks=True) as t:
            res = list(t)
            info = t.info()
        self.assertEqual(info["frame_count"] in (-1, 64), True, info)
        self.assertSameAsCli(res, cli, "track(mp4)")
        for r in (res[0], res[-1]):
            png = np.asarray(Image.open(os.path.join(out, "masks", "%05d.png" % r.frame)))
            self.assertEqual(r.mask.shape, png.shape)
            self.assertEqual(r.mask.dtype, np.uint8)
            np.testing.assert_array_equal(r.mask, png)


class BadArgumentsTest(unittest.TestCase):
    """Each refused argument raises katana.Error with its status name and a message."""

    @classmethod
    def setUpClass(cls):
        cls.model = katana.Model(MICRO, verify_hashes=False)
        cls.frame = np.zeros((48, 64, 3), np.uint8)

    def assertKatError(self, name, text, fn, *a, **kw):
        with self.assertRaises(katana.Error) as cm:
            fn(*a, **kw)
        self.assertEqual(cm.exception.name, name, str(cm.exception))
        self.assertIn(text, str(cm.exception))
        self.assertTrue(str(cm.exception).startswith(name + ": "), str(cm.exception))
        return cm.exception

    def test_model_arguments(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.assertKatError("KAT_ENOENT", "not a katana bundle", katana.Model, tmp)
        self.assertKatError("KAT_EINVAL", "unknown execution provider preset", katana.Model,
                            MICRO, ep="gpu")
        self.assertKatError("KAT_EINVAL", "selection must be", katana.Model, MICRO,
                            selection="sam3")
        self.assertKatError("KAT_EINVAL", "threads must be", katana.Model, MICRO, threads=-2)
        self.assertKatError("KAT_EINVAL", "bad execution provider option", katana.Model, MICRO,
                            options={"no_such_key": 1})

    def test_broken_bundle(self):
        """A hand-made bundle: the manifest copied, one module truncated to 100 bytes."""
        with tempfile.TemporaryDirectory() as tmp:
            for n in os.listdir(MICRO):
                shutil.copy(os.path.join(MICRO, n), tmp)
            p = os.path.join(tmp, "mask_decoder.onnx")
            with open(p, "r+b") as f:
                f.truncate(100)
            e = self.assertKatError("KAT_EMODEL", "mask_decoder", katana.Model(tmp).tracker)
            self.assertEqual(e.status, -6)
            self.assertEqual(katana.live_handles()["tracker"], 0)

    def test_tracker_arguments(self):
        with self.model.tracker() as tr:
            self.assertKatError("KAT_EINVAL", "4 numbers", tr.add_object, 0, box=(1, 2, 3))
            self.assertKatError("KAT_EINVAL", "4 numbers", tr.add_object, 0, box="abcd")
            self.assertKatError("KAT_EINVAL", "non-finite", tr.add_object, 0,
                                box=(1, 2, float("nan"), 4))
            self.assertKatError("KAT_EINVAL", "must be > 0", tr.add_object, 0, box=(1, 2, 0, 4))
            self.assertKatError("KAT_EINVAL", "needs a box", tr.add_object, 0)
            self.assertKatError("KAT_EINVAL", "object id", tr.add_object, -1, box=(1, 2, 3, 4))
            self.assertKatError("KAT_ENOTSUP", "point and mask prompts", tr.add_object, 0,
                                points=[(3, 4)])
            self.assertKatError("KAT_EINVAL", "numpy array", tr.step, [[1, 2, 3]])
            self.assertKatError("KAT_EINVAL", "uint8", tr.step, self.frame.astype(np.float32))
            self.assertKatError("KAT_EINVAL", "HxWx3", tr.step, np.zeros((4, 4, 4), np.uint8))
            self.assertKatError("KAT_EINVAL", "empty", tr.step, np.zeros((0, 4, 3), np.uint8))
            self.assertEqual(tr.step(self.frame), [])  # no object yet: no results
            # A box entirely outside the frame: refused by the C library, with its message.
            tr.add_object(0, box=(500, 500, 10, 10))
            self.assertKatError("KAT_EINVAL", "box", tr.step, self.frame)
            tr.add_object(0, box=(10, 10, 20, 20))
            self.assertEqual(len(tr.step(self.frame)), 1)
            self.assertKatError("KAT_ENOTSUP", "one object per tracker", tr.add_object, 5,
                                box=(1, 2, 3, 4))
            # A frame of another size: refused by kat_tracker_step, the track goes on.
            self.assertKatError("KAT_EINVAL", "", tr.step, np.zeros((40, 64, 3), np.uint8))
            self.assertEqual(len(tr.step(self.frame)), 1)
            self.assertKatError("KAT_EINVAL", "no object 7", tr.remove_object, 7)
            tr.remove_object(0)
            self.assertEqual(tr.step(self.frame), [])
        self.assertKatError("KAT_ESTATE", "closed", tr.step, self.frame)
        self.assertKatError("KAT_EINVAL", "katana.Model", katana.Tracker, "model")

    def test_track_arguments(self):
        self.assertKatError("KAT_ENOENT", "no/such.mp4", katana.track, "/no/such.mp4", box=BOX,
                            model=self.model)
        self.assertKatError("KAT_EINVAL", "4 numbers", katana.track, CLIP, box=(1, 2),
                            model=self.model)
        self.assertKatError("KAT_EINVAL", "source must be", katana.track, 42, box=BOX,
                            model=self.model)
        self.assertKatError("KAT_EINVAL", "max_frames", katana.track, CLIP, box=BOX,
                            model=self.model, max_frames=-1)
        self.assertKatError("KAT_ERANGE", "queue", katana.track, CLIP, box=BOX,
                            model=self.model, queue_capacity=1000)
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "00000.png"), "wb") as f:
                f.write(b"\x89PNG\r\n\x1a\n not really a png")
            with self.assertRaises(katana.Error) as cm:
                list(katana.track(tmp, box=BOX, model=self.model))
            self.assertIn(cm.exception.name, ("KAT_EMEDIA", "KAT_EFORMAT"), str(cm.exception))
        self.assertEqual(katana.live_handles()["stream"], 0)

    def test_second_thread_refused(self):
        with self.model.tracker() as tr:
            tr.add_object(0, box=(10, 10, 20, 20))
            errors = []
            with tr._guard:  # as if another thread were inside step()
                t = threading.Thread(target=lambda: errors.append(
                    self.assertRaises(katana.Error, tr.step, self.frame)))
                t.start()
                t.join()
            self.assertEqual(len(errors), 1)


_libc = ctypes.CDLL(None)


def rss_kb():
    """VmRSS after malloc_trim(0): freed heap goes back to the system first, so what remains is
    memory still allocated (glibc's arenas otherwise swing the RSS by +-20 MB here)."""
    if hasattr(_libc, "malloc_trim"):
        _libc.malloc_trim(0)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class LifetimeTest(unittest.TestCase):
    def setUp(self):
        self.model = katana.Model(MICRO, verify_hashes=False, options={"graph_opt_level": 0})

    def test_freed_when_closed_or_collected(self):
        freed = []
        real = _lib.kat_tracker_destroy

        def counting(ptr):
            freed.append(ptr)
            real(ptr)

        _lib.kat_tracker_destroy = counting
        try:
            base = katana.live_handles()["tracker"]
            tr = self.model.tracker()
            ptr = tr._ptr
            self.assertEqual(katana.live_handles()["tracker"], base + 1)
            tr.close()
            tr.close()  # idempotent
            self.assertEqual(freed, [ptr])
            self.assertTrue(tr.closed)
            with self.model.tracker() as tr2:
                ptr2 = tr2._ptr
            self.assertEqual(freed, [ptr, ptr2])
            tr3 = self.model.tracker()
            ptr3 = tr3._ptr
            cycle = [tr3]
            tr3.me = cycle  # a reference cycle: only the cyclic collector frees it
            del tr3, cycle
            gc.collect()
            self.assertEqual(freed, [ptr, ptr2, ptr3])
            self.assertEqual(katana.live_handles()["tracker"], base)
            t = katana.track(CLIP, box=BOX, model=self.model, max_frames=2)
            self.assertEqual(katana.live_handles()["stream"], 1)
            next(t)
            del t
            gc.collect()
            self.assertEqual(katana.live_handles()["stream"], 0)
        finally:
            _lib.kat_tracker_destroy = real

    def test_create_close_cycles_rss(self):
        frame = np.zeros((48, 64, 3), np.uint8)

        def cycle():
            with self.model.tracker() as tr:
                tr.add_object(0, box=(10, 10, 20, 20))
                tr.step(frame)
                tr.step(frame)

        for _ in range(20):  # warm up: ORT's and the allocator's one-time growth
            cycle()
        samples = []
        for i in range(CYCLES):
            cycle()
            if i % 10 == 9:
                samples.append(rss_kb())
        k = max(3, len(samples) // 4)
        first = sorted(samples[:k])[k // 2]
        last = sorted(samples[-k:])[k // 2]
        print("RSS over %d create/step/close cycles (after malloc_trim, every 10 cycles, kB): %s;"
              " median of the first %d samples %d, of the last %d %d" %
              (CYCLES, samples, k, first, k, last), file=sys.stderr)
        # One leaked tracker holds megabytes of sessions; 3 MB over all the cycles allows the
        # allocator's noise (+-1.5 MB measured) and catches a leak of 20 kB a cycle at 150
        # cycles, 3 kB a cycle at 1000.
        self.assertLess(last - first, 3072, "RSS grew %d kB" % (last - first))
        self.assertEqual(katana.live_handles()["tracker"], 0)


class DoctorTest(unittest.TestCase):
    def test_doctor(self):
        d = katana.doctor()
        self.assertEqual(d["katana_version"], katana.version())
        self.assertTrue(d["ort_version"])
        self.assertEqual(d["providers"]["cpu"], "ok")
        self.assertGreater(d["logical_cores"], 0)
        self.assertTrue(os.path.isfile(d["library"]))
        self.assertTrue(os.path.isfile(os.path.join(d["default_model"], "katana.json")))
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        p = subprocess.run([sys.executable, "-m", "katana", "doctor"], capture_output=True,
                           text=True, env=env, check=True)
        out = json.loads(p.stdout)
        self.assertEqual(out["katana_version"], d["katana_version"])


if __name__ == "__main__":
    unittest.main()
