//! JSON string escaping and the Runtime API's error documents.

#[cfg(test)]
use crate::buf::Writer;
use crate::buf::{Sink, hex_digit};

/// Writes `s` as the inside of a JSON string: `"` and `\` escaped, every control character
/// (U+0000..U+001F) and DEL (U+007F) escaped, everything else (valid UTF-8 by construction)
/// passed through.
///
/// JSON would allow a raw DEL, but HTTP header values do not, and the X-Ray cause document
/// goes in a header: escaping it keeps that header valid whatever the message holds.
pub(crate) fn write_escaped(w: &mut impl Sink, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // The letter after the backslash (a byte each, where a slice each cost more code).
        let esc = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f | 0x7f => b'u',
            _ => continue,
        };
        w.put(bytes.get(start..i).unwrap_or_default());
        w.put(&[b'\\', esc]);
        if esc == b'u' {
            w.put(&[b'0', b'0', hex_digit(b >> 4), hex_digit(b)]);
        }
        start = i + 1;
    }
    w.put(bytes.get(start..).unwrap_or_default());
}

/// Writes `s` JSON-escaped, cut at a character boundary so that at most `max` input bytes are
/// used. Returns whether it was cut.
pub(crate) fn write_escaped_bounded(w: &mut impl Sink, s: &str, max: usize) -> bool {
    if s.len() <= max {
        write_escaped(w, s);
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    write_escaped(w, s.get(..end).unwrap_or_default());
    true
}

/// The Runtime API error document:
/// `{"errorMessage":"…","errorType":"…","stackTrace":[]}`.
pub(crate) fn write_error_body(w: &mut impl Sink, error_type: &str, message: &str) {
    w.put(b"{\"errorMessage\":\"");
    if write_escaped_bounded(w, message, MAX_ERROR_MESSAGE) {
        w.put(b"...");
    }
    w.put(b"\",\"errorType\":\"");
    write_escaped(w, error_type);
    w.put(b"\",\"stackTrace\":[]}");
}

/// The X-Ray cause document sent in `Lambda-Runtime-Function-XRay-Error-Cause`.
pub(crate) fn write_xray_cause(w: &mut impl Sink, error_type: &str, message: &str) {
    w.put(b"{\"working_directory\":\"\",\"exceptions\":[{\"type\":\"");
    write_escaped(w, error_type);
    w.put(b"\",\"message\":\"");
    if write_escaped_bounded(w, message, MAX_XRAY_MESSAGE) {
        w.put(b"...");
    }
    w.put(b"\"}],\"paths\":[]}");
}

/// Longest error message sent in an error body, in bytes; longer ones are cut and end in `...`.
pub const MAX_ERROR_MESSAGE: usize = 64 * 1024;
/// Longest error message repeated in the X-Ray cause header.
pub const MAX_XRAY_MESSAGE: usize = 1024;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec;

    fn escaped(s: &str) -> String {
        let mut w = Writer::counting();
        write_escaped(&mut w, s);
        let mut b = vec![0u8; w.len()];
        let mut w = Writer::new(&mut b);
        write_escaped(&mut w, s);
        let n = w.finish().unwrap();
        b.truncate(n);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(escaped("plain"), "plain");
        assert_eq!(escaped("a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(escaped("\n\r\t\x08\x0c"), "\\n\\r\\t\\b\\f");
        assert_eq!(escaped("\0\x01\x1f\x7f"), "\\u0000\\u0001\\u001f\\u007f");
        assert_eq!(escaped("héllo ✓ 🦀"), "héllo ✓ 🦀");
    }

    #[test]
    fn bounded_cuts_at_char_boundary() {
        let mut b = [0u8; 16];
        let mut w = Writer::new(&mut b);
        assert!(write_escaped_bounded(&mut w, "aé", 2));
        let n = w.finish().unwrap();
        assert_eq!(&b[..n], b"a");
    }

    #[test]
    fn error_body_is_json() {
        let mut b = [0u8; 256];
        let mut w = Writer::new(&mut b);
        write_error_body(&mut w, "My.Error", "bad \"thing\"\n");
        let n = w.finish().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b[..n]).unwrap();
        assert_eq!(v["errorType"], "My.Error");
        assert_eq!(v["errorMessage"], "bad \"thing\"\n");
        assert_eq!(v["stackTrace"], serde_json::json!([]));
    }

    proptest! {
        #[test]
        fn escaped_strings_decode_back(s in any::<String>()) {
            let json = std::format!("\"{}\"", escaped(&s));
            let back: String = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, s);
        }
    }
}
