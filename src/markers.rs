//! The start every JPEG of the library has, whichever backend made it: SOI, a JFIF APP0 as
//! libjpeg-turbo writes it (1.01, no density unit, 1:1), then the caller's APPn/COM segments
//! verbatim (`aml_jpeg_set_markers`). Pure functions over bytes.

use crate::error::{Error, Result};

/// Start of image.
pub const SOI: [u8; 2] = [0xFF, 0xD8];

/// The JFIF APP0 segment libjpeg-turbo writes by default: version 1.01, density unit 0 (an
/// aspect ratio), 1:1, no thumbnail.
pub const JFIF_APP0: [u8; 18] = [
    0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
    0x00, 0x00,
];

/// SOI and the JFIF APP0: what every JPEG starts with.
pub const FILE_START_LEN: usize = SOI.len() + JFIF_APP0.len();

/// Checks that `segments` is a sequence of whole APP1..APP15 or COM segments, each with a
/// big-endian length that counts itself and its data.
pub fn check_segments(segments: &[u8]) -> Result<()> {
    let mut at = 0;
    while at < segments.len() {
        let rest = &segments[at..];
        let [0xFF, code, hi, lo, ..] = *rest else {
            return Err(Error::invalid(format!(
                "marker segments: {} bytes at offset {at} are not a segment (FF, a marker, \
                 a two-byte length)",
                rest.len()
            )));
        };
        if !matches!(code, 0xE1..=0xEF | 0xFE) {
            let what = if code == 0xE0 {
                "APP0 (the library writes the JFIF APP0 itself)".to_string()
            } else {
                format!("marker 0xFF{code:02X}")
            };
            return Err(Error::invalid(format!(
                "marker segments: {what} at offset {at}: only APP1..APP15 (FF E1..FF EF) and \
                 COM (FF FE) may be added"
            )));
        }
        let length = u16::from_be_bytes([hi, lo]) as usize;
        if length < 2 || length + 2 > rest.len() {
            return Err(Error::invalid(format!(
                "marker segments: the segment at offset {at} declares length {length}, but \
                 {} bytes follow its marker",
                rest.len() - 2
            )));
        }
        at += length + 2;
    }
    Ok(())
}

/// The segments of a handle, checked: what follows the JFIF APP0 of each of its JPEGs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markers {
    segments: Vec<u8>,
}

impl Markers {
    /// Checks `segments` (see [`check_segments`]) and keeps a copy.
    pub fn new(segments: &[u8]) -> Result<Markers> {
        check_segments(segments)?;
        let mut copy = Vec::new();
        copy.try_reserve_exact(segments.len()).map_err(|_| {
            Error::new(
                crate::ErrorKind::OutOfMemory,
                "cannot allocate the marker segments",
            )
        })?;
        copy.extend_from_slice(segments);
        Ok(Markers { segments: copy })
    }

    /// The segments, verbatim (empty when none were set).
    pub fn segments(&self) -> &[u8] {
        &self.segments
    }
}

/// The most data one segment holds (its length field counts itself too).
pub const MAX_SEGMENT_DATA: usize = 65533;

fn segment(out: &mut Vec<u8>, code: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    debug_assert!(len <= MAX_SEGMENT_DATA);
    out.extend_from_slice(&[0xFF, code]);
    out.extend_from_slice(&((len + 2) as u16).to_be_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
}

const EXIF_ID: &[u8] = b"Exif\0\0";

/// The APP1 segment of an EXIF block: a TIFF structure, with or without the `Exif\0\0`
/// identifier in front (it is added when missing).
pub fn exif_segment(exif: &[u8]) -> Result<Vec<u8>> {
    let tiff = exif.strip_prefix(EXIF_ID).unwrap_or(exif);
    if tiff.len() + EXIF_ID.len() > MAX_SEGMENT_DATA {
        return Err(Error::invalid(format!(
            "an EXIF block of {} bytes does not fit one APP1 segment ({} at most)",
            tiff.len(),
            MAX_SEGMENT_DATA - EXIF_ID.len()
        )));
    }
    let mut out = Vec::new();
    segment(&mut out, 0xE1, &[EXIF_ID, tiff]);
    Ok(out)
}

/// A COM segment holding `text`.
pub fn comment_segment(text: &[u8]) -> Result<Vec<u8>> {
    if text.len() > MAX_SEGMENT_DATA {
        return Err(Error::invalid(format!(
            "a comment of {} bytes does not fit one COM segment ({MAX_SEGMENT_DATA} at most)",
            text.len()
        )));
    }
    let mut out = Vec::new();
    segment(&mut out, 0xFE, &[text]);
    Ok(out)
}

const ICC_ID: &[u8] = b"ICC_PROFILE\0";
/// Profile bytes per APP2 chunk: the segment's data less the identifier and the two counters.
const ICC_CHUNK: usize = MAX_SEGMENT_DATA - ICC_ID.len() - 2;

/// The APP2 `ICC_PROFILE` segments of an ICC profile, chunked as libjpeg-turbo's
/// `jpeg_write_icc_profile` does (1-based sequence numbers, at most 255 chunks).
pub fn icc_segments(profile: &[u8]) -> Result<Vec<u8>> {
    let chunks = profile.len().div_ceil(ICC_CHUNK);
    if chunks == 0 || chunks > 255 {
        return Err(Error::invalid(format!(
            "an ICC profile of {} bytes: it must be 1 to {} bytes",
            profile.len(),
            255 * ICC_CHUNK
        )));
    }
    let mut out = Vec::with_capacity(profile.len() + chunks * 18);
    for (i, chunk) in profile.chunks(ICC_CHUNK).enumerate() {
        segment(
            &mut out,
            0xE2,
            &[ICC_ID, &[i as u8 + 1, chunks as u8], chunk],
        );
    }
    Ok(out)
}

/// Puts `segments` after the JFIF APP0 of a JPEG that was written at `buf[gap..gap + len]`
/// with `gap == segments.len()` bytes left free before it; returns the new length. Only SOI and
/// APP0 move (20 bytes): the rest stays where it was written.
pub fn insert_after_app0(buf: &mut [u8], len: usize, segments: &[u8]) -> Result<usize> {
    let gap = segments.len();
    if gap == 0 {
        return Ok(len);
    }
    let [0xFF, 0xD8, 0xFF, 0xE0, hi, lo, ..] = buf[gap..gap + len] else {
        return Err(Error::new(
            crate::ErrorKind::Internal,
            "libjpeg-turbo's JPEG does not start with SOI and APP0",
        ));
    };
    let start = 4 + u16::from_be_bytes([hi, lo]) as usize;
    if start > len {
        return Err(Error::new(
            crate::ErrorKind::Internal,
            "libjpeg-turbo's APP0 runs past its JPEG",
        ));
    }
    buf.copy_within(gap..gap + start, 0);
    buf[start..start + gap].copy_from_slice(segments);
    Ok(len + gap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn seg(code: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, code];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    #[test]
    fn whole_appn_and_com_segments_pass() {
        let mut list = seg(0xE1, b"Exif\0\0abc");
        list.extend(seg(0xFE, b"a comment"));
        list.extend(seg(0xEF, b""));
        list.extend(seg(0xE2, &vec![7; 65533]));
        assert_eq!(check_segments(&list), Ok(()));
        assert_eq!(check_segments(&[]), Ok(()));
    }

    #[test]
    fn bad_lists_are_refused_with_where() {
        let good = seg(0xE1, b"Exif\0\0");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (seg(0xE0, b"JFIF\0"), "APP0"),
            (seg(0xDB, b"x"), "FFDB"),
            (seg(0xD9, b""), "FFD9"),
            ([&good[..], &[0xFF]].concat(), "not a segment"),
            (good[..good.len() - 1].to_vec(), "declares length"),
            (
                [&good[..], &[0xFF, 0xE1, 0, 1]].concat(),
                "declares length 1",
            ),
            ([&[0u8][..], &good[..]].concat(), "offset 0"),
            (
                {
                    let mut g = good.clone();
                    g[3] += 1;
                    g
                },
                "declares length",
            ),
        ];
        for (list, why) in cases {
            let e = check_segments(&list).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains(why), "{why}: {}", e.message());
        }
    }

    #[test]
    fn exif_comment_and_icc_segments_are_well_formed() {
        let with_id = exif_segment(b"Exif\0\0II*\0").unwrap();
        assert_eq!(with_id, exif_segment(b"II*\0").unwrap());
        assert_eq!(&with_id[..4], &[0xFF, 0xE1, 0, 12]);
        assert_eq!(&with_id[4..], b"Exif\0\0II*\0");
        assert_eq!(
            comment_segment(b"hi").unwrap(),
            [0xFF, 0xFE, 0, 4, b'h', b'i']
        );
        let profile: Vec<u8> = (0..150_000u32).map(|i| i as u8).collect();
        let icc = icc_segments(&profile).unwrap();
        assert_eq!(check_segments(&icc), Ok(()));
        // Three chunks of at most 65,519 bytes, numbered 1..3 of 3, holding the profile.
        let (mut at, mut back) = (0, Vec::new());
        for n in 1..=3u8 {
            let len = u16::from_be_bytes([icc[at + 2], icc[at + 3]]) as usize;
            assert_eq!(&icc[at..at + 2], &[0xFF, 0xE2]);
            assert_eq!(&icc[at + 4..at + 16], b"ICC_PROFILE\0");
            assert_eq!([icc[at + 16], icc[at + 17]], [n, 3]);
            back.extend_from_slice(&icc[at + 18..at + 2 + len]);
            at += 2 + len;
        }
        assert_eq!((at, back), (icc.len(), profile));
        for e in [
            icc_segments(&[]).unwrap_err(),
            comment_segment(&[b'x'; 65534]).unwrap_err(),
            exif_segment(&[0; 65530]).unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn segments_go_after_app0_and_only_the_start_moves() {
        let segments = [seg(0xE1, b"Exif\0\0"), seg(0xFE, b"hi")].concat();
        let jpeg = [&SOI[..], &JFIF_APP0, &[0xFF, 0xDB, 0, 3, 9, 0xFF, 0xD9]].concat();
        let mut buf = vec![0xAA; segments.len()];
        buf.extend_from_slice(&jpeg);
        let len = insert_after_app0(&mut buf, jpeg.len(), &segments).unwrap();
        let want = [&jpeg[..20], &segments, &jpeg[20..]].concat();
        assert_eq!(&buf[..len], &want[..]);
        let mut not_jfif = vec![0; 4];
        not_jfif.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xDB, 0, 2]);
        let e = insert_after_app0(&mut not_jfif, 6, &[0xFF, 0xFE, 0, 2]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
    }
}
