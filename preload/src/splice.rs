//! Byte surgery on JPEG headers, so that what the program's destination receives is what
//! libjpeg would have written: the file header libjpeg starts with (SOI, JFIF, Adobe), the
//! hardware's tables, frame and scan headers with the program's component ids, and where a
//! complete JPEG's own SOI and APPn/COM markers end. Pure functions over bytes.

/// The JFIF APP0 fields (`write_JFIF_header` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jfif {
    pub major: u8,
    pub minor: u8,
    pub density_unit: u8,
    pub x_density: u16,
    pub y_density: u16,
}

fn segment(out: &mut Vec<u8>, code: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, code]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// What `jpeg_start_compress` writes: SOI, then JFIF APP0 and Adobe APP14 when asked for.
pub fn file_header(jfif: Option<Jfif>, adobe: bool) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    if let Some(j) = jfif {
        let mut body = b"JFIF\0".to_vec();
        body.extend_from_slice(&[j.major, j.minor, j.density_unit]);
        body.extend_from_slice(&j.x_density.to_be_bytes());
        body.extend_from_slice(&j.y_density.to_be_bytes());
        body.extend_from_slice(&[0, 0]); // no thumbnail
        segment(&mut out, 0xE0, &body);
    }
    if adobe {
        // Version 100, no flags, transform 1 (YCbCr).
        segment(&mut out, 0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01");
    }
    out
}

/// One segment of a JPEG header.
struct Segment<'a> {
    code: u8,
    bytes: &'a [u8],
}

/// The segments after SOI up to and including SOS; Err names what is malformed.
fn segments(jpeg: &[u8]) -> Result<Vec<Segment<'_>>, &'static str> {
    if jpeg.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err("no SOI");
    }
    let (mut out, mut at) = (Vec::new(), 2);
    loop {
        // Fill bytes (0xFF runs) may precede a marker.
        while jpeg.get(at) == Some(&0xFF) && jpeg.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&code)) = (jpeg.get(at), jpeg.get(at + 1)) else {
            return Err("a segment does not start with a marker");
        };
        if matches!(code, 0x01 | 0xD0..=0xD9) {
            return Err("an unexpected marker before the scan");
        }
        let len = match jpeg.get(at + 2..at + 4) {
            Some(l) => u16::from_be_bytes([l[0], l[1]]) as usize,
            None => return Err("truncated segment"),
        };
        let end = at + 2 + len;
        if len < 2 || end > jpeg.len() {
            return Err("a segment runs past the end");
        }
        out.push(Segment {
            code,
            bytes: &jpeg[at..end],
        });
        if code == 0xDA {
            return Ok(out);
        }
        at = end;
    }
}

/// The hardware JPEG's headers for the program's file: everything from the first table to
/// the end of SOS (no SOI, no APPn/COM, fill bytes dropped), with the SOF0 and SOS component
/// ids set to `ids`; and where its scan data starts.
pub fn frame_headers(jpeg: &[u8], ids: [u8; 3]) -> Result<(Vec<u8>, usize), &'static str> {
    let segs = segments(jpeg)?;
    let mut out = Vec::with_capacity(640);
    let mut scan = 0;
    for s in segs {
        let mut seg = s.bytes.to_vec();
        match s.code {
            0xE0..=0xEF | 0xFE => continue,
            0xC0 => {
                if seg.len() != 19 || seg[9] != 3 {
                    return Err("SOF0 is not a 3-component frame");
                }
                for (k, &id) in ids.iter().enumerate() {
                    seg[10 + 3 * k] = id;
                }
            }
            0xDA => {
                if seg.len() != 14 || seg[4] != 3 {
                    return Err("SOS is not a 3-component scan");
                }
                for (k, &id) in ids.iter().enumerate() {
                    seg[5 + 2 * k] = id;
                }
                scan = s.bytes.as_ptr() as usize - jpeg.as_ptr() as usize + s.bytes.len();
            }
            0xC1..=0xCF if s.code != 0xC4 && s.code != 0xCC => return Err("not a baseline frame"),
            _ => {}
        }
        out.extend_from_slice(&seg);
    }
    Ok((out, scan))
}

/// Where a complete JPEG's first segment that is neither SOI nor APPn/COM starts (the file
/// header a program's markers were already written after).
pub fn after_file_header(jpeg: &[u8]) -> Result<usize, &'static str> {
    let segs = segments(jpeg)?;
    let first = segs
        .iter()
        .find(|s| !matches!(s.code, 0xE0..=0xEF | 0xFE))
        .ok_or("no tables")?;
    Ok(first.bytes.as_ptr() as usize - jpeg.as_ptr() as usize)
}

/// The Huffman tables a header defines: (class, id, counts, values).
pub fn huffman_tables(header: &[u8]) -> Vec<(u8, u8, [u8; 16], Vec<u8>)> {
    let mut tables = Vec::new();
    let Ok(segs) = segments(header) else {
        return tables;
    };
    for s in segs.iter().filter(|s| s.code == 0xC4) {
        let mut body = &s.bytes[4..];
        while body.len() >= 17 {
            let mut counts = [0u8; 16];
            counts.copy_from_slice(&body[1..17]);
            let n: usize = counts.iter().map(|&c| c as usize).sum();
            let Some(values) = body.get(17..17 + n) else {
                break;
            };
            tables.push((body[0] >> 4, body[0] & 15, counts, values.to_vec()));
            body = &body[17 + n..];
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drivers' header shape: SOI, DQT, DHT, SOF0 (ids 0..2), fill, SOS, scan, EOI.
    fn hardware_jpeg() -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        segment(&mut j, 0xDB, &[0, 1, 2, 3]);
        let mut dht = vec![0x00];
        dht.extend_from_slice(&[0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        dht.extend_from_slice(&[4, 5]);
        segment(&mut j, 0xC4, &dht);
        segment(
            &mut j,
            0xC0,
            &[8, 0, 16, 0, 32, 3, 0, 0x22, 0, 1, 0x11, 1, 2, 0x11, 1],
        );
        j.extend_from_slice(&[0xFF, 0xFF, 0xFF]);
        segment(&mut j, 0xDA, &[3, 0, 0x00, 1, 0x11, 2, 0x11, 0, 63, 0]);
        j.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD9]);
        j
    }

    #[test]
    fn file_header_is_libjpegs() {
        let h = file_header(
            Some(Jfif {
                major: 1,
                minor: 1,
                density_unit: 1,
                x_density: 72,
                y_density: 300,
            }),
            true,
        );
        assert_eq!(&h[..6], &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]);
        assert_eq!(&h[6..11], b"JFIF\0");
        assert_eq!(&h[11..20], &[1, 1, 1, 0, 72, 1, 44, 0, 0]);
        assert_eq!(&h[20..24], &[0xFF, 0xEE, 0, 14]);
        assert_eq!(&h[24..29], b"Adobe");
        assert_eq!(h.len(), 36);
        assert_eq!(file_header(None, false), vec![0xFF, 0xD8]);
    }

    #[test]
    fn frame_headers_take_the_programs_ids_and_drop_fill() {
        let jpeg = hardware_jpeg();
        let (h, scan) = frame_headers(&jpeg, [1, 2, 3]).unwrap();
        assert_eq!(&h[..2], &[0xFF, 0xDB]);
        let sof = h.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        assert_eq!([h[sof + 10], h[sof + 13], h[sof + 16]], [1, 2, 3]);
        let sos = h.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        assert_eq!([h[sos + 5], h[sos + 7], h[sos + 9]], [1, 2, 3]);
        assert_eq!(sos + 14, h.len(), "ends with SOS; no fill bytes");
        assert_eq!(&jpeg[scan..], &[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD9]);
        assert_eq!(
            huffman_tables(&jpeg),
            vec![(
                0,
                0,
                {
                    let mut c = [0; 16];
                    c[1] = 2;
                    c
                },
                vec![4, 5]
            )]
        );
    }

    #[test]
    fn the_file_header_of_a_complete_jpeg_is_skipped() {
        let mut jpeg = file_header(None, true);
        segment(&mut jpeg, 0xE1, b"Exif\0\0");
        let at = jpeg.len();
        jpeg.extend_from_slice(&hardware_jpeg()[2..]);
        assert_eq!(after_file_header(&jpeg), Ok(at));
    }

    /// Mutated headers (bytes flipped, inserted, cut): never a panic, and whatever is
    /// accepted is well-formed.
    #[test]
    fn mutations_never_panic() {
        let good = hardware_jpeg();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let mut j = good.clone();
            for _ in 0..1 + next() % 4 {
                let at = next() as usize % j.len();
                match next() % 3 {
                    0 => j[at] = next() as u8,
                    1 => j.insert(at, next() as u8),
                    _ => j.truncate(at.max(1)),
                }
            }
            if let Ok((head, scan)) = frame_headers(&j, [1, 2, 3]) {
                assert!(scan <= j.len());
                assert_eq!(&head[head.len() - 14..head.len() - 12], &[0xFF, 0xDA]);
            }
            if let Ok(at) = after_file_header(&j) {
                assert!(at < j.len());
            }
            let _ = huffman_tables(&j);
        }
    }

    #[test]
    fn refuses_what_is_not_the_expected_jpeg() {
        let good = hardware_jpeg();
        assert!(frame_headers(&good[..good.len() - 12], [1, 2, 3]).is_err());
        assert!(frame_headers(&good[1..], [1, 2, 3]).is_err());
        let mut progressive = good.clone();
        let sof = progressive
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .unwrap();
        progressive[sof + 1] = 0xC2;
        assert!(frame_headers(&progressive, [1, 2, 3]).is_err());
        for cut in 0..good.len() {
            let _ = frame_headers(&good[..cut], [1, 2, 3]); // never panics
            let _ = after_file_header(&good[..cut]);
        }
    }
}
