//! Damaged inputs never panic: every prefix and thousands of byte mutations
//! of real profiles (raw protobuf, gzip, legacy text) either decode or
//! return an error that names the file; whatever decodes can be reported.

use mapscope_pprof::{top, Profile, TopOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

fn sample(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/profiles")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn exercise(data: &[u8], name: &Path) {
    match Profile::from_bytes(data, name) {
        Ok(p) => {
            for i in 0..p.sample_types.len() {
                let _ = top(
                    &p,
                    &TopOptions {
                        sample_index: Some(i.to_string()),
                        ..TopOptions::default()
                    },
                );
            }
            let _ = top(
                &p,
                &TopOptions {
                    node_count: 3,
                    node_fraction: 0.01,
                    ..TopOptions::default()
                },
            );
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with(&name.display().to_string()), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}

fn mutate_many(original: &[u8], name: &str, seed: u64, rounds: usize) {
    let name = PathBuf::from(name);
    let mut rng = Rng(seed);
    for _ in 0..rounds {
        let mut data = original.to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(data.len());
            match rng.below(3) {
                0 => data[i] = rng.next() as u8,
                1 => data[i] ^= 1 << rng.below(8),
                _ => data[i] = [0, 0xff, 0x7f, 0x80][rng.below(4)],
            }
        }
        exercise(&data, &name);
    }
}

#[test]
fn every_prefix_of_a_profile_is_handled() {
    let gz = sample("go1.26/heap.pb.gz");
    let raw = gunzip(&gz);
    for cut in (0..raw.len()).step_by(3) {
        exercise(&raw[..cut], Path::new("cut.pb"));
    }
    for cut in (0..gz.len()).step_by(7) {
        exercise(&gz[..cut], Path::new("cut.pb.gz"));
    }
}

#[test]
fn mutated_protobuf_never_panics() {
    let raw = gunzip(&sample("go1.22-rate4096/heap.pb.gz"));
    mutate_many(&raw, "mutated.pb", 0x9e37_79b9_7f4a_7c15, 800);
}

#[test]
fn mutated_legacy_text_never_panics() {
    let text = gunzip(&sample("go1.23/heap.txt.gz"));
    mutate_many(&text, "mutated.txt", 0xdead_beef_cafe_f00d, 300);
}

#[test]
fn mutated_synthetic_profile_never_panics() {
    let raw = gunzip(&sample("synthetic/synth.pb.gz"));
    mutate_many(&raw, "synth.pb", 42, 2000);
}
