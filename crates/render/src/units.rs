//! Byte-unit formatting shared by all human-readable output.

/// Binary units as `go tool pprof` prints them (kB = KiB, MB = MiB, ...).
/// Placeholder until the pprof helper lands the exact pprof scaling.
pub fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let neg = n < 0;
    let mut v = n.unsigned_abs() as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    let s = if i == 0 { format!("{v}B") } else { format!("{v:.2}{}", UNITS[i]) };
    if neg { format!("-{s}") } else { s }
}
