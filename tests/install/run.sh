#!/usr/bin/env bash
# Installs katana into a temporary prefix and builds a consumer with pkg-config and with CMake's
# find_package, then runs both.
set -euo pipefail
build=$1; src=$2
prefix=$(mktemp -d); work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}"
cc "$src/tests/install/consumer.c" -o "$work/consumer_pc" $(pkg-config --cflags --libs katana) \
  -Wl,-rpath,"$(pkg-config --variable=libdir katana)"
"$work/consumer_pc"
cmake -S "$src/tests/install" -B "$work/cm" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm" >/dev/null
"$work/cm/consumer"
echo "install test: pkg-config and find_package consumers ran"
