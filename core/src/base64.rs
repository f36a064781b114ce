//! Standard base64 (RFC 4648, with padding), for client contexts and streaming error trailers.

use crate::buf::Sink;
#[cfg(test)]
use crate::buf::Writer;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 digit for the low six bits of `n`.
fn sextet(n: u32) -> u8 {
    ALPHABET.get((n & 63) as usize).copied().unwrap_or(b'A')
}

/// Writes `input` base64-encoded with padding.
pub(crate) fn encode(w: &mut impl Sink, input: &[u8]) {
    let mut chunks = input.chunks_exact(3);
    for c in &mut chunks {
        let &[a, b, c] = c else { continue };
        let n = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
        for shift in [18, 12, 6, 0] {
            w.byte(sextet(n >> shift));
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            w.byte(sextet(n >> 18));
            w.byte(sextet(n >> 12));
            w.put(b"==");
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            w.byte(sextet(n >> 18));
            w.byte(sextet(n >> 12));
            w.byte(sextet(n >> 6));
            w.byte(b'=');
        }
        _ => {}
    }
}

/// A sink that base64-encodes what is written to it into the sink below; `finish` writes the
/// last group and its padding.
pub(crate) struct Encoder<'s, S: Sink> {
    out: &'s mut S,
    pending: [u8; 3],
    n: usize,
}

impl<'s, S: Sink> Encoder<'s, S> {
    pub(crate) fn new(out: &'s mut S) -> Self {
        Encoder {
            out,
            pending: [0; 3],
            n: 0,
        }
    }

    pub(crate) fn finish(self) {
        let pending = self.pending;
        encode(self.out, pending.get(..self.n).unwrap_or_default());
    }
}

impl<S: Sink> Sink for Encoder<'_, S> {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.pending.get_mut(self.n) {
            *slot = b;
        }
        self.n += 1;
        if self.n == 3 {
            let group = self.pending;
            encode(self.out, &group);
            self.n = 0;
        }
    }
}

/// Length of the encoding of `n` bytes.
#[cfg(test)]
pub(crate) const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

fn value(b: u8) -> Option<u32> {
    Some(u32::from(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        // The URL-safe alphabet too: some emulators use it.
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    }))
}

/// Decodes `input` (padding optional) into `out`; `None` when the input is not base64 or `out`
/// is too small.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let input = match input {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        _ => input,
    };
    if input.len() % 4 == 1 {
        return None;
    }
    // Six bits a character into an accumulator, a byte out whenever eight are there: the
    // bytes of whole groups and of a final partial group alike, with one `value` and one
    // store (the bits left over at the end are dropped, as padding).
    let mut len = 0;
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &ch in input {
        acc = (acc << 6) | value(ch)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(len)? = (acc >> bits) as u8;
            len += 1;
        }
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    fn enc(input: &[u8]) -> std::vec::Vec<u8> {
        let mut b = vec![0u8; encoded_len(input.len())];
        let mut w = Writer::new(&mut b);
        encode(&mut w, input);
        assert_eq!(w.finish(), Ok(b.len()));
        b
    }

    #[test]
    fn rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(enc(plain.as_bytes()), coded.as_bytes());
            let mut out = [0u8; 8];
            let n = decode(coded.as_bytes(), &mut out).unwrap();
            assert_eq!(&out[..n], plain.as_bytes());
        }
    }

    #[test]
    fn refuses_garbage() {
        let mut out = [0u8; 8];
        assert_eq!(decode(b"Zm9v!", &mut out), None);
        assert_eq!(decode(b"Z", &mut out), None);
        assert_eq!(decode(b"{\"a\"}", &mut out), None);
        assert_eq!(decode(b"Zm9vYmFyYmF6", &mut [0u8; 4]), None);
    }

    #[test]
    fn streaming_encoder_matches() {
        for len in 0..10 {
            let data: std::vec::Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            let mut b = vec![0u8; encoded_len(len)];
            let mut w = Writer::new(&mut b);
            let mut e = Encoder::new(&mut w);
            for piece in data.chunks(2) {
                e.put(piece);
            }
            e.finish();
            assert_eq!(w.finish(), Ok(b.len()));
            assert_eq!(b, enc(&data));
        }
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let coded = enc(&data);
            let mut out = vec![0u8; data.len()];
            let n = decode(&coded, &mut out).unwrap();
            prop_assert_eq!(&out[..n], &data[..]);
        }
    }
}
