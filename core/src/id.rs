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
            && bytes.iter().fold(true, |ok, &b| {
                ok & ID_BYTES.get(usize::from(b)).copied().unwrap_or(false)
            });
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

/// [`is_id_byte`] for every byte, looked up rather than computed on the hot path.
// Indexing in a const initialiser: `b < 256` is checked by the loop, and a mistake would fail
// the build, not the runtime.
#[allow(clippy::indexing_slicing)]
static ID_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-');
        b += 1;
    }
    t
};

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
}
