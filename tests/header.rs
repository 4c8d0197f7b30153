//! include/amljpeg.h must be exactly what cbindgen generates from the code.
//! Run with AMLJPEG_BLESS=1 to rewrite it.

use std::path::Path;

// The header is the same for every target; cbindgen is a dependency on x86_64 only (Cargo.toml).
#[cfg(target_arch = "x86_64")]
#[test]
fn header_matches_cbindgen() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut generated);
    let path = root.join("include/amljpeg.h");
    if std::env::var_os("AMLJPEG_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == generated,
        "include/amljpeg.h is out of date: run `AMLJPEG_BLESS=1 cargo test --test header`"
    );
}

/// `#define AML_JPEG_<name> <value>` lines of the header.
fn header_numbers(root: &Path) -> std::collections::BTreeMap<String, i64> {
    let header = std::fs::read_to_string(root.join("include/amljpeg.h")).unwrap();
    header
        .lines()
        .filter_map(|l| l.strip_prefix("#define AML_JPEG_"))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The Python bindings' `{"name": value, ...}` dictionary `dict`.
fn python_dict(source: &str, dict: &str) -> Vec<(String, i64)> {
    let start = source.find(&format!("\n{dict} = {{")).expect(dict) + dict.len() + 5;
    let body = &source[start..start + source[start..].find('}').unwrap()];
    body.split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let (k, v) = e.split_once(':').unwrap();
            (
                k.trim().trim_matches('"').to_uppercase(),
                v.trim().parse().unwrap(),
            )
        })
        .collect()
}

/// The numbers are written once, in src/abi.rs; the drop-in (preload/src/amljpeg.rs) and the
/// Python bindings (python/amljpeg/_native.py) carry hand copies, which must be the header's.
#[test]
fn hand_copies_of_the_numbers_are_the_headers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = header_numbers(root);
    assert!(header.len() >= 26, "{header:?}");
    let check = |name: &str, value: i64, whose: &str| {
        assert_eq!(header.get(name), Some(&value), "{whose}: {name} = {value}");
    };
    let preload = std::fs::read_to_string(root.join("preload/src/amljpeg.rs")).unwrap();
    let mut copies = 0;
    for line in preload.lines() {
        if let Some(rest) = line.strip_prefix("pub const ") {
            let (name, value) = rest.split_once(": c_int = ").unwrap();
            check(
                name,
                value.trim_end_matches(';').parse().unwrap(),
                "drop-in",
            );
            copies += 1;
        }
    }
    assert!(copies >= 8, "the drop-in's constants were not found");
    let python = std::fs::read_to_string(root.join("python/amljpeg/_native.py")).unwrap();
    for line in python.lines() {
        if let Some((name, value)) = line.split_once(" = ") {
            if name == "OK" || name.starts_with("ERR_") {
                check(name, value.parse().unwrap(), "python");
            }
        }
    }
    for (dict, family) in [
        ("BACKENDS", "BACKEND_"),
        ("FORMATS", "FORMAT_"),
        ("SUBSAMPLINGS", "SUBSAMPLING_"),
        ("INPUTS", "INPUT_"),
    ] {
        let entries = python_dict(&python, dict);
        for (key, value) in &entries {
            check(&format!("{family}{key}"), *value, "python");
        }
        // Every value of the family is reachable from Python.
        let family_size = header.keys().filter(|k| k.starts_with(family)).count();
        assert_eq!(entries.len(), family_size, "python {dict}");
    }
    let statuses = header
        .keys()
        .filter(|k| *k == "OK" || k.starts_with("ERR_"))
        .count();
    assert!(
        python
            .lines()
            .filter(|l| l.starts_with("ERR_") || l.starts_with("OK ="))
            .count()
            == statuses
    );
}
