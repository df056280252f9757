#!/usr/bin/env bash
# Makes samples/c-core: a kernel core dump of a small C program (not Go), for
# the corruption tests (`mapscope` must say "not a Go program", not crash).
# Needs cc, zstd and a core_pattern that writes a file named "core"
# (as root: echo core > /proc/sys/kernel/core_pattern).
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/samples/c-core"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The program's source is the one kept in samples/c-core.
cp "$out/crash.c" "$work/crash.c"
cc -O1 -g0 -o "$work/crash" "$work/crash.c"
strip "$work/crash"
(cd "$work" && ulimit -c unlimited && ./crash > stdout.txt || true)
core="$(ls "$work"/core* 2>/dev/null | head -1)"
[ -n "$core" ] || { echo "no core written; check /proc/sys/kernel/core_pattern" >&2; exit 1; }
mkdir -p "$out"
# Not named core.zst: sample_names() lists only Go incidents (dirs with core.zst).
zstd -q -19 -f "$core" -o "$out/crash-core.zst"
zstd -q -19 -f "$work/crash" -o "$out/crash.zst"
echo "regenerated: core of $(cc --version | head -1), $(stat -c %s "$core") bytes; see README.md" >&2
