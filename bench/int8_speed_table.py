#!/usr/bin/python3
"""Prints the INT8-vs-FP32 speed table of docs/performance.md from the JSON of one
`katana bench --model FP32,INT8... --modes seq,pipe` run (bench/int8_doc.sh speed):
    int8_speed_table.py OUT/speed.json
Per module: min / p50 ms of the module run alone; end to end: frame p50 and wall FPS; the ratio
column is FP32 time / this time (above 1: faster), the first model being the FP32 one."""
import json
import sys

MODS = ("image_encoder", "memory_attention", "mask_decoder", "memory_encoder")
res = json.load(open(sys.argv[1]))["results"]
names = list(res)
base = names[0]
print("| model | int8 modules | mode | " + " | ".join(f"{m} min / p50 ms (x)" for m in MODS) +
      " | frame p50 ms (x) | wall FPS (x) |")
print("|---|---|---|" + "---|" * len(MODS) + "---|---|")
for n in names:
    for mode, r in res[n]["cpu"].items():
        b = res[base]["cpu"][mode]
        prec = r.get("precision", "")
        int8 = ",".join(m for m in MODS if f"{m}=int8" in prec) or "none"
        cells = []
        for m in MODS:
            s, t = r["modules"].get(m), b["modules"].get(m)
            if not s:
                cells.append("-")
                continue
            cells.append(f"{s['min_ms']:.1f} / {s['p50_ms']:.1f} ({t['min_ms'] / s['min_ms']:.2f}x)")
        fr, fb = r["frame"]["p50_ms"], b["frame"]["p50_ms"]
        print(f"| {n} | {int8} | {mode} | " + " | ".join(cells) +
              f" | {fr:.1f} ({fb / fr:.2f}x) | {r['wall_fps']:.2f} ({r['wall_fps'] / b['wall_fps']:.2f}x) |")
