#!/usr/bin/env bash
# Builds the seed corpora in fuzz/corpus/<target>/ from the shipped samples
# (small slices only: a fuzz input is a whole file for pprof_profile,
# elf_core and memory_view, and a list of patches for the others).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
samples="$here/../samples"
corpus="$here/corpus"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$corpus"/{pprof_profile,elf_core,memory_view,dwarf_load,map_decode,heap_walk}

# Profiles: every shipped pprof file is small (a few KiB); a slice of a
# legacy text profile too.
n=0
for f in "$samples"/profiles/*/*.pb.gz "$samples"/go1.*/heap.pb.gz; do
  [ -f "$f" ] || continue
  n=$((n + 1)); cp "$f" "$corpus/pprof_profile/p$n.pb.gz"
  gzip -dc "$f" > "$corpus/pprof_profile/p$n.pb" 2>/dev/null || true
  [ "$n" -ge 40 ] && break
done
head -c 8000 "$samples/go1.22/heap.txt" > "$corpus/pprof_profile/legacy.txt"

# Cores: the first 72 KiB (ELF header, program headers, notes).
for s in go1.22 go1.26 go1.26-gcore; do
  zstd -q -dc "$samples/$s/core.zst" | head -c 73728 > "$corpus/elf_core/$s-head" || true
done
zstd -q -dc "$samples/c-core/crash-core.zst" > "$tmp/c-core"
zstd -q -dc "$samples/c-core/crash.zst" > "$tmp/c-exe"
head -c 73728 "$tmp/c-core" > "$corpus/elf_core/c-core-head"
cp "$tmp/c-exe" "$corpus/elf_core/c-exe"

# Memory view: 4-byte little-endian split, then core bytes, then exe bytes.
split_le() { python3 -c "import sys,struct; sys.stdout.buffer.write(struct.pack('<I', int(sys.argv[1])))" "$1"; }
for s in go1.22 go1.26; do
  f="$corpus/elf_core/$s-head"
  { split_le "$(stat -c %s "$f")"; cat "$f"; } > "$corpus/memory_view/$s"
done
{ split_le 73728; head -c 73728 "$tmp/c-core"; cat "$tmp/c-exe"; } > "$corpus/memory_view/c"
# The whole C core with its executable: small enough to read memory from.
{ split_le "$(stat -c %s "$tmp/c-core")"; cat "$tmp/c-core" "$tmp/c-exe"; } > "$corpus/memory_view/c-whole"

# Patch-list targets: a header byte or two, no patches; the fuzzer builds on it.
printf '\x00' > "$corpus/dwarf_load/sections"
printf '\x01' > "$corpus/dwarf_load/file"
printf '\x00\x00\x10\x00\x01\x03\xff\xff\xff\xff' > "$corpus/dwarf_load/sections-patch"
for w in 0 1; do
  for m in 0 1 2 3 4 5 6 7 8 9 10; do
    printf "\\x0$w\\x$(printf %02x $m)" > "$corpus/map_decode/s$w-m$m"
  done
  printf "\\x0$w" > "$corpus/heap_walk/s$w"
  printf "\\x0$w\\x03\\x80\\x10\\x00\\x07\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff" > "$corpus/heap_walk/s$w-npages"
done
echo "seeded: $(find "$corpus" -type f | wc -l) files under $corpus"
