//! Reading input images: PNG, binary PPM/PGM, and raw frames of any contract format.

use amljpeg::{FrameLayout, PixelFormat};
use std::path::Path;

/// Pixels ready for the encoder, tightly packed.
pub struct Image {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
}

pub fn read(path: &Path, raw: Option<(u32, u32, PixelFormat)>) -> Result<Image, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let what = |e: String| format!("{}: {e}", path.display());
    match raw {
        Some((width, height, format)) => read_raw(bytes, width, height, format).map_err(what),
        None if bytes.starts_with(b"\x89PNG") => read_png(&bytes).map_err(what),
        None if bytes.starts_with(b"P6") || bytes.starts_with(b"P5") => {
            read_pnm(&bytes).map_err(what)
        }
        None => Err(what(
            "not a PNG, binary PPM (P6) or PGM (P5) file; for raw frames give --size and --format"
                .into(),
        )),
    }
}

fn read_raw(bytes: Vec<u8>, width: u32, height: u32, format: PixelFormat) -> Result<Image, String> {
    let layout = FrameLayout::new(format, width, height, 0).map_err(|e| e.to_string())?;
    if bytes.len() < layout.min_len {
        return Err(format!(
            "a {width}x{height} {} frame needs {} bytes, the file has {}",
            format.name(),
            layout.min_len,
            bytes.len()
        ));
    }
    Ok(Image {
        pixels: bytes,
        width,
        height,
        format,
    })
}

fn read_png(bytes: &[u8]) -> Result<Image, String> {
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| format!("bad PNG: {e}"))?;
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut pixels)
        .map_err(|e| format!("bad PNG: {e}"))?;
    pixels.truncate(info.buffer_size());
    let format = match info.color_type {
        png::ColorType::Rgb => PixelFormat::Rgb24,
        png::ColorType::Rgba => PixelFormat::Rgba32,
        png::ColorType::Grayscale => PixelFormat::Gray8,
        png::ColorType::GrayscaleAlpha => {
            // Drop alpha: keep every other byte.
            pixels = pixels.iter().step_by(2).copied().collect();
            PixelFormat::Gray8
        }
        png::ColorType::Indexed => return Err("indexed PNG was not expanded".into()),
    };
    Ok(Image {
        pixels,
        width: info.width,
        height: info.height,
        format,
    })
}

/// Binary PPM (P6) or PGM (P5) with maxval 255.
fn read_pnm(bytes: &[u8]) -> Result<Image, String> {
    let mut pos = 2;
    let mut fields = [0u32; 3];
    for field in &mut fields {
        // Skip white space and comments, then read a decimal number.
        loop {
            match bytes.get(pos) {
                Some(b'#') => {
                    while bytes.get(pos).is_some_and(|b| *b != b'\n') {
                        pos += 1;
                    }
                }
                Some(b) if b.is_ascii_whitespace() => pos += 1,
                _ => break,
            }
        }
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        *field = std::str::from_utf8(&bytes[start..pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("bad PNM header")?;
    }
    let [width, height, maxval] = fields;
    if maxval != 255 {
        return Err(format!("PNM maxval {maxval} is not supported (only 255)"));
    }
    if !bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        return Err("bad PNM header".into());
    }
    let format = if bytes[1] == b'6' {
        PixelFormat::Rgb24
    } else {
        PixelFormat::Gray8
    };
    let data = bytes[pos + 1..].to_vec();
    read_raw(data, width, height, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pnm_with_comment() {
        let mut file = b"P6\n# made by hand\n2 1\n255\n".to_vec();
        file.extend([1, 2, 3, 4, 5, 6]);
        let image = read_pnm(&file).unwrap();
        assert_eq!(
            (image.width, image.height, image.format),
            (2, 1, PixelFormat::Rgb24)
        );
        assert_eq!(image.pixels, [1, 2, 3, 4, 5, 6]);
        assert!(read_pnm(b"P5 2 2 255\n\x01").is_err());
        assert!(read_pnm(b"P5 2 2 65535\n\x01\x01\x01\x01").is_err());
    }
}
