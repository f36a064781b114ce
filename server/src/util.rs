//! Ids, clocks and small string helpers (std only).

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A random-looking `u64` (std's randomly keyed SipHash over a counter and the clock).
pub(crate) fn random_u64() -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = KEYS.get_or_init(RandomState::new).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// A random version-4-style UUID: lowercase hex, 8-4-4-4-12.
pub(crate) fn uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Milliseconds since the Unix epoch.
pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// An X-Ray style trace header: `Root=1-<8 hex time>-<24 hex>;Parent=<16 hex>;Sampled=1`.
pub(crate) fn trace_id() -> String {
    format!(
        "Root=1-{:08x}-{:08x}{:016x};Parent={:016x};Sampled=1",
        (epoch_ms() / 1000) as u32,
        random_u64() as u32,
        random_u64(),
        random_u64()
    )
}

/// Today's UTC date as (year, month, day).
pub(crate) fn today() -> (i64, u32, u32) {
    civil_from_days((epoch_ms() / 86_400_000) as i64)
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `s` as a JSON string literal (quotes included).
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The first `max` bytes of `b`, escaped as printable ASCII (`\r`, `\n`, `\x00`, …), with `…`
/// when cut.
pub(crate) fn escape(b: &[u8], max: usize) -> String {
    let mut s = b[..b.len().min(max)].escape_ascii().to_string();
    if b.len() > max {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_right() {
        let u = uuid();
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(
            u.bytes()
                .all(|b| b == b'-' || matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_ne!(uuid(), uuid());
        let t = trace_id();
        assert!(t.starts_with("Root=1-") && t.ends_with(";Sampled=1"), "{t}");
        assert_eq!(
            t.len(),
            "Root=1-".len() + 8 + 1 + 24 + ";Parent=".len() + 16 + ";Sampled=1".len()
        );
        assert_ne!(trace_id(), trace_id());
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn json_strings() {
        assert_eq!(json_str("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
        assert_eq!(escape(b"0\r\n\x00", 10), r"0\r\n\x00");
        assert_eq!(escape(b"abc", 2), "ab…");
    }
}
