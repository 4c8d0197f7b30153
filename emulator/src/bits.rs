//! Entropy-coded data as JPEG writes it: bits most significant first, a zero byte stuffed
//! after every 0xFF, the last byte padded with 1s.

pub struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    /// Bits in `acc` not yet written (fewer than 8 between calls).
    bits: u32,
}

impl<'a> BitWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter {
            out,
            acc: 0,
            bits: 0,
        }
    }

    /// Whether the next bit starts a byte.
    pub fn aligned(&self) -> bool {
        self.bits == 0
    }

    /// Bytes already stuffed, appended as they are (only where [`BitWriter::aligned`]).
    pub fn put_stuffed(&mut self, bytes: &[u8]) {
        debug_assert!(self.aligned());
        self.out.extend_from_slice(bytes);
    }

    /// The low `size` bits of `value`.
    #[inline]
    pub fn put(&mut self, value: u32, size: u32) {
        if size == 0 {
            return;
        }
        self.acc = (self.acc << size) | (value as u64 & ((1 << size) - 1));
        self.bits += size;
        while self.bits >= 8 {
            self.bits -= 8;
            self.push((self.acc >> self.bits) as u8);
        }
    }

    /// Whole bytes at any bit alignment, four at a time.
    pub fn put_bytes(&mut self, data: &[u8]) {
        let mut words = data.chunks_exact(4);
        for word in &mut words {
            self.acc = (self.acc << 32) | u64::from(u32::from_be_bytes(word.try_into().unwrap()));
            let out = (self.acc >> self.bits) as u32;
            // A 0xFF byte among the four (rare): stuff them one by one.
            let ff = !out;
            if (ff.wrapping_sub(0x0101_0101) & !ff & 0x8080_8080) == 0 {
                self.out.extend_from_slice(&out.to_be_bytes());
            } else {
                out.to_be_bytes().into_iter().for_each(|b| self.push(b));
            }
        }
        for &b in words.remainder() {
            self.put(u32::from(b), 8);
        }
    }

    /// Pads the last byte with 1s.
    pub fn flush(&mut self) {
        if self.bits > 0 {
            let pad = 8 - self.bits;
            self.put((1 << pad) - 1, pad);
        }
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        self.out.push(byte);
        if byte == 0xFF {
            self.out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_and_padding() {
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        w.put(0xFF, 8);
        w.put(0b101, 3);
        w.flush();
        assert_eq!(out, [0xFF, 0x00, 0b1011_1111]);
    }

    /// Bytes put four at a time at any alignment are the bytes put one at a time.
    #[test]
    fn whole_bytes_at_any_alignment() {
        let data = [0x12, 0xFF, 0x80, 0x7F, 0xFF, 0xFF, 0x00, 0x01, 0xFE, 0x33];
        for shift in 0..8 {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut fast = BitWriter::new(&mut a);
            fast.put(0b1, shift);
            fast.put_bytes(&data);
            fast.flush();
            let mut slow = BitWriter::new(&mut b);
            slow.put(0b1, shift);
            data.iter().for_each(|&d| slow.put(u32::from(d), 8));
            slow.flush();
            assert_eq!(a, b, "shift {shift}");
        }
    }
}
