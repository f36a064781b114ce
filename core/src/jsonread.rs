//! A small JSON reader for the two documents a `/next` head may carry (the client context and
//! the Cognito identity): objects whose interesting members are strings or string maps.
//!
//! It accepts what a serde deserializer of [`ClientContext`] / [`CognitoIdentity`] accepts
//! (unit tests check it against `serde_json` on generated documents) at a fraction of the code:
//! it is always linked, while serde's derived visitors cost ~8 KB of every bootstrap. Every
//! path returns `None` on bad input; nesting is bounded.
//!
//! [`ClientContext`]: crate::context::ClientContext
//! [`CognitoIdentity`]: crate::context::CognitoIdentity

use heapless::String;
use heapless::string::StringView;

/// Deepest nesting skipped inside a member nobody reads.
const MAX_DEPTH: u32 = 32;

/// A key read into a bounded buffer; keys longer than it are `Long` (never a known name).
pub(crate) enum Key {
    Short(String<64>),
    Long,
}

impl Key {
    #[inline(always)]
    pub(crate) fn is(&self, name: &str) -> bool {
        matches!(self, Key::Short(k) if k.as_str() == name)
    }
}

pub(crate) struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Reader { s, pos: 0 }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.pos += 1)
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        (self.s.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// The whole input is one value read by `f`, with nothing but whitespace after it.
    pub(crate) fn document<T>(mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let v = f(&mut self)?;
        self.ws();
        (self.pos == self.s.len()).then_some(v)
    }

    /// Reads an object, calling `member` with each key; `member` must read the value.
    ///
    /// `member` is a `dyn`: one copy of this loop serves every object read, where a generic
    /// would be copied for each (several KB of every bootstrap for documents that rarely come).
    pub(crate) fn object(
        &mut self,
        member: &mut dyn FnMut(&mut Self, Key) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let start = self.pos;
            let mut key = String::new();
            let key = match self.string(Some(key.as_mut_view())) {
                Some(true) => Key::Short(key),
                Some(false) => Key::Long,
                // Not UTF-8, or a lone surrogate: no known name, and (as serde reads keys it
                // ignores) not an error by itself.
                None => {
                    self.pos = start;
                    self.string(None)?;
                    Key::Long
                }
            };
            self.eat(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string into `out` (`None` when it does not fit or is not a string).
    #[inline(always)]
    pub(crate) fn string_into<const N: usize>(&mut self, out: &mut String<N>) -> Option<()> {
        out.clear();
        self.string(Some(out.as_mut_view()))?.then_some(())
    }

    /// Whether the next value is `null`.
    #[inline(always)]
    pub(crate) fn peek_null(&mut self) -> bool {
        self.peek() == Some(b'n')
    }

    /// `null` (`None`) or a string that fits, into `slot` in place (a string is not built
    /// apart and moved in).
    pub(crate) fn optional_into<const N: usize>(
        &mut self,
        slot: &mut Option<String<N>>,
    ) -> Option<()> {
        if self.peek_null() {
            *slot = None;
            return self.literal(b"null");
        }
        self.string_into(slot.insert(String::new()))
    }

    /// Reads a string into `out` (any heapless string, through its view) in pieces: each run
    /// of plain characters, each escaped character, one `push_str` each. `Some(false)` when
    /// one did not fit (the rest is still read), `None` when it is not a valid JSON string.
    /// Without `out` the string is only skipped, as a serde deserializer ignores a value: its
    /// escapes are checked, its bytes are not decoded (one loop for both). (No callback: each
    /// `dyn FnMut` closure was two functions, the closure and its `call_once` shim.)
    fn string(&mut self, mut out: Option<&mut StringView>) -> Option<bool> {
        self.eat(b'"')?;
        let mut fits = true;
        loop {
            let rest = self.s.get(self.pos..)?;
            // The run of plain bytes up to the next quote, backslash or control character.
            let run = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            if let Some(out) = &mut out {
                let plain = core::str::from_utf8(rest.get(..run)?).ok()?;
                fits &= out.push_str(plain).is_ok();
            }
            self.pos += run;
            match self.s.get(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return Some(fits);
                }
                b'\\' => {
                    let c = self.escape(out.is_some())?;
                    if let Some(out) = &mut out {
                        fits &= out.push_str(c.encode_utf8(&mut [0; 4])).is_ok();
                    }
                }
                _ => return None,
            }
        }
    }

    /// One escape sequence, the backslash at `pos`. Unless `decode`, a `\\u` escape is only
    /// checked to have its four hex digits (and stands for NUL).
    fn escape(&mut self, decode: bool) -> Option<char> {
        let b = *self.s.get(self.pos + 1)?;
        self.pos += 2;
        Some(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                if !decode {
                    return Some('\0');
                }
                if (0xDC00..0xE000).contains(&hi) {
                    return None;
                }
                if (0xD800..0xDC00).contains(&hi) {
                    if self.s.get(self.pos..self.pos + 2)? != b"\\u" {
                        return None;
                    }
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.pos..self.pos + 4)?;
        let mut n = 0;
        for &d in digits {
            n = n * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(n)
    }

    /// Skips any one value, `depth` deep in the document (callers start at 0; no wrapper
    /// for that: a function of its own costs its unwind entry).
    pub(crate) fn skip_at(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            // A string nobody reads: skipped (see `string`).
            b'"' => self.string(None).map(drop),
            // Objects and arrays share one loop: an object's members have a key first.
            open @ (b'{' | b'[') => {
                let object = open == b'{';
                let close = open + 2; // `}` and `]` follow `{` and `[` two apart in ASCII.
                self.pos += 1;
                if self.eat(close).is_some() {
                    return Some(());
                }
                loop {
                    if object {
                        self.string(None)?;
                        self.eat(b':')?;
                    }
                    self.skip_at(depth + 1)?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        c if c == close => {
                            self.pos += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    /// `-? int frac? exp?` as RFC 8259 spells it.
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        let digits = |r: &mut Self| {
            let from = r.pos;
            while r.s.get(r.pos).is_some_and(u8::is_ascii_digit) {
                r.pos += 1;
            }
            (r.pos > from).then_some(())
        };
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        if self.s.get(self.pos) == Some(&b'0') {
            self.pos += 1;
        } else {
            digits(self)?;
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            digits(self)?;
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos += 1;
            }
            digits(self)?;
        }
        (self.pos > start).then_some(())
    }
}
