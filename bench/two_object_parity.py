"""Two objects on one clip through the CLI (katana track --box A --box B), the Python package
(katana.track(boxes=...)) and GStreamer (gst-launch-1.0 ... katanatrack boxes=...), side by
side: per object the mean box of each and the largest absolute difference from the CLI's.

    PYTHONPATH=python /usr/bin/python3 bench/two_object_parity.py [CLIP_DIR] [BUILD_DIR]

Default clip .testdata/track/clip/img (64 PNG frames, 320x180), default model, build/."""

import json
import os
import re
import subprocess
import sys
import tempfile

import katana

CLIP = sys.argv[1] if len(sys.argv) > 1 else ".testdata/track/clip/img"
BUILD = sys.argv[2] if len(sys.argv) > 2 else "build"
BOXES = {0: (96, 92, 42, 29), 1: (200, 40, 60, 50)}


def cli(out):
    args = sum((["--box", ",".join(map(str, b))] for b in BOXES.values()), [])
    subprocess.run([os.path.join(BUILD, "bin", "katana"), "track", CLIP, "--out", out,
                    "--quiet"] + args, check=True)
    res = {}
    for i in BOXES:
        with open(os.path.join(out, "objects", str(i), "results.jsonl")) as f:
            res[i] = [tuple(json.loads(ln)["box"]) for ln in f]
    return res


def python():
    res = {i: [] for i in BOXES}
    for objs in katana.track(CLIP, boxes=BOXES):
        for r in objs:
            res[r.id].append(r.box)
    return res


def gst():
    n = len(os.listdir(CLIP))
    spec = ";".join("%d:%s" % (i, ",".join(map(str, b))) for i, b in BOXES.items())
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(BUILD, "gst"))
    p = subprocess.run(["gst-launch-1.0", "-m", "multifilesrc",
                        "location=%s/%%05d.png" % CLIP, "index=0", "stop-index=%d" % (n - 1),
                        "caps=image/png,framerate=30/1", "!", "pngdec", "!", "videoconvert", "!",
                        "video/x-raw,format=RGB", "!", "katanatrack", "boxes=" + spec, "!",
                        "fakesink"], env=env, capture_output=True, text=True, check=True)
    res = {i: [] for i in BOXES}
    pat = re.compile(r"id=\(int\)(\d+), x=\(double\)([-0-9.e]+), y=\(double\)([-0-9.e]+), "
                     r"w=\(double\)([-0-9.e]+), h=\(double\)([-0-9.e]+)")
    for ln in p.stdout.splitlines():
        if "katana-track, frame=" in ln:
            for m in pat.finditer(ln.replace("\\", "")):
                res[int(m.group(1))].append(tuple(float(v) for v in m.group(2, 3, 4, 5)))
    return res


def mean(boxes):
    return tuple(round(sum(b[k] for b in boxes) / len(boxes), 2) for k in range(4))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ref = cli(os.path.join(tmp, "cli"))
    runs = {"python": python(), "gstreamer": gst()}
    print("object  source     frames  mean box (x, y, w, h)           max |diff| vs CLI")
    for i in BOXES:
        print("%-7d %-10s %-7d %-31s %s" % (i, "cli", len(ref[i]), mean(ref[i]), "-"))
        for name, res in runs.items():
            d = max(max(abs(a - b) for a, b in zip(x, y)) for x, y in zip(res[i], ref[i]))
            print("%-7d %-10s %-7d %-31s %g" % (i, name, len(res[i]), mean(res[i]), d))


if __name__ == "__main__":
    main()
