//! The output parser over arbitrary "driver output": a real 592-byte header (a few of its
//! bytes patched) followed by random bytes, with a random GET_OUTPUT_SIZE, for both
//! generations' parsers. It must never crash, and whatever it accepts must be a whole
//! baseline scan of the header's MCUs.
#![no_main]

use amljpeg::hw::output::{check_header, resolve, resolve_scan, scan_length, SizeRule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (w, h) = (1 + (data[0] as u32 % 64), 1 + (data[1] as u32 % 48));
    let out_fmt = if data[2] & 1 == 0 { 4 } else { 0 };
    let size = u16::from_le_bytes([data[3], data[4]]) as usize;
    let known = match data[5] % 3 {
        0 => None,
        1 => Some(SizeRule::Total),
        _ => Some(SizeRule::Payload),
    };
    let verify = data[6] & 1 == 1;
    let mut header = jpegenc_emu::header::build(w, h, out_fmt, &[2; 64], &[3; 64]);
    // Up to 7 bytes of the header patched too (its tables and frame are parsed as well).
    let patches = (data[7] as usize % 8).min((data.len() - 8) / 3);
    for p in data[8..8 + 3 * patches].chunks(3) {
        let at = u16::from_le_bytes([p[0], p[1]]) as usize % header.len();
        header[at] = p[2];
    }
    let data = &data[3 * patches + 1..];
    let mut buf = header.clone();
    buf.extend_from_slice(&data[7..]);
    if let Ok(r) = resolve(&buf, size, known, verify) {
        assert!(r.len <= buf.len() && r.len >= 594);
        if !r.append_eoi {
            let info = check_header(&buf).unwrap();
            if verify {
                assert_eq!(
                    scan_length(&buf[592..r.len - 2], &header, info).unwrap(),
                    r.len - 594
                );
            }
        }
    }
    let _ = resolve_scan(&header, &data[7..], 592, size, verify);
});
