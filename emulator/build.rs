// Builds the libjpeg-turbo scan encoder (src/scan.c) against the headers of the libjpeg-turbo
// that turbojpeg-sys builds and links (its `include` metadata).
fn main() {
    println!("cargo:rerun-if-changed=src/scan.c");
    let include = std::env::var("DEP_TURBOJPEG_INCLUDE")
        .expect("turbojpeg-sys names its include directory (DEP_TURBOJPEG_INCLUDE)");
    let mut build = cc::Build::new();
    for dir in include.split(',').filter(|d| !d.is_empty()) {
        build.include(dir);
    }
    build
        .file("src/scan.c")
        .warnings(true)
        .compile("jpegenc_emu_scan");
}
