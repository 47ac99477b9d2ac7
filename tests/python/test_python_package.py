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


def cli_objects(cmd_tail, out):
    """Runs `katana track CLIP ... --out OUT` and returns {id: [result, ...]} from the per-object
    results.jsonl files (several objects) or {0: ...} from OUT/results.jsonl (one)."""
    run([CLI, "track", CLIP, "--out", out, "--quiet"] + list(cmd_tail))
    objs = os.path.join(out, "objects")
    files = ({int(n): os.path.join(objs, n, "results.jsonl") for n in os.listdir(objs)}
             if os.path.isdir(objs) else {0: os.path.join(out, "results.jsonl")})
    res = {}
    for k, path in files.items():
        with open(path) as f:
            res[k] = [json.loads(line) for line in f]
    return res


class MultiObjectTest(unittest.TestCase):
    """Several objects, point prompts and a mask prompt through Tracker equal `katana track`
    with --box A --box B, --point and --prompts on the same frames. The second box, the points
    and the mask (an ellipse drawn with PIL) are hand-picked, not taken from our fixtures."""

    BOX2 = (20, 30, 40, 40)
    assertSameAsCli = CliParityTest.assertSameAsCli

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def step_all(self, prompts):
        frames = load_frames(CLIP)
        got = {}
        with katana.Model().tracker() as tr:
            for obj_id, kw in prompts:
                tr.add_object(obj_id, **kw)
            self.assertEqual(tr.objects, [p[0] for p in prompts])
            for f in frames:
                out = tr.step(f)
                self.assertEqual([r.id for r in out], [p[0] for p in prompts])
                for r in out:
                    got.setdefault(r.id, []).append(r)
        return got

    def test_two_objects_equal_cli(self):
        cli = cli_objects(["--box", ",".join(map(str, BOX)), "--box",
                           ",".join(map(str, self.BOX2))], os.path.join(self.tmp.name, "two"))
        self.assertEqual(sorted(cli), [0, 1])
        got = self.step_all([(0, {"box": BOX}), (1, {"box": self.BOX2})])
        for k in (0, 1):
            self.assertEqual(len(cli[k]), 64)
            self.assertSameAsCli(got[k], cli[k], "object %d" % k)
        # The two objects must differ for the comparison to mean something.
        self.assertNotEqual([r.box for r in got[0]], [r.box for r in got[1]])

    def test_track_boxes_equal_cli(self):
        """katana.track(boxes=...) over the Model's kat_model: a list gives ids 0, 1, a dict its
        own ids; each frame is a list of Result, one per object, equal to the CLI's."""
        cli = cli_objects(["--box", ",".join(map(str, BOX)), "--box",
                           ",".join(map(str, self.BOX2))], os.path.join(self.tmp.name, "tb"))
        with katana.Model() as model:
            for boxes, ids, pipeline in (([BOX, self.BOX2], [0, 1], True),
                                         ({9: self.BOX2, 4: BOX}, [9, 4], False)):
                with katana.track(CLIP, boxes=boxes, model=model, pipeline=pipeline) as t:
                    rows = list(t)
                self.assertEqual(len(rows), 64)
                self.assertTrue(all([r.id for r in row] == ids for row in rows), rows[0])
                for k, want in zip(ids, ([0, 1] if ids == [0, 1] else [1, 0])):
                    got = [r for row in rows for r in row if r.id == k]
                    self.assertSameAsCli(got, cli[want], "boxes=%r, object %d" % (boxes, k))
        self.assertEqual(katana.live_handles()["stream"], 0)

    def test_points_equal_cli(self):
        pts = [(117, 106), (100, 95), (60, 60)]
        labels = [1, 1, 0]
        cli = cli_objects(sum((["--point", "%d,%d,%d" % (x, y, l)] for (x, y), l in
                               zip(pts, labels)), []), os.path.join(self.tmp.name, "points"))
        got = self.step_all([(0, {"points": pts, "labels": labels})])
        self.assertSameAsCli(got[0], cli[0], "points")
        # A box plus points on one object.
        cli = cli_objects(["--box", ",".join(map(str, BOX)), "--point", "117,106"],
                          os.path.join(self.tmp.name, "boxpoints"))
        got = self.step_all([(0, {"box": BOX, "points": [(117, 106)]})])
        self.assertSameAsCli(got[0], cli[0], "box and points")

    def test_mask_prompt_equal_cli(self):
        from PIL import ImageDraw
        model = katana.Model()
        if not model.supports_mask_prompts:
            self.skipTest("the default model has no mask input (bundle format 1)")
        h, w = load_frames(CLIP)[0].shape[:2]
        img = Image.new("L", (w, h), 0)
        ImageDraw.Draw(img).ellipse((98, 94, 136, 119), fill=255)
        mpath = os.path.join(self.tmp.name, "mask.png")
        img.save(mpath)
        ppath = os.path.join(self.tmp.name, "prompts.json")
        with open(ppath, "w") as f:
            json.dump([{"frame": 0, "obj": 0, "mask": "mask.png"}], f)
        cli = cli_objects(["--prompts", ppath], os.path.join(self.tmp.name, "mask"))
        mask = np.asarray(Image.open(mpath))
        got = self.step_all([(0, {"mask": mask})])
        self.assertSameAsCli(got[0], cli[0], "mask")
        # The mask prompt must not be the same as the box prompt for this to mean something.
        boxed = self.step_all([(0, {"box": BOX})])
        self.assertNotEqual([r.scores.object for r in got[0]],
                            [r.scores.object for r in boxed[0]])


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
            # The Model opens the kat_model, so the broken file is refused at Model().
            e = self.assertKatError("KAT_EMODEL", "mask_decoder", katana.Model, tmp)
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
            self.assertKatError("KAT_EINVAL", "list of (x, y)", tr.add_object, 0, points=[(3,)])
            self.assertKatError("KAT_EINVAL", "at most 16 points", tr.add_object, 0,
                                points=[(1, 1)] * 17)
            self.assertKatError("KAT_EINVAL", "a label is 1", tr.add_object, 0, points=[(1, 1)],
                                labels=[2])
            self.assertKatError("KAT_EINVAL", "one value per point", tr.add_object, 0,
                                points=[(1, 1)], labels=[1, 0])
            self.assertKatError("KAT_EINVAL", "no box or points", tr.add_object, 0,
                                box=(1, 2, 3, 4), mask=np.ones((48, 64), np.uint8))
            self.assertKatError("KAT_EINVAL", "HxW numpy", tr.add_object, 0, mask=[[1]])
            self.assertKatError("KAT_ENOENT", "no object 3", tr.remove_object, 3)
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
            # Once the video has a size, the C library checks a prompt at add_object: a point
            # outside the frame, a mask of another size.
            self.assertKatError("KAT_EINVAL", "", tr.add_object, 5, points=[(500, 5)])
            self.assertKatError("KAT_EINVAL", "", tr.add_object, 5,
                                mask=np.ones((10, 10), np.uint8))
            tr.add_object(5, box=(1, 2, 30, 30))  # a second object
            self.assertEqual([r.id for r in tr.step(self.frame)], [0, 5])
            # A frame of another size: refused by kat_tracker_track, the track goes on.
            self.assertKatError("KAT_EINVAL", "", tr.step, np.zeros((40, 64, 3), np.uint8))
            self.assertEqual(len(tr.step(self.frame)), 2)
            self.assertKatError("KAT_ENOENT", "", tr.remove_object, 7)
            tr.remove_object(0)
            self.assertEqual([r.id for r in tr.step(self.frame)], [5])
            tr.remove_object(5)
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
        self.assertKatError("KAT_EINVAL", "not both", katana.track, CLIP, box=BOX, boxes=[BOX],
                            model=self.model)
        self.assertKatError("KAT_EINVAL", "not neither", katana.track, CLIP, model=self.model)
        self.assertKatError("KAT_EINVAL", "empty", katana.track, CLIP, boxes=[],
                            model=self.model)
        self.assertKatError("KAT_EINVAL", "id must be", katana.track, CLIP, boxes={-1: BOX},
                            model=self.model)
        self.assertKatError("KAT_EINVAL", "box of object 1", katana.track, CLIP,
                            boxes=[BOX, (1, 2)], model=self.model)
        self.assertKatError("KAT_EINVAL", "list of boxes", katana.track, CLIP, boxes="1,2,3,4",
                            model=self.model)
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
