//! A bounds-checked cursor over a caller's output buffer.
//!
//! Writes past the end are not an error at the time they happen: the cursor keeps counting, so
//! that one pass both encodes (when the buffer is large enough) and learns the exact size it
//! needed (when it is not). `finish` turns that into `Ok(len)` or `BufferTooSmall { required }`.

/// The caller's buffer cannot hold the encoded bytes; nothing meaningful was written.
///
/// `required` is the exact number of bytes the same call needs, so the caller can grow its
/// buffer and retry (the state machine's state is left untouched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes the encoding needs.
    pub required: usize,
}

impl core::fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "buffer too small: {} bytes required", self.required)
    }
}

impl core::error::Error for BufferTooSmall {}

/// Something bytes can be written to: the buffer cursor, or an encoder stacked on it.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
    fn byte(&mut self, b: u8) {
        self.put(&[b]);
    }
}

impl Sink for Writer<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        Writer::put(self, bytes)
    }
    #[inline]
    fn byte(&mut self, b: u8) {
        Writer::byte(self, b)
    }
}

pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// A writer that only counts.
    pub(crate) fn counting() -> Writer<'static> {
        Writer {
            buf: &mut [],
            pos: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.pos
    }

    /// Appends `bytes`. Out of line, and the one copy every request's encoding calls: an
    /// inlined copy for the `/response` head of every invocation was 112 bytes more of the size
    /// build for ~110 fewer instructions a warm invocation (both bars have room for the latter).
    #[inline(never)]
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            copy(dst, bytes);
        }
        self.pos = end;
    }

    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        if let Some(dst) = self.buf.get_mut(self.pos) {
            *dst = b;
        }
        self.pos = self.pos.saturating_add(1);
    }

    /// Decimal, without `core::fmt` (kept out of the hot path for size and speed).
    pub(crate) fn dec(&mut self, mut n: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        for slot in tmp.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            i -= 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(tmp.get(i..).unwrap_or_default());
    }

    /// Lower-case hexadecimal, as chunk sizes are written.
    pub(crate) fn hex(&mut self, mut n: u64) {
        let mut tmp = [0u8; 16];
        let mut i = tmp.len();
        for slot in tmp.iter_mut().rev() {
            *slot = hex_digit(n as u8);
            i -= 1;
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        self.put(tmp.get(i..).unwrap_or_default());
    }

    pub(crate) fn finish(self) -> Result<usize, BufferTooSmall> {
        if self.pos <= self.buf.len() {
            Ok(self.pos)
        } else {
            Err(BufferTooSmall { required: self.pos })
        }
    }
}

/// `buf.copy_within(from..to, dest)` when both ranges lie in `buf`, else nothing: the decoder's
/// moves are within bounds by construction, and this keeps `copy_within`'s panics (and their
/// locations) out of the binary.
#[inline]
pub(crate) fn move_within(buf: &mut [u8], from: usize, to: usize, dest: usize) {
    if from <= to && to <= buf.len() && dest <= buf.len() - (to - from) {
        buf.copy_within(from..to, dest);
    }
}

/// Copies `src` into `dst` (the two are of one length; nothing is copied otherwise). One call
/// site of `copy_from_slice` for the crate: each of its call sites is a call to a checked
/// out-of-line copy with a panic location (a relocated constant) of its own. (Not a loop of
/// byte moves: at `opt-level = "z"` that stays a loop, not a `memcpy`.)
#[inline(never)]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    if dst.len() == src.len() {
        dst.copy_from_slice(src);
    }
}

/// The lower-case hexadecimal digit for the low four bits of `n`.
#[inline]
pub(crate) fn hex_digit(n: u8) -> u8 {
    b"0123456789abcdef"
        .get(usize::from(n & 0xf))
        .copied()
        .unwrap_or(b'0')
}

/// ASCII case-insensitive equality, for the short words the runtime matches (header values,
/// setting values, a scheme): a byte at a time, out of line. std's `eq_ignore_ascii_case`
/// brings a chunked fast path into each caller that gains nothing on words this short.
#[inline(never)]
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Whether `input` is `lower` ignoring ASCII case, where `lower` holds only lower-case
/// letters, digits and `-`, and `input` is a header name or value httparse accepted (no CR,
/// LF or other control characters but tab). Under those terms setting bit 5 of each input
/// byte is exact, and 8 bytes are compared at a time (the last 8 overlapping the word before
/// them): header names are matched on every response, this is the hot path of it.
pub(crate) fn eq_token(input: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = 0x2020_2020_2020_2020;
    if input.len() != lower.len() {
        return false;
    }
    let word = |w: &[u8; 8]| u64::from_le_bytes(*w);
    let (Some(x), Some(y)) = (input.last_chunk::<8>(), lower.last_chunk::<8>()) else {
        return input.iter().zip(lower).all(|(x, y)| x | 0x20 == *y);
    };
    if word(x) | CASE != word(y) {
        return false;
    }
    let (a, _) = input.as_chunks::<8>();
    let (b, _) = lower.as_chunks::<8>();
    a.iter().zip(b).all(|(x, y)| word(x) | CASE == word(y))
}

/// Parses an unsigned decimal with no sign, no spaces and no overflow.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Trims ASCII spaces and tabs (HTTP optional whitespace) from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    // httparse trims header values already: the usual case is told by the two ends.
    if let (Some(&first), Some(&last)) = (s.first(), s.last())
        && first > b' '
        && last > b' '
    {
        return s;
    }
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_end() {
        let mut b = [0u8; 4];
        let mut w = Writer::new(&mut b);
        w.put(b"abc");
        w.put(b"de");
        w.byte(b'f');
        assert_eq!(w.finish(), Err(BufferTooSmall { required: 6 }));
        let mut b = [0u8; 6];
        let mut w = Writer::new(&mut b);
        w.put(b"abc");
        w.put(b"de");
        w.byte(b'f');
        assert_eq!(w.finish(), Ok(6));
        assert_eq!(&b, b"abcdef");
    }

    #[test]
    fn numbers() {
        let mut b = [0u8; 64];
        let mut w = Writer::new(&mut b);
        w.dec(0);
        w.byte(b' ');
        w.dec(u64::MAX);
        w.byte(b' ');
        w.hex(0);
        w.byte(b' ');
        w.hex(0xdead_beef);
        let n = w.finish().unwrap();
        assert_eq!(&b[..n], b"0 18446744073709551615 0 deadbeef");
    }

    #[test]
    fn parses_decimal_strictly() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1 "), None);
        assert_eq!(parse_u64(b"+1"), None);
    }

    #[test]
    fn trims() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(trim_ows(b"a"), b"a");
        assert_eq!(trim_ows(b"a "), b"a");
        assert_eq!(trim_ows(b"\ta"), b"a");
        assert_eq!(trim_ows(b"\0a\0"), b"\0a\0");
    }

    #[test]
    fn tokens_compare_as_eq_ignore_case_does() {
        let names: [&[u8]; 11] = [
            b"content-length",
            b"lambda-runtime-",
            b"aws-request-id",
            b"x",
            b"transfer-encoding",
            b"keep-alive",
            b"lambda-runtime-aws-request-id",
            b"lambda-runtime-invoked-function-arn",
            b"lambda-runtime-trace-id",
            b"chunked",
            b"lambda-r",
        ];
        // Every byte httparse lets into a header name or value (no CR, LF or other controls
        // but tab), at every position of every name.
        let allowed = (0u8..=255).filter(|b| *b == b'\t' || *b >= 0x20);
        for name in names {
            for byte in allowed.clone() {
                for at in 0..name.len() {
                    let mut buf = [0u8; 64];
                    let input = &mut buf[..name.len()];
                    input.copy_from_slice(name);
                    input[at] = byte;
                    assert_eq!(
                        eq_token(input, name),
                        input.eq_ignore_ascii_case(name),
                        "{input:?} vs {name:?}"
                    );
                }
            }
            let mut upper = [0u8; 64];
            let upper = &mut upper[..name.len()];
            upper.copy_from_slice(name);
            upper.make_ascii_uppercase();
            assert!(eq_token(upper, name));
            assert!(!eq_token(&name[1..], name));
        }
    }
}
