//! include/amljpeg.h must be exactly what cbindgen generates from the code.
//! Run with AMLJPEG_BLESS=1 to rewrite it.

use std::path::Path;

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
