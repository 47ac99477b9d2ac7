#!/usr/bin/env bash
# Tests scripts/layering on hand-made trees: each bad include (a lower layer including a higher
# one, through a relative path too; two peers of one layer; the CLI reaching into a library
# internal) must fail naming the file, the include and the rule, each good one must pass; then the
# real source tree must pass. Usage: run.sh SOURCE_DIR.
set -uo pipefail
src=${1:?usage: run.sh SOURCE_DIR}
script="$src/scripts/layering"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kat_layering.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0

# A minimal tree: one header per area.
base() {
  rm -rf "$tmp/t"
  mkdir -p "$tmp/t/src/core" "$tmp/t/src/runtime" "$tmp/t/src/media" "$tmp/t/src/track" \
    "$tmp/t/include/katana" "$tmp/t/tools/katana"
  for a in core runtime media track; do printf '#pragma once\n' >"$tmp/t/src/$a/$a.h"; done
  printf '#pragma once\n' >"$tmp/t/include/katana/tracker.h"
}

# expect WANT_RC NEEDLE... : runs the script on the tree; the status must be WANT_RC and the
# output must contain every NEEDLE.
expect() {
  local want=$1 out rc
  shift
  out=$("$script" "$tmp/t" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAILED: exit $rc, want $want; output:"$'\n'"$out"
    failures=$((failures + 1))
    return
  fi
  for needle in "$@"; do
    case "$out" in
      *"$needle"*) ;;
      *) echo "FAILED: output lacks '$needle':"$'\n'"$out"; failures=$((failures + 1)) ;;
    esac
  done
}

base
printf '#include "core/core.h"\n#include "media/media.h"\n#include "katana/tracker.h"\n' \
  >"$tmp/t/src/track/good.c"
printf '#include "katana/tracker.h"\n#include <stdio.h>\n#include "kat_generated.h"\n' \
  >"$tmp/t/tools/katana/main.c"
expect 0 "no include crosses"

base
printf '/* up */\n#include "track/track.h"\n' >"$tmp/t/src/core/bad.c"
expect 1 'src/core/bad.c:2: includes "track/track.h"' "core may not include the higher layer track"

base
printf '#include "../track/track.h"\n' >"$tmp/t/src/runtime/rel.c"
expect 1 'src/runtime/rel.c:1: includes "../track/track.h"' "runtime may not include the higher"

base
printf '#include "katana/tracker.h"\n' >"$tmp/t/src/media/pub.h"
expect 1 'src/media/pub.h:1: includes "katana/tracker.h"' "media may not include the higher layer"

base
printf '  #  include "media/media.h"\n' >"$tmp/t/src/runtime/peer.c"
expect 1 'src/runtime/peer.c:1: includes "media/media.h"' "runtime and media are peers"

base
printf '#include "core/core.h"\n' >"$tmp/t/tools/katana/cmd.c"
expect 1 'tools/katana/cmd.c:1: includes "core/core.h"' "public API only"

# The real tree.
out=$("$script" "$src" 2>&1)
rc=$?
echo "$out" | tail -n 1
if [ "$rc" -ne 0 ]; then
  echo "FAILED: the source tree has layering violations:"$'\n'"$out"
  failures=$((failures + 1))
fi
[ "$failures" -eq 0 ] && echo "layering test passed" || echo "$failures failure(s)"
[ "$failures" -eq 0 ]
