//! Identifiers from the Runtime API that lamina puts back on the wire.

use heapless::String;

/// Longest accepted request id or invocation id, in bytes.
pub const MAX_ID: usize = 128;

/// A request id or invocation id that is safe to place in a request path or header:
/// 1 to 128 bytes from `[A-Za-z0-9._:-]`.
///
/// Anything else (a `/`, CR, LF, a space, a quote…) is refused, so a hostile or broken server
/// can never make lamina send a request it did not mean to.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Id(String<MAX_ID>);

impl Id {
    /// The empty placeholder (what `Default` gives), usable in `const` contexts.
    pub const EMPTY: Id = Id(String::new());

    /// Validates and copies `bytes`; `None` when empty, too long or holding a byte outside the
    /// safe set.
    pub fn new(bytes: &[u8]) -> Option<Id> {
        let mut id = Id::default();
        id.set(bytes).then_some(id)
    }

    /// Validates `bytes` into this id's storage (every `/next` carries one: no copy of the
    /// whole id is made). On `false` the id is left empty.
    pub(crate) fn set(&mut self, bytes: &[u8]) -> bool {
        self.0.clear();
        // Every byte is looked up, without a branch per byte (an id comes with every `/next`).
        let valid = !bytes.is_empty()
            && bytes.len() <= MAX_ID
            && bytes.iter().fold(class::ID, |ok, &b| ok & class::of(b)) != 0;
        // Every byte is ASCII and the length was checked, so both steps succeed.
        valid
            && core::str::from_utf8(bytes)
                .ok()
                .is_some_and(|s| self.0.push_str(s).is_ok())
    }

    /// Empties it (the placeholder of `Default`, never a valid id).
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether this is the empty placeholder of `Default` (never a valid id).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `b` may appear in a request or invocation id.
pub fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')
}

/// Classes of bytes, looked up rather than computed: [`is_id_byte`] on the hot path, and the
/// endpoint's checks (one table for all, a bit each).
pub(crate) mod class {
    /// [`is_id_byte`](super::is_id_byte).
    pub(crate) const ID: u8 = 1;
    /// A byte of the endpoint's path prefix.
    pub(crate) const PATH: u8 = 2;
    /// A byte of a host name's label.
    pub(crate) const HOST: u8 = 4;
    /// A byte of an IPv6 address (hex digits, colons, an embedded IPv4's dots).
    pub(crate) const V6: u8 = 8;
    /// A byte of an IPv6 zone (an interface name).
    pub(crate) const ZONE: u8 = 16;

    /// The classes of `b`.
    pub(crate) fn of(b: u8) -> u8 {
        TABLE.get(usize::from(b)).copied().unwrap_or(0)
    }

    // Indexing in a const initialiser: `b < 256` is checked by the loop, and a mistake would
    // fail the build, not the runtime.
    #[allow(clippy::indexing_slicing)]
    static TABLE: [u8; 256] = {
        let mut t = [0; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            let alnum = c.is_ascii_alphanumeric();
            let mut bits = 0;
            if alnum || matches!(c, b'.' | b'_' | b':' | b'-') {
                bits |= ID;
            }
            if alnum
                || matches!(
                    c,
                    b'/' | b'-'
                        | b'.'
                        | b'_'
                        | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'@'
                        | b'%'
                )
            {
                bits |= PATH;
            }
            if alnum || matches!(c, b'-' | b'_') {
                bits |= HOST;
            }
            if c.is_ascii_hexdigit() || matches!(c, b':' | b'.') {
                bits |= V6;
            }
            if alnum || matches!(c, b'-' | b'_' | b'.') {
                bits |= ZONE;
            }
            t[b] = bits;
            b += 1;
        }
        t
    };
}

impl core::fmt::Debug for Id {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for Id {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_safe_set_only() {
        assert!(Id::new(b"8476a536-e9f4-11e8-9739-2dfe598c3fcd").is_some());
        assert!(Id::new(b"a.b_c:d-E9").is_some());
        assert!(Id::new(&[b'a'; 128]).is_some());
        for bad in [
            &b""[..],
            &[b'a'; 129][..],
            b"a/b",
            b"../x",
            b"a\r\nX-Evil: 1",
            b"a b",
            b"a%2f",
            b"a?b",
            b"\xc3\xa9",
            b"a\0",
        ] {
            assert!(Id::new(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn byte_classes_are_the_predicates_they_stand_for() {
        for b in 0..=255u8 {
            let alnum = b.is_ascii_alphanumeric();
            let expected = [
                (class::ID, is_id_byte(b)),
                (class::PATH, alnum || b"/-._~!$&'()*+,;=:@%".contains(&b)),
                (class::HOST, alnum || b == b'-' || b == b'_'),
                (class::V6, b.is_ascii_hexdigit() || b == b':' || b == b'.'),
                (class::ZONE, alnum || b == b'-' || b == b'_' || b == b'.'),
            ];
            for (bit, member) in expected {
                assert_eq!(class::of(b) & bit != 0, member, "byte {b:#x}, class {bit}");
            }
        }
    }
}
