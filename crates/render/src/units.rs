//! Byte counts for people, and pprof's own number formatting.
//!
//! The one units module: every number formatted for people is formatted
//! here. One convention for people: IEC units ([`iec_bytes`]: `512 B`,
//! `1.50 KiB`, `12.3 MiB`, `584 GiB`), used by every table, headline and
//! progress line a person reads, and counts with thousands separators
//! ([`thousands`]: `1,203`). Raw bytes appear only in JSON and CSV
//! (addresses there are `0x…`, `mapscope_incident::reports::hex_addr`).
//!
//! `top` alone keeps pprof's exact text, so it matches `go tool pprof`
//! (google/pprof `internal/measurement`): bytes scale in powers of 1024 and
//! are named `B`, `kB`, `MB`, `GB`, `TB`, `PB` (so "kB" means KiB); values
//! print with two decimals and a trailing ".00" dropped (`1536` bytes →
//! `1.50kB`, `2048` → `2kB`, `0` → `0`). Counts (`count`, `sample`, ...)
//! print as plain numbers. Times scale among `ns`, `us`, `ms`, `s`, `hrs`.

/// Bytes in IEC units with three significant digits: `0 B`, `1023 B`,
/// `1.00 KiB`, `1.50 MiB`, `12.3 MiB`, `584 GiB` (units up to EiB). The
/// value is rounded to nearest; a value that rounds up to 1024 of a unit
/// is written in the next (`1.00 MiB`, not `1024 KiB`). Negative counts
/// keep their sign.
pub fn iec_bytes(n: i128) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let sign = if n < 0 { "-" } else { "" };
    let m = n.unsigned_abs();
    if m < 1024 {
        return format!("{sign}{m} B");
    }
    let mut v = m as f64 / 1024.0;
    let mut unit = 0;
    loop {
        let text = three_digits(v);
        let rounded: f64 = text.parse().unwrap_or(v);
        if rounded >= 1024.0 && unit + 1 < UNITS.len() {
            v /= 1024.0;
            unit += 1;
            continue;
        }
        return format!("{sign}{text} {}", UNITS[unit]);
    }
}

/// A count with thousands separators: `1203` → `1,203`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `v` (≥ 1) with three significant digits: two decimals below 10, one
/// below 100, none above.
fn three_digits(v: f64) -> String {
    if format!("{v:.2}").parse::<f64>().unwrap_or(v) < 10.0 {
        format!("{v:.2}")
    } else if format!("{v:.1}").parse::<f64>().unwrap_or(v) < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A unit pprof knows, with its aliases and its size in the base unit.
struct Unit {
    canonical: &'static str,
    aliases: &'static [&'static str],
    factor: f64,
}

/// A family of convertible units with the unit used when none fits.
struct UnitType {
    default: Unit,
    units: &'static [Unit],
}

const fn unit(canonical: &'static str, aliases: &'static [&'static str], factor: f64) -> Unit {
    Unit {
        canonical,
        aliases,
        factor,
    }
}

const NS: f64 = 1.0;
static UNIT_TYPES: [UnitType; 3] = [
    UnitType {
        units: &[
            unit("B", &["b", "byte"], 1.0),
            unit("kB", &["kb", "kbyte", "kilobyte"], 1024.0),
            unit("MB", &["mb", "mbyte", "megabyte"], 1048576.0),
            unit("GB", &["gb", "gbyte", "gigabyte"], 1073741824.0),
            unit("TB", &["tb", "tbyte", "terabyte"], 1099511627776.0),
            unit("PB", &["pb", "pbyte", "petabyte"], 1125899906842624.0),
        ],
        default: unit("B", &["b", "byte"], 1.0),
    },
    UnitType {
        units: &[
            unit("ns", &["ns", "nanosecond"], NS),
            unit("us", &["μs", "us", "microsecond"], 1e3 * NS),
            unit("ms", &["ms", "millisecond"], 1e6 * NS),
            unit("s", &["s", "sec", "second"], 1e9 * NS),
            unit("hrs", &["hour", "hr"], 3600e9 * NS),
        ],
        default: unit("s", &[], 1e9 * NS),
    },
    UnitType {
        units: &[
            unit("n*GCU", &["nanogcu"], 1e-9),
            unit("u*GCU", &["microgcu"], 1e-6),
            unit("m*GCU", &["milligcu"], 1e-3),
            unit("GCU", &["gcu"], 1.0),
            unit("k*GCU", &["kilogcu"], 1e3),
            unit("M*GCU", &["megagcu"], 1e6),
            unit("G*GCU", &["gigagcu"], 1e9),
            unit("T*GCU", &["teragcu"], 1e12),
            unit("P*GCU", &["petagcu"], 1e15),
        ],
        default: unit("GCU", &[], 1.0),
    },
];

impl UnitType {
    /// `sniffUnit`: lower-case, drop a plural 's' from names longer than 2.
    fn sniff(&self, name: &str) -> Option<&Unit> {
        let lower = name.to_lowercase();
        let key = if lower.len() > 2 {
            lower.strip_suffix('s').unwrap_or(&lower)
        } else {
            &lower
        };
        self.units.iter().find(|u| u.aliases.contains(&key))
    }

    /// `autoScale`: the largest unit the value reaches at least 1 of.
    fn auto_scale(&self, value: f64) -> Option<(f64, &'static str)> {
        let mut best: Option<&Unit> = None;
        for u in self.units {
            if u.factor >= best.map_or(0.0, |b| b.factor) && value / u.factor >= 1.0 {
                best = Some(u);
            }
        }
        best.map(|u| (value / u.factor, u.canonical))
    }

    fn convert(&self, value: i64, from: &str, to: &str) -> Option<(f64, String)> {
        let from = self.sniff(from)?;
        let v = value as f64 * from.factor;
        if to == "minimum" || to == "auto" {
            if let Some((v, u)) = self.auto_scale(v) {
                return Some((v, u.to_string()));
            }
            return Some((v / self.default.factor, self.default.canonical.to_string()));
        }
        Some(match self.sniff(to) {
            Some(t) => (v / t.factor, t.canonical.to_string()),
            None => (v / self.default.factor, self.default.canonical.to_string()),
        })
    }
}

/// `measurement.Scale`: `value` in `from_unit` expressed in `to_unit`
/// (`"auto"`/`"minimum"` pick the largest unit the value reaches). The
/// unit returned is empty for plain counts.
pub fn scale(value: i64, from_unit: &str, to_unit: &str) -> (f64, String) {
    if value < 0 && value.checked_neg().is_some_and(|v| v > 0) {
        let (v, u) = scale(-value, from_unit, to_unit);
        return (-v, u);
    }
    for unit_type in &UNIT_TYPES {
        if let Some(r) = unit_type.convert(value, from_unit, to_unit) {
            return r;
        }
    }
    match to_unit {
        "count" | "sample" | "unit" | "minimum" | "auto" => (value as f64, String::new()),
        _ => (value as f64, to_unit.to_string()),
    }
}

/// `measurement.ScaledLabel`: the scaled value with two decimals, ".00"
/// dropped, and the unit appended; exactly zero prints as `0`.
pub fn scaled_label(value: i64, from_unit: &str, to_unit: &str) -> String {
    let (v, u) = scale(value, from_unit, to_unit);
    let s = format!("{v:.2}");
    let s = s.strip_suffix(".00").unwrap_or(&s);
    if s == "0" || s == "-0" {
        return "0".to_string();
    }
    format!("{s}{u}")
}

/// `measurement.Label`: `value` in `unit`, auto-scaled.
pub fn label(value: i64, unit: &str) -> String {
    scaled_label(value, unit, "auto")
}

/// Bytes as pprof prints them: `512.01kB`, `1.50MB`, `0` (for `top` only;
/// people read [`iec_bytes`]).
pub fn pprof_bytes(n: i64) -> String {
    label(n, "bytes")
}

/// Object counts as pprof prints them (a plain number).
pub fn human_count(n: i64) -> String {
    label(n, "count")
}

/// `measurement.Percentage`: `value` as a percentage of `total` with at
/// least two significant digits, padded to pprof's column width (`"  100%"`,
/// `"12.34%"`, `" 0.05%"`, `"0.00026%"`).
pub fn percentage(value: i64, total: i64) -> String {
    let ratio = if total != 0 {
        (value as f64 / total as f64).abs() * 100.0
    } else {
        0.0
    };
    if (99.95..=100.05).contains(&ratio) {
        "  100%".to_string()
    } else if ratio >= 1.0 {
        format!("{ratio:5.2}%")
    } else {
        format!("{:>5}%", go_format_g2(ratio))
    }
}

/// The unit pprof's report picks for a whole `-top` listing by default
/// (`selectOutputUnit` with `-unit=minimum`): the unit of the smallest
/// non-zero value, unless the total needs a larger one and the smallest
/// value is under 1% of it, then the unit of 100 × the smallest. Returns
/// the unit to pass to [`scaled_label`] as `to_unit`.
pub fn minimum_output_unit(smallest: i64, total: i64, sample_unit: &str) -> String {
    let min_value = if smallest == 0 { total } else { smallest };
    let (_, min_unit) = scale(min_value, sample_unit, "minimum");
    let (_, max_unit) = scale(total, sample_unit, "minimum");
    let mut unit = min_unit.clone();
    if min_unit != max_unit && min_value.saturating_mul(100) < total {
        unit = scale(min_value.saturating_mul(100), sample_unit, "minimum").1;
    }
    if unit.is_empty() {
        sample_unit.to_string()
    } else {
        unit
    }
}

/// Go's `fmt.Sprintf("%.2g", v)` for a finite, non-negative `v`: two
/// significant digits, trailing zeros dropped, exponent form (`2.6e-05`)
/// when the exponent is below -4 or at least the precision.
fn go_format_g2(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    // Rust rounds to two significant digits exactly (ties to even), like Go.
    let e_form = format!("{v:.1e}");
    let Some((mantissa, exp)) = e_form.split_once('e') else {
        return e_form;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let nd = digits.len() as i32;
    let dp = exp + 1; // position of the decimal point
    let mut eprec = 2;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let x = dp - 1;
    let digit = |i: i32| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or('0', |&d| d as char)
    };
    if x < -4 || x >= eprec {
        let prec = nd.min(2);
        let mut s = String::new();
        s.push(digit(0));
        if prec > 1 {
            s.push('.');
            for i in 1..prec {
                s.push(digit(i));
            }
        }
        s.push('e');
        s.push(if x < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", x.abs()));
        return s;
    }
    let prec = if 2 > dp { nd } else { 2 };
    let frac = (prec - dp).max(0);
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp {
            s.push(digit(i));
        }
    } else {
        s.push('0');
    }
    if frac > 0 {
        s.push('.');
        for i in 0..frac {
            s.push(digit(dp + i));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `iec_bytes` output back to bytes.
    fn parse_iec(s: &str) -> f64 {
        let (v, u) = s.split_once(' ').unwrap();
        let f = match u {
            "B" => 1.0,
            "KiB" => 1024.0,
            "MiB" => 1048576.0,
            "GiB" => 1073741824.0,
            "TiB" => 1099511627776.0,
            "PiB" => 1125899906842624.0,
            "EiB" => 1152921504606846976.0,
            _ => panic!("unit {u}"),
        };
        v.parse::<f64>().unwrap() * f
    }

    #[test]
    fn iec_units_read_back_within_rounding() {
        assert_eq!(iec_bytes(0), "0 B");
        assert_eq!(iec_bytes(1023), "1023 B");
        assert_eq!(iec_bytes(1024), "1.00 KiB");
        assert_eq!(iec_bytes(1536), "1.50 KiB");
        assert_eq!(iec_bytes(597552), "584 KiB");
        assert_eq!(iec_bytes(2 << 20), "2.00 MiB");
        assert_eq!(iec_bytes(1048575), "1.00 MiB");
        assert_eq!(iec_bytes(-1536), "-1.50 KiB");
        assert_eq!(iec_bytes(i128::from(u64::MAX)), "16.0 EiB");
        // Every value printed reads back within half a unit of its last
        // digit: 0.5% of the value at worst.
        let mut n: i128 = 1;
        while n < (1i128 << 64) {
            for k in [n, n + n / 3, n * 7 / 5, n * 999 / 1000] {
                let s = iec_bytes(k);
                let back = parse_iec(&s);
                let err = (back - k as f64).abs() / k.max(1) as f64;
                assert!(err <= 0.005, "{k} → {s} → {back}");
                let digits = s
                    .split(' ')
                    .next()
                    .unwrap()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .count();
                assert!(k < 1024 || digits == 3, "{k} → {s}");
            }
            n = n * 3 + 1;
        }
    }

    #[test]
    fn pprof_bytes_like_pprof() {
        assert_eq!(pprof_bytes(0), "0");
        assert_eq!(pprof_bytes(1), "1B");
        assert_eq!(pprof_bytes(1023), "1023B");
        assert_eq!(pprof_bytes(1024), "1kB");
        assert_eq!(pprof_bytes(1536), "1.50kB");
        assert_eq!(pprof_bytes(524298), "512.01kB");
        assert_eq!(pprof_bytes(1572864), "1.50MB");
        assert_eq!(pprof_bytes(-1572864), "-1.50MB");
        // A tie at two decimals rounds to even, as Go does (1.125 → 1.12).
        assert_eq!(pprof_bytes(1179648), "1.12MB");
        assert_eq!(scaled_label(56127355, "bytes", "B"), "56127355B");
        // pprof's -unit=B applied to a count: the number with a "B".
        assert_eq!(scaled_label(385842, "count", "B"), "385842B");
        assert_eq!(human_count(385842), "385842");
        assert_eq!(scaled_label(1536, "bytes", "MB"), "0");
        assert_eq!(scaled_label(1_500_000_000, "nanoseconds", "auto"), "1.50s");
    }

    #[test]
    fn percentages_like_pprof() {
        assert_eq!(percentage(1, 1), "  100%");
        assert_eq!(percentage(2285, 10000), "22.85%");
        assert_eq!(percentage(1, 3), "33.33%");
        assert_eq!(percentage(0, 5), "    0%");
        assert_eq!(percentage(1, 385842), "0.00026%");
        assert_eq!(percentage(256, 385842), "0.066%");
        assert_eq!(percentage(234, 385842), "0.061%");
        assert_eq!(percentage(192, 385842), " 0.05%");
        assert_eq!(percentage(3089, 385842), "  0.8%");
        assert_eq!(percentage(1, 100_000_000), "1e-06%");
        assert_eq!(percentage(26, 1_000_000), "0.0026%");
        assert_eq!(percentage(3, 1_000_000_000), "3e-07%");
        assert_eq!(percentage(5, 0), "    0%");
    }

    #[test]
    fn g_format_edges() {
        assert_eq!(go_format_g2(0.99999), "1");
        assert_eq!(go_format_g2(0.005), "0.005");
        assert_eq!(go_format_g2(0.0000256), "2.6e-05");
        assert_eq!(go_format_g2(0.1), "0.1");
        assert_eq!(go_format_g2(0.125), "0.12");
    }

    #[test]
    fn minimum_unit_choice() {
        assert_eq!(minimum_output_unit(524300, 56127355, "bytes"), "MB");
        assert_eq!(minimum_output_unit(1, 385842, "count"), "count");
        assert_eq!(minimum_output_unit(2048, 4096, "bytes"), "kB");
        assert_eq!(minimum_output_unit(0, 0, "bytes"), "B");
    }
}
