"""python3 tools/train/presence_confusion.py GT_ROOT RESULTS_ROOT [--json FILE]

Confusion between katana's per-frame presence ("tracked", "occluded", "lost" in results.jsonl)
and the ground truth's visibility, over every sequence folder of GT_ROOT that RESULTS_ROOT has a
run for. A frame is "visible" when groundtruth.txt has a box, "full occlusion" when
full_occlusion.txt flags it and "out of view" when out_of_view.txt does (an absent frame with
neither flag counts as full occlusion). Frame 0 (the prompt) is left out. Prints the table and
the share of fully occluded frames whose presence is not "tracked" (issue 17 asks >= 70%).
"""

import argparse
import json
import os
import sys

STATES = ("tracked", "occluded", "lost")
TRUTH = ("visible", "full occlusion", "out of view")


def flags(path, n):
    if not os.path.exists(path):
        return [0] * n
    with open(path) as f:
        v = [int(x) for x in f.read().replace("\n", ",").split(",") if x.strip()]
    return v + [0] * (n - len(v))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="presence_confusion")
    ap.add_argument("gt")
    ap.add_argument("results")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    table = {t: {s: 0 for s in STATES} for t in TRUTH}
    seqs = 0
    for name in sorted(os.listdir(a.gt)):
        gdir, rdir = os.path.join(a.gt, name), os.path.join(a.results, name)
        res = os.path.join(rdir, "results.jsonl")
        if not os.path.isfile(os.path.join(gdir, "groundtruth.txt")) or not os.path.isfile(res):
            continue
        with open(os.path.join(gdir, "groundtruth.txt")) as f:
            boxes = [[float(x) for x in ln.replace("\t", ",").split(",")[:4]]
                     for ln in f if ln.strip()]
        n = len(boxes)
        occ = flags(os.path.join(gdir, "full_occlusion.txt"), n)
        oov = flags(os.path.join(gdir, "out_of_view.txt"), n)
        with open(res) as f:
            recs = [json.loads(ln) for ln in f if ln.strip()]
        seqs += 1
        for r in recs:
            t = int(r["frame"])
            if t == 0 or t >= n:
                continue
            b = boxes[t]
            vis = b[2] > 0 and b[3] > 0 and all(x == x for x in b)
            truth = "visible" if vis else ("out of view" if oov[t] and not occ[t]
                                           else "full occlusion")
            table[truth][r.get("presence", "tracked")] += 1
    occ_total = sum(table["full occlusion"].values())
    not_tracked = occ_total - table["full occlusion"]["tracked"]
    vis_total = sum(table["visible"].values())
    print("presence confusion over %d sequences (rows: ground truth, columns: presence)" % seqs)
    print("%-15s %9s %9s %9s %7s" % (("",) + STATES + ("total",)))
    for t in TRUTH:
        row = table[t]
        print("%-15s %9d %9d %9d %7d" % ((t,) + tuple(row[s] for s in STATES)
                                          + (sum(row.values()),)))
    share = not_tracked / occ_total if occ_total else float("nan")
    vis_ok = table["visible"]["tracked"] / vis_total if vis_total else float("nan")
    print("fully occluded frames not 'tracked': %d / %d = %.3f" % (not_tracked, occ_total, share))
    print("visible frames 'tracked': %d / %d = %.3f" % (table["visible"]["tracked"], vis_total,
                                                         vis_ok))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"sequences": seqs, "table": table, "occluded_not_tracked": share,
                       "visible_tracked": vis_ok}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
