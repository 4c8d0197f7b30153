//! The drop-in's layout table against the C compiler's layout of libjpeg-turbo's own
//! `jpeglib.h`, built for each ABI (c-tests/dropin/layout_dump.c).

use amljpeg_preload::abi::{Abi, Field};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

fn c_layout(version: u32) -> HashMap<String, usize> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../c-tests/dropin");
    let exe = std::env::temp_dir().join(format!("amljpeg-layout-{}-{version}", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let ok = Command::new(cc)
        .current_dir(&dir)
        .args([
            "-Iabi",
            &format!("-DAMLJPEG_ABI={version}"),
            "layout_dump.c",
            "-o",
        ])
        .arg(&exe)
        .status()
        .expect("a C compiler")
        .success();
    assert!(ok, "layout_dump.c does not build");
    let out = Command::new(&exe).output().unwrap();
    let _ = std::fs::remove_file(&exe);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn every_field_is_where_the_c_compiler_puts_it() {
    if std::env::var_os("AMLJPEG_TEST_RUNNER").is_some() {
        return; // cross builds: the sizes test in src/layout.rs covers the target
    }
    for version in [62, 70, 80] {
        let c = c_layout(version);
        assert_eq!(c["version"], version as usize);
        let layout = Abi::select(version as i32, c["size"])
            .unwrap_or_else(|| panic!("no layout for v{version} with size {}", c["size"]));
        assert_eq!(layout.component_size, c["component_size"], "v{version}");
        for f in Field::ALL {
            let name = format!("{f:?}");
            assert_eq!(layout.offset(f), c.get(&name).copied(), "v{version} {name}");
        }
    }
}
