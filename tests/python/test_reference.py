"""Tests of the Python reference tracker (tools/reference/katana_reference).

Pure parts against hand-computed values and against torch 1.13 (the reference's numerics), the
tracking loop on a small scripted backend, and end to end on the micro bundle with the onnx and
torch backends (skipped when $KAT_TEST_DATA/bundles/micro_efficienttam is absent)."""

import json
import os
import sys
import tempfile
import unittest

import numpy as np

_SRC = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
for _p in ("tools/reference", "tools/export", "tools"):
    _p = os.path.join(_SRC, _p)
    if _p not in sys.path:
        sys.path.insert(0, _p)

from katana_reference import hostmath as hm  # noqa: E402
from katana_reference import memory as mb  # noqa: E402
from katana_reference import synth  # noqa: E402
from katana_reference.tracker import KalmanChooser, Tracker, preprocess  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None


class KalmanTest(unittest.TestCase):
    def test_initiate_predict_update_hand_values(self):
        mean, cov = hm.kf_initiate([100.0, 50.0, 0.5, 40.0])
        # std: 2*(1/20)*40 = 4 for x, y, h; 1e-2 for a; 10*(1/160)*40 = 2.5 velocities; 1e-5 va
        np.testing.assert_allclose(np.diag(cov), [16, 16, 1e-4, 16, 6.25, 6.25, 1e-10, 6.25])
        np.testing.assert_array_equal(mean, [100, 50, 0.5, 40, 0, 0, 0, 0])
        mean, cov = hm.kf_predict(mean, cov)
        # P' = F P F^T + Q, Q std (1/20*40=2, 1e-2, 1/160*40=0.25, 1e-5)
        self.assertAlmostEqual(cov[0, 0], 16 + 6.25 + 4, places=12)
        self.assertAlmostEqual(cov[0, 4], 6.25, places=12)
        self.assertAlmostEqual(cov[4, 4], 6.25 + 0.0625, places=12)
        self.assertAlmostEqual(cov[2, 2], 1e-4 + 1e-10 + 1e-4, places=15)
        mean, cov2 = hm.kf_update(mean, cov, [104.0, 50.0, 0.5, 40.0])
        # S_xx = 26.25 + 2^2; gain_x = 26.25/30.25, gain_vx = 6.25/30.25; innovation 4
        self.assertAlmostEqual(mean[0], 100 + 4 * 26.25 / 30.25, places=10)
        self.assertAlmostEqual(mean[4], 4 * 6.25 / 30.25, places=10)
        self.assertAlmostEqual(mean[1], 50.0, places=12)
        self.assertAlmostEqual(cov2[0, 0], 26.25 - 26.25 ** 2 / 30.25, places=10)

    def test_update_matches_direct_inverse(self):
        rng = np.random.default_rng(1)
        mean, cov = hm.kf_initiate([30.0, 40.0, 1.3, 25.0])
        for _ in range(5):
            mean, cov = hm.kf_predict(mean, cov)
            z = mean[:4] + rng.normal(size=4) * [3, 3, 0.05, 2]
            pm, pc = hm.kf_project(mean, cov)
            k = cov[:, :4] @ np.linalg.inv(pc)
            want_mean = mean + k @ (z - pm)
            want_cov = cov - k @ pc @ k.T
            mean, cov = hm.kf_update(mean, cov, z)
            np.testing.assert_allclose(mean, want_mean, rtol=1e-12, atol=1e-10)
            np.testing.assert_allclose(cov, want_cov, rtol=1e-9, atol=1e-10)

    def test_box_conversions_and_iou(self):
        self.assertEqual(hm.xyxy_to_xyah([10, 20, 30, 60]), [20.0, 40.0, 0.5, 40])
        self.assertEqual(hm.xyxy_to_xyah([0, 0, 0, 0]), [0.0, 0.0, 0.0, 1])  # h 0 -> 1
        self.assertEqual(hm.xyah_to_xyxy([20.0, 40.0, 0.5, 40]), [10.0, 20.0, 30.0, 60.0])
        self.assertEqual(hm.box_iou_xyxy([0, 0, 10, 10], [0, 0, 0, 0]), 0)
        self.assertAlmostEqual(hm.box_iou_xyxy([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150)
        self.assertEqual(hm.box_iou_xyxy([0, 0, 10, 10], [20, 20, 30, 30]), 0)
        self.assertEqual(hm.box_iou_xyxy([3, 3, 3, 3], [3, 3, 3, 3]), 0)  # union 0


class MaskMathTest(unittest.TestCase):
    def test_box_from_mask(self):
        m = np.zeros((8, 10), bool)
        self.assertEqual(hm.box_from_mask(m), [0, 0, 0, 0])
        self.assertEqual(hm.box_xywh_from_mask(m), [0, 0, 0, 0])
        m[3, 5] = True
        self.assertEqual(hm.box_from_mask(m), [5, 3, 5, 3])
        m[7, 0] = True
        self.assertEqual(hm.box_from_mask(m), [0, 3, 5, 7])
        self.assertEqual(hm.box_xywh_from_mask(m), [0, 3, 5, 4])

    def test_gate_and_stability(self):
        masks = np.ones((3, 4, 4), np.float32)
        g, present = hm.gate_masks(masks, -1.0, -1.0)  # not strictly greater
        self.assertFalse(present)
        self.assertTrue((g == hm.NO_OBJ_SCORE).all())
        g, present = hm.gate_masks(masks, -0.999, -1.0)
        self.assertTrue(present)
        self.assertIs(g, masks)
        lo = np.full((10, 10), -1.0, np.float32)
        lo[:5] = 1.0
        lo[5, :] = 0.0  # inside (-0.05, 0.05]: counted in the union only
        self.assertAlmostEqual(float(hm.stability_score(lo, 0.05)), 50 / 60, places=6)
        self.assertEqual(float(hm.stability_score(np.full((4, 4), -5, np.float32), 0.05)), 1.0)
        m4 = np.stack([lo, lo, lo, lo])
        iou = np.array([0.9, 0.2, 0.7, 0.5], np.float32)
        self.assertEqual(hm.dynamic_multimask_choice(m4, iou, 0.05, 0.98), 2)  # unstable
        m4[0, 5, :] = 3.0
        self.assertEqual(hm.dynamic_multimask_choice(m4, iou, 0.05, 0.98), 0)  # stable

    @unittest.skipIf(torch is None, "torch missing")
    def test_bilinear_matches_torch_exactly(self):
        rng = np.random.default_rng(0)
        for c in (1, 3):
            for (h, w), (oh, ow) in [((32, 32), (128, 128)), ((64, 64), (240, 320)),
                                     ((32, 32), (37, 53)), ((16, 16), (16, 16)),
                                     ((128, 128), (100, 90)), ((128, 128), (512, 512))]:
                x = (rng.normal(size=(c, h, w)) * 5).astype(np.float32)
                want = F.interpolate(torch.from_numpy(x)[None], size=(oh, ow), mode="bilinear",
                                     align_corners=False)[0].numpy()
                got = hm.bilinear_resize(x, oh, ow)
                np.testing.assert_array_equal(got, want, err_msg="%d x %s -> %s" % (
                    c, (h, w), (oh, ow)))

    @unittest.skipIf(torch is None, "torch missing")
    def test_bf16_rounding_matches_torch(self):
        rng = np.random.default_rng(0)
        x = np.concatenate([
            (rng.normal(size=5000) * 10).astype(np.float32),
            np.array([0.0, -0.0, 1.0, 1.00390625, 1.005859375, -3.0e38, 3.3e38, np.inf,
                      -np.inf, 1e-40], np.float32),
            # exact ties (lower 16 bits 0x8000) with even and odd upper halves
            np.array([0x3F808000, 0x3F818000, 0xBF808000], np.uint32).view(np.float32)])
        want = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
        np.testing.assert_array_equal(hm.round_bf16(x), want)

    @unittest.skipIf(torch is None, "torch missing")
    def test_sine_pe_and_pointer_pos(self):
        pos = np.array([15, 1, 2, 3, 14], np.float32) / np.float32(15)
        got = hm.sine_pe_1d(pos, 64)
        # get_1d_sine_pe written out with torch
        p = torch.from_numpy(pos)
        dim_t = torch.arange(32, dtype=torch.float32)
        dim_t = 10000 ** (2 * (dim_t // 2) / 32)
        pe = p.unsqueeze(-1) / dim_t
        want = torch.cat([pe.sin(), pe.cos()], dim=-1).numpy()
        np.testing.assert_allclose(got, want, atol=2e-6)
        rng = np.random.default_rng(0)
        wt = rng.normal(size=(64, 256)).astype(np.float32) * 0.05
        bs = rng.normal(size=64).astype(np.float32)
        enc = mb.pointer_pos_enc([15, 1, 2], 15, 256, 64, True, True, wt, bs)
        lin = torch.nn.functional.linear(
            torch.from_numpy(hm.sine_pe_1d(np.array([1.0, 1 / 15, 2 / 15], np.float32), 256)),
            torch.from_numpy(wt), torch.from_numpy(bs)).numpy()
        np.testing.assert_allclose(enc, lin, atol=1e-5)
        self.assertTrue((mb.pointer_pos_enc([3, 1], 15, 256, 64, False, False) == 0).all())

    @unittest.skipIf(torch is None, "torch missing")
    def test_samurai_dtype_rules(self):
        # float32 tensor vs Python float compares against float32(thr) in torch
        t = torch.tensor([0.3], dtype=torch.float32)
        self.assertEqual(bool(t > 0.3), bool(np.float32(0.3) > np.float32(0.3)))
        # weighted score: float64(w*kf) + float32((1-w)*iou), as in the chooser
        ch = KalmanChooser(15, 0.3, 0.15)
        ch.mean, ch.cov = hm.kf_initiate(hm.xyxy_to_xyah([10, 10, 50, 40]))
        ch.stable_frames = 15
        ious = np.array([0.81234567, 0.8123456, 0.2], np.float32)
        boxes = [[10, 10, 50, 40], [12, 10, 52, 40], [0, 0, 0, 0]]
        mean_before = ch.mean.copy()
        k, kf_score, branch = ch.choose(ious, boxes)
        self.assertEqual(branch, "stable")
        pm, _ = hm.kf_predict(mean_before, hm.kf_initiate(hm.xyxy_to_xyah(boxes[0]))[1])
        kf = torch.tensor(hm.kf_ious(pm, boxes), dtype=torch.float64)
        want = torch.argmax(0.15 * kf + (1 - 0.15) * torch.from_numpy(ious)).item()
        self.assertEqual(k, want)
        self.assertEqual(kf_score, float(kf[want]))


class ChooserTest(unittest.TestCase):
    def test_stable_frames_logic(self):
        ch = KalmanChooser(3, 0.3, 0.25)
        box = [10, 10, 50, 40]
        boxes = [box, [0, 0, 0, 0], [100, 100, 120, 130]]
        hi = np.array([0.9, 0.5, 0.95], np.float32)  # argmax is 2 (the far box)
        k, s, br = ch.choose(hi, boxes)
        self.assertEqual((k, s, br, ch.stable_frames), (2, None, "init", 1))
        k, s, br = ch.choose(np.array([0.9, 0.1, 0.2], np.float32), boxes)
        self.assertEqual((k, br, ch.stable_frames), (0, "warmup", 2))
        k, s, br = ch.choose(np.array([0.9, 0.1, 0.2], np.float32), boxes)
        self.assertEqual((k, br, ch.stable_frames), (0, "warmup", 3))
        # stable: KF now sits between boxes 2 and 0; weighted choice, kf_score recorded
        k, s, br = ch.choose(np.array([0.5, 0.2, 0.52], np.float32), boxes)
        self.assertEqual(br, "stable")
        self.assertIsNotNone(s)
        self.assertEqual(ch.stable_frames, 3)
        # a chosen IoU below 0.3 resets; the next frame re-initiates
        ch.choose(np.array([0.1, 0.2, 0.25], np.float32), boxes)
        self.assertEqual(ch.stable_frames, 0)
        k, s, br = ch.choose(np.array([0.1, 0.2, 0.25], np.float32), boxes)
        self.assertEqual((k, br, ch.stable_frames), (2, "init", 1))
        # warm-up with a low IoU resets to 0
        ch.choose(np.array([0.1, 0.2, 0.25], np.float32), boxes)
        self.assertEqual(ch.stable_frames, 0)


def _rec(iou=0.9, score=1.0, kf=None):
    return mb.FrameRecord(None, None, iou, score, kf)


class MemorySelectionTest(unittest.TestCase):
    def test_samurai_all_good(self):
        recs = {i: _rec() for i in range(1, 10)}
        sel = mb.select_memory_samurai(10, recs, 7, 16, 0.5, 0.0, 0.0)
        self.assertEqual(sel, [(1, 4), (2, 5), (3, 6), (4, 7), (5, 8), (6, 9)])

    def test_samurai_filtering(self):
        recs = {i: _rec() for i in range(1, 10)}
        recs[8] = _rec(iou=0.5)  # not > 0.5
        recs[6] = _rec(score=0.0)  # not > 0
        recs[5] = _rec(kf=0.0)  # kf_score not > 0
        recs[4] = _rec(kf=0.01)  # kept
        sel = mb.select_memory_samurai(10, recs, 7, 16, 0.5, 0.0, 0.0)
        self.assertEqual(sel, [(2, 2), (3, 3), (4, 4), (5, 7), (6, 9)])
        recs[9] = _rec(iou=0.1)  # the previous frame enters even when filtered out
        sel = mb.select_memory_samurai(10, recs, 7, 16, 0.5, 0.0, 0.0)
        self.assertEqual(sel, [(2, 2), (3, 3), (4, 4), (5, 7), (6, 9)])

    def test_samurai_frame_one_and_early_frames(self):
        recs = {1: _rec()}
        self.assertEqual(mb.select_memory_samurai(1, {}, 7, 16, 0.5, 0, 0), [])
        self.assertEqual(mb.select_memory_samurai(2, recs, 7, 16, 0.5, 0, 0), [(6, 1)])
        recs.update({2: _rec(iou=0.1), 3: _rec(iou=0.1), 4: _rec(iou=0.1)})
        # frame 1 is never scanned: only the appended previous frame remains
        self.assertEqual(mb.select_memory_samurai(5, recs, 7, 16, 0.5, 0, 0), [(6, 4)])

    def test_samurai_walk_stops_after_max(self):
        recs = {i: _rec() for i in range(1, 40)}
        recs[39] = _rec(iou=0.0)
        sel = mb.select_memory_samurai(40, recs, 7, 4, 0.5, 0, 0)  # keeps 3: 36,37,38 + 39
        self.assertEqual(sel, [(3, 36), (4, 37), (5, 38), (6, 39)])

    def test_sam2_rule(self):
        recs = {i: _rec() for i in range(1, 20)}
        self.assertEqual(mb.select_memory_sam2(3, recs, 7), [(5, 1), (6, 2)])
        self.assertEqual(mb.select_memory_sam2(10, recs, 7),
                         [(1, 4), (2, 5), (3, 6), (4, 7), (5, 8), (6, 9)])
        self.assertEqual(mb.select_memory_sam2(10, recs, 7, stride=2),
                         [(2, 2), (3, 4), (4, 6), (5, 8), (6, 9)])  # frame 0 = cond

    def test_pointers(self):
        recs = {i: _rec() for i in range(1, 30)}
        p, tmax = mb.select_pointers(20, 0, recs, 100, 16)
        self.assertEqual(tmax, 15)
        self.assertEqual(p[0], (20, 0))
        self.assertEqual([i for _, i in p[1:]], list(range(19, 4, -1)))
        self.assertEqual([t for t, _ in p[1:]], list(range(1, 16)))
        p, tmax = mb.select_pointers(8, 0, recs, 10, 16)
        self.assertEqual(tmax, 9)
        self.assertEqual(p, [(8, 0)] + [(d, 8 - d) for d in range(1, 8)])

    def test_assemble_memory_order(self):
        Cm, C = 4, 8
        f0 = np.arange(Cm * 2 * 2, dtype=np.float32).reshape(Cm, 2, 2)
        f1 = -f0
        pos = np.ones((1, Cm, 2, 2), np.float32)
        tpos = np.arange(3 * Cm, dtype=np.float32).reshape(3, 1, 1, Cm)
        ptrs = np.arange(2 * C, dtype=np.float32).reshape(2, C)
        ppos = np.array([[9] * Cm, [7] * Cm], np.float32)
        mem, mpos, n = mb.assemble_memory([(0, f0), (2, f1)], ptrs, ppos, pos, tpos, 3, Cm)
        self.assertEqual(mem.shape, (1, 4 + 4 + 4, Cm))
        self.assertEqual(n, 4)
        np.testing.assert_array_equal(mem[0, 1], f0[:, 0, 1])
        np.testing.assert_array_equal(mpos[0, 0], 1 + tpos[2, 0, 0])  # cond: row nm-0-1
        np.testing.assert_array_equal(mpos[0, 4], 1 + tpos[0, 0, 0])  # t_pos 2: row 0
        np.testing.assert_array_equal(mem[0, 8], ptrs[0, :4])
        np.testing.assert_array_equal(mem[0, 9], ptrs[0, 4:])
        np.testing.assert_array_equal(mem[0, 10], ptrs[1, :4])
        np.testing.assert_array_equal(mpos[0, 9], ppos[0])
        np.testing.assert_array_equal(mpos[0, 10], ppos[1])


class ScriptedBackend:
    """A numpy stand-in for the four modules: the mask decoder draws the object as a disk at a
    scripted position per frame (candidates shifted/scaled), with scripted IoUs and scores, so
    the loop's plumbing (gating, choice, pointer mixing, memory bank) can be checked."""

    def __init__(self, S=64, script=None):
        self.S = S
        self.script = script
        self.t = -1
        C, Cm, H = 16, 4, S // 16
        self.meta = {
            "image_size": S, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "hidden_dim": C, "mem_dim": Cm, "num_maskmem": 7, "max_obj_ptrs_in_encoder": 16,
            "use_high_res_features": False,
            "tracker": {"add_tpos_enc_to_obj_ptrs": False, "proj_tpos_enc_in_obj_ptrs": False,
                        "use_signed_tpos_enc_to_obj_ptrs": False,
                        "only_obj_ptrs_in_the_past_for_eval": True,
                        "directly_add_no_mem_embed": True, "pred_obj_scores": True,
                        "fixed_no_obj_ptr": True, "soft_no_obj_ptr": False,
                        "use_multimask_token_for_obj_ptr": True,
                        "multimask_output_for_tracking": True, "multimask_output_in_sam": True,
                        "multimask_min_pt_num": 0, "multimask_max_pt_num": 1,
                        "dynamic_multimask_via_stability": True,
                        "dynamic_multimask_stability_delta": 0.05,
                        "dynamic_multimask_stability_thresh": 0.98,
                        "memory_temporal_stride_for_eval": 1, "no_obj_embed_spatial": False}}
        self.consts = {"no_mem_embed": np.zeros((1, 1, C), np.float32),
                       "no_obj_ptr": np.full((1, C), 7.0, np.float32),
                       "maskmem_pos_enc": np.zeros((1, Cm, H, H), np.float32),
                       "maskmem_tpos_enc": np.zeros((7, 1, 1, Cm), np.float32)}
        self.calls = []

    def run(self, module, feeds):
        S, C, Cm, H = self.S, 16, 4, self.S // 16
        self.calls.append((module, {k: np.array(v) for k, v in feeds.items()}))
        if module == "image_encoder":
            self.t += 1
            return {"vision_feats": np.zeros((1, C, H, H), np.float32)}
        if module == "memory_attention":
            return {"pix_feat_with_mem": np.zeros((1, C, H, H), np.float32)}
        if module == "memory_encoder":
            return {"maskmem_features": np.full((1, Cm, H, H), 1.00001, np.float32)}
        cx, cy, r, ious, score = self.script[self.t]
        yy, xx = np.mgrid[0:S // 4, 0:S // 4] + 0.5
        masks = []
        for k, (dx, dr) in enumerate([(0, 0), (0, 0), (6, 0), (0, -2)]):
            d = np.sqrt((xx - cx / 4 - dx) ** 2 + (yy - cy / 4) ** 2)
            masks.append((r / 4 + dr - d) * 4)
        ptr = np.tile(np.arange(4, dtype=np.float32)[:, None], (1, C))[None]
        return {"masks": np.stack(masks)[None].astype(np.float32),
                "iou_pred": np.array([ious], np.float32),
                "obj_score_logits": np.array([[score]], np.float32), "obj_ptr": ptr}


class TrackerLoopTest(unittest.TestCase):
    def _run(self, script, selection, n=None):
        be = ScriptedBackend(64, script)
        trk = Tracker(be, (16, 16, 32, 32), 64, 64, len(script), selection)
        rgb = np.zeros((64, 64, 3), np.uint8)
        out = [trk.step(rgb) for _ in range(n or len(script))]
        return be, trk, out

    def test_loop_choices_gating_and_pointers(self):
        script = [(24, 24, 8, [0.9, 0.5, 0.6, 0.4], 2.0)]
        script += [(24 + 2 * t, 24, 8, [0.5, 0.7, 0.6, 0.2], 2.0) for t in range(1, 6)]
        script += [(36, 24, 8, [0.5, 0.7, 0.6, 0.2], -0.5)]  # absent for sam2, present samurai
        script += [(36, 24, 8, [0.5, 0.7, 0.6, 0.2], -3.0)]  # absent for both
        be, trk, out = self._run(script, "samurai")
        recs = [o[0] for o in out]
        self.assertEqual(recs[0]["chosen"], 0)  # single mask, token 0 stable
        self.assertFalse(recs[0]["multimask"])
        self.assertEqual([r["chosen"] for r in recs[1:6]], [1] * 5)
        self.assertEqual(recs[1]["kf_branch"], "init")
        self.assertEqual(recs[2]["kf_branch"], "warmup")
        self.assertTrue(recs[6]["present"])
        self.assertFalse(recs[7]["present"])
        self.assertEqual(recs[7]["box_xywh"], [0, 0, 0, 0])
        self.assertTrue((out[7][1] == hm.NO_OBJ_SCORE).all())
        # pointer of an absent frame is no_obj_ptr; of a present one the chosen token (1)
        self.assertTrue((trk.records[7].obj_ptr == 7.0).all())
        self.assertTrue((trk.records[6].obj_ptr == 1.0).all())
        self.assertTrue((trk.cond.obj_ptr == 0.0).all())  # frame 0: token 0 always
        # stored memory is bf16-rounded
        self.assertEqual(float(trk.records[3].maskmem_features[0, 0, 0]),
                         float(hm.round_bf16(np.float32(1.00001))))
        # frame 0's memory encoder call binarises, later ones do not
        me = [c for m, c in be.calls if m == "memory_encoder"]
        self.assertEqual(float(me[0]["is_mask_from_pts"][0]), 1.0)
        self.assertEqual(float(me[3]["is_mask_from_pts"][0]), 0.0)
        # box prompt: (16,16,32,32) of a 64x64 video at S=64 -> same pixels, labels 2,3
        dec = [c for m, c in be.calls if m == "mask_decoder"]
        np.testing.assert_array_equal(dec[0]["point_coords"], [[[16, 16], [32, 32]]])
        np.testing.assert_array_equal(dec[0]["point_labels"], [[2, 3]])
        np.testing.assert_array_equal(dec[1]["point_labels"], [[-1]])
        ma = [c for m, c in be.calls if m == "memory_attention"]
        # frame 7 memory: cond + samurai-valid frames (frame 1 never scanned) + previous frame
        self.assertEqual(recs[7]["memory_frames"],
                         [[0, 0], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6]])
        self.assertEqual(int(ma[-1]["num_obj_ptr_tokens"]), 7 * 4)
        self.assertEqual(ma[-1]["memory"].shape, (1, 6 * 16 + 28, 4))

    def test_sam2_mode(self):
        script = [(24, 24, 8, [0.9, 0.5, 0.6, 0.4], 2.0)]
        script += [(28, 24, 8, [0.5, 0.6, 0.7, 0.2], 2.0), (28, 24, 8, [0.5, 0.6, 0.7, 0.2], -0.5)]
        be, trk, out = self._run(script, "sam2")
        recs = [o[0] for o in out]
        self.assertEqual(recs[1]["chosen"], 2)  # argmax IoU over the multimask candidates
        self.assertIsNone(recs[1]["kf_mean"])
        self.assertFalse(recs[2]["present"])  # score -0.5 <= 0
        self.assertEqual(recs[2]["memory_frames"], [[0, 0], [1, 6]])

    def test_preprocess(self):
        rgb = np.full((30, 40, 3), 128, np.uint8)
        x = preprocess(rgb, 32, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        self.assertEqual(x.shape, (1, 3, 32, 32))
        self.assertAlmostEqual(float(x[0, 1, 5, 5]), (128 / 255 - 0.456) / 0.224, places=5)

    def test_box_prompt_scaling(self):
        pts, lab = hm.box_prompt_points((10, 20, 110, 220), 320, 240, 512)
        np.testing.assert_allclose(pts[0], [[16, 20 * 512 / 240], [176, 220 * 512 / 240]],
                                   rtol=1e-6)
        self.assertEqual(pts.dtype, np.float32)


class OutputFilesTest(unittest.TestCase):
    def test_track_writes_goldens(self):
        from katana_reference.run import track
        tmp = tempfile.mkdtemp(prefix="katref_out_")
        clip = os.path.join(tmp, "clip")
        synth.write_clip(clip, 4, 64, 48, seed=1)
        script = [(24, 24, 8, [0.9, 0.5, 0.6, 0.4], 2.0)] + [
            (26, 24, 8, [0.5, 0.7, 0.6, 0.2], 2.0)] * 2 + [(26, 24, 8, [0.5, 0.7, 0.6, 0.2], -5.0)]
        be = ScriptedBackend(64, script)
        out = os.path.join(tmp, "out")
        recs, lows = track(be, clip, [8, 8, 20, 16], out, "samurai", write_pngs=True)
        with open(os.path.join(out, "frames.jsonl")) as f:
            lines = [json.loads(l) for l in f]
        self.assertEqual([r["frame"] for r in lines], [0, 1, 2, 3])
        for key in ("chosen", "iou_pred", "obj_score", "present", "kf_mean", "kf_score",
                    "stable_frames", "box_xywh", "memory_frames", "pointer_frames"):
            self.assertIn(key, lines[1])
        self.assertEqual(len(lines[1]["iou_pred"]), 4)
        low = np.load(os.path.join(out, "masks.npz"))["low_res"]
        self.assertEqual((low.shape, low.dtype), ((4, 16, 16), np.float32))
        np.testing.assert_array_equal(low, lows)
        with open(os.path.join(out, "boxes.txt")) as f:
            boxes = [l.strip() for l in f]
        self.assertEqual(len(boxes), 4)
        self.assertEqual(boxes[3], "0,0,0,0")  # absent object: empty mask
        self.assertNotEqual(boxes[1], "0,0,0,0")
        self.assertEqual(len(os.listdir(os.path.join(out, "masks"))), 4)
        with open(os.path.join(out, "meta.json")) as f:
            self.assertEqual(json.load(f)["video_size"], [64, 48])

    @unittest.skipIf(not any(os.access(os.path.join(d, "ffmpeg"), os.X_OK)
                             for d in os.environ.get("PATH", "").split(os.pathsep)),
                     "ffmpeg CLI missing")
    def test_mp4_source(self):
        import subprocess
        from katana_reference.frames import FrameSource
        tmp = tempfile.mkdtemp(prefix="katref_mp4_")
        synth.write_clip(tmp, 5, 64, 48, seed=2)
        mp4 = os.path.join(tmp, "c.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-framerate", "10", "-i",
                        os.path.join(tmp, "%05d.png"), "-pix_fmt", "yuv420p", mp4], check=True)
        src = FrameSource(mp4)
        frames = list(src)
        src.close()
        self.assertEqual(len(frames), 5)
        self.assertEqual(frames[0].shape, (48, 64, 3))
        self.assertIsNone(src.tmp)


class SynthTest(unittest.TestCase):
    def test_clip_deterministic(self):
        f1, b1 = synth.make_clip(22, 96, 64, seed=3)
        f2, b2 = synth.make_clip(22, 96, 64, seed=3)
        self.assertTrue(np.array_equal(f1, f2))
        self.assertEqual(b1, b2)
        f, b = synth.make_clip(30)
        self.assertEqual(f.shape, (30, 240, 320, 3))
        self.assertIsNone(b[20])  # fully behind the occluder
        self.assertEqual(b[0], [12, 60, 56, 40])


def _bundle_dir():
    d = os.environ.get("KAT_TEST_DATA")
    if not d:
        return None
    p = os.path.join(d, "bundles", "micro_efficienttam")
    return p if os.path.isfile(os.path.join(p, "katana.json")) else None


@unittest.skipIf(_bundle_dir() is None, "needs $KAT_TEST_DATA/bundles/micro_efficienttam")
class EndToEndTest(unittest.TestCase):
    N = 20

    def test_onnx_and_torch_agree(self):
        from katana_reference import backends
        from katana_reference.run import track
        bundle = _bundle_dir()
        tmp = tempfile.mkdtemp(prefix="katref_test_")
        clip = os.path.join(tmp, "clip")
        _, boxes = synth.write_clip(clip, self.N)
        results = {}
        for kind in ("onnx", "torch"):
            be = (backends.OnnxBackend(bundle) if kind == "onnx"
                  else backends.TorchBackend.from_bundle(bundle))
            out = os.path.join(tmp, kind)
            recs, lows = track(be, clip, boxes[0], out, "samurai")
            results[kind] = (recs, lows)
            self.assertEqual(len(recs), self.N)
            with open(os.path.join(out, "frames.jsonl")) as f:
                self.assertEqual(len([json.loads(l) for l in f]), self.N)
            npz = np.load(os.path.join(out, "masks.npz"))["low_res"]
            self.assertEqual(npz.shape, (self.N, be.meta["image_size"] // 4,
                                         be.meta["image_size"] // 4))
        (ro, lo), (rt, lt) = results["onnx"], results["torch"]
        for a, b, la, lb in zip(ro, rt, lo, lt):
            self.assertEqual(a["chosen"], b["chosen"], "frame %d" % a["frame"])
            self.assertEqual(a["present"], b["present"], "frame %d" % a["frame"])
            self.assertEqual(a["memory_frames"], b["memory_frames"])
            ma, mb_ = la > 0, lb > 0
            uni = np.logical_or(ma, mb_).sum()
            iou = 1.0 if uni == 0 else np.logical_and(ma, mb_).sum() / uni
            self.assertGreaterEqual(iou, 0.999, "frame %d" % a["frame"])
            self.assertLess(abs(a["obj_score"] - b["obj_score"]), 1e-3)


if __name__ == "__main__":
    unittest.main()
