//! The cache holds exactly the files the generator recorded (sizes from
//! `sha256.txt`, written by `scripts/gen-samples.sh` before compressing).

#[test]
fn decompressed_samples_have_recorded_sizes() {
    let names = mapscope_testsupport::sample_names();
    assert!(
        names.iter().any(|n| n == "go1.22") && names.iter().any(|n| n == "go1.26"),
        "{names:?}"
    );
    for name in names.iter().filter(|n| !n.ends_with("-gcore")) {
        let s = mapscope_testsupport::sample(name);
        for line in s.text("sha256.txt").lines() {
            let mut parts = line.split_whitespace();
            let (Some(first), Some(file), None) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let Ok(size) = first.parse::<u64>() else {
                continue;
            };
            let path = if file == "core" { &s.core } else { &s.exe };
            assert_eq!(
                std::fs::metadata(path).unwrap().len(),
                size,
                "{name}/{file}"
            );
        }
    }
}
