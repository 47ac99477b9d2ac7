"""katana track with several objects (issue 13): --box repeated, --point, --prompts FILE, the
DIR/objects/<id>/ layout and DIR/tracks.txt, stale folders of an earlier run, bad prompt files,
format-1 refusals passed through, and the overlay. Inputs our own tools did not make: a video from
ffmpeg's testsrc2 pattern, hand-written JSON prompt files, masks drawn with PIL."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("KAT_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
CLI = os.environ.get("KAT_CLI") or os.path.join(ROOT, "build", "bin", "katana")
DATA = os.environ.get("KAT_TEST_DATA") or os.path.join(ROOT, ".testdata")
BUNDLE = os.path.join(DATA, "bundles", "micro_sam2.1")
FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")

W, H, FRAMES = 320, 180, 48
BOXES = ["96,92,42,29", "200,40,60,50", "20,100,40,40"]


def katana(*args, timeout=300):
    p = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def read(path):
    with open(path, "rb") as f:
        return f.read()


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def jsonl_without_timings(path):
    out = []
    for ln in lines(path):
        rec = json.loads(ln)
        rec.pop("ms")
        out.append(rec)
    return out


@unittest.skipUnless(os.path.isfile(CLI) and os.path.isdir(BUNDLE) and FFMPEG and FFPROBE,
                     "needs the built CLI, .testdata/bundles/micro_sam2.1, ffmpeg and ffprobe")
class MultiObjectTrackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kat_cli_multi_")
        cls.video = os.path.join(cls.tmp, "testsrc.mp4")
        p = subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i",
                            "testsrc2=size=%dx%d:rate=24" % (W, H), "-frames:v", str(FRAMES),
                            "-pix_fmt", "yuv420p", cls.video], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        # Three objects, masks on; shared by several tests.
        cls.out3 = os.path.join(cls.tmp, "three")
        cls.ov3 = os.path.join(cls.tmp, "three.mp4")
        args = []
        for b in BOXES:
            args += ["--box", b]
        cls.rc3, cls.log3 = cls.track(cls.out3, *args, "--masks", "--overlay", cls.ov3)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def track(cls, out, *args):
        return katana("track", cls.video, "--model", BUNDLE, "--quiet", "--out", out, *args)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_layout_and_tracks_txt(self):
        self.assertEqual(self.rc3, 0, self.log3)
        self.assertFalse(os.path.exists(os.path.join(self.out3, "boxes.txt")))
        self.assertFalse(os.path.exists(os.path.join(self.out3, "results.jsonl")))
        self.assertEqual(sorted(os.listdir(os.path.join(self.out3, "objects"))), ["0", "1", "2"])
        rows = [ln.split(",") for ln in lines(os.path.join(self.out3, "tracks.txt"))]
        for obj in range(3):
            d = os.path.join(self.out3, "objects", str(obj))
            boxes = lines(os.path.join(d, "boxes.txt"))
            recs = [json.loads(ln) for ln in lines(os.path.join(d, "results.jsonl"))]
            self.assertEqual(len(boxes), FRAMES)
            self.assertEqual([r["frame"] for r in recs], list(range(FRAMES)))
            masks = sorted(os.listdir(os.path.join(d, "masks")))
            self.assertEqual(masks, ["%05d.png" % i for i in range(FRAMES)])
            # tracks.txt: frame,id,x,y,w,h,score; exactly this object's nonempty boxes, with the
            # object score of results.jsonl.
            mine = [r for r in rows if r[1] == str(obj)]
            expect = [(str(i), b) for i, b in enumerate(boxes) if b != "0,0,0,0"]
            self.assertEqual([(r[0], ",".join(r[2:6])) for r in mine], expect)
            for r in mine:
                self.assertAlmostEqual(float(r[6]), recs[int(r[0])]["object_score"], places=5)
        self.assertEqual(len(rows), sum(1 for r in rows if r[1] in ("0", "1", "2")))

    def test_each_object_equals_it_tracked_alone(self):
        self.assertEqual(self.rc3, 0, self.log3)
        out = os.path.join(self.tmp, "alone1")
        rc, log = self.track(out, "--box", BOXES[1])
        self.assertEqual(rc, 0, log)
        d = os.path.join(self.out3, "objects", "1")
        self.assertEqual(read(os.path.join(out, "boxes.txt")), read(os.path.join(d, "boxes.txt")))
        recs = jsonl_without_timings(os.path.join(out, "results.jsonl"))
        self.assertEqual(recs, jsonl_without_timings(os.path.join(d, "results.jsonl")))

    def test_one_object_keeps_the_single_layout(self):
        # --box (the classic path) and a hand-written --prompts file with the same box (the
        # several-object path) give the same files, in DIR itself, with no objects/ or tracks.txt.
        a, b = os.path.join(self.tmp, "one_box"), os.path.join(self.tmp, "one_prompts")
        rc, log = self.track(a, "--box", BOXES[0])
        self.assertEqual(rc, 0, log)
        pf = self.write("one.json", '[{"frame": 0, "obj": 0, "box": [96, 92, 42, 29]}]')
        rc, log = self.track(b, "--prompts", pf)
        self.assertEqual(rc, 0, log)
        for d in (a, b):
            self.assertEqual(sorted(os.listdir(d)), [".katana-track", "boxes.txt", "results.jsonl"])
        self.assertEqual(read(os.path.join(a, "boxes.txt")), read(os.path.join(b, "boxes.txt")))
        self.assertEqual(jsonl_without_timings(os.path.join(a, "results.jsonl")),
                         jsonl_without_timings(os.path.join(b, "results.jsonl")))

    def test_object_added_on_frame_10_and_points(self):
        pf = self.write("later.json", json.dumps([
            {"frame": 0, "obj": 0, "box": [96, 92, 42, 29]},
            {"frame": 10, "obj": 3, "points": [[230, 65, 1], [10, 10, 0]]}]))
        out = os.path.join(self.tmp, "later")
        rc, log = self.track(out, "--prompts", pf)
        self.assertEqual(rc, 0, log)
        boxes = lines(os.path.join(out, "objects", "3", "boxes.txt"))
        self.assertEqual(len(boxes), FRAMES)
        self.assertEqual(boxes[:10], ["0,0,0,0"] * 10)
        recs = [json.loads(ln) for ln in lines(os.path.join(out, "objects", "3", "results.jsonl"))]
        self.assertEqual([r["frame"] for r in recs], list(range(10, FRAMES)))
        self.assertEqual(len(lines(os.path.join(out, "objects", "0", "boxes.txt"))), FRAMES)
        # --point on the command line: object 0, frame 0, single layout.
        out = os.path.join(self.tmp, "points")
        rc, log = self.track(out, "--point", "117,106", "--point", "5,5,0", "--frames", "6")
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(lines(os.path.join(out, "boxes.txt"))), 6)

    def test_stale_object_folders_cleared(self):
        out = os.path.join(self.tmp, "stale")
        rc, log = self.track(out, "--box", BOXES[0], "--box", BOXES[1], "--box", BOXES[2],
                             "--frames", "4", "--masks")
        self.assertEqual(rc, 0, log)
        keep = os.path.join(out, "objects", "1", "notes.txt")
        with open(keep, "w") as f:
            f.write("mine\n")
        rc, log = self.track(out, "--box", BOXES[0], "--box", BOXES[1], "--frames", "4")
        self.assertEqual(rc, 0, log)
        self.assertEqual(sorted(os.listdir(os.path.join(out, "objects"))), ["0", "1"])
        self.assertEqual(len(lines(os.path.join(out, "objects", "1", "boxes.txt"))), 4)
        self.assertFalse(os.path.exists(os.path.join(out, "objects", "1", "masks")))
        rc, log = self.track(out, "--box", BOXES[0], "--frames", "4")
        self.assertEqual(rc, 0, log)
        self.assertFalse(os.path.exists(os.path.join(out, "tracks.txt")))
        # The user's file (and so its folder) stays; katana's files are gone.
        self.assertEqual(os.listdir(os.path.join(out, "objects")), ["1"])
        self.assertEqual(os.listdir(os.path.join(out, "objects", "1")), ["notes.txt"])
        self.assertEqual(len(lines(os.path.join(out, "boxes.txt"))), 4)

    def test_foreign_object_folder_refused(self):
        out = os.path.join(self.tmp, "foreign")
        os.makedirs(os.path.join(out, "objects", "5"))
        with open(os.path.join(out, ".katana-track"), "w") as f:
            f.write("x\n")
        theirs = os.path.join(out, "objects", "5", "boxes.txt")
        with open(theirs, "w") as f:
            f.write("1,2,3,4\n")
        rc, log = self.track(out, "--box", BOXES[0], "--box", BOXES[1], "--frames", "2")
        self.assertEqual(rc, 2, log)
        self.assertIn("objects/5", log)
        self.assertIn("did not write", log)
        self.assertEqual(read(theirs), b"1,2,3,4\n")

    def test_bad_prompt_files(self):
        from PIL import Image
        import numpy as np
        Image.fromarray(np.zeros((H, W), np.uint8)).save(os.path.join(self.tmp, "empty.png"))
        Image.fromarray(np.full((100, W), 255, np.uint8)).save(os.path.join(self.tmp, "small.png"))
        ok = '{"frame": 0, "obj": 0, "box": [96, 92, 42, 29]}, '
        cases = [
            ('{"frame": 0}', "prompts must be a JSON list"),
            ('[]', "empty"),
            ('[{"frame": 0, "obj": 0, "box": [1, 2, 3, 4]', "prompts.json"),
            ('[' + ok + '{"frame": -1, "obj": 0, "box": [1, 2, 3, 4]}]', "prompt 1: \"frame\""),
            ('[' + ok + '{"frame": 1.5, "obj": 0, "box": [1, 2, 3, 4]}]', "prompt 1: \"frame\""),
            ('[' + ok + '{"frame": 0, "obj": -2, "box": [1, 2, 3, 4]}]', "prompt 1: \"obj\""),
            ('[' + ok + '{"frame": 0, "obj": 1, "box": [1, 2, 0, 4]}]', "prompt 1: \"box\""),
            ('[' + ok + '{"frame": 0, "obj": 1, "box": [1, 2, 1e999, 4]}]', "1:93: number '1e999'"),
            ('[' + ok + '{"frame": 0, "obj": 1, "box": [1, 2, 3]}]', "prompt 1: \"box\""),
            ('[' + ok + '{"frame": 0, "obj": 1, "points": [[5, 5, 2]]}]', "prompt 1: point 0"),
            ('[' + ok + '{"frame": 0, "obj": 1, "points": [[5, "5", 1]]}]', "prompt 1: point 0"),
            ('[' + ok + '{"frame": 0, "obj": 1, "points": []}]', "prompt 1: \"points\""),
            ('[' + ok + '{"frame": 0, "obj": 1}]', "prompt 1: needs"),
            ('[' + ok + '{"frame": 0, "obj": 1, "box": [1, 2, 3, 4], "colour": 1}]',
             "prompt 1: unknown key 'colour'"),
            ('[' + ok + '{"frame": 0, "obj": 1, "mask": "missing.png"}]', "prompt 1: mask"),
            ('[' + ok + '{"frame": 0, "obj": 1, "mask": "empty.png"}]', "no object pixel"),
            ('[' + ok + '{"frame": 0, "obj": 1, "mask": "small.png"}]',
             "prompt 1: the mask is 320x100, the video 320x180"),
            ('[' + ok + '{"frame": 0, "obj": 1, "points": [[500, 5, 1]]}]',
             "prompt 1 (frame 0, object 1): KAT_EINVAL"),
            ('[' + ok + '"box"]', "prompt 1: not an object"),
        ]
        out = os.path.join(self.tmp, "bad")
        rc, log = self.track(out, "--box", BOXES[0], "--frames", "2")
        self.assertEqual(rc, 0, log)
        before = read(os.path.join(out, "boxes.txt"))
        for text, want in cases:
            pf = self.write("prompts.json", text)
            rc, log = self.track(out, "--prompts", pf, "--frames", "2")
            self.assertEqual(rc, 2, (text, log))
            self.assertIn(want, log, text)
            self.assertEqual(read(os.path.join(out, "boxes.txt")), before, text)
        for bad, want in (("1", "y is missing"), ("1,2,3", "label"), ("1,2,", "after the last"),
                          ("1,x", "y")):
            rc, log = self.track(out, "--point", bad)
            self.assertEqual(rc, 2, (bad, log))
            self.assertIn("bad --point '%s'" % bad, log)
            self.assertIn(want, log)

    def test_correction_and_mask_prompt(self):
        # A correction (a box on frame 24 for object 0, tracked since frame 0, of this 48-frame
        # clip) and a mask prompt (object 2 on frame 30, a mask drawn with PIL). A format-2
        # bundle runs both; a format-1 bundle (micro_efficienttam_v1, when the test data has it)
        # is refused by the library with KAT_ENOTSUP, and that message must reach the user.
        from PIL import Image
        import numpy as np
        m = np.zeros((H, W), np.uint8)
        m[60:110, 150:230] = 200
        Image.fromarray(m).save(os.path.join(self.tmp, "obj2.png"))
        bundles = [BUNDLE, os.path.join(DATA, "bundles", "micro_efficienttam_v1")]
        checked = set()
        for bundle in bundles:
            if not os.path.isdir(bundle):
                print("no %s: the format-1 refusal is not checked" % bundle)
                continue
            with open(os.path.join(bundle, "katana.json")) as f:
                fmt = json.load(f).get("format_version")
            checked.add(fmt)
            for name, extra, obj, first in (
                    ("correction", {"frame": 24, "obj": 0, "box": [90, 90, 40, 30]}, 0, 0),
                    ("mask", {"frame": 30, "obj": 2, "mask": "obj2.png"}, 2, 30)):
                pf = self.write(name + ".json", json.dumps(
                    [{"frame": 0, "obj": 0, "box": [96, 92, 42, 29]},
                     {"frame": 0, "obj": 1, "box": [200, 40, 60, 50]}, extra]))
                out = os.path.join(self.tmp, "fmt%s_%s" % (fmt, name))
                rc, log = katana("track", self.video, "--model", bundle, "--quiet", "--out", out,
                                 "--prompts", pf)
                if fmt == 1:
                    self.assertEqual(rc, 1, log)
                    self.assertIn("KAT_ENOTSUP", log)
                    self.assertIn("bundle format 2", log)
                    self.assertIn("prompt 2 (frame %d, object %d)" % (extra["frame"], obj), log)
                    self.assertFalse(os.path.exists(out), log)
                    continue
                self.assertEqual(rc, 0, log)
                boxes = lines(os.path.join(out, "objects", str(obj), "boxes.txt"))
                self.assertEqual(len(boxes), FRAMES)
                self.assertEqual(boxes[:first], ["0,0,0,0"] * first)
                recs = [json.loads(ln) for ln in
                        lines(os.path.join(out, "objects", str(obj), "results.jsonl"))]
                self.assertEqual([r["frame"] for r in recs], list(range(first, FRAMES)))
        self.assertTrue(checked, "no bundle to run")

    def test_overlay_with_three_objects_decodes(self):
        self.assertEqual(self.rc3, 0, self.log3)
        p = subprocess.run([FFPROBE, "-v", "error", "-count_frames", "-select_streams", "v:0",
                            "-show_entries", "stream=nb_read_frames,width,height", "-of", "json",
                            self.ov3], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        s = json.loads(p.stdout)["streams"][0]
        self.assertEqual((int(s["nb_read_frames"]), s["width"], s["height"]), (FRAMES, W, H))


    def test_eval_per_object(self):
        self.assertEqual(self.rc3, 0, self.log3)
        # Hand-written ground truth: object 1 gets its own boxes (a perfect score), object 0 its
        # boxes shifted by 40 px on every frame with a box (a poor one), as LaSOT files.
        objs = os.path.join(self.out3, "objects")
        b0 = lines(os.path.join(objs, "0", "boxes.txt"))
        shifted = []
        for ln in b0:
            x, y, w, h = (float(v) for v in ln.split(","))
            shifted.append("%g,%g,%g,%g" % (x + 40, y + 40, w, h) if w > 0 else "0,0,0,0")
        g0 = self.write("gt0.txt", "\n".join(shifted) + "\n")
        g1 = self.write("gt1.txt", "\n".join(lines(os.path.join(objs, "1", "boxes.txt"))) + "\n")
        js = os.path.join(self.tmp, "per_id.json")
        rc, log = katana("eval", "--results", self.out3, "--gt", "0=" + g0, "--gt", "1=" + g1,
                         "--json", js)
        self.assertEqual(rc, 0, log)
        with open(js) as f:
            per_id = {o["obj"]: o for o in json.load(f)["objects"]}
        self.assertEqual(sorted(per_id), [0, 1])
        self.assertAlmostEqual(per_id[1]["mean_box_iou"], 1.0, places=6)
        self.assertLess(per_id[0]["mean_box_iou"], per_id[1]["mean_box_iou"])
        # The same ground truth as one MOTChallenge-style file (frames from 1, extra columns).
        rows = []
        for obj, g in ((0, shifted), (1, lines(g1))):
            for i, ln in enumerate(g):
                if ln != "0,0,0,0":
                    rows.append("%d,%d,%s,1,-1,-1,-1" % (i + 1, obj, ln))
        mot = self.write("gt_mot.txt", "\n".join(sorted(rows)) + "\n")
        js2 = os.path.join(self.tmp, "mot.json")
        rc, log = katana("eval", "--results", self.out3, "--gt-mot", mot, "--mot-base", "1",
                         "--json", js2)
        self.assertEqual(rc, 0, log)
        with open(js2) as f:
            by_mot = {o["obj"]: o for o in json.load(f)["objects"]}
        for obj in (0, 1):
            for key in ("auc", "precision_20", "mean_box_iou", "box_frames"):
                self.assertAlmostEqual(by_mot[obj][key], per_id[obj][key], places=6, msg=key)
        # Bad uses: an id the run lacks, a broken MOT line, both forms at once.
        rc, log = katana("eval", "--results", self.out3, "--gt", "7=" + g1)
        self.assertEqual(rc, 2, log)
        self.assertIn("no object 7", log)
        bad = self.write("bad_mot.txt", "1,0,10,10,5,5\n2,zero,1,1,1,1\n")
        rc, log = katana("eval", "--results", self.out3, "--gt-mot", bad)
        self.assertEqual(rc, 2, log)
        self.assertIn("bad_mot.txt:2", log)
        rc, log = katana("eval", "--results", self.out3, "--gt-mot", mot, "--gt", "0=" + g0)
        self.assertEqual(rc, 2, log)

    def test_sigint_mid_run_keeps_whole_lines(self):
        import signal
        import time
        video = os.path.join(self.tmp, "long.mp4")
        p = subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i",
                            "testsrc2=size=%dx%d:rate=24" % (W, H), "-frames:v", "400",
                            "-pix_fmt", "yuv420p", video], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = os.path.join(self.tmp, "intr")
        overlay = os.path.join(self.tmp, "intr.mp4")
        args = [CLI, "track", video, "--model", BUNDLE, "--quiet", "--out", out, "--overlay",
                overlay]
        for b in BOXES:
            args += ["--box", b]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tracks = os.path.join(out, "tracks.txt")
        t0 = time.time()
        while time.time() - t0 < 120 and proc.poll() is None:
            if os.path.exists(tracks) and len(lines(tracks)) >= 6:
                break
            time.sleep(0.05)
        self.assertIsNone(proc.poll(), "the run ended before it could be interrupted")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("interrupted by SIGINT", err)
        counts = set()
        for obj in range(3):
            d = os.path.join(out, "objects", str(obj))
            for name in ("boxes.txt", "results.jsonl"):
                self.assertTrue(read(os.path.join(d, name)).endswith(b"\n"), name)
            recs = [json.loads(ln) for ln in lines(os.path.join(d, "results.jsonl"))]
            counts.add((len(lines(os.path.join(d, "boxes.txt"))), len(recs)))
        self.assertEqual(len(counts), 1, counts)
        n = counts.pop()[0]
        self.assertGreaterEqual(n, 2)
        self.assertLess(n, 400, "the run was not interrupted")
        self.assertTrue(read(tracks).endswith(b"\n"))
        for row in lines(tracks):
            self.assertEqual(len(row.split(",")), 7, row)
            self.assertLess(int(row.split(",")[0]), n)
        p = subprocess.run([FFPROBE, "-v", "error", "-count_frames", "-select_streams", "v:0",
                            "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", overlay],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(int(p.stdout.strip()), n)

@unittest.skipUnless(os.path.isfile(CLI) and os.path.isdir(BUNDLE),
                     "needs the built CLI and .testdata/bundles/micro_sam2.1")
class BenchObjectsTest(unittest.TestCase):
    def test_objects_side_by_side(self):
        tmp = tempfile.mkdtemp(prefix="kat_bench_objects_")
        try:
            js = os.path.join(tmp, "b.json")
            rc, log = katana("bench", "--model", BUNDLE, "--objects", "1,3", "--modes", "seq",
                             "--frames", "3", "--warmup", "0", "--iterations", "1",
                             "--size", "96x64", "--json", js)
            self.assertEqual(rc, 0, log)
            self.assertIn("frame time against objects", log)
            with open(js) as f:
                res = json.load(f)["results"]
            runs = next(iter(next(iter(res.values())).values()))
            self.assertEqual(sorted(runs), ["seq", "seq-k3"])
            self.assertEqual(runs["seq"]["objects"], 1)
            self.assertEqual(runs["seq-k3"]["objects"], 3)
            # The table's K=3 row exists and the per-object modules appear in the stages.
            row = [ln.split() for ln in log.splitlines() if ln.strip().startswith("3 ")]
            self.assertEqual(len(row), 1, log)
            self.assertGreater(float(row[0][1]), 0.0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_bad_objects_refused(self):
        for bad in ("0", "65", "2,x", ""):
            rc, log = katana("bench", "--model", BUNDLE, "--objects", bad)
            self.assertEqual(rc, 2, (bad, log))


if __name__ == "__main__":
    unittest.main()
