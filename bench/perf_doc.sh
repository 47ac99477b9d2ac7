#!/usr/bin/env bash
# Regenerates the `katana bench` tables of docs/performance.md from scratch on this machine, and
# the example report (docs/bench-example.html, docs/bench-example.json).
#
#   bench/perf_doc.sh [--build DIR] [--data DIR] [--doc FILE] [--html FILE] [--json FILE]
#                     [--models LIST] [--frames N] [--repeat R] [--iterations N] [--warmup K]
#                     [--quick]
#
# Uses the seeded random-init bundles micro_efficienttam and efficienttam_ti_512x512 under
# DATA/bundles (exported by scripts/testdata/10-bundles when missing), runs one `katana bench`
# over both bundles, sequential and pipelined, with --repeat runs for the run-to-run spread, and
# writes the tables between the perf_doc markers of the doc (the prose around them is kept).
# Every configuration runs in its own process (katana bench's default), so peak RSS and cold
# session creation are per configuration. Run it on an otherwise idle machine: it prints the load
# average before starting and writes it into the doc. --quick is a smoke test (micro bundle only,
# 20 frames) and should be pointed at copies of the outputs.
# Defaults take about 4-5 minutes on a 2-core machine (ti_512 ~2 FPS, micro ~20 FPS).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
data=$root/.testdata
doc=$root/docs/performance.md
html=$root/docs/bench-example.html
json=$root/docs/bench-example.json
models=micro_efficienttam,efficienttam_ti_512x512
frames=60 repeat=3 iterations=20 warmup=3
py=${KAT_PYTHON:-/usr/bin/python3}
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --doc) doc=$2; shift 2 ;;
    --html) html=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --quick) models=micro_efficienttam frames=20 repeat=2 iterations=5 warmup=2; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf_doc.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
katana=$build/bin/katana
help=$("$katana" bench --help 2>/dev/null || true)
if [[ $help != *--html* ]]; then
  echo "perf_doc.sh: $katana is missing or too old (no 'bench --html'); build it first:" >&2
  echo "  cmake -S $root -B $build && cmake --build $build" >&2
  exit 1
fi
grep -q '<!-- perf_doc:begin -->' "$doc" && grep -q '<!-- perf_doc:end -->' "$doc" || {
  echo "perf_doc.sh: $doc has no perf_doc markers" >&2
  exit 1
}

# Bundles: reuse, or export them (scripts/testdata/10-bundles is idempotent).
list=()
IFS=, read -r -a names <<<"$models"
for name in "${names[@]}"; do
  if [ ! -f "$data/bundles/$name/katana.json" ]; then
    echo "perf_doc.sh: exporting the test bundles into $data/bundles" >&2
    "$root/scripts/testdata/10-bundles" "$data" >&2
  fi
  list+=("$data/bundles/$name")
done
model_arg=$(IFS=,; echo "${list[*]}")

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "perf_doc.sh: load average before the run: $load" >&2
if awk -v l="${load%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "perf_doc.sh: WARNING: the machine is not idle (1-min load $load); numbers will be noisy" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmd=(bench --model "$model_arg" --ep cpu --modes seq,pipe --prep exact --frames "$frames"
  --repeat "$repeat" --iterations "$iterations" --warmup "$warmup" --json "$work/bench.json"
  --html "$work/bench.html")
start=$(date +%s)
"$katana" "${cmd[@]}" | tee "$work/bench.txt"
secs=$(($(date +%s) - start))
echo "perf_doc.sh: katana bench took ${secs}s" >&2
"$katana" doctor >"$work/doctor.txt" 2>&1 || true

# Shown in the doc with the bundle paths relative to the repository.
shown="katana bench --model ${model_arg//$root\//} --ep cpu --modes seq,pipe --frames $frames --repeat $repeat --iterations $iterations --warmup $warmup --json ... --html ..."
mkdir -p "$(dirname "$html")" "$(dirname "$json")"
cp "$work/bench.html" "$html"
cp "$work/bench.json" "$json"

"$py" - "$work/bench.json" "$doc" "$load" "$secs" "$shown" "$work/doctor.txt" \
  "$(basename "$html")" "$(basename "$json")" <<'PY'
import json, re, sys, datetime
src, doc, load, secs, shown, doctor, html_name, json_name = sys.argv[1:9]
d = json.load(open(src))
ort = ""
for line in open(doctor, errors="replace"):
    m = re.match(r"onnxruntime\s+([0-9][^\s]*)", line)
    if m and not ort:
        ort = m.group(1)
runs = []
for model, presets in d["results"].items():
    for preset, modes in presets.items():
        for key, r in modes.items():
            runs.append((model, preset, key, r))
MODULES = ["image_encoder", "memory_attention", "mask_decoder", "memory_encoder"]
STAGES = ["preprocess"] + MODULES + ["host"]
def threads(t):
    # "IE,MA,MD,ME" intra-op threads per session; 0 is ONNX Runtime's default (all cores).
    vals = ["ORT default" if v == "0" else v for v in t.split(",")]
    return vals[0] if len(set(vals)) == 1 else ",".join(vals)
def f(v, fmt="{:.1f}"):
    return "-" if v is None else fmt.format(v)
first = runs[0][3]
out = []
out.append("Generated by `bench/perf_doc.sh` on %s; machine: **%s**; katana %s%s; "
           "load average before the run %s; the run took %s s. Command: `%s` (each configuration "
           "in its own process). Full report: [%s](%s) (per-stage bars, frame time over the frames), "
           "raw numbers: [%s](%s)." % (
               datetime.date.today().isoformat(), d["machine"], d["katana_version"],
               ", ONNX Runtime " + ort if ort else "", load, secs, shown,
               html_name, html_name, json_name, json_name))
out.append("")
out.append("Synthetic 640x360 clip, %d timed frames x %d runs after %d warm-up frames per "
           "configuration; modules alone: %d timed runs after %d warm-up. Frame time: *seq*, push "
           "to result; *pipe*, the interval between consecutive results (latency, push to result "
           "with queue waits, in its own column). FPS p50 = 1000 / median frame time; wall FPS = "
           "timed frames / their wall time, median of the runs (spread = (max - min) / median); "
           "host overhead ratio = frame p50 / sum of the isolated modules' p50." % (
               first["frames"], first["repeat"], first["warmup"], first["iterations"],
               first["warmup"]))
out.append("")
out.append("| model | mode | threads | FPS p50 | wall FPS (spread) | frame p50 / p95 / p99 (ms) "
           "| latency p50 / p95 (ms) | init cold / warm (ms) | peak RSS (MiB) | host overhead ratio |")
out.append("|---|---|---|---|---|---|---|---|---|---|")
warn = []
for model, preset, key, r in runs:
    fr, la = r["frame"], r["latency"]
    spread = r["repeats"]["wall_fps_spread"]
    out.append("| %s | %s | %s | %s | %s (%s) | %s / %s / %s | %s / %s | %s / %s | %s | %s |" % (
        model, key, threads(r["threads"]), f(r["fps_p50"], "{:.2f}"), f(r["wall_fps"], "{:.2f}"),
        "-" if r["repeat"] < 2 else f(100 * spread, "{:.0f}%"),
        f(fr["p50_ms"]), f(fr["p95_ms"]), f(fr["p99_ms"]), f(la["p50_ms"]), f(la["p95_ms"]),
        f(r["init_ms"]["cold"], "{:.0f}"), f(r["init_ms"]["warm"], "{:.0f}"),
        f(r["peak_rss_mb"], "{:.0f}"), f(r["host_overhead_ratio"], "{:.2f}")))
    if r["throttled"]:
        warn.append("%s %s: the last third of the frames ran %.0f%% slower than the first third "
                    "(throttling or other load)." % (model, key, 100 * (r["throttle_ratio"] - 1)))
out.append("")
out.append("Each module alone (its own session, the mode's threads), p50 / p95 in ms:")
out.append("")
out.append("| model | mode (threads) | " + " | ".join(MODULES) + " | sum of p50 |")
out.append("|---|---|" + "---|" * (len(MODULES) + 1))
for model, preset, key, r in runs:
    mods = r["modules"]
    cells = [("%s / %s" % (f(mods[m]["p50_ms"]), f(mods[m]["p95_ms"]))) if m in mods else "-"
             for m in MODULES]
    total = sum(mods[m]["p50_ms"] for m in MODULES if m in mods)
    out.append("| %s | %s (%s) | %s | %s |" % (model, key, threads(r["threads"]), " | ".join(cells),
                                               f(total)))
out.append("")
out.append("Share of each stage in a frame's compute end to end (mean ms per frame, %):")
out.append("")
out.append("| model | mode | " + " | ".join(STAGES) + " |")
out.append("|---|---|" + "---|" * len(STAGES))
for model, preset, key, r in runs:
    st = r["stages"]
    out.append("| %s | %s | %s |" % (model, key, " | ".join(
        "%s (%s)" % (f(st[s]["ms"], "{:.1f}"), f(100 * st[s]["share"], "{:.0f}%")) for s in STAGES)))
out.append("")
by = {}
for model, preset, key, r in runs:
    by.setdefault(model, {})[key] = r
for model, modes in by.items():
    if "seq" in modes and "pipe" in modes and modes["seq"]["wall_fps"]:
        out.append("- %s: pipelined / sequential wall FPS = %.2fx (%.2f vs %.2f FPS)." % (
            model, modes["pipe"]["wall_fps"] / modes["seq"]["wall_fps"], modes["pipe"]["wall_fps"],
            modes["seq"]["wall_fps"]))
for w in warn:
    out.append("- WARNING: " + w)
text = open(doc).read()
begin, end = "<!-- perf_doc:begin -->", "<!-- perf_doc:end -->"
a, b = text.index(begin) + len(begin), text.index(end)
open(doc, "w").write(text[:a] + "\n" + "\n".join(out) + "\n" + text[b:])
print("perf_doc.sh: wrote %s" % doc, file=sys.stderr)
PY
echo "perf_doc.sh: wrote $html and $json" >&2
