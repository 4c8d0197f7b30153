// Gives the shared library a versioned SONAME, so installed programs link to libamljpeg.so.0.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libamljpeg.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
