//! The C ABI's argument checking: random sizes, strides, formats, qualities and subsamplings
//! over pixel buffers of random length, and random marker segment lists. Nothing may crash or
//! read past the buffer (ASan), a refused call must leave the handle working, and accepted
//! markers follow the JFIF APP0 verbatim.
#![no_main]

use amljpeg::capi::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 24 {
        return;
    }
    let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    // Small dimensions most of the time, anything now and then.
    let dim = |v: u32| if v & 0x8000_0000 != 0 { v } else { v % 80 };
    let (width, height, stride) = (
        dim(word(0)),
        dim(word(4)),
        if data[20] & 1 == 0 { 0 } else { word(8) % 400 },
    );
    let (format, quality) = (word(12) as i32 % 12 - 1, (word(16) % 104) as i32 - 2);
    let pixels = &data[24..];
    let mut enc = std::ptr::null_mut();
    // SAFETY: valid pointers for the duration of each call.
    unsafe {
        assert_eq!(
            aml_jpeg_open(
                c"/nonexistent".as_ptr(),
                AML_JPEG_BACKEND_SOFTWARE,
                &mut enc
            ),
            AML_JPEG_OK
        );
        aml_jpeg_set_subsampling(enc, (data[21] % 4) as i32);
        let markers = &pixels[..pixels.len().min(data[22] as usize)];
        let accepted = match aml_jpeg_set_markers(enc, markers.as_ptr(), markers.len()) {
            AML_JPEG_OK => true,
            st => {
                assert_eq!(st, AML_JPEG_ERR_INVALID_ARGUMENT);
                false
            }
        };
        let mut jpeg = std::ptr::null();
        let mut len = 0usize;
        let st = aml_jpeg_encode(
            enc,
            pixels.as_ptr(),
            pixels.len(),
            width,
            height,
            stride,
            format,
            quality,
            &mut jpeg,
            &mut len,
        );
        if st == AML_JPEG_OK {
            let out = std::slice::from_raw_parts(jpeg, len);
            assert!(out.starts_with(&[0xFF, 0xD8, 0xFF, 0xE0]) && out.ends_with(&[0xFF, 0xD9]));
            if accepted {
                assert_eq!(&out[20..20 + markers.len()], markers);
            }
        } else {
            assert!(st < 0 && jpeg.is_null() && len == 0);
            let rgb = [7u8; 4 * 4 * 3];
            assert_eq!(
                aml_jpeg_encode(
                    enc,
                    rgb.as_ptr(),
                    rgb.len(),
                    4,
                    4,
                    0,
                    AML_JPEG_FORMAT_RGB24,
                    90,
                    &mut jpeg,
                    &mut len
                ),
                AML_JPEG_OK
            );
        }
        aml_jpeg_close(enc);
    }
});
