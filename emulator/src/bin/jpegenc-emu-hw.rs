//! The emulator's encoder process (started by libjpegenc_emu.so; not for direct use).
fn main() {
    if let Err(e) = jpegenc_emu::hwproc::serve() {
        eprintln!("jpegenc-emu-hw: {e}");
        std::process::exit(1);
    }
}
