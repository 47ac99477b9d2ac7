"""Issue 17's data and trainer: the on-the-fly training generator and the held-out generator are
deterministic, consistent (masks, boxes, visibility flags) and independent of each other; the
correction click, the absent-frame object loss and the presence confusion behave on hand-made
inputs; the trainer resumes from its saved state and stops cleanly on SIGTERM."""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
TRAIN = os.path.join(ROOT, "tools", "train")
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))
sys.path.insert(0, TRAIN)

from katana_train.gen import SynthClip  # noqa: E402
from katana_train.loop import correction_click, frame_loss  # noqa: E402

PY = sys.executable


class TrainGeneratorTest(unittest.TestCase):
    def test_deterministic_by_seed_and_index(self):
        a, b, c = SynthClip(5, 3, 64, 6), SynthClip(5, 3, 64, 6), SynthClip(5, 4, 64, 6)
        for t in range(6):
            np.testing.assert_array_equal(a.image_u8(t), b.image_u8(t))
            np.testing.assert_array_equal(a.mask(t).numpy(), b.mask(t).numpy())
        self.assertFalse(all(np.array_equal(a.image_u8(t), c.image_u8(t)) for t in range(6)))

    def test_masks_boxes_and_frame_shapes_agree(self):
        aspects, shown, absent = [], 0, 0
        for i in range(12):
            c = SynthClip(9, i, 64, 8)
            aspects.append(c.src_w / c.src_h)
            for t in range(c.n):
                self.assertEqual(c.image_u8(t).shape, (64, 64, 3))
                self.assertEqual(c.image_u8(t).dtype, np.uint8)
                m = c.mask(t).numpy()
                box = c.box_at_model_size(t)
                if box is None:
                    self.assertEqual(m.sum(), 0)
                    absent += 1
                    continue
                shown += 1
                ys, xs = np.nonzero(m)
                # The box comes from the source-resolution mask: it holds the resized mask
                # within a pixel of resampling.
                self.assertLessEqual(box[0], xs.min() + 1.5)
                self.assertLessEqual(box[1], ys.min() + 1.5)
                self.assertGreaterEqual(box[2], xs.max() - 0.5)
                self.assertGreaterEqual(box[3], ys.max() - 0.5)
        self.assertGreater(shown, 50)
        self.assertTrue(all(4 / 3 - 0.05 <= r <= 21 / 9 + 0.05 for r in aspects), aspects)
        self.assertGreater(max(aspects) - min(aspects), 0.3)


class HeldoutGeneratorTest(unittest.TestCase):
    def _gen(self, out, *extra):
        subprocess.run([PY, os.path.join(TRAIN, "heldout_synth.py"), "--out", out, "--count", "3",
                        "--frames", "30", "--size", "160x96", "--seed", "4"] + list(extra),
                       check=True, capture_output=True)

    def test_shares_no_code_with_the_training_generator(self):
        with open(os.path.join(TRAIN, "heldout_synth.py")) as f:
            src = f.read()
        self.assertNotIn("katana_train", src.replace("tools/train/katana_train/gen.py", ""))
        self.assertNotIn("ImageDraw", src)
        self.assertNotIn("import torch", src)

    def test_deterministic_and_lasot_layout(self):
        with tempfile.TemporaryDirectory() as tmp:
            self._gen(os.path.join(tmp, "a"))
            self._gen(os.path.join(tmp, "b"))
            events = []
            for i in range(3):
                da = os.path.join(tmp, "a", "heldout-%03d" % i)
                db = os.path.join(tmp, "b", "heldout-%03d" % i)
                for name in ("groundtruth.txt", "full_occlusion.txt", "img/00007.png"):
                    with open(os.path.join(da, name), "rb") as fa, \
                            open(os.path.join(db, name), "rb") as fb:
                        self.assertEqual(fa.read(), fb.read(), name)
                with open(os.path.join(da, "groundtruth.txt")) as f:
                    boxes = [[int(v) for v in ln.split(",")] for ln in f if ln.strip()]
                self.assertEqual(len(boxes), 30)
                with open(os.path.join(da, "full_occlusion.txt")) as f:
                    occ = [int(v) for v in f.read().strip().split(",")]
                self.assertEqual(len(occ), 30)
                with open(os.path.join(da, "events.txt")) as f:
                    events.append(f.read().strip())
                for t in (0, 13, 29):
                    with Image.open(os.path.join(da, "masks", "%05d.png" % t)) as im:
                        m = np.asarray(im) > 0
                    x, y, w, h = boxes[t]
                    if w == 0:
                        self.assertFalse(m.any())
                        continue
                    ys, xs = np.nonzero(m)
                    self.assertEqual((x, y, w, h), (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                                    ys.max() - ys.min() + 1))
                    with Image.open(os.path.join(da, "img", "%05d.png" % t)) as im:
                        self.assertEqual(im.size, (160, 96))
                if events[-1] == "occlusion":
                    # The pillar hides the target completely for a stretch, then it reappears.
                    self.assertGreater(sum(occ), 0)
                    self.assertLess(sum(occ), 25)
            self.assertEqual(events, ["jump", "zoom", "occlusion"])

    def test_rejects_bad_size(self):
        p = subprocess.run([PY, os.path.join(TRAIN, "heldout_synth.py"), "--out", "/nonexistent",
                            "--size", "12x"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--size must be WxH", p.stderr)


class LossAndClickTest(unittest.TestCase):
    def test_correction_click_on_hand_made_masks(self):
        gt = torch.zeros(16, 16)
        gt[4:8, 4:8] = 1
        pred = torch.zeros(16, 16, dtype=torch.bool)
        (x, y), lab = correction_click(pred, gt, random.Random(0))  # all missed: positive
        self.assertEqual(lab, 1)
        self.assertTrue(4 <= x < 8 and 4 <= y < 8)
        pred[:, :] = True  # everything segmented: the false positives dominate
        (x, y), lab = correction_click(pred, gt, random.Random(1))
        self.assertEqual(lab, 0)
        self.assertFalse(4 <= x < 8 and 4 <= y < 8)
        self.assertIsNone(correction_click(gt > 0.5, gt, random.Random(2)))

    def test_absent_weight_scales_only_absent_frames(self):
        masks = torch.zeros(1, 4, 8, 8)
        ious = torch.zeros(1, 4)
        obj = torch.tensor([[2.0]])
        empty = torch.zeros(32, 32)
        full = torch.zeros(32, 32)
        full[8:24, 8:24] = 1
        l1, _ = frame_loss(masks, ious, obj, empty, 32, [1, 2, 3], absent_weight=1.0)
        l5, _ = frame_loss(masks, ious, obj, empty, 32, [1, 2, 3], absent_weight=5.0)
        self.assertAlmostEqual(float(l5), 5 * float(l1), places=4)
        p1, _ = frame_loss(masks, ious, obj, full, 32, [1, 2, 3], absent_weight=1.0)
        p5, _ = frame_loss(masks, ious, obj, full, 32, [1, 2, 3], absent_weight=5.0)
        self.assertAlmostEqual(float(p1), float(p5), places=6)


class PresenceConfusionTest(unittest.TestCase):
    def test_hand_made_table(self):
        with tempfile.TemporaryDirectory() as tmp:
            g = os.path.join(tmp, "gt", "seq")
            r = os.path.join(tmp, "res", "seq")
            os.makedirs(g)
            os.makedirs(r)
            with open(os.path.join(g, "groundtruth.txt"), "w") as f:
                f.write("1,1,4,4\n1,1,4,4\n0,0,0,0\n0,0,0,0\n0,0,0,0\n")
            with open(os.path.join(g, "full_occlusion.txt"), "w") as f:
                f.write("0,0,1,1,0\n")
            with open(os.path.join(g, "out_of_view.txt"), "w") as f:
                f.write("0,0,0,0,1\n")
            pres = ["tracked", "tracked", "occluded", "tracked", "lost"]
            with open(os.path.join(r, "results.jsonl"), "w") as f:
                for t, p in enumerate(pres):
                    f.write(json.dumps({"frame": t, "presence": p}) + "\n")
            out = os.path.join(tmp, "p.json")
            subprocess.run([PY, os.path.join(TRAIN, "presence_confusion.py"),
                            os.path.join(tmp, "gt"), os.path.join(tmp, "res"), "--json", out],
                           check=True, capture_output=True)
            with open(out) as f:
                rep = json.load(f)
            self.assertEqual(rep["table"]["visible"]["tracked"], 1)  # frame 0 is left out
            self.assertEqual(rep["table"]["full occlusion"], {"tracked": 1, "occluded": 1,
                                                              "lost": 0})
            self.assertEqual(rep["table"]["out of view"]["lost"], 1)
            self.assertAlmostEqual(rep["occluded_not_tracked"], 0.5)


class ResumeTest(unittest.TestCase):
    def _train(self, out, *extra, wait=True):
        cmd = [PY, "-m", "katana_train", "--gen", "3", "--config", "micro_efficienttam",
               "--out", out, "--seg-minutes", "0", "--clip-len", "3", "--batch", "2",
               "--detach-mem", "--click-prob", "0.5", "--absent-weight", "5", "--seg-mix",
               "0.3", "--resume"] + list(extra)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        if not wait:
            return subprocess.Popen(cmd, cwd=TRAIN, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
        return subprocess.run(cmd, cwd=TRAIN, env=env, capture_output=True, text=True,
                              check=True)

    def test_resume_continues_state_and_sigterm_saves(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            self._train(out, "--minutes", "10", "--max-steps", "2")
            s1 = torch.load(os.path.join(out, "checkpoint.pt"))
            self.assertEqual(s1["step"], 2)
            self.assertGreaterEqual(s1["gen_index"], 2)
            for key in ("optimizer", "py_rng", "torch_rng", "phase_elapsed", "phase_steps",
                        "cpu_s"):
                self.assertIn(key, s1)
            self.assertTrue(os.path.exists(os.path.join(out, "snapshots", "step-000002.pt")))
            # A second session goes on from step 2 with the generator where it stopped.
            self._train(out, "--minutes", "10", "--max-steps", "1")
            s2 = torch.load(os.path.join(out, "checkpoint.pt"))
            self.assertEqual(s2["step"], 3)
            self.assertGreater(s2["gen_index"], s1["gen_index"])
            self.assertGreater(s2["phase_elapsed"]["track"], s1["phase_elapsed"]["track"])
            changed = sum(int(not torch.equal(s1["model"][k], v)) for k, v in s2["model"].items())
            self.assertGreater(changed, 10)
            # The packed state that a session commits (FP16 weights, BF16 second moments)
            # resumes too, with the step and the generator counter it had.
            packed = os.path.join(tmp, "packed", "checkpoint.pt")
            os.makedirs(os.path.dirname(packed))
            subprocess.run([PY, os.path.join(TRAIN, "finalize.py"),
                            os.path.join(out, "checkpoint.pt"), packed, "--with-optimizer"],
                           check=True, capture_output=True)
            sp = torch.load(packed)
            st0 = next(iter(sp["optimizer"]["state"].values()))
            self.assertEqual(st0["exp_avg_sq"].dtype, torch.bfloat16)
            self.assertNotIn("exp_avg", st0)
            for key in ("py_rng", "gen_index", "phase_elapsed", "phase_steps"):
                self.assertEqual(sp[key], s2[key], key)
            self.assertTrue(torch.equal(sp["torch_rng"], s2["torch_rng"]))
            self._train(os.path.dirname(packed), "--minutes", "10", "--max-steps", "1")
            s4 = torch.load(packed)
            self.assertEqual((s4["step"], s4["gen_index"] > s2["gen_index"]), (4, True))
            # SIGTERM mid-run: the trainer finishes its step, saves and exits 0.
            p = self._train(out, "--minutes", "10", wait=False)
            deadline = time.time() + 120
            log = os.path.join(out, "train_log.jsonl")
            while time.time() < deadline:
                with open(log) as f:
                    if sum(1 for _ in f) >= 4:
                        break
                time.sleep(0.5)
            p.send_signal(signal.SIGTERM)
            text, _ = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, text)
            self.assertIn("signal 15: saved", text)
            s3 = torch.load(os.path.join(out, "checkpoint.pt"))
            self.assertGreaterEqual(s3["step"], 4)


if __name__ == "__main__":
    unittest.main()
