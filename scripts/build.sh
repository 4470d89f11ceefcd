#!/usr/bin/env bash
# Builds Ferry with meson: build/ (release-ish, hardened) and, with
# "asan", build-asan/ (ASan+UBSan); "minimal" builds build-min/ with every
# optional part (meson_options.txt) disabled, so the stand-ins (src/*_none.c)
# keep building. Usage: scripts/build.sh [release|asan|clang|minimal]...
# Warnings are errors here (-Dwerror=true; opt-in for a plain meson build).
set -euo pipefail
cd "$(dirname "$0")/.."
for kind in "${@:-release}"; do
  case "$kind" in
    release) dir=build;       opts=(--buildtype=debugoptimized) ; cc=gcc ;;
    asan)    dir=build-asan;  opts=(--buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false) ; cc=gcc ;;
    clang)   dir=build-clang; opts=(--buildtype=debugoptimized) ; cc=clang ;;
    minimal) dir=build-min;   opts=(--buildtype=debugoptimized -Dgssapi=disabled -Dmetrics=disabled
                                    -Dhooks=disabled -Dsystemd=disabled -Dpostgres=disabled -Dsftp=disabled) ; cc=gcc ;;
    *) echo "unknown build kind: $kind" >&2; exit 2 ;;
  esac
  if [ ! -f "$dir/build.ninja" ]; then
    CC=$cc meson setup "$dir" "${opts[@]}" -Dwerror=true >/dev/null
  else
    # tests/proto/*.t are listed at configure time: pick up new transcripts.
    meson setup --reconfigure "$dir" -Dwerror=true >/dev/null
  fi
  ninja -C "$dir" >/dev/null || ninja -C "$dir"
done
