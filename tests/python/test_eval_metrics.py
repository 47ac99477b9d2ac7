"""Cross-checks `katana eval` against an independent numpy implementation of the LaSOT /
pytracking box metrics, on random sequences with absent ground truth and invalid predictions.

The numpy side deliberately uses the toolkit's pixel-inclusive formulas (right = x + w - 1,
width = right - left + 1; center = x + (w - 1) / 2) and numpy's arange thresholds, so it checks
both the arithmetic and the claim in docs/internals/eval.md that the C code's continuous IoU
equals the toolkit's.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np


def lasot_scores(pred, gt, absent_as_failure=False):
    """Box metrics of one sequence by the LaSOT toolkit's rules (see docs/internals/eval.md)."""
    pred = pred.copy()
    n = gt.shape[0]
    if pred.shape[0] < n:
        pad = np.full((n - pred.shape[0], 4), np.nan)
        pred = np.concatenate([pred, pad], 0)
    pred = pred[:n]
    pred[0] = gt[0]
    for i in range(1, n):
        bad = (not np.all(np.isfinite(pred[i]))) or pred[i, 2] <= 0 or pred[i, 3] <= 0
        if bad:
            pred[i] = pred[i - 1]
    valid = np.all(np.isfinite(gt), 1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    p, g = pred[valid], gt[valid]
    tl = np.maximum(p[:, :2], g[:, :2])
    br = np.minimum(p[:, :2] + p[:, 2:] - 1.0, g[:, :2] + g[:, 2:] - 1.0)
    sz = np.clip(br - tl + 1.0, 0, None)
    inter = sz[:, 0] * sz[:, 1]
    union = p[:, 2] * p[:, 3] + g[:, 2] * g[:, 3] - inter
    iou = inter / union
    pc = p[:, :2] + 0.5 * (p[:, 2:] - 1.0)
    gc = g[:, :2] + 0.5 * (g[:, 2:] - 1.0)
    err = np.sqrt(((pc - gc) ** 2).sum(1))
    nerr = np.sqrt((((pc - gc) / g[:, 2:]) ** 2).sum(1))
    denom = valid.sum() + ((~valid).sum() if absent_as_failure else 0)
    thr_o = np.arange(0, 1.05, 0.05)
    thr_n = np.arange(0, 51) / 100.0
    success = (iou[:, None] > thr_o[None, :]).sum(0) / denom
    prec = (err[:, None] <= np.arange(0, 51)[None, :]).sum(0) / denom
    norm = (nerr[:, None] <= thr_n[None, :]).sum(0) / denom
    return {
        "auc": success.mean(),
        "mean_box_iou": iou.mean(),
        "precision_20": prec[20],
        "norm_precision": norm[20],
        "norm_precision_auc": norm.mean(),
        "box_frames": int(valid.sum()),
        "absent_frames": int((~valid).sum()),
    }


def write_boxes(path, boxes):
    with open(path, "w") as f:
        for b in boxes:
            f.write(",".join("NaN" if not np.isfinite(v) else "%.4f" % v for v in b) + "\n")


def random_case(rng, n=120):
    gt = np.zeros((n, 4))
    x, y = 200.0, 150.0
    for i in range(n):
        x += rng.normal(0, 4)
        y += rng.normal(0, 3)
        gt[i] = [x, y, 40 + 10 * np.sin(i / 9), 30 + 8 * np.cos(i / 7)]
    # Absent frames: a run of 0,0,0,0 and a few NaN lines (never frame 0).
    gt[30:38] = 0
    gt[[50, 77]] = np.nan
    pred = gt + rng.normal(0, 6, size=gt.shape) * [1, 1, 0.5, 0.5]
    pred[[5, 6, 60]] = 0  # invalid predictions: held from the previous frame
    pred[90] = np.nan
    pred[33:35] = np.nan  # invalid on absent frames: held, not scored
    return pred[: n - 3], gt  # a run shorter than the ground truth


class EvalMetricsTest(unittest.TestCase):
    def setUp(self):
        self.cli = os.environ.get("KAT_CLI")
        if not self.cli or not os.access(self.cli, os.X_OK):
            self.skipTest("KAT_CLI not set")

    def run_eval(self, tmp, pred, gt, extra=()):
        os.makedirs(os.path.join(tmp, "run"), exist_ok=True)
        write_boxes(os.path.join(tmp, "run", "boxes.txt"), pred)
        write_boxes(os.path.join(tmp, "gt.txt"), gt)
        out = os.path.join(tmp, "eval.json")
        subprocess.run([self.cli, "eval", "--results", os.path.join(tmp, "run"), "--gt",
                        os.path.join(tmp, "gt.txt"), "--json", out, *extra],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)["runs"][0]

    def check(self, got, want):
        for k, v in want.items():
            if isinstance(v, int):
                self.assertEqual(got[k], v, k)
            else:
                self.assertAlmostEqual(got[k], v, delta=2e-6, msg=k)

    def test_matches_numpy_reference(self):
        for seed in range(3):
            pred, gt = random_case(np.random.default_rng(seed))
            # Round as the files do, so both sides see the same numbers.
            pred = np.round(pred, 4)
            gt = np.round(gt, 4)
            with tempfile.TemporaryDirectory() as tmp:
                got = self.run_eval(tmp, pred, gt)
                want = lasot_scores(pred, gt)
                self.check(got, want)
                self.assertGreater(want["auc"], 0.2)  # a non-trivial case
                got = self.run_eval(tmp, pred, gt, ["--absent-as-failure"])
                self.check(got, lasot_scores(pred, gt, absent_as_failure=True))


if __name__ == "__main__":
    unittest.main()
