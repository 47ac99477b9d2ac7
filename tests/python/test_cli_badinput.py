"""katana track / eval / bench on inputs our own pipeline did not produce: outputs that are
inputs (a symlink, a '..' path), a sequence folder's ground-truth masks, a failing --overlay over an
earlier run, a shorter second run into the same --out, SIGINT/SIGTERM/SIGKILL mid-run, numbers
out of range, partial lists, conflicting options, and eval on mismatched files. Every case checks
the exit status AND that the message names the problem, and that files already there survive."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
CLI = os.environ.get("KAT_CLI") or os.path.join(ROOT, "build", "bin", "katana")
DATA = os.environ.get("KAT_TEST_DATA") or os.path.join(ROOT, ".testdata")
BUNDLE = os.path.join(DATA, "bundles", "micro_efficienttam")
CLIP = os.path.join(DATA, "track", "clip")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read(path):
    with open(path) as f:
        return f.read()


def tree_digest(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        out[name] = sha(os.path.join(folder, name))
    return out


def katana(*args, timeout=300):
    p = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def ffprobe_frames(path):
    if not shutil.which("ffprobe"):
        return None
    p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                        "-show_entries", "stream=nb_read_frames", "-of",
                        "default=nw=1:nk=1", path], capture_output=True, text=True)
    return int(p.stdout.strip()) if p.returncode == 0 and p.stdout.strip().isdigit() else -1


@unittest.skipUnless(os.path.isfile(CLI) and os.path.isdir(BUNDLE) and os.path.isdir(CLIP),
                     "needs the built CLI and .testdata (micro bundle, track clip)")
class TrackOutputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kat_cli_badinput_")
        # A hand-made sequence folder (copied, so nothing we refuse can touch .testdata) and a
        # video made by ffmpeg, not by katana.
        cls.seq = os.path.join(cls.tmp, "seq")
        shutil.copytree(CLIP, cls.seq)
        cls.video = os.path.join(cls.tmp, "input.mp4")
        rc, out = katana("synth", "--out", os.path.join(cls.tmp, "syn"), "--frames", "300",
                         "--size", "160x96", "--mp4")
        assert rc == 0, out
        syn = os.path.join(cls.tmp, "syn")
        cls.long_seq = os.path.join(syn, sorted(os.listdir(syn))[0])
        shutil.copy(os.path.join(cls.long_seq, "video.mp4"), cls.video)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def track(self, *args, inp=None):
        inp = inp or os.path.join(self.seq, "img")
        return katana("track", inp, "--model", BUNDLE, "--quiet", *args)

    def test_overlay_over_input_video_refused(self):
        before = sha(self.video)
        os.makedirs(os.path.join(self.tmp, "sub"), exist_ok=True)
        link = os.path.join(self.tmp, "link.mp4")
        if not os.path.lexists(link):
            os.symlink(self.video, link)
        for overlay in (self.video, link, os.path.join(self.tmp, "sub", "..", "input.mp4")):
            rc, out = self.track("--box", "10,10,30,30", "--overlay", overlay,
                                 "--out", os.path.join(self.tmp, "o_ov"), inp=self.video)
            self.assertEqual(rc, 2, out)
            self.assertIn("is the input video", out)
            self.assertIn("refusing to write over an input", out)
            self.assertEqual(sha(self.video), before)

    def test_out_into_sequence_masks_refused(self):
        masks = os.path.join(self.seq, "masks")
        before = tree_digest(masks)
        for out_dir in (self.seq, os.path.join(self.seq, "img", "..")):
            rc, out = self.track("--box-file", os.path.join(self.seq, "groundtruth.txt"),
                                 "--out", out_dir, "--masks")
            self.assertEqual(rc, 2, out)
            self.assertIn("masks folder", out)
            self.assertIn("ground truth", out)
        # The box file's own sequence counts too, even with a video input and a symlinked --out.
        link = os.path.join(self.tmp, "seq_link")
        if not os.path.lexists(link):
            os.symlink(self.seq, link)
        rc, out = self.track("--box-file", os.path.join(self.seq, "groundtruth.txt"), "--out",
                             link, inp=self.video)
        self.assertEqual(rc, 2, out)
        self.assertIn("masks folder", out)
        self.assertEqual(tree_digest(masks), before)
        self.assertFalse(os.path.exists(os.path.join(self.seq, "boxes.txt")))

    def test_foreign_out_folder_refused(self):
        # A folder with a boxes.txt and mask PNGs katana did not write is never cleared.
        d = os.path.join(self.tmp, "foreign")
        os.makedirs(os.path.join(d, "masks"), exist_ok=True)
        with open(os.path.join(d, "boxes.txt"), "w") as f:
            f.write("1,2,3,4\n")
        shutil.copy(os.path.join(self.seq, "masks", sorted(os.listdir(
            os.path.join(self.seq, "masks")))[0]), os.path.join(d, "masks", "00000.png"))
        rc, out = self.track("--box", "10,10,30,30", "--out", d, "--frames", "2")
        self.assertEqual(rc, 2, out)
        self.assertIn("did not write", out)
        self.assertEqual(read(os.path.join(d, "boxes.txt")), "1,2,3,4\n")
        self.assertTrue(os.path.isfile(os.path.join(d, "masks", "00000.png")))

    def test_failing_overlay_keeps_earlier_results(self):
        d = os.path.join(self.tmp, "keep")
        rc, out = self.track("--box", "10,10,30,30", "--out", d, "--frames", "4")
        self.assertEqual(rc, 0, out)
        boxes, jsonl = sha(os.path.join(d, "boxes.txt")), sha(os.path.join(d, "results.jsonl"))
        rc, out = self.track("--box", "10,10,30,30", "--out", d, "--frames", "4", "--overlay",
                             os.path.join(self.tmp, "no", "such", "dir", "x.mp4"))
        self.assertEqual(rc, 1, out)
        self.assertIn("--overlay", out)
        self.assertEqual(sha(os.path.join(d, "boxes.txt")), boxes)
        self.assertEqual(sha(os.path.join(d, "results.jsonl")), jsonl)
        self.assertGreater(os.path.getsize(os.path.join(d, "boxes.txt")), 0)

    def test_shorter_second_run_leaves_no_stale_masks(self):
        d = os.path.join(self.tmp, "again")
        rc, out = self.track("--box-file", os.path.join(self.seq, "groundtruth.txt"), "--out", d,
                             "--masks", "--frames", "8")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(os.listdir(os.path.join(d, "masks"))), 8)
        # A file of the user's own in --out survives.
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("mine\n")
        rc, out = self.track("--box-file", os.path.join(self.seq, "groundtruth.txt"), "--out", d,
                             "--masks", "--frames", "3")
        self.assertEqual(rc, 0, out)
        self.assertEqual(sorted(os.listdir(os.path.join(d, "masks"))),
                         ["00000.png", "00001.png", "00002.png"])
        self.assertEqual(len(read(os.path.join(d, "boxes.txt")).splitlines()), 3)
        self.assertEqual(read(os.path.join(d, "notes.txt")), "mine\n")
        # A third run without --masks removes the old masks too (eval would score them).
        rc, out = self.track("--box-file", os.path.join(self.seq, "groundtruth.txt"), "--out", d,
                             "--frames", "2")
        self.assertEqual(rc, 0, out)
        self.assertFalse(os.path.exists(os.path.join(d, "masks")))
        rec = [json.loads(l) for l in read(os.path.join(d, "results.jsonl")).splitlines()]
        self.assertEqual(len(rec), 2)
        for r in rec:
            self.assertIn("empty_mask", r)
            self.assertEqual(r["empty_mask"], r["presence"] == "tracked" and r["box"][2] == 0)

    def interrupt(self, sig, out_name):
        d = os.path.join(self.tmp, out_name)
        overlay = os.path.join(self.tmp, out_name + ".mp4")
        p = subprocess.Popen([CLI, "track", self.video, "--model", BUNDLE, "--box-file",
                              os.path.join(self.long_seq, "groundtruth.txt"), "--out", d,
                              "--overlay", overlay, "--quiet"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # Wait until a few frames are done, then signal mid-run.
        path = os.path.join(d, "boxes.txt")
        t0 = time.time()
        while time.time() - t0 < 120:
            if os.path.exists(path) and len(read(path).splitlines()) >= 5:
                break
            if p.poll() is not None:
                break
            time.sleep(0.05)
        self.assertIsNone(p.poll(), "the run ended before it could be interrupted")
        p.send_signal(sig)
        out, err = p.communicate(timeout=120)
        boxes = read(path)
        self.assertTrue(boxes.endswith("\n"))
        n = len(boxes.splitlines())
        self.assertGreaterEqual(n, 5)
        self.assertLess(n, 300, "the run was not interrupted")
        text = read(os.path.join(d, "results.jsonl"))
        self.assertTrue(text.endswith("\n"), "torn last line")
        lines = text.splitlines()
        for line in lines:
            json.loads(line)  # no torn line
        return p.returncode, err, n, len(lines), overlay

    def test_sigint_sigterm_keep_every_frame_and_finish_overlay(self):
        for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            rc, err, n_boxes, n_json, overlay = self.interrupt(sig, "intr%d" % sig)
            self.assertEqual(rc, code, err)
            self.assertIn("interrupted by", err)
            self.assertIn("SIGINT" if sig == signal.SIGINT else "SIGTERM", err)
            self.assertEqual(n_boxes, n_json)
            frames = ffprobe_frames(overlay)
            if frames is None:
                print("ffprobe not installed: overlay decodability not checked")
            else:
                self.assertEqual(frames, n_boxes, "overlay frames != completed frames")

    def test_sigkill_leaves_no_torn_line(self):
        rc, err, n_boxes, n_json, _ = self.interrupt(signal.SIGKILL, "killed")
        self.assertEqual(rc, -signal.SIGKILL)
        self.assertLessEqual(abs(n_boxes - n_json), 1)

    def test_overlay_all_frames_decodable(self):
        for n in (1, 4, 7):
            overlay = os.path.join(self.tmp, "len%d.mp4" % n)
            rc, out = self.track("--box-file", os.path.join(self.seq, "groundtruth.txt"), "--out",
                                 os.path.join(self.tmp, "len%d" % n), "--frames", n,
                                 "--overlay", overlay)
            self.assertEqual(rc, 0, out)
            frames = ffprobe_frames(overlay)
            if frames is None:
                self.skipTest("ffprobe not installed (test_encode checks our decoder)")
            self.assertEqual(frames, n)

    def test_bad_numbers_and_lists(self):
        cases = [
            (("--box", "10,10,1e308,1e308"), "w = 1e+308"),
            (("--box", "10,10,inf,5"), "not a finite number"),
            (("--box", "10,10,nan,5"), "not a finite number"),
            (("--box", "1e400,10,5,5"), "not a finite number"),
            (("--box", "10,10,5"), "h is missing"),
            (("--box", "10,10,5,5,5"), "extra text"),
            (("--box", "10,10,-5,5"), "must be > 0"),
            (("--box", "10,10,5,5", "--threads", "1000"), "out of range"),
            (("--box", "10,10,5,5", "--threads", "1,2,3"), "3 values"),
            (("--box", "10,10,5,5", "--threads", "1,2,3,4,5"), "more than 4 values"),
            (("--box", "10,10,5,5", "--threads", "1,,2,3"), "empty"),
            (("--box", "10,10,5,5", "--frames", "12x"), "not an integer"),
            (("--box", "10,10,5,5", "--kf-score-weight", "inf"), "not a finite number"),
            (("--box", "10,10,5,5", "--box-file", os.path.join(self.seq, "groundtruth.txt")),
             "not both"),
        ]
        for args, msg in cases:
            rc, out = self.track(*args, "--out", os.path.join(self.tmp, "never"))
            self.assertEqual(rc, 2, (args, out))
            self.assertIn(msg, out, args)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "never")))
        # A hand-written box file with an infinite width.
        bf = os.path.join(self.tmp, "inf_box.txt")
        with open(bf, "w") as f:
            f.write("10,10,inf,20\n")
        rc, out = self.track("--box-file", bf)
        self.assertEqual(rc, 2, out)
        self.assertIn("inf_box.txt", out)

    def test_ninth_ep_option_not_dropped(self):
        # Eight valid options, then a bad ninth: it must be parsed (and refused), not dropped.
        opts = []
        for _ in range(8):
            opts += ["--ep-option", "intra_op_threads=1"]
        opts += ["--ep-option", "no_such_key_here=1"]
        rc, out = self.track("--box", "10,10,30,30", *opts, "--out",
                             os.path.join(self.tmp, "epopt"))
        self.assertEqual(rc, 2, out)
        self.assertIn("no_such_key_here", out)


@unittest.skipUnless(os.path.isfile(CLI) and os.path.isdir(CLIP), "needs the CLI and .testdata")
class EvalMismatchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kat_eval_mismatch_")
        # A hand-made results folder: boxes.txt and a results.jsonl written here, not by katana.
        gt = read(os.path.join(CLIP, "groundtruth.txt")).splitlines()
        self.run_dir = os.path.join(self.tmp, "run")
        os.makedirs(self.run_dir)
        with open(os.path.join(self.run_dir, "boxes.txt"), "w") as f:
            f.write("\n".join(gt[:20]) + "\n")
        with open(os.path.join(self.run_dir, "results.jsonl"), "w") as f:
            for i, line in enumerate(gt[:20]):
                b = [float(v) for v in line.split(",")]
                f.write(json.dumps({"frame": i, "box": b, "present": True}) + "\n")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_consistent_run_scores(self):
        rc, out = katana("eval", "--results", self.run_dir, "--gt",
                         os.path.join(CLIP, "groundtruth.txt"))
        self.assertEqual(rc, 0, out)

    def test_gt_shorter_than_run_refused(self):
        gt = os.path.join(self.tmp, "short_gt.txt")
        with open(gt, "w") as f:
            f.write("\n".join(read(os.path.join(CLIP, "groundtruth.txt")).splitlines()[:12])
                    + "\n")
        rc, out = katana("eval", "--results", self.run_dir, "--gt", gt)
        self.assertEqual(rc, 1, out)
        self.assertIn("12 frames", out)
        self.assertIn("20", out)

    def test_boxes_and_jsonl_disagree_refused(self):
        # Frame count.
        lines = read(os.path.join(self.run_dir, "boxes.txt")).splitlines()
        with open(os.path.join(self.run_dir, "boxes.txt"), "w") as f:
            f.write("\n".join(lines[:15]) + "\n")
        rc, out = katana("eval", "--results", self.run_dir, "--gt",
                         os.path.join(CLIP, "groundtruth.txt"))
        self.assertEqual(rc, 1, out)
        self.assertIn("boxes.txt has 15 frames but results.jsonl has 20", out)
        # One box.
        lines[7] = "1,2,3,4"
        with open(os.path.join(self.run_dir, "boxes.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        rc, out = katana("eval", "--results", self.run_dir, "--gt",
                         os.path.join(CLIP, "groundtruth.txt"))
        self.assertEqual(rc, 1, out)
        self.assertIn("frame 7", out)
        self.assertIn("disagree", out)


if __name__ == "__main__":
    unittest.main()
