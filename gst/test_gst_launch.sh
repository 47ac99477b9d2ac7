#!/usr/bin/env bash
# gst-inspect-1.0 finds katanatrack with its properties and signals, and a gst-launch-1.0
# pipeline from an MP4 that Debian's ffmpeg encoded (decodebin, videoconvert) runs to EOS with
# one katana-track element message per frame. Exit 77 (skip) without the GStreamer tools.
set -euo pipefail
command -v gst-inspect-1.0 >/dev/null && command -v gst-launch-1.0 >/dev/null || {
  echo "SKIP: gst-inspect-1.0/gst-launch-1.0 not installed (scripts/bootstrap installs them)"; exit 77; }
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg program to encode clip.mp4"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

gst-inspect-1.0 katanatrack >"$tmp/inspect.txt" 2>&1 || { cat "$tmp/inspect.txt"; fail "gst-inspect-1.0 katanatrack"; }
for p in model ep box boxes max-objects selection draw threads pipeline masks live dropped \
  prompts-dropped add-object reseed-object remove-object; do
  grep -q "^  $p \| \"$p\"" "$tmp/inspect.txt" || { cat "$tmp/inspect.txt"; fail "gst-inspect-1.0 shows no $p"; }
done
for f in RGB RGBx BGRx NV12 I420; do
  grep -q "$f" "$tmp/inspect.txt" || fail "format $f not in the caps"
done
echo "gst-inspect-1.0: katanatrack with its properties, signals and formats"

ffmpeg -loglevel error -y -framerate 30 -i "$KAT_TEST_DATA/track/clip/img/%05d.png" \
  -pix_fmt yuv420p "$tmp/clip.mp4"
# The model: the default model (the property left empty).
timeout 600 gst-launch-1.0 -m filesrc location="$tmp/clip.mp4" ! decodebin ! videoconvert ! \
  katanatrack box=96,92,42,29 ! fakesink >"$tmp/launch.txt" 2>&1 || {
  tail -40 "$tmp/launch.txt"; fail "gst-launch-1.0 failed"; }
grep -q "Got EOS from element" "$tmp/launch.txt" || { tail -20 "$tmp/launch.txt"; fail "no EOS"; }
n=$(grep -c "katana-track, frame=(gint64)" "$tmp/launch.txt" || true)
[ "$n" = 64 ] || { grep katana-track "$tmp/launch.txt" | head -3; fail "$n katana-track messages, want 64"; }
echo "gst-launch-1.0: EOS, $n katana-track messages"
grep "katana-track, frame=(gint64)0," "$tmp/launch.txt" | head -1 | cut -c1-400
