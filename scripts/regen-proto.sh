#!/usr/bin/env bash
# Regenerates crates/pprof/src/generated/perftools.profiles.rs from
# proto/profile.proto. Opt-in: the normal build uses the committed file and
# needs no protoc.
#
# How: a throwaway crate under a temporary directory runs prost-build 0.14
# with protox (a protobuf compiler written in Rust, fetched from crates.io),
# so neither protoc nor a network beyond crates.io is needed.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/mapscope-regen-proto.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="$repo/crates/pprof/src/generated"
mkdir -p "$work/src" "$out"

cat >"$work/Cargo.toml" <<'TOML'
[package]
name = "regen-proto"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
prost-build = "0.14"
protox = "0.10"

[workspace]
TOML

cat >"$work/src/main.rs" <<'RS'
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (proto_dir, out_dir) = match (args.next(), args.next()) {
        (Some(p), Some(o)) => (p, o),
        _ => panic!("usage: regen-proto PROTO_DIR OUT_DIR"),
    };
    let fds = protox::compile(["profile.proto"], [&proto_dir]).expect("compile profile.proto");
    prost_build::Config::new()
        .out_dir(&out_dir)
        .compile_fds(fds)
        .expect("generate Rust");
}
RS

( cd "$work" && CARGO_TARGET_DIR="$work/target" cargo run --quiet --release -- "$repo/proto" "$out" )
# rustfmt the result so diffs stay readable.
rustfmt --edition 2021 "$out/perftools.profiles.rs"
echo "regenerated $out/perftools.profiles.rs"
