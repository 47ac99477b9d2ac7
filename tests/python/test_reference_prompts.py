"""Tests of the reference's prompts and several objects (katana_reference.multi, issue 13).

Invariants on the micro bundle (onnx backend; torch backend for mask prompts and corrections):
a single box equals today's single-object Tracker bit
for bit; K objects give exactly the K single-object results; a box is the first two points with
labels 2, 3; a mask prompt's output is the prompt's mask; a correction changes its frame and the
later frames and becomes a conditioning frame; removal stops an object; --prompts files are
validated. On the format 2 ONNX bundle, mask prompts and point, box and mask corrections give
the torch backend's per-frame results (same candidates, mask IoU >= 0.999); the format 1 bundle
(bundles/micro_efficienttam_v1) refuses them. Inputs not made by our generators: hand-written
prompt JSON, a hand-drawn mask PNG, a hand-made ellipse mask.
The comparison with the official predictor runs outside the repo (docs/internals/prompts.md)."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

_SRC = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
for _p in ("tools/reference", "tools/export"):
    _p = os.path.join(_SRC, _p)
    if _p not in sys.path:
        sys.path.insert(0, _p)

from katana_reference import hostmath as hm  # noqa: E402
from katana_reference import memory as mb  # noqa: E402
from katana_reference import synth  # noqa: E402
from katana_reference.multi import MultiTracker  # noqa: E402
from katana_reference.run import read_prompts  # noqa: E402
from katana_reference.tracker import Tracker  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None


def _bundle(name="micro_efficienttam"):
    d = os.environ.get("KAT_TEST_DATA")
    if not d:
        return None
    p = os.path.join(d, "bundles", name)
    return p if os.path.isfile(os.path.join(p, "katana.json")) else None


_BACKENDS = {}


def _backend(kind):
    if kind not in _BACKENDS:
        from katana_reference.run import make_backend
        _BACKENDS[kind] = make_backend(kind, _bundle())
    return _BACKENDS[kind]


_FRAMES = None


def _frames(n=6):
    global _FRAMES
    if _FRAMES is None:
        _FRAMES, _ = synth.make_clip(8)
    return _FRAMES[:n]


BOX = [12, 60, 68, 100]  # the synthetic clip's object on frame 0, xyxy


def _run(be, prompts, n=6, removes=(), selection="samurai"):
    """prompts: [(frame, obj, kwargs)]; removes: [(before frame, obj)]. Returns
    {obj: [(rec, low)]}."""
    f = _frames(n)
    mt = MultiTracker(be, f.shape[2], f.shape[1], n, selection)
    out = {}
    for i in range(n):
        for fr, obj, kw in prompts:
            if fr == i:
                mt.add_prompt(fr, obj, **kw)
        for fr, obj in removes:
            if fr == i:
                mt.remove_object(obj)
        for oid, (rec, low, _) in mt.step(f[i]).items():
            out.setdefault(oid, []).append((rec, low))
    return out


def _same(test, a, b):
    test.assertEqual(len(a), len(b))
    for (r1, l1), (r2, l2) in zip(a, b):
        test.assertTrue(np.array_equal(l1, l2), "frame %d logits differ" % r1["frame"])
        test.assertEqual(r1, r2)


class PureTest(unittest.TestCase):
    @unittest.skipIf(torch is None, "torch missing")
    def test_resize_aa_matches_torch(self):
        rng = np.random.default_rng(3)
        for (h, w), (oh, ow) in (((180, 320), (256, 256)), ((256, 256), (64, 64)),
                                 ((97, 211), (64, 64)), ((31, 17), (64, 64))):
            x = (rng.random((h, w)) > 0.5).astype(np.float32) * 20 - 10
            want = F.interpolate(torch.from_numpy(x)[None, None], size=(oh, ow),
                                 mode="bilinear", align_corners=False,
                                 antialias=True)[0, 0].numpy()
            got = hm.resize_aa(x, oh, ow)
            self.assertLess(float(np.abs(got - want).max()), 1e-5, ((h, w), (oh, ow)))

    def test_closest_cond_frames(self):
        self.assertEqual(mb.select_closest_cond_frames(10, [0, 5, 20], -1), ([0, 5, 20], []))
        self.assertEqual(mb.select_closest_cond_frames(10, [0, 5, 8, 20], 2), ([8, 20], [0, 5]))
        self.assertEqual(mb.select_closest_cond_frames(10, [0, 5, 8, 20, 12], 3),
                         ([8, 12, 5], [0, 20]))

    def test_pointers_with_several_cond_frames(self):
        recs = {i: None for i in (1, 2, 4, 5)}
        sel, tmax = mb.select_pointers_multi(6, [0, 3], recs, 100, 16, True, True)
        self.assertEqual(sel, [(6, 0), (3, 3), (1, 5), (2, 4), (4, 2), (5, 1)])
        self.assertEqual(tmax, 15)
        # a cond frame left out by the limit is used as a plain frame
        sel, _ = mb.select_pointers_multi(6, [0], recs, 100, 16, True, False, fallback={3: None})
        self.assertEqual(sel, [(6, 0), (1, 5), (2, 4), (3, 3), (4, 2), (5, 1)])

    def test_samurai_walk_skips_cond_frames(self):
        R = mb.FrameRecord
        good = R(None, None, 0.9, 1.0, None)
        recs = {1: good, 2: good, 3: good, 5: good}  # frame 4 is a conditioning frame
        self.assertEqual(mb.select_memory_samurai(6, recs, 7, 16, 0.5, 0.0, 0.0),
                         [(4, 2), (5, 3), (6, 5)])

    def test_prompt_validation(self):
        from katana_reference.multi import Prompt
        with self.assertRaises(ValueError):
            Prompt()
        with self.assertRaises(ValueError):
            Prompt(points=[[1, 2]], labels=[2])  # box labels are not point labels
        with self.assertRaises(ValueError):
            Prompt(box=[0, 0, 4, 4], append=True)
        with self.assertRaises(ValueError):
            Prompt(points=[[1, 2]], labels=[1, 0])
        with self.assertRaises(ValueError):
            Prompt(mask=np.ones((2, 2), bool), box=[0, 0, 1, 1])
        self.assertEqual(Prompt(box=[0, 0, 1, 1], points=[[0, 0]], labels=[0]).kind,
                         "box+points")

    def test_read_prompts(self):
        d = tempfile.mkdtemp(prefix="katref_prompts_")
        from PIL import Image
        m = np.zeros((6, 8), np.uint8)
        m[2:4, 3:7] = 255  # drawn by hand, not by our generators
        Image.fromarray(m).save(os.path.join(d, "m.png"))
        p = os.path.join(d, "p.json")
        with open(p, "w") as f:
            f.write('[{"frame":0,"obj":0,"box":[1,2,3,4]},'
                    '{"frame":0,"obj":1,"points":[[5,6,1],[7,8,0]]},'
                    '{"frame":2,"obj":0,"box":[1,1,2,2],"points":[[2,2,1]]},'
                    '{"frame":3,"obj":2,"mask":"m.png"}]')
        got = read_prompts(p)
        self.assertEqual(got[0], (0, 0, {"append": False, "box": [1.0, 2.0, 4.0, 6.0]}))
        self.assertEqual(got[1][2]["points"], [[5.0, 6.0], [7.0, 8.0]])
        self.assertEqual(got[1][2]["labels"], [1, 0])
        self.assertEqual(sorted(got[2][2]), ["append", "box", "labels", "points"])
        self.assertEqual(int(got[3][2]["mask"].sum()), 8)
        for bad in ('{"frame":0}', '[{"frame":-1,"obj":0,"box":[0,0,1,1]}]',
                    '[{"frame":0,"obj":0}]', '[{"frame":0,"obj":0,"box":[0,0,0,1]}]',
                    '[{"frame":0,"obj":0,"points":[[1,2,3]]}]',
                    '[{"frame":0,"obj":0,"box":[0,0,1,1],"colour":1}]',
                    '[{"frame":"0","obj":0,"box":[0,0,1,1]}]'):
            with open(p, "w") as f:
                f.write(bad)
            with self.assertRaises(ValueError, msg=bad):
                read_prompts(p)


@unittest.skipIf(_bundle() is None, "needs $KAT_TEST_DATA/bundles/micro_efficienttam")
class MultiOnnxTest(unittest.TestCase):
    def test_single_box_bit_identical_to_tracker(self):
        be = _backend("onnx")
        f = _frames(6)
        t = Tracker(be, BOX, f.shape[2], f.shape[1], 6, "samurai")
        old = [t.step(x)[:2] for x in f]
        new = _run(be, [(0, 5, {"box": BOX})])[5]
        self.assertEqual(len(new), 6)
        for (r1, l1), (r2, l2) in zip(old, new):
            self.assertTrue(np.array_equal(l1, l2))
            for k in r1:
                self.assertEqual(r1[k], r2[k], k)
            self.assertEqual(r2["obj"], 5)

    def test_k_objects_equal_single_runs(self):
        be = _backend("onnx")
        prompts = [(0, 0, {"box": BOX}),
                   (0, 1, {"points": [[200, 120], [40, 80]], "labels": [1, 0]}),
                   (2, 9, {"box": [150, 100, 200, 150], "points": [[170, 120]],
                           "labels": [1]})]
        multi = _run(be, prompts)
        self.assertEqual(sorted(multi), [0, 1, 9])
        self.assertEqual([r["frame"] for r, _ in multi[9]], [2, 3, 4, 5])
        self.assertEqual(multi[9][0][0]["prompt"], "box+points")
        self.assertTrue(multi[9][0][0]["cond"])
        self.assertFalse(multi[9][0][0]["correction"])
        for p in prompts:
            _same(self, multi[p[1]], _run(be, [p])[p[1]])
        # the plain SAM 2 selection too
        multi = _run(be, prompts[:2], selection="sam2")
        _same(self, multi[1], _run(be, prompts[1:2], selection="sam2")[1])

    def test_box_is_two_points_with_labels_2_3(self):
        be = _backend("onnx")
        f = _frames(1)
        mt = MultiTracker(be, f.shape[2], f.shape[1], 6)
        p = mt.add_prompt(0, 0, box=BOX, points=[[30, 70], [1, 2]], labels=[1, 0])
        pts, lab = mt._prompt_points(p, None)
        bp, bl = hm.box_prompt_points(BOX, f.shape[2], f.shape[1], mt.S)
        self.assertTrue(np.array_equal(pts[:, :2], bp))
        self.assertEqual(lab.tolist(), [[2, 3, 1, 0]])
        self.assertTrue(np.array_equal(
            pts[:, 2:], hm.scale_points([[30, 70], [1, 2]], f.shape[2], f.shape[1], mt.S)))
        # appended points follow the frame's earlier points
        q = mt.add_prompt(0, 0, points=[[5, 5]], labels=[0], append=True)
        pts2, lab2 = mt._prompt_points(q, (pts, lab))
        self.assertEqual(lab2.tolist(), [[2, 3, 1, 0, 0]])
        self.assertTrue(np.array_equal(pts2[:, :4], pts))
        # (a second prompt on the frame feeds the first one's logits as a mask input, which
        # bundle format 1 cannot take: step a tracker with the box + points only)
        mt = MultiTracker(be, f.shape[2], f.shape[1], 6)
        mt.add_prompt(0, 0, box=BOX, points=[[30, 70], [1, 2]], labels=[1, 0])
        r = mt.step(f[0])[0][0]
        self.assertEqual(r["prompt"], "box+points")
        self.assertFalse(r["multimask"])  # 4 points: single mask + stability fallback

    def test_one_point_is_multimask(self):
        out = _run(_backend("onnx"), [(0, 0, {"points": [[40, 80]], "labels": [1]})], n=2)
        self.assertTrue(out[0][0][0]["multimask"])
        self.assertIn(out[0][0][0]["chosen"], (1, 2, 3))

    def test_removal_stops_an_object(self):
        be = _backend("onnx")
        prompts = [(0, 0, {"box": BOX}), (0, 1, {"points": [[200, 120]], "labels": [1]})]
        out = _run(be, prompts, removes=[(3, 1)])
        self.assertEqual([r["frame"] for r, _ in out[1]], [0, 1, 2])
        _same(self, out[0], _run(be, prompts[:1])[0])

    def test_onnx_bundle_v1_refuses_mask_and_correction(self):
        from katana_reference.backends import OnnxBackend
        v1 = _bundle("micro_efficienttam_v1")
        self.assertIsNotNone(v1, "scripts/testdata/10-bundles makes bundles/micro_efficienttam_v1")
        be = OnnxBackend(v1)
        self.assertEqual(be.meta["format_version"], 1)
        self.assertFalse(be.supports_mask_input)
        self.assertTrue(_backend("onnx").supports_mask_input)  # the format 2 bundle
        # without mask inputs the format 1 bundle tracks exactly as the format 2 one
        _same(self, _run(be, [(0, 0, {"box": BOX})], n=3)[0],
              _run(_backend("onnx"), [(0, 0, {"box": BOX})], n=3)[0])
        f = _frames(2)
        mt = MultiTracker(be, f.shape[2], f.shape[1], 2)
        with self.assertRaises(NotImplementedError):
            mt.add_prompt(0, 0, mask=np.ones(f.shape[1:3], bool))
        mt.add_prompt(0, 0, box=BOX)
        mt.step(f[0])
        mt.add_prompt(1, 0, points=[[40, 80]], labels=[1])
        with self.assertRaises(NotImplementedError):
            mt.step(f[1])

    def test_cli_prompts(self):
        d = tempfile.mkdtemp(prefix="katref_cli_")
        clip = os.path.join(d, "clip")
        synth.write_clip(clip, 3)
        p = os.path.join(d, "p.json")
        with open(p, "w") as f:
            json.dump([{"frame": 0, "obj": 3, "box": [12, 60, 56, 40]},
                       {"frame": 1, "obj": 4, "points": [[200, 120, 1], [20, 20, 0]]}], f)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.join(_SRC, "tools/reference"), os.path.join(_SRC, "tools/export")]))
        cmd = [sys.executable, "-m", "katana_reference", "track", "--bundle", _bundle(),
               "--frames", clip, "--out", os.path.join(d, "out"),
               "--quiet"]
        r = subprocess.run(cmd + ["--prompts", p], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        for obj, n in ((3, 3), (4, 2)):
            with open(os.path.join(d, "out", "obj_%d" % obj, "frames.jsonl")) as f:
                recs = [json.loads(x) for x in f]
            self.assertEqual([x["frame"] for x in recs], list(range(3 - n, 3)))
            z = np.load(os.path.join(d, "out", "obj_%d" % obj, "masks.npz"))
            self.assertEqual(z["low_res"].shape[0], n)
        with open(p, "w") as f:
            f.write('[{"frame":0,"obj":0}]')
        r = subprocess.run(cmd + ["--prompts", p], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs box, points or mask", r.stderr)
        r = subprocess.run(cmd + ["--prompts", p, "--box", "1,2,3,4"], env=env,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("exactly one of --box and --prompts", r.stderr)


@unittest.skipIf(_bundle() is None or torch is None,
                 "needs $KAT_TEST_DATA/bundles/micro_efficienttam and torch")
class MultiTorchTest(unittest.TestCase):
    def test_mask_prompt_is_the_output(self):
        be = _backend("torch")
        f = _frames(3)
        H, W = f.shape[1:3]
        yy, xx = np.mgrid[0:H, 0:W]
        mask = ((xx - 150) / 40.0) ** 2 + ((yy - 100) / 25.0) ** 2 <= 1  # hand-made ellipse
        out = _run(be, [(0, 0, {"mask": mask}), (1, 1, {"mask": np.zeros((H, W), bool)})],
                   n=3)
        rec, low = out[0][0]
        S = be.meta["image_size"]
        want, _ = hm.mask_as_output_logits(hm.mask_prompt_to_image(mask, S))
        self.assertTrue(np.array_equal(low, want))
        self.assertEqual(rec["obj_score"], 10.0)
        self.assertEqual(rec["prompt"], "mask")
        got = hm.bilinear_resize(low[None], H, W)[0] > 0
        iou = np.logical_and(got, mask).sum() / np.logical_or(got, mask).sum()
        self.assertGreater(iou, 0.95)
        rec1, low1 = out[1][0]  # an empty mask: absent, score -10, logits -10
        self.assertEqual(rec1["obj_score"], -10.0)
        self.assertFalse(rec1["present"])
        self.assertTrue(np.all(low1 == np.float32(-10.0)))

    def test_correction_changes_frame_and_later_frames(self):
        be = _backend("torch")
        base = [(0, 0, {"box": BOX})]
        a = _run(be, base)[0]
        b = _run(be, base + [(3, 0, {"points": [[150, 120]], "labels": [1]})])[0]
        _same(self, a[:3], b[:3])
        r3 = b[3][0]
        self.assertTrue(r3["correction"] and r3["cond"])
        self.assertEqual(r3["prompt"], "points")
        self.assertFalse(np.array_equal(a[3][1], b[3][1]))
        for k in (4, 5):
            self.assertFalse(np.array_equal(a[k][1], b[k][1]))
            self.assertIn([3, 0], b[k][0]["memory_frames"])  # a conditioning frame now
            self.assertEqual(b[k][0]["memory_frames"][:2], [[0, 0], [3, 0]])
            self.assertNotIn(3, [m[0] for m in b[k][0]["memory_frames"][2:]])
        # SAMURAI's Kalman filter restarts at the prompt: one point is a multimask frame, so
        # the filter initiates there from the chosen candidate
        self.assertEqual(r3["kf_branch"], "init")
        self.assertEqual(r3["stable_frames"], 1)
        # a re-seed box on a tracked frame is a correction too
        c = _run(be, base + [(4, 0, {"box": [100, 80, 160, 130]})])[0]
        self.assertTrue(c[4][0]["correction"])
        self.assertFalse(np.array_equal(a[4][1], c[4][1]))


def _ellipse(H, W, cx, cy, rx, ry):
    yy, xx = np.mgrid[0:H, 0:W]
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1


@unittest.skipIf(_bundle() is None or torch is None,
                 "needs $KAT_TEST_DATA/bundles/micro_efficienttam and torch")
class MultiOnnxV2Test(unittest.TestCase):
    """The ONNX format 2 bundle against the torch backend (same seeded weights) on prompts that
    need the decoder's mask input: per frame and object the same candidate, presence and
    conditioning, and IoU >= 0.999 of the low-res masks (logits > 0)."""

    N = 6

    def _compare(self, prompts):
        a = _run(_backend("onnx"), prompts, n=self.N)
        b = _run(_backend("torch"), prompts, n=self.N)
        self.assertEqual(sorted(a), sorted(b))
        worst, dmax = 1.0, 0.0
        for obj in a:
            self.assertEqual(len(a[obj]), len(b[obj]))
            for (ra, la), (rb, lb) in zip(a[obj], b[obj]):
                for k in ("frame", "prompt", "correction", "cond", "chosen", "present",
                          "multimask"):
                    self.assertEqual(ra.get(k), rb.get(k), "obj %d frame %d: %s" % (
                        obj, ra["frame"], k))
                ma, mb_ = la > 0, lb > 0
                union = np.logical_or(ma, mb_).sum()
                iou = 1.0 if union == 0 else np.logical_and(ma, mb_).sum() / union
                worst = min(worst, float(iou))
                dmax = max(dmax, float(np.abs(la - lb).max()))
                self.assertGreaterEqual(iou, 0.999, "obj %d frame %d" % (obj, ra["frame"]))
        print("%s: worst IoU %.6f, max |logits diff| %.3g" % (self.id().split(".")[-1], worst,
                                                               dmax))
        return a

    def test_mask_prompt(self):
        f = _frames(self.N)
        H, W = f.shape[1:3]
        out = self._compare([(0, 0, {"mask": _ellipse(H, W, 40, 80, 30, 22)})])
        self.assertEqual(out[0][0][0]["prompt"], "mask")

    def test_point_correction(self):
        out = self._compare([(0, 0, {"box": BOX}),
                             (3, 0, {"points": [[150, 120]], "labels": [1]})])
        self.assertTrue(out[0][3][0]["correction"])

    def test_box_correction(self):
        out = self._compare([(0, 0, {"box": BOX}), (4, 0, {"box": [100, 80, 160, 130]})])
        self.assertTrue(out[0][4][0]["correction"])

    def test_mask_correction_and_two_objects(self):
        f = _frames(self.N)
        H, W = f.shape[1:3]
        out = self._compare([(0, 0, {"box": BOX}),
                             (0, 1, {"points": [[200, 120], [20, 20]], "labels": [1, 0]}),
                             (2, 0, {"mask": _ellipse(H, W, 60, 90, 25, 30)})])
        self.assertTrue(out[0][2][0]["correction"])

    def test_decoder_mask_input_matters(self):
        """has_mask_input 1 changes the outputs, 0 ignores mask_input (bit for bit)."""
        be = _backend("onnx")
        S, low = be.meta["image_size"], be.meta["low_res_mask_size"]
        C, (h, w) = be.meta["hidden_dim"], be.meta["feat_size"]
        rng = np.random.RandomState(5)
        feeds = {"image_embed": rng.standard_normal((1, C, h, w)).astype(np.float32),
                 "point_coords": np.array([[[0.3 * S, 0.4 * S]]], np.float32),
                 "point_labels": np.ones((1, 1), np.int32)}
        plain = be.run("mask_decoder", dict(feeds))
        m = np.where(_ellipse(low, low, low / 2, low / 2, low / 4, low / 5), 10.0, -10.0)
        ign = be.run("mask_decoder", dict(feeds, mask_input=m[None, None].astype(np.float32),
                                          has_mask_input=np.zeros(1, np.float32)))
        use = be.run("mask_decoder", dict(feeds, mask_input=m[None, None].astype(np.float32),
                                          has_mask_input=np.ones(1, np.float32)))
        for k in plain:
            self.assertTrue(np.array_equal(plain[k], ign[k]), k)
        self.assertGreater(float(np.abs(use["masks"] - plain["masks"]).max()), 1e-3)


if __name__ == "__main__":
    unittest.main()
