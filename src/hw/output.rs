//! Making sense of what the driver leaves in the bitstream buffer (docs/driver.md §6): where the
//! JPEG ends, whichever way GET_OUTPUT_SIZE counts and whether or not the microcode wrote EOI, and
//! whether it is a well-formed baseline JPEG at all. Pure functions over bytes.

use super::protocol::{HEADER_LEN, SOF_OFFSET, SOS_OFFSET};
use crate::error::{Error, Result};

/// What GET_OUTPUT_SIZE counts (UNCERTAIN on the real E driver; learnt per session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRule {
    /// The 592 header bytes and the entropy data.
    Total,
    /// Only the entropy data after the header.
    Payload,
}

/// Where the JPEG in the bitstream buffer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Length including EOI (after appending it, when `append_eoi`).
    pub len: usize,
    /// The microcode wrote no EOI: the caller writes FF D9 at `len - 2`.
    pub append_eoi: bool,
    /// The counting rule this frame showed, if it showed one.
    pub rule: Option<SizeRule>,
}

/// The geometry a header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
    pub width: usize,
    pub height: usize,
    /// Luma sampling factors (chroma are 1×1).
    pub h: usize,
    pub v: usize,
}

fn bad(message: impl Into<String>) -> Error {
    Error::device(message)
}

/// Checks the driver's fixed header (SOI, DQT, DHT, SOF0 with 3 components, SOS) and returns
/// what it declares.
pub fn check_header(buf: &[u8]) -> Result<HeaderInfo> {
    if buf.len() < HEADER_LEN {
        return Err(bad("bitstream buffer shorter than the header"));
    }
    if buf[..2] != [0xFF, 0xD8] || buf[2..4] != [0xFF, 0xDB] || buf[136..138] != [0xFF, 0xC4] {
        return Err(bad("the driver's header is missing (no SOI/DQT/DHT)"));
    }
    let sof = &buf[SOF_OFFSET..SOF_OFFSET + 19];
    if sof[..5] != [0xFF, 0xC0, 0, 17, 8] || sof[9] != 3 {
        return Err(bad("the driver's header has no baseline 3-component SOF0"));
    }
    if buf[SOS_OFFSET..SOS_OFFSET + 2] != [0xFF, 0xDA] {
        return Err(bad("the driver's header has no SOS"));
    }
    let height = u16::from_be_bytes([sof[5], sof[6]]) as usize;
    let width = u16::from_be_bytes([sof[7], sof[8]]) as usize;
    let (h, v) = ((sof[11] >> 4) as usize, (sof[11] & 15) as usize);
    if !(1..=2).contains(&h) || !(1..=2).contains(&v) || sof[14] != 0x11 || sof[17] != 0x11 {
        return Err(bad("the driver's header declares unexpected sampling"));
    }
    Ok(HeaderInfo {
        width,
        height,
        h,
        v,
    })
}

/// The position of the first 0xFF in `data`: libc's memchr, vectorised.
fn find_ff(data: &[u8]) -> Option<usize> {
    // SAFETY: memchr reads at most `data.len()` bytes from `data`.
    let p = unsafe { libc::memchr(data.as_ptr().cast(), 0xFF, data.len()) };
    // SAFETY: a non-null result points into `data`.
    (!p.is_null()).then(|| unsafe { p.cast::<u8>().offset_from(data.as_ptr()) } as usize)
}

/// The position of the first marker (an 0xFF not followed by a stuffed 0x00 or fill 0xFF) in
/// `data`, if any. This reads every byte of every JPEG: a byte loop was a visible share of
/// the library's CPU, memchr from one 0xFF to the next is several times faster.
fn first_marker(data: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = find_ff(&data[at..]) {
        let p = at + i;
        match data.get(p + 1) {
            Some(0x00) => at = p + 2,
            Some(0xFF) => at = p + 1,
            Some(_) => return Some(p),
            None => return None,
        }
    }
    None
}

/// Whether `[HEADER_LEN, end)` is entropy data ending in EOI, with no other marker in it.
fn ends_with_eoi(buf: &[u8], end: usize) -> bool {
    end >= HEADER_LEN + 2
        && end <= buf.len()
        && buf[end - 2..end] == [0xFF, 0xD9]
        && first_marker(&buf[HEADER_LEN..end]) == Some(end - 2 - HEADER_LEN)
}

/// Below this many bytes of entropy data the scan is always decoded in full: garbage that
/// short may hold no 0xFF at all and pass the marker check; longer garbage cannot (the odds
/// are about e^-32 at this size).
pub const WALK_BELOW: usize = 8192;

/// Whether the entropy data `[0, len)` must be decoded in full to be trusted.
fn must_walk(len: usize, verify_all: bool) -> bool {
    verify_all || len < WALK_BELOW
}

/// Finds the JPEG's end. `buf` is the bitstream buffer (its usable capacity), `size` what
/// GET_OUTPUT_SIZE said, `known` the rule learnt earlier in the session; `verify_all` decodes
/// every scan in full.
pub fn resolve(
    buf: &[u8],
    size: usize,
    known: Option<SizeRule>,
    verify_all: bool,
) -> Result<Resolved> {
    let cap = buf.len();
    if size == 0 {
        return Err(bad("the encoder produced no output"));
    }
    if size.saturating_add(HEADER_LEN) >= cap {
        return Err(bad(format!(
            "output of {size} bytes overflows the {cap}-byte bitstream buffer"
        )));
    }
    let header = check_header(buf)?;
    let candidates: Vec<(SizeRule, usize)> = match known {
        Some(SizeRule::Total) => vec![(SizeRule::Total, size)],
        Some(SizeRule::Payload) => vec![(SizeRule::Payload, size + HEADER_LEN)],
        None => vec![
            (SizeRule::Payload, size + HEADER_LEN),
            (SizeRule::Total, size),
        ],
    };
    for &(rule, end) in &candidates {
        if ends_with_eoi(buf, end) {
            let data = end - 2 - HEADER_LEN;
            if must_walk(data, verify_all)
                && scan_length(&buf[HEADER_LEN..end - 2], &buf[..HEADER_LEN], header)? != data
            {
                return Err(bad("the entropy data does not hold the frame's MCUs"));
            }
            return Ok(Resolved {
                len: end,
                append_eoi: false,
                rule: Some(rule),
            });
        }
    }
    // No EOI where the register says the data ends: the microcode wrote none (or this is not
    // a JPEG). Find the exact end of the entropy data by walking it.
    let limit = (size + HEADER_LEN).min(cap);
    let scan_end = HEADER_LEN + scan_length(&buf[HEADER_LEN..limit], &buf[..HEADER_LEN], header)?;
    for &(rule, end) in &candidates {
        if end == scan_end {
            if end + 2 > cap {
                return Err(bad("no room to append EOI"));
            }
            return Ok(Resolved {
                len: end + 2,
                append_eoi: true,
                rule: Some(rule),
            });
        }
    }
    Err(bad(format!(
        "the entropy data ends at {scan_end}, not where GET_OUTPUT_SIZE ({size}) says"
    )))
}

/// J: the header is in its own (assist) buffer and the entropy data starts the bitstream
/// buffer. `size` is what GET_OUTPUT_SIZE said; returns the scan's length including EOI
/// (which the caller appends when `append_eoi`).
pub fn resolve_scan(
    header: &[u8],
    bitstream: &[u8],
    head_bytes: usize,
    size: usize,
    verify_all: bool,
) -> Result<Resolved> {
    if head_bytes != HEADER_LEN {
        return Err(bad(format!(
            "the driver reports a {head_bytes}-byte header, not {HEADER_LEN}"
        )));
    }
    if size == 0 {
        return Err(bad("the encoder produced no output"));
    }
    if size.saturating_add(2) > bitstream.len() {
        return Err(bad(format!(
            "output of {size} bytes overflows the {}-byte bitstream buffer",
            bitstream.len()
        )));
    }
    let info = check_header(header)?;
    let scan = &bitstream[..size];
    if scan.ends_with(&[0xFF, 0xD9]) && first_marker(scan) == Some(size - 2) {
        if must_walk(size - 2, verify_all)
            && scan_length(&scan[..size - 2], header, info)? != size - 2
        {
            return Err(bad("the entropy data does not hold the frame's MCUs"));
        }
        return Ok(Resolved {
            len: size,
            append_eoi: false,
            rule: None,
        });
    }
    if scan_length(scan, header, info)? == size {
        return Ok(Resolved {
            len: size + 2,
            append_eoi: true,
            rule: None,
        });
    }
    Err(bad(format!(
        "the entropy data does not end where GET_OUTPUT_SIZE ({size}) says"
    )))
}

/// A Huffman decoding table: a 9-bit lookup for the short codes, and per-length first codes
/// (JPEG Annex F.2.2.3) for the rest.
struct Huffman {
    /// `(length << 8) | symbol` for codes of up to LOOKUP bits; 0 where longer.
    lookup: [u16; 1 << LOOKUP],
    max_code: [i32; 18],
    val_offset: [i32; 17],
    values: Vec<u8>,
}

const LOOKUP: u32 = 9;

impl Huffman {
    fn new(bits: &[u8], values: &[u8]) -> Result<Huffman> {
        let mut h = Huffman {
            lookup: [0; 1 << LOOKUP],
            max_code: [-1; 18],
            val_offset: [0; 17],
            values: values.to_vec(),
        };
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16usize {
            let n = bits[len - 1] as usize;
            h.val_offset[len] = k as i32 - code;
            for _ in 0..n {
                // Checked before the code indexes the lookup: a malformed count must be an
                // error, never a slice out of range.
                if code >= 1 << len {
                    return Err(bad("an over-subscribed DHT table"));
                }
                let symbol = *values
                    .get(k)
                    .ok_or_else(|| bad("a DHT table with more codes than symbols"))?;
                if len as u32 <= LOOKUP {
                    let base = (code as usize) << (LOOKUP as usize - len);
                    for entry in &mut h.lookup[base..base + (1 << (LOOKUP as usize - len))] {
                        *entry = ((len as u16) << 8) | symbol as u16;
                    }
                }
                code += 1;
                k += 1;
            }
            h.max_code[len] = if n > 0 { code - 1 } else { -1 };
            if code > 1 << len {
                return Err(bad("an over-subscribed DHT table"));
            }
            code <<= 1;
        }
        h.max_code[17] = i32::MAX;
        Ok(h)
    }
}

/// Entropy-coded bits, 64 at a time; stuffed zero bytes are dropped as bytes are loaded. Past
/// the data (or at a marker) it reads zeros; [`scan_length`] then finds the consumed bits
/// running past the data and fails.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    count: u32,
    /// Bits consumed so far.
    consumed: u64,
}

impl Bits<'_> {
    #[inline]
    fn refill(&mut self) {
        while self.count <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) if self.data.get(self.pos + 1) == Some(&0) => {
                    self.pos += 2;
                    0xFF
                }
                // A marker, or the end: nothing more belongs to the scan.
                Some(&0xFF) | None => 0,
                Some(&b) => {
                    self.pos += 1;
                    b
                }
            };
            self.acc |= (byte as u64) << (56 - self.count);
            self.count += 8;
        }
    }

    #[inline]
    fn skip(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
        self.consumed += n as u64;
    }

    #[inline]
    fn decode(&mut self, table: &Huffman) -> Result<u8> {
        // Room for a 16-bit code and its (at most 11) extra bits without another refill.
        if self.count < 32 {
            self.refill();
        }
        let entry = table.lookup[(self.acc >> (64 - LOOKUP)) as usize];
        if entry != 0 {
            self.skip((entry >> 8) as u32);
            return Ok(entry as u8);
        }
        let peek = (self.acc >> 48) as i32;
        for len in LOOKUP as usize + 1..=16 {
            let code = peek >> (16 - len);
            if code <= table.max_code[len] {
                self.skip(len as u32);
                return Ok(table.values[(code + table.val_offset[len]) as usize]);
            }
        }
        Err(bad("an invalid Huffman code in the entropy data"))
    }

    /// Skips a coefficient's magnitude bits (at most 11 for baseline; `decode` left room).
    #[inline]
    fn extra(&mut self, n: u32) {
        self.skip(n);
    }
}

/// Parses the header's single DHT (DC0, DC1, AC0, AC1) into decoding tables.
fn huffman_tables(header: &[u8]) -> Result<[Huffman; 4]> {
    let mut at = 140;
    let mut tables = Vec::new();
    for _ in 0..4 {
        let bits = header
            .get(at + 1..at + 17)
            .ok_or_else(|| bad("truncated DHT"))?;
        let n: usize = bits.iter().map(|&b| b as usize).sum();
        let values = header
            .get(at + 17..at + 17 + n)
            .ok_or_else(|| bad("truncated DHT"))?;
        tables.push(Huffman::new(bits, values)?);
        at += 17 + n;
    }
    tables.try_into().map_err(|_| bad("DHT"))
}

/// The byte length of the entropy data for the MCUs the header declares, found by decoding
/// every block's Huffman codes (no IDCT). Anything that is not exactly such data fails: this is
/// what proves a scan well formed.
pub fn scan_length(data: &[u8], header: &[u8], info: HeaderInfo) -> Result<usize> {
    let [dc0, dc1, ac0, ac1] = huffman_tables(header)?;
    let mcus = info.width.div_ceil(8 * info.h) * info.height.div_ceil(8 * info.v);
    let luma_blocks = info.h * info.v;
    let mut bits = Bits {
        data,
        pos: 0,
        acc: 0,
        count: 0,
        consumed: 0,
    };
    for _ in 0..mcus {
        for block in 0..luma_blocks + 2 {
            let (dc, ac) = if block < luma_blocks {
                (&dc0, &ac0)
            } else {
                (&dc1, &ac1)
            };
            let size = bits.decode(dc)?;
            if size > 11 {
                return Err(bad("an invalid DC size in the entropy data"));
            }
            bits.extra(size as u32);
            let mut k = 1;
            while k < 64 {
                let rs = bits.decode(ac)?;
                let (run, size) = ((rs >> 4) as usize, (rs & 15) as u32);
                if size == 0 {
                    if run != 15 {
                        break;
                    }
                    k += 16;
                    continue;
                }
                k += run;
                if k > 63 || size > 10 {
                    return Err(bad("an AC coefficient past the end of a block"));
                }
                bits.extra(size);
                k += 1;
            }
            if k > 64 {
                return Err(bad("a zero run past the end of a block"));
            }
        }
        // Past the data only zeros are read: stop there, however many MCUs a (corrupt)
        // header declares.
        if bits.consumed > 8 * data.len() as u64 {
            return Err(bad("the entropy data is cut short"));
        }
    }
    // The consumed bits must lie in the data, not in the zeros read past its end.
    let unstuffed = bits.consumed.div_ceil(8) as usize;
    // Map the unstuffed byte count back to a position in `data` (each FF carries a stuffed 00).
    let (mut pos, mut seen) = (0usize, 0usize);
    while seen < unstuffed {
        match data.get(pos) {
            Some(&0xFF) if data.get(pos + 1) == Some(&0) => pos += 2,
            Some(&0xFF) | None => return Err(bad("the entropy data is cut short")),
            Some(_) => pos += 1,
        }
        seen += 1;
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 592-byte header as the driver writes it, for a 16x16 4:2:0 frame.
    fn header() -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xDB]);
        h[136..138].copy_from_slice(&[0xFF, 0xC4]);
        // DC tables: a single 1-bit code for category 0; AC tables: a 1-bit EOB.
        let mut at = 140;
        for class in [0x00u8, 0x01, 0x10, 0x11] {
            h[at] = class;
            h[at + 1] = 1;
            h[at + 17] = 0;
            at += 18;
        }
        h[SOF_OFFSET..SOF_OFFSET + 19].copy_from_slice(&[
            0xFF, 0xC0, 0, 17, 8, 0, 16, 0, 16, 3, 0, 0x22, 0, 1, 0x11, 1, 2, 0x11, 1,
        ]);
        h[SOS_OFFSET..SOS_OFFSET + 2].copy_from_slice(&[0xFF, 0xDA]);
        h
    }

    /// The memchr-driven marker search finds what a byte-by-byte one does, wherever the 0xFF
    /// bytes fall (runs of fill bytes, stuffed zeros, the last byte).
    #[test]
    fn first_marker_matches_a_byte_loop() {
        fn by_bytes(data: &[u8]) -> Option<usize> {
            let mut at = 0;
            while at < data.len() {
                match (data[at], data.get(at + 1)) {
                    (0xFF, Some(0x00)) => at += 2,
                    (0xFF, Some(0xFF)) => at += 1,
                    (0xFF, Some(_)) => return Some(at),
                    (0xFF, None) => return None,
                    _ => at += 1,
                }
            }
            None
        }
        let mut x = 0x2545_F491u32;
        for case in 0..3000 {
            let len = case % 97;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    // Mostly ordinary bytes, many 0xFF, and the bytes that follow one.
                    [0x12, 0xFF, 0xFF, 0x00, 0xD9, 0x00, 0x7F, 0xFE][(x % 8) as usize]
                })
                .collect();
            assert_eq!(first_marker(&data), by_bytes(&data), "{data:02x?}");
        }
    }

    #[test]
    fn a_malformed_dht_is_an_error_not_a_panic() {
        // Three 1-bit codes cannot exist.
        let mut bits = [0u8; 16];
        bits[0] = 3;
        assert!(Huffman::new(&bits, &[1, 2, 3]).is_err());
        let mut h = header();
        h[141] = 3;
        let mut b = h.clone();
        b.extend_from_slice(&[0u8; 64]);
        let info = check_header(&h).unwrap();
        assert!(scan_length(&b[HEADER_LEN..], &h, info).is_err());
    }

    fn buffer(scan: &[u8], eoi: bool, cap: usize) -> Vec<u8> {
        let mut b = header();
        b.extend_from_slice(scan);
        if eoi {
            b.extend_from_slice(&[0xFF, 0xD9]);
        }
        b.resize(cap, 0xAB);
        b
    }

    // One MCU of 6 blocks, each DC "0" + EOB "0": 12 zero bits, padded with ones.
    const SCAN: [u8; 2] = [0x00, 0x0F];

    #[test]
    fn both_counting_rules_with_eoi() {
        let b = buffer(&SCAN, true, 4096);
        let payload = SCAN.len() + 2;
        let r = resolve(&b, payload, None, false).unwrap();
        assert_eq!(
            r,
            Resolved {
                len: HEADER_LEN + payload,
                append_eoi: false,
                rule: Some(SizeRule::Payload)
            }
        );
        let r = resolve(&b, HEADER_LEN + payload, None, false).unwrap();
        assert_eq!(r.rule, Some(SizeRule::Total));
        assert_eq!(r.len, HEADER_LEN + payload);
    }

    #[test]
    fn without_eoi_the_scan_is_walked() {
        let b = buffer(&SCAN, false, 4096);
        let r = resolve(&b, SCAN.len(), None, false).unwrap();
        assert_eq!(
            r,
            Resolved {
                len: HEADER_LEN + 4,
                append_eoi: true,
                rule: Some(SizeRule::Payload)
            }
        );
        let r = resolve(&b, HEADER_LEN + SCAN.len(), None, false).unwrap();
        assert_eq!(r.rule, Some(SizeRule::Total));
    }

    #[test]
    fn short_garbage_without_any_ff_is_caught_by_the_walk() {
        // Six bytes and EOI, no 0xFF inside: the marker check alone would pass it.
        let junk = [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC];
        let b = buffer(&junk, true, 4096);
        assert!(resolve(&b, junk.len() + 2, None, false).is_err());
        let mut bs = junk.to_vec();
        bs.extend_from_slice(&[0xFF, 0xD9]);
        bs.resize(4096, 0);
        assert!(resolve_scan(&header(), &bs, HEADER_LEN, junk.len() + 2, false).is_err());
    }

    /// A header declaring the largest frame over a few bytes of data: the walk stops where
    /// the data does, not after four million MCUs of zeros.
    #[test]
    fn a_huge_declared_frame_over_short_data_is_cut_short() {
        let tables = crate::quant::QuantTables::for_quality(75);
        let header =
            crate::hw::header::build(65535, 65535, crate::format::Subsampling::S420, &tables);
        let info = check_header(&header).unwrap();
        let e = scan_length(&[0x12; 64], &header, info).unwrap_err();
        assert!(e.message().contains("cut short"), "{e}");
    }

    #[test]
    fn split_header_and_scan() {
        let h = header();
        let mut bs = SCAN.to_vec();
        bs.extend_from_slice(&[0xFF, 0xD9]);
        bs.resize(4096, 0);
        assert_eq!(
            resolve_scan(&h, &bs, HEADER_LEN, 4, false).unwrap(),
            Resolved {
                len: 4,
                append_eoi: false,
                rule: None
            }
        );
        let mut bare = SCAN.to_vec();
        bare.resize(4096, 0x5A);
        assert_eq!(
            resolve_scan(&h, &bare, HEADER_LEN, 2, false).unwrap(),
            Resolved {
                len: 4,
                append_eoi: true,
                rule: None
            }
        );
        assert!(resolve_scan(&h, &bs, 600, 4, false).is_err(), "head bytes");
        assert!(
            resolve_scan(&h, &bs, HEADER_LEN, 4095, false).is_err(),
            "no room"
        );
        assert!(
            resolve_scan(&h, &bare, HEADER_LEN, 3, false).is_err(),
            "size disagrees with the data"
        );
    }

    #[test]
    fn refuses_what_is_not_a_jpeg() {
        let b = buffer(&SCAN, true, 4096);
        assert!(resolve(&b, 0, None, false).is_err());
        assert!(
            resolve(&b, 4096 - HEADER_LEN, None, false).is_err(),
            "overflow"
        );
        assert!(
            resolve(&b, 3, None, false).is_err(),
            "EOI not where the size says"
        );
        let mut garbage = buffer(&[0x12, 0xFF, 0x34, 0x56], false, 4096);
        assert!(
            resolve(&garbage, 4, None, false).is_err(),
            "a marker inside the scan"
        );
        garbage[0] = 0;
        assert!(resolve(&garbage, 4, None, false).is_err(), "no SOI");
        // A stale EOI past the real end must not be taken for it.
        let mut b = buffer(&SCAN, true, 4096);
        let stale = 2 * HEADER_LEN + 4;
        b[stale - 2..stale].copy_from_slice(&[0xFF, 0xD9]);
        let r = resolve(&b, HEADER_LEN + 4, None, false).unwrap();
        assert_eq!((r.len, r.rule), (HEADER_LEN + 4, Some(SizeRule::Total)));
    }
}
