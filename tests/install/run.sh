#!/usr/bin/env bash
# Installs katana into a temporary prefix, moves the prefix elsewhere (which proves the $ORIGIN
# RUNPATHs) and then, with the source and build trees hidden under empty tmpfs mounts in a private
# mount namespace and without LD_LIBRARY_PATH:
#   phase "shared" (the dependencies' pkg-config files and headers hidden too, as on a machine
#   without the FFmpeg/libpng/protobuf-c dev packages): C and C++ consumers through pkg-config and
#   find_package(katana) link the shared library and run; find_package(katana COMPONENTS static)
#   fails naming what is missing; the installed `katana track` runs without --model, on frames
#   drawn here, using the installed default model; the installed Python package tracks the same
#   frames with the same boxes, and gst-inspect-1.0 loads the installed katanatrack plugin;
#   phase "static" (dev packages visible): C and C++ consumers link libkatana.a through
#   `pkg-config --static` and katana::katana_static and run.
# Also fails when an installed RUNPATH, .pc or .cmake file names the source or build tree.
# Usage: run.sh BUILD_DIR SOURCE_DIR. Exit 77 (skip) when a mount namespace cannot be made.
set -euo pipefail

fail() { echo "install test FAILED: $*" >&2; exit 1; }

# Checks that program $1 run with the remaining arguments prints nothing on stderr and exits 0.
run_ok() { "$@" || fail "$* exited $?"; }

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

phase_shared() {
  export PKG_CONFIG_PATH=$pcdir
  local cflags libs
  cflags=$(pkg-config --cflags katana) || fail "pkg-config --cflags katana needs more than katana"
  libs=$(pkg-config --libs katana) || fail "pkg-config --libs katana needs more than katana"
  cc "$work/src/consumer.c" -o "$work/pc_c" $cflags $libs -Wl,-rpath,"$libdir" \
    || fail "C consumer (pkg-config, shared) does not build"
  c++ "$work/src/consumer.cpp" -o "$work/pc_cpp" $cflags $libs -Wl,-rpath,"$libdir" \
    || fail "C++ consumer (pkg-config, shared) does not build"
  needed "$work/pc_c" | grep '^libkatana\.so' >/dev/null || fail "pc_c does not link libkatana.so"
  run_ok "$work/pc_c" "$models"
  run_ok "$work/pc_cpp" "$models"

  cmake -S "$work/src" -B "$work/cm_shared" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cm_shared.log" 2>&1 \
    || { cat "$work/cm_shared.log"; fail "find_package(katana) fails without the dev packages"; }
  cmake --build "$work/cm_shared" >"$work/cm_shared_build.log" 2>&1 \
    || { cat "$work/cm_shared_build.log"; fail "CMake shared consumers do not build"; }
  run_ok "$work/cm_shared/consumer_c" "$models"
  run_ok "$work/cm_shared/consumer_cpp" "$models"
  # Without the dev packages the static component must be refused with a reason.
  if cmake -S "$work/src" -B "$work/cm_nodev" -DCMAKE_PREFIX_PATH="$prefix" -DKAT_CONSUMER_STATIC=ON \
    >"$work/cm_nodev.log" 2>&1; then
    fail "find_package(katana COMPONENTS static) succeeded with the dev packages hidden"
  fi
  grep -q "katana_static needs the development files of" "$work/cm_nodev.log" \
    || { cat "$work/cm_nodev.log"; fail "find_package(katana COMPONENTS static) gives no reason"; }

  # The installed CLI: ONNX Runtime from the prefix, the default model when --model is absent.
  ldd "$prefix/bin/katana" | grep "libonnxruntime.so.1 => $prefix/" >/dev/null \
    || { ldd "$prefix/bin/katana"; fail "installed katana does not load ONNX Runtime from the prefix"; }
  run_ok "$prefix/bin/katana" track "$work/frames" --box 40,30,24,20 --out "$work/trk_default" --quiet
  run_ok "$prefix/bin/katana" track "$work/frames" --box 40,30,24,20 --model "$models" \
    --out "$work/trk_explicit" --quiet
  [ "$(wc -l <"$work/trk_default/boxes.txt")" -eq 6 ] || fail "katana track wrote no box per frame"
  cmp -s "$work/trk_default/boxes.txt" "$work/trk_explicit/boxes.txt" \
    || fail "katana track without --model differs from --model $models"
  local rc=0
  KATANA_MODEL_DIR=$work/no-such-model "$prefix/bin/katana" track "$work/frames" --box 40,30,24,20 \
    --out "$work/trk_bad" --quiet 2>"$work/trk_bad.err" || rc=$?
  [ "$rc" -eq 2 ] && grep -q "no default model found" "$work/trk_bad.err" \
    || fail "a wrong KATANA_MODEL_DIR gave exit $rc: $(cat "$work/trk_bad.err")"

  # The installed Python package: libkatana from the prefix, the installed default model, the
  # same boxes as the installed CLI.
  local pydir
  pydir=$(find "$prefix" -type f -path '*/dist-packages/katana/__init__.py' -print -quit)
  [ -n "$pydir" ] || fail "the Python package is not installed"
  PYTHONPATH=$(dirname "$(dirname "$pydir")") /usr/bin/python3 - "$prefix" "$work" <<'PY' \
    || fail "the installed Python package does not track"
import os, sys
import katana
prefix, work = sys.argv[1], sys.argv[2]
assert katana.library_path.startswith(prefix), katana.library_path
assert katana.default_model_path().startswith(os.path.realpath(prefix)), katana.default_model_path()
got = ["%.0f,%.0f,%.0f,%.0f" % r.box for r in katana.track(work + "/frames", box=(40, 30, 24, 20))]
want = open(work + "/trk_default/boxes.txt").read().split()
assert got == want, (got, want)
PY
  # The installed GStreamer plugin loads from the prefix.
  if command -v gst-inspect-1.0 >/dev/null && [ -f "$libdir/gstreamer-1.0/libgstkatana.so" ]; then
    GST_PLUGIN_PATH=$libdir/gstreamer-1.0 GST_REGISTRY=$work/gst-registry.bin \
      gst-inspect-1.0 katanatrack >"$work/gst-inspect.txt" 2>&1 \
      || { cat "$work/gst-inspect.txt"; fail "gst-inspect-1.0 does not load the installed plugin"; }
  fi
}

phase_static() {
  export PKG_CONFIG_PATH=$pcdir
  local cflags libs
  cflags=$(pkg-config --cflags katana)
  libs=$(pkg-config --static --libs katana) || fail "pkg-config --static --libs katana fails"
  # libkatana.a rather than libkatana.so, which the linker would prefer for -lkatana.
  libs=$(echo " $libs " | sed 's/ -lkatana / -l:libkatana.a /')
  cc "$work/src/consumer.c" -o "$work/pc_c_static" $cflags $libs -Wl,-rpath,"$libdir" \
    || fail "C consumer (pkg-config --static) does not build"
  c++ "$work/src/consumer.cpp" -o "$work/pc_cpp_static" $cflags $libs -Wl,-rpath,"$libdir" \
    || fail "C++ consumer (pkg-config --static) does not build"
  cmake -S "$work/src" -B "$work/cm_static" -DCMAKE_PREFIX_PATH="$prefix" -DKAT_CONSUMER_STATIC=ON \
    >"$work/cm_static.log" 2>&1 || { cat "$work/cm_static.log"; fail "find_package(katana COMPONENTS static) fails"; }
  cmake --build "$work/cm_static" >"$work/cm_static_build.log" 2>&1 \
    || { cat "$work/cm_static_build.log"; fail "CMake static consumers do not build"; }
  for exe in "$work/pc_c_static" "$work/pc_cpp_static" "$work/cm_static/consumer_c_static" \
    "$work/cm_static/consumer_cpp_static"; do
    if needed "$exe" | grep '^libkatana' >/dev/null; then fail "$exe links libkatana.so, not libkatana.a"; fi
    # Outside a prefix a static program finds no default model, unless KATANA_MODEL_DIR says.
    run_ok "$exe" none
    KATANA_MODEL_DIR=$models run_ok "$exe" "$models"
  done
  # Inside the prefix's bindir it finds the installed model by itself.
  cp "$work/pc_c_static" "$prefix/bin/consumer_static"
  run_ok "$prefix/bin/consumer_static" "$models"
  rm -f "$prefix/bin/consumer_static"
}

if [ "${1:-}" = --phase ]; then
  phase=$2 prefix=$3 work=$4
  [ ! -e "$SRC_HIDDEN/CMakeLists.txt" ] || fail "the source tree is still visible"
  [ ! -e "$BUILD_HIDDEN/CMakeCache.txt" ] || fail "the build tree is still visible"
  [ -z "${LD_LIBRARY_PATH:-}" ] || fail "LD_LIBRARY_PATH is set"
  libdir=$(dirname "$(find "$prefix" -name libkatana.so -print -quit)")
  pcdir=$libdir/pkgconfig
  models=$(realpath "$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=modeldir katana)")
  "phase_$phase"
  echo "install test: phase $phase passed"
  exit 0
fi

[ $# -eq 2 ] || { echo "usage: run.sh BUILD_DIR SOURCE_DIR" >&2; exit 2; }
build=$(realpath "$1") src=$(realpath "$2")
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
  echo "SKIP: hiding the checkout needs a mount namespace (root and unshare -m)"
  exit 77
fi
for tool in cc c++ cmake pkg-config readelf ldd; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
tmp=$(mktemp -d /tmp/katana-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
case "$tmp/" in "$src/"* | "$build/"*) fail "temporary folder $tmp lies in the checkout" ;; esac

cmake --install "$build" --prefix "$tmp/stage" >/dev/null
mkdir -p "$tmp/moved"
mv "$tmp/stage" "$tmp/moved/prefix"
prefix=$tmp/moved/prefix work=$tmp/work
mkdir -p "$work/src"
cp "$src/tests/install/consumer.c" "$src/tests/install/consumer.cpp" \
  "$src/tests/install/CMakeLists.txt" "$work/src/"
cp "$0" "$tmp/run.sh"

# Nothing installed may point into the checkout or the build tree.
while IFS= read -r -d '' f; do
  [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
  rp=$(readelf -d "$f" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
  case ":$rp:" in *"$src"* | *"$build"*) fail "$f has RUNPATH $rp into the checkout" ;; esac
done < <(find "$prefix" -type f -print0)
if grep -rlF -e "$src" -e "$build" "$prefix" --include='*.pc' --include='*.cmake'; then
  fail "installed .pc/.cmake files name the checkout"
fi
[ -f "$prefix/share/katana/models/default/katana.json" ] || fail "default model not installed"

# The SONAME follows docs/abi.md (0.MINOR before 1.0, else MAJOR), as does the Python package.
ver_h=$(find "$prefix" -path '*/katana/version.h' -print -quit)
major=$(sed -n 's/^#define KAT_VERSION_MAJOR \([0-9]*\)$/\1/p' "$ver_h")
minor=$(sed -n 's/^#define KAT_VERSION_MINOR \([0-9]*\)$/\1/p' "$ver_h")
[ -n "$major" ] && [ -n "$minor" ] || fail "no version in $ver_h"
if [ "$major" -eq 0 ]; then want=libkatana.so.0.$minor; else want=libkatana.so.$major; fi
so=$(find "$prefix" -name libkatana.so -print -quit)
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "$want" ] || fail "SONAME $soname, docs/abi.md wants $want"
[ -e "$(dirname "$so")/$want" ] || fail "$want is not installed beside libkatana.so"
grep -qF "_SONAME = \"$want\"" "$src/python/katana/_lib.py" \
  || fail "python/katana/_lib.py does not load $want"

# Six 96x72 frames of a red square moving over a grey background, drawn here (not test data).
/usr/bin/python3 - "$work/frames" <<'PY' || fail "cannot draw test frames (Debian python3-pil)"
import os, sys
from PIL import Image, ImageDraw
out = sys.argv[1]
os.makedirs(out)
for i in range(6):
    im = Image.new("RGB", (96, 72), (120, 120, 120))
    ImageDraw.Draw(im).rectangle([40 + 2 * i, 30, 63 + 2 * i, 49], fill=(220, 30, 30))
    im.save(os.path.join(out, "%05d.png" % i))
PY

# Development files hidden in phase "shared": the dependencies' pkg-config and header folders.
devdirs=""
for d in /usr/lib/x86_64-linux-gnu/pkgconfig /usr/lib/pkgconfig /usr/share/pkgconfig \
  /usr/local/lib/pkgconfig /usr/include/libpng16 /usr/include/protobuf-c \
  /usr/include/x86_64-linux-gnu/libav{codec,device,filter,format,util} \
  /usr/include/x86_64-linux-gnu/libswscale /usr/include/libav{codec,device,format,util} \
  /usr/include/libswscale; do
  [ -d "$d" ] && devdirs="$devdirs $d"
done

# Runs phase $1 in a mount namespace where the listed folders are empty tmpfs mounts.
hidden() {
  local phase=$1 hide="$src $build"
  [ "$phase" = shared ] && hide="$hide $devdirs"
  env -u LD_LIBRARY_PATH -u KATANA_MODEL_DIR SRC_HIDDEN="$src" BUILD_HIDDEN="$build" \
    KAT_HIDE="$hide" unshare -m -- bash -c '
      for d in $KAT_HIDE; do
        if [ -d "$d" ]; then mount -t tmpfs -o size=1m,mode=755 katana-hidden "$d" || exit 1; fi
      done
      exec bash "$@"' hidden "$tmp/run.sh" --phase "$phase" "$prefix" "$work"
}
hidden shared
hidden static
echo "install test: shared and static consumers (C, C++, pkg-config, find_package) and the installed CLI ran with the checkout hidden"
