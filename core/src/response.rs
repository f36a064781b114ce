//! An incremental HTTP/1.1 response decoder that works in the caller's buffer.
//!
//! The caller keeps one buffer per connection. Its first byte is the first byte of the response
//! being decoded; the caller appends what it reads and calls [`Decoder::advance`] with everything
//! it holds:
//!
//! - [`Status::NeedMore { keep }`](Status::NeedMore): keep `buf[..keep]` as it is (the decoder
//!   may have moved bytes inside it), drop the rest, append new bytes after `keep`, call again.
//!   `keep` is below `buf.len()` only when the decoder discards a body it refused or chunk
//!   framing it already read.
//! - [`Status::Complete`]: the whole message is in `buf[..consumed]`; its head is
//!   `buf[head]` and its body is `buf[body]` (chunked bodies are joined in place, so the
//!   body is always one slice). Bytes after `consumed` belong to the next message: the caller
//!   moves them to the front. The decoder is ready for that next message.
//!
//! Interim responses (`1xx` other than `101`) before the final one are skipped, however many
//! there are (RFC 9110 section 15.2); the final message then starts at [`Message::head`]`.start`.
//!
//! A body larger than the limit is not an error: it is read and discarded, and the message
//! completes with `body_too_large` set, so that the connection stays usable and the caller can
//! still answer for it. Everything else that is not HTTP is a [`DecodeError`]; the connection
//! must then be closed.

use core::mem::MaybeUninit;
use core::ops::Range;

use crate::buf::{eq_ignore_case, eq_token, move_within, parse_u64, trim_ows};

/// Most header fields one response head may carry. The head-size limit is the real bound:
/// 512 fields fill a 16 KiB head at 32 bytes each. The parser's array is not initialised, so
/// its size costs stack space (16 KiB while a head is parsed) but no time.
pub const MAX_HEADERS: usize = 512;
/// Longest chunk-size line (size, extensions, CRLF) accepted.
pub const MAX_CHUNK_LINE: usize = 1024;

/// Bounds on what the decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest head (status line and headers), in bytes; interim heads count separately.
    pub max_head: usize,
    /// Largest body kept; a larger one is drained and flagged.
    pub max_body: usize,
}

impl Limits {
    /// The limits for `/next`: a 16 KiB head and a 6 MiB event.
    pub const NEXT: Limits = Limits {
        max_head: 16 * 1024,
        max_body: 6 * 1024 * 1024,
    };
    /// The limits for replies to every other request: small JSON documents.
    pub const REPLY: Limits = Limits {
        max_head: 16 * 1024,
        max_body: 64 * 1024,
    };

    /// Buffer size that can hold any message these limits accept, with its chunk framing
    /// compacted (so a caller's buffer of this size never fills while the decoder needs more).
    pub const fn buffer_size(&self) -> usize {
        self.max_head + self.max_body + 2 * MAX_CHUNK_LINE + self.max_head
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::NEXT
    }
}

/// Why bytes could not be decoded as an HTTP/1.1 response. The connection cannot be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The head is longer than `max_head`.
    HeadTooLarge,
    /// More header fields than [`MAX_HEADERS`].
    TooManyHeaders,
    /// The status line or a header is not valid HTTP/1.1 (or a `101 Switching Protocols`,
    /// which lamina never asks for).
    InvalidHead,
    /// `Content-Length` is not a number, or several disagree.
    InvalidContentLength,
    /// A `Transfer-Encoding` other than `chunked`.
    UnsupportedTransferEncoding,
    /// Chunk framing is broken (size line, CRLF after data, trailers too long).
    InvalidChunk,
    /// The connection ended before the message did.
    UnexpectedEof,
    /// The caller's buffer is shorter than the `keep` it was told to keep (a misuse).
    BufferMismatch,
}

impl DecodeError {
    /// A short description, for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            DecodeError::HeadTooLarge => "response head too large",
            DecodeError::TooManyHeaders => "too many response headers",
            DecodeError::InvalidHead => "invalid response head",
            DecodeError::InvalidContentLength => "invalid Content-Length",
            DecodeError::UnsupportedTransferEncoding => "unsupported Transfer-Encoding",
            DecodeError::InvalidChunk => "invalid chunked body",
            DecodeError::UnexpectedEof => "connection closed mid-response",
            DecodeError::BufferMismatch => "buffer shorter than the bytes it was told to keep",
        }
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for DecodeError {}

/// What [`Decoder::advance`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Status {
    /// Keep `buf[..keep]`, append more bytes, call again.
    NeedMore {
        /// Bytes at the front of the buffer to keep.
        keep: usize,
    },
    /// A whole message.
    Complete(Message),
}

/// A complete response, as positions in the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The status code.
    pub status: u16,
    /// Where the final head is: `buf[head]` (after any interim responses that were skipped).
    pub head: Range<usize>,
    /// Where the (de-chunked) body is; empty when it was refused.
    pub body: Range<usize>,
    /// Bytes of the buffer this message used; what follows is the next message.
    pub consumed: usize,
    /// The server will close the connection (`Connection: close`, HTTP/1.0, or a body that
    /// ends at EOF); the caller reconnects for the next request.
    pub close: bool,
    /// The body was larger than `max_body` and was drained, not kept.
    pub body_too_large: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Looking for the end of the head that starts at `start`; `buf[..scanned]` has no end in it.
    Head {
        start: usize,
        scanned: usize,
    },
    Length {
        remaining: u64,
    },
    Chunked(Chunk),
    UntilEof,
}

/// The incremental decoder. One per connection; reusable across messages.
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: Limits,
    phase: Phase,
    status: u16,
    close: bool,
    /// Where the final head starts (after skipped interim responses).
    head_start: usize,
    head_end: usize,
    /// End of the body kept so far.
    body_end: usize,
    /// Next raw byte to look at (after `body_end` for chunked bodies).
    raw: usize,
    /// Body bytes seen, kept or not.
    body_total: u64,
    too_large: bool,
    /// Trailer bytes seen (bounded by `max_head`).
    trailer_bytes: usize,
    /// What the caller was last told to keep.
    kept: usize,
    /// The last final head [`advance`](Decoder::advance) parsed, kept across messages.
    memo: Memo,
}

/// Longest head [`Memo`] keeps: a Runtime API acknowledgement (`202 Accepted` with a
/// `Content-Type` and a `Content-Length`) is about 80 bytes.
const MEMO: usize = 128;

/// The bytes of the last final head parsed for a caller that does not read its fields, with what
/// httparse and [`read_head`] made of them. The same reply comes back for every answer (the
/// Runtime API's `202`): a head equal to it byte for byte is judged as it was, without parsing
/// it again. Only a head that was accepted whole is kept, so nothing that would be refused can
/// match.
#[derive(Debug, Clone)]
struct Memo {
    len: usize,
    bytes: [u8; MEMO],
    info: HeadInfo,
}

impl Memo {
    const EMPTY: Memo = Memo {
        len: 0,
        bytes: [0; MEMO],
        info: HeadInfo {
            status: 0,
            close: false,
            content_length: None,
            chunked: false,
        },
    };

    /// The remembered head's length and framing, when `buf` starts with it.
    #[inline]
    fn find(&self, buf: &[u8]) -> Option<(usize, HeadInfo)> {
        let len = self.len;
        let known = self.bytes.get(..len)?;
        (len > 0 && buf.get(..len) == Some(known)).then_some((len, self.info))
    }

    fn keep(&mut self, head: &[u8], info: HeadInfo) {
        match self.bytes.get_mut(..).and_then(|b| b.get_mut(..head.len())) {
            Some(dst) => {
                crate::buf::copy(dst, head);
                self.len = head.len();
                self.info = info;
            }
            None => self.len = 0,
        }
    }
}

/// The parts of a head the decoder needs.
#[derive(Debug, Clone, Copy)]
struct HeadInfo {
    status: u16,
    close: bool,
    content_length: Option<u64>,
    chunked: bool,
}

/// Called with the final head's status and header fields once they parsed, so a caller can read
/// what it needs without parsing the head a second time.
pub type OnHead<'f> = &'f mut dyn FnMut(u16, &[httparse::Header<'_>]);

/// [`OnHead`] reborrowed for one call (its lifetimes apart, so the decoder can lend it on).
type HeadFn<'a, 'f> = &'a mut (dyn FnMut(u16, &[httparse::Header<'_>]) + 'f);

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Limits::NEXT)
    }
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            phase: Phase::Head {
                start: 0,
                scanned: 0,
            },
            status: 0,
            close: false,
            head_start: 0,
            head_end: 0,
            body_end: 0,
            raw: 0,
            body_total: 0,
            too_large: false,
            trailer_bytes: 0,
            kept: 0,
            memo: Memo::EMPTY,
        }
    }

    /// Forgets any partial message and takes `limits` for the next one.
    #[inline(never)]
    pub fn reset(&mut self, limits: Limits) {
        // Field by field: the memo (the one thing that outlives a message) stays.
        self.limits = limits;
        self.phase = Phase::Head {
            start: 0,
            scanned: 0,
        };
        self.status = 0;
        self.close = false;
        self.head_start = 0;
        self.head_end = 0;
        self.body_end = 0;
        self.raw = 0;
        self.body_total = 0;
        self.too_large = false;
        self.trailer_bytes = 0;
        self.kept = 0;
    }

    /// Where the current message's final head is once it has been read whole (while the body
    /// is still coming); `None` before. The head stays there until the message completes, so a
    /// caller cut off mid-body can still read it.
    pub fn head(&self) -> Option<Range<usize>> {
        match self.phase {
            Phase::Head { .. } => None,
            _ => Some(self.head_start..self.head_end),
        }
    }

    /// Decodes as far as `buf` allows. See the module docs for the contract.
    ///
    /// A final head equal byte for byte to the last one this decoder accepted here (in any
    /// earlier message) is not parsed again: the same reply to every answer costs a comparison.
    #[inline]
    pub fn advance(&mut self, buf: &mut [u8]) -> Result<Status, DecodeError> {
        self.drive(buf, None, false)
    }

    /// Like [`advance`](Decoder::advance), and calls `on_head` once with the final head's
    /// fields (before the body is read).
    pub fn advance_with(
        &mut self,
        buf: &mut [u8],
        on_head: OnHead<'_>,
    ) -> Result<Status, DecodeError> {
        self.drive(buf, Some(on_head), false)
    }

    /// The connection reached EOF with `buf` unconsumed: completes a body delimited by the
    /// close, errs otherwise (an empty `buf` with no message begun is not an error: `Ok(None)`).
    pub fn finish(&mut self, buf: &mut [u8]) -> Result<Option<Message>, DecodeError> {
        finished(self.drive(buf, None, true))
    }

    /// Like [`finish`](Decoder::finish), calling `on_head` as [`advance_with`] does.
    ///
    /// [`advance_with`]: Decoder::advance_with
    pub fn finish_with(
        &mut self,
        buf: &mut [u8],
        on_head: OnHead<'_>,
    ) -> Result<Option<Message>, DecodeError> {
        finished(self.drive(buf, Some(on_head), true))
    }

    /// [`advance`](Decoder::advance), or at EOF [`finish`](Decoder::finish) (its `Ok(None)`
    /// as `NeedMore`): one body for both, and one call in the driver.
    pub(crate) fn drive(
        &mut self,
        buf: &mut [u8],
        on_head: Option<OnHead<'_>>,
        eof: bool,
    ) -> Result<Status, DecodeError> {
        let result = if buf.len() < self.kept {
            Err(DecodeError::BufferMismatch)
        } else {
            match self.step(buf, on_head) {
                Ok(Status::NeedMore { keep }) if eof => match self.phase {
                    Phase::UntilEof => Ok(Status::Complete(self.complete(keep))),
                    Phase::Head { scanned: 0, .. } if keep == 0 => Ok(Status::NeedMore { keep }),
                    _ => Err(DecodeError::UnexpectedEof),
                },
                r => r,
            }
        };
        // A message in progress keeps its state; anything else starts afresh (at EOF, always).
        match &result {
            Ok(Status::NeedMore { keep }) if !eof => self.kept = *keep,
            _ => self.reset(self.limits),
        }
        result
    }

    fn step(
        &mut self,
        buf: &mut [u8],
        mut on_head: Option<OnHead<'_>>,
    ) -> Result<Status, DecodeError> {
        loop {
            match self.phase {
                Phase::Head { start, scanned } => {
                    let mut found = None;
                    if scanned == start {
                        // A head that arrived whole (the usual case) is parsed once, without
                        // a scan for its end first.
                        let avail = buf.get(start..).unwrap_or_default();
                        let window = avail.get(..self.limits.max_head).unwrap_or(avail);
                        let known = match on_head {
                            None => self.memo.find(window),
                            Some(_) => None,
                        };
                        // An error here may only mean the head is cut short: it is judged
                        // once the whole head is there, as below.
                        let head = match known {
                            Some((n, info)) => Ok(Head::Final(n, info)),
                            None => read_head(window, on_head.as_deref_mut(), &mut self.memo),
                        };
                        match head.unwrap_or(Head::Partial) {
                            Head::Partial => {}
                            Head::Interim(n) => {
                                self.phase = Phase::Head {
                                    start: start + n,
                                    scanned: start + n,
                                };
                                continue;
                            }
                            Head::Final(n, info) => found = Some((start + n, info)),
                        }
                    }
                    let (end, info) = match found {
                        Some(f) => f,
                        None => {
                            let Some(end) = find_head_end(buf, start, scanned) else {
                                let pending = buf.len().saturating_sub(start);
                                if pending > self.limits.max_head {
                                    return Err(DecodeError::HeadTooLarge);
                                }
                                // Interim responses already read are dropped: move what
                                // follows them to the front, so any number of them fits.
                                if start > 0 {
                                    move_within(buf, start, buf.len(), 0);
                                }
                                self.phase = Phase::Head {
                                    start: 0,
                                    scanned: pending,
                                };
                                return Ok(Status::NeedMore { keep: pending });
                            };
                            if end - start > self.limits.max_head {
                                return Err(DecodeError::HeadTooLarge);
                            }
                            let head = buf.get(start..end).unwrap_or_default();
                            match read_head(head, on_head.as_deref_mut(), &mut self.memo)? {
                                Head::Final(_, info) => (end, info),
                                Head::Interim(_) => {
                                    // An interim response: the final one starts after it.
                                    self.phase = Phase::Head {
                                        start: end,
                                        scanned: end,
                                    };
                                    continue;
                                }
                                Head::Partial => return Err(DecodeError::InvalidHead),
                            }
                        }
                    };
                    self.status = info.status;
                    self.close = info.close;
                    self.head_start = start;
                    self.head_end = end;
                    self.body_end = end;
                    self.raw = end;
                    self.body_total = 0;
                    self.too_large = false;
                    self.trailer_bytes = 0;
                    self.phase = if info.status == 204 || info.status == 304 {
                        Phase::Length { remaining: 0 }
                    } else if info.chunked {
                        Phase::Chunked(Chunk::Size)
                    } else if let Some(len) = info.content_length {
                        if len > self.limits.max_body as u64 {
                            self.too_large = true;
                        }
                        Phase::Length { remaining: len }
                    } else {
                        self.close = true;
                        Phase::UntilEof
                    };
                }
                Phase::Length { remaining } => {
                    let avail = buf.len().saturating_sub(self.body_end) as u64;
                    let take = avail.min(remaining);
                    let remaining = remaining - take;
                    if self.too_large {
                        if remaining == 0 {
                            // The rest of `buf` (if any) is the next message.
                            let consumed = self.body_end + take as usize;
                            let mut m = self.complete(self.head_end);
                            m.consumed = consumed;
                            return Ok(Status::Complete(m));
                        }
                        self.phase = Phase::Length { remaining };
                        return Ok(Status::NeedMore {
                            keep: self.head_end,
                        });
                    }
                    self.body_end += take as usize;
                    if remaining == 0 {
                        return Ok(Status::Complete(self.complete(self.body_end)));
                    }
                    self.phase = Phase::Length { remaining };
                    return Ok(Status::NeedMore { keep: buf.len() });
                }
                Phase::UntilEof => {
                    let avail = buf.len().saturating_sub(self.body_end);
                    self.body_total += avail as u64;
                    if self.too_large || self.body_total > self.limits.max_body as u64 {
                        self.too_large = true;
                        self.body_end = self.head_end;
                        return Ok(Status::NeedMore {
                            keep: self.head_end,
                        });
                    }
                    self.body_end = buf.len();
                    return Ok(Status::NeedMore { keep: buf.len() });
                }
                Phase::Chunked(chunk) => match self.chunk_step(buf, chunk)? {
                    Some(status) => return Ok(status),
                    None => continue,
                },
            }
        }
    }

    /// One step of chunk framing; `None` means "go on", `Some` returns to the caller.
    fn chunk_step(&mut self, buf: &mut [u8], chunk: Chunk) -> Result<Option<Status>, DecodeError> {
        let raw = buf.get(self.raw..).unwrap_or_default();
        match chunk {
            Chunk::Size => {
                let Some(nl) = raw.iter().take(MAX_CHUNK_LINE).position(|&b| b == b'\n') else {
                    if raw.len() >= MAX_CHUNK_LINE {
                        return Err(DecodeError::InvalidChunk);
                    }
                    return Ok(Some(self.need_more(buf)));
                };
                let line = raw.get(..nl).unwrap_or_default();
                // A pattern, not `strip_suffix`: that was a function of its own.
                let line = match line {
                    [l @ .., b'\r'] => l,
                    l => l,
                };
                let size_part = match line.iter().position(|&b| b == b';') {
                    Some(i) => line.get(..i).unwrap_or_default(),
                    None => line,
                };
                let size = parse_hex(trim_ows(size_part)).ok_or(DecodeError::InvalidChunk)?;
                self.raw += nl + 1;
                if size == 0 {
                    self.phase = Phase::Chunked(Chunk::Trailers);
                } else {
                    self.body_total = self.body_total.saturating_add(size);
                    if !self.too_large && self.body_total > self.limits.max_body as u64 {
                        self.too_large = true;
                        self.body_end = self.head_end;
                    }
                    self.phase = Phase::Chunked(Chunk::Data(size));
                }
                Ok(None)
            }
            Chunk::Data(remaining) => {
                let take = (raw.len() as u64).min(remaining) as usize;
                if !self.too_large {
                    move_within(buf, self.raw, self.raw + take, self.body_end);
                    self.body_end += take;
                }
                self.raw += take;
                let remaining = remaining - take as u64;
                if remaining == 0 {
                    self.phase = Phase::Chunked(Chunk::DataEnd);
                    Ok(None)
                } else {
                    self.phase = Phase::Chunked(Chunk::Data(remaining));
                    Ok(Some(self.need_more(buf)))
                }
            }
            Chunk::DataEnd => match raw {
                [b'\r', b'\n', ..] => {
                    self.raw += 2;
                    self.phase = Phase::Chunked(Chunk::Size);
                    Ok(None)
                }
                [b'\n', ..] => {
                    self.raw += 1;
                    self.phase = Phase::Chunked(Chunk::Size);
                    Ok(None)
                }
                [] | [b'\r'] => Ok(Some(self.need_more(buf))),
                _ => Err(DecodeError::InvalidChunk),
            },
            Chunk::Trailers => {
                let Some(nl) = raw.iter().position(|&b| b == b'\n') else {
                    if self.trailer_bytes + raw.len() > self.limits.max_head {
                        return Err(DecodeError::InvalidChunk);
                    }
                    return Ok(Some(self.need_more(buf)));
                };
                self.trailer_bytes += nl + 1;
                if self.trailer_bytes > self.limits.max_head {
                    return Err(DecodeError::InvalidChunk);
                }
                let line = raw.get(..nl).unwrap_or_default();
                self.raw += nl + 1;
                if line.is_empty() || line == b"\r" {
                    let mut m = self.complete(self.body_end);
                    m.consumed = self.raw;
                    return Ok(Some(Status::Complete(m)));
                }
                Ok(None)
            }
        }
    }

    /// Moves the unread framing bytes down to the end of the body so the buffer never holds
    /// gaps, and tells the caller to keep just that.
    fn need_more(&mut self, buf: &mut [u8]) -> Status {
        let pending = buf.len().saturating_sub(self.raw);
        if self.raw != self.body_end {
            move_within(buf, self.raw, buf.len(), self.body_end);
            self.raw = self.body_end;
        }
        Status::NeedMore {
            keep: self.body_end + pending,
        }
    }

    fn complete(&self, body_end: usize) -> Message {
        let body = if self.too_large {
            self.head_end..self.head_end
        } else {
            self.head_end..body_end
        };
        Message {
            status: self.status,
            head: self.head_start..self.head_end,
            body,
            consumed: body_end,
            close: self.close,
            body_too_large: self.too_large,
        }
    }
}

/// [`Decoder::drive`]'s outcome at EOF as [`Decoder::finish`] tells it.
#[inline(always)]
fn finished(r: Result<Status, DecodeError>) -> Result<Option<Message>, DecodeError> {
    match r {
        Ok(Status::Complete(m)) => Ok(Some(m)),
        Ok(Status::NeedMore { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Finds the end of the head that starts at `start` (the index after the blank line), searching
/// from a little before `scanned` so a terminator split across reads is found without rescanning
/// the whole head. Empty lines before the status line are skipped, as httparse skips them (the
/// whole head parsed at once and the head found in pieces must agree): their line ends do not
/// end the head.
#[inline(never)]
fn find_head_end(buf: &[u8], start: usize, scanned: usize) -> Option<usize> {
    let mut first = start;
    loop {
        match buf.get(first..)? {
            [b'\n', ..] => first += 1,
            [b'\r', b'\n', ..] => first += 2,
            [] | [b'\r'] => return None,
            _ => break,
        }
    }
    let from = scanned.saturating_sub(3).max(first);
    let tail = buf.get(from..)?;
    let mut i = 0;
    while let Some(off) = tail.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match tail.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(from + nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(from + nl + 3),
            _ => {}
        }
        i = nl + 1;
    }
    None
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        n = (n << 4) | u64::from(d);
    }
    Some(n)
}

/// A parsed head: its length, status, HTTP minor version and fields.
pub(crate) type Parsed<'b, 'h> = (usize, u16, u8, &'h [httparse::Header<'b>]);

/// Parses the head at the start of `buf` into `storage` (which need not be initialised);
/// `None` when `buf` holds only part of it.
pub(crate) fn parse_head<'b, 'h>(
    buf: &'b [u8],
    storage: &'h mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<Parsed<'b, 'h>>, DecodeError> {
    let mut res = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, storage)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(DecodeError::TooManyHeaders),
        Err(_) => return Err(DecodeError::InvalidHead),
    };
    let status = res.code.ok_or(DecodeError::InvalidHead)?;
    let version = res.version.ok_or(DecodeError::InvalidHead)?;
    Ok(Some((len, status, version, res.headers)))
}

/// What [`read_head`] found.
enum Head {
    /// Not all of the head is there.
    Partial,
    /// An interim (`1xx`) head of this length: the real one follows.
    Interim(usize),
    /// The final head, of this length.
    Final(usize, HeadInfo),
}

/// Reads the framing of the head at the start of `buf` and hands its fields to `on_head`; a
/// final head nobody reads the fields of (`None`) is kept in `memo`.
// `iter().any`, not `contains`: `<[u8]>::contains` is a function of its own in the binary.
#[allow(clippy::manual_contains)]
fn read_head(
    buf: &[u8],
    on_head: Option<HeadFn<'_, '_>>,
    memo: &mut Memo,
) -> Result<Head, DecodeError> {
    let mut storage = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let Some((len, status, version, headers)) = parse_head(buf, &mut storage)? else {
        return Ok(Head::Partial);
    };
    if (100..200).contains(&status) {
        // 101 would switch protocols, which lamina never asks for; the rest are interim.
        return if status == 101 {
            Err(DecodeError::InvalidHead)
        } else {
            Ok(Head::Interim(len))
        };
    }
    let mut info = HeadInfo {
        status,
        close: version == 0,
        content_length: None,
        chunked: false,
    };
    for h in headers {
        let name = h.name.as_bytes();
        // Told apart by length first: every header of every response passes here.
        match name.len() {
            14 if eq_token(name, b"content-length") => {
                let n = parse_u64(trim_ows(h.value)).ok_or(DecodeError::InvalidContentLength)?;
                if info.content_length.is_some_and(|m| m != n) {
                    return Err(DecodeError::InvalidContentLength);
                }
                info.content_length = Some(n);
            }
            17 if eq_token(name, b"transfer-encoding") => {
                // Only `chunked` is understood, and it must be the only coding.
                if h.value.iter().any(|&b| b == b',')
                    || !eq_ignore_case(trim_ows(h.value), b"chunked")
                {
                    return Err(DecodeError::UnsupportedTransferEncoding);
                }
                info.chunked = true;
            }
            10 if eq_token(name, b"connection") => {
                for token in h.value.split(|&b| b == b',') {
                    let t = trim_ows(token);
                    if eq_ignore_case(t, b"close") {
                        info.close = true;
                    } else if eq_ignore_case(t, b"keep-alive") && version == 0 {
                        info.close = false;
                    }
                }
            }
            _ => {}
        }
    }
    if info.chunked && info.content_length.is_some() {
        // RFC 9112 6.3: Transfer-Encoding wins, and the connection is not to be trusted after.
        info.content_length = None;
        info.close = true;
    }
    match on_head {
        Some(on_head) => on_head(status, headers),
        None => memo.keep(buf.get(..len).unwrap_or_default(), info),
    }
    Ok(Head::Final(len, info))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    type Decoded = Result<(Message, Vec<u8>), DecodeError>;

    /// Feeds `input` in pieces split at `splits`, the way a transport would, and returns every
    /// message with its body, plus the bytes left over.
    fn feed(input: &[u8], splits: &[usize], limits: Limits) -> (Vec<Decoded>, Vec<u8>) {
        feed_into(&mut Decoder::new(limits), input, splits)
    }

    /// [`feed`] with a decoder that may have decoded messages before.
    fn feed_into(dec: &mut Decoder, input: &[u8], splits: &[usize]) -> (Vec<Decoded>, Vec<u8>) {
        let mut buf: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut cuts: Vec<usize> = splits.iter().map(|s| s % (input.len() + 1)).collect();
        cuts.push(input.len());
        cuts.sort_unstable();
        for cut in cuts {
            if cut < pos {
                continue;
            }
            buf.extend_from_slice(&input[pos..cut]);
            pos = cut;
            loop {
                match dec.advance(&mut buf) {
                    Ok(Status::NeedMore { keep }) => {
                        assert!(keep <= buf.len());
                        buf.truncate(keep);
                        break;
                    }
                    Ok(Status::Complete(m)) => {
                        let body = buf[m.body.clone()].to_vec();
                        buf.drain(..m.consumed);
                        out.push(Ok((m, body)));
                        if buf.is_empty() {
                            break;
                        }
                    }
                    Err(e) => {
                        out.push(Err(e));
                        return (out, buf);
                    }
                }
            }
        }
        (out, buf)
    }

    fn one(input: &[u8]) -> Result<(Message, Vec<u8>), DecodeError> {
        let (mut v, _) = feed(input, &[], Limits::NEXT);
        v.remove(0)
    }

    #[test]
    fn content_length_body() {
        let (m, body) = one(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(m.status, 200);
        assert_eq!(body, b"hello");
        assert!(!m.close);
        assert!(!m.body_too_large);
    }

    #[test]
    fn need_more_until_whole() {
        let mut dec = Decoder::new(Limits::NEXT);
        let mut buf = b"HTTP/1.1 202 Accepted\r\nContent-Le".to_vec();
        assert_eq!(
            dec.advance(&mut buf),
            Ok(Status::NeedMore { keep: buf.len() })
        );
        buf.extend_from_slice(b"ngth: 2\r\n\r\n{");
        assert_eq!(
            dec.advance(&mut buf),
            Ok(Status::NeedMore { keep: buf.len() })
        );
        buf.extend_from_slice(b"}");
        let Ok(Status::Complete(m)) = dec.advance(&mut buf) else {
            panic!()
        };
        assert_eq!(m.status, 202);
        assert_eq!(&buf[m.body], b"{}");
    }

    #[test]
    fn chunked_body_joined_in_place() {
        let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: y\r\n\r\nNEXT";
        let (msgs, rest) = feed(input, &[], Limits::NEXT);
        let (m, body) = msgs[0].clone().unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(rest, b"NEXT");
        assert_eq!(m.status, 200);
    }

    #[test]
    fn pipelined_message_is_untouched() {
        let input = b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        let (msgs, rest) = feed(input, &[], Limits::NEXT);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].as_ref().unwrap().1, b"{}");
        assert_eq!(msgs[1].as_ref().unwrap().1, b"abc");
        assert!(rest.is_empty());
    }

    #[test]
    fn connection_close_and_http10() {
        let (m, _) =
            one(b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        assert!(m.close);
        let (m, _) = one(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(m.close);
        let (m, _) =
            one(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(!m.close);
    }

    #[test]
    fn body_until_eof() {
        let mut dec = Decoder::new(Limits::NEXT);
        let mut buf = b"HTTP/1.1 200 OK\r\n\r\nall of it".to_vec();
        let Ok(Status::NeedMore { keep }) = dec.advance(&mut buf) else {
            panic!()
        };
        assert_eq!(keep, buf.len());
        let m = dec.finish(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[m.body], b"all of it");
        assert!(m.close);
        // EOF mid-message is an error, EOF between messages is not.
        let mut buf = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nall".to_vec();
        let _ = dec.advance(&mut buf).unwrap();
        assert_eq!(dec.finish(&mut buf), Err(DecodeError::UnexpectedEof));
        assert_eq!(dec.finish(&mut []), Ok(None));
        let mut buf = b"HTTP/1.1 2".to_vec();
        let _ = dec.advance(&mut buf).unwrap();
        assert_eq!(dec.finish(&mut buf), Err(DecodeError::UnexpectedEof));
    }

    #[test]
    fn no_body_statuses() {
        let (m, body) = one(b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n").unwrap();
        assert_eq!(m.status, 204);
        assert!(body.is_empty());
    }

    #[test]
    fn oversized_content_length_body_is_drained() {
        let limits = Limits {
            max_body: 4,
            ..Limits::NEXT
        };
        let input = b"HTTP/1.1 200 OK\r\nX-Id: 1\r\nContent-Length: 10\r\n\r\n0123456789NEXT";
        for split in 0..input.len() {
            let (msgs, rest) = feed(input, &[split, split + 7], limits);
            let (m, body) = msgs[0].clone().unwrap();
            assert!(m.body_too_large, "split {split}");
            assert!(body.is_empty());
            assert_eq!(m.head, 0..48);
            assert_eq!(rest, b"NEXT", "split {split}");
        }
    }

    #[test]
    fn oversized_chunked_body_is_drained() {
        let limits = Limits {
            max_body: 4,
            ..Limits::NEXT
        };
        let input =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nNEXT";
        for split in 0..input.len() {
            let (msgs, rest) = feed(input, &[split], limits);
            let (m, body) = msgs[0].clone().unwrap();
            assert!(m.body_too_large);
            assert!(body.is_empty());
            assert_eq!(rest, b"NEXT");
        }
    }

    #[test]
    fn errors_are_typed() {
        let big_head = {
            let mut v = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
            v.extend(std::iter::repeat_n(b'a', 17000));
            v
        };
        assert_eq!(one(&big_head).unwrap_err(), DecodeError::HeadTooLarge);
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(std::format!("H{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(one(&many).unwrap_err(), DecodeError::TooManyHeaders);
        for (input, want) in [
            (&b"garbage\r\n\r\n"[..], DecodeError::InvalidHead),
            (
                b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
                DecodeError::InvalidHead,
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                DecodeError::InvalidHead,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                DecodeError::InvalidContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                DecodeError::InvalidContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                DecodeError::UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                DecodeError::UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                DecodeError::InvalidChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
                DecodeError::InvalidChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
                DecodeError::InvalidChunk,
            ),
        ] {
            assert_eq!(
                one(input).unwrap_err(),
                want,
                "{:?}",
                std::str::from_utf8(input)
            );
        }
    }

    #[test]
    fn interim_responses_are_skipped_at_any_split() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiNEXT";
        for a in 0..input.len() {
            for b in [a + 1, a + 9, a + 40] {
                let (msgs, rest) = feed(input, &[a, b], Limits::NEXT);
                assert_eq!(msgs.len(), 1, "splits {a} {b}");
                let (m, body) = msgs[0].clone().unwrap();
                assert_eq!((m.status, body.as_slice()), (200, &b"hi"[..]));
                assert_eq!(rest, b"NEXT", "splits {a} {b}");
            }
        }
    }

    #[test]
    fn empty_lines_before_a_status_line_are_skipped_at_any_split() {
        // Found by the response_decoder fuzz target: the line end of an empty line after an
        // interim response was taken for the end of the next head when the head arrived in
        // pieces, while httparse skips such lines when it sees the head whole.
        let input = b"HTTP/1.1 100 Continue\r\n\r\n\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\r\n\n\
HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
        // Where skipped interim responses leave the head in the buffer depends on the split;
        // what was decoded does not.
        let decoded = |msgs: Vec<Decoded>| -> Vec<(u16, usize, Vec<u8>, bool)> {
            msgs.into_iter()
                .map(|r| {
                    let (m, body) = r.unwrap();
                    (m.status, m.head.len(), body, m.close)
                })
                .collect()
        };
        let (whole, _) = feed(input, &[], Limits::NEXT);
        let whole = decoded(whole);
        assert_eq!(whole.len(), 2);
        for a in 0..input.len() {
            for b in [a + 1, a + 2, a + 3] {
                let (msgs, rest) = feed(input, &[a, b], Limits::NEXT);
                assert_eq!(decoded(msgs), whole, "splits {a} {b}");
                assert!(rest.is_empty(), "splits {a} {b}");
            }
        }
        // A lone CR before the status line is no empty line: an error, however it arrives.
        for a in 0..12 {
            let (msgs, _) = feed(b"\r\rHTTP/1.1 200 OK\r\n\r\n", &[a], Limits::NEXT);
            assert_eq!(msgs, [Err(DecodeError::InvalidHead)], "split {a}");
        }
    }

    #[test]
    fn many_interim_responses_fit_a_small_buffer() {
        // Each read holds a few interim heads; they are dropped as they come, so the bytes
        // kept never grow.
        let mut dec = Decoder::new(Limits::REPLY);
        let mut buf: Vec<u8> = Vec::new();
        for _ in 0..10_000 {
            buf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 1");
            match dec.advance(&mut buf).unwrap() {
                Status::NeedMore { keep } => buf.truncate(keep),
                Status::Complete(_) => panic!("no final response yet"),
            }
            assert!(buf.len() < 64, "{}", buf.len());
            buf.extend_from_slice(b"02 Processing\r\n\r\n");
            match dec.advance(&mut buf).unwrap() {
                Status::NeedMore { keep } => buf.truncate(keep),
                Status::Complete(_) => panic!("no final response yet"),
            }
        }
        buf.extend_from_slice(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
        let Status::Complete(m) = dec.advance(&mut buf).unwrap() else {
            panic!("incomplete")
        };
        assert_eq!(m.status, 202);
        assert_eq!(m.consumed, buf.len());
    }

    #[test]
    fn hundreds_of_headers_within_the_head_limit() {
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..400 {
            input.extend_from_slice(std::format!("X-H{i}: v\r\n").as_bytes());
        }
        input.extend_from_slice(b"Content-Length: 1\r\n\r\nx");
        let mut seen = 0;
        let mut dec = Decoder::new(Limits::NEXT);
        let mut buf = input.clone();
        let status = dec
            .advance_with(&mut buf, &mut |status, headers| {
                assert_eq!(status, 200);
                seen = headers.len();
            })
            .unwrap();
        assert!(matches!(status, Status::Complete(_)));
        assert_eq!(seen, 401);
    }

    #[test]
    fn chunked_with_content_length_closes() {
        let (m, body) = one(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(body, b"hi");
        assert!(m.close);
    }

    #[test]
    fn misuse_is_an_error() {
        let mut dec = Decoder::new(Limits::NEXT);
        let mut buf = b"HTTP/1.1 200 OK\r\n".to_vec();
        let _ = dec.advance(&mut buf).unwrap();
        assert_eq!(dec.advance(&mut [0u8; 3]), Err(DecodeError::BufferMismatch));
    }

    #[test]
    fn a_repeated_head_is_judged_as_before() {
        let reply = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";
        let mut dec = Decoder::new(Limits::REPLY);
        for _ in 0..3 {
            let mut buf = reply.to_vec();
            let Ok(Status::Complete(m)) = dec.advance(&mut buf) else {
                panic!("incomplete")
            };
            assert_eq!((m.status, m.head.clone(), m.close), (202, 0..77, false));
            assert_eq!(&buf[m.body], br#"{"status":"OK"}"#);
            dec.reset(Limits::REPLY);
        }
        // Any other head is parsed: each variant decodes as a fresh decoder decodes it.
        let variants: [&[u8]; 6] = [
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"status\":\"OK\"}",
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"OK\"}",
            b"HTTP/1.0 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}",
            b"HTTP/1.1 500 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}",
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 1x\r\n\r\n{\"status\":\"OK\"}",
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\n{\"status\":\"OK\"}",
        ];
        for v in variants {
            let mut warm = Decoder::new(Limits::REPLY);
            let mut buf = reply.to_vec();
            let _ = warm.advance(&mut buf).unwrap();
            let (mut a, mut b) = (v.to_vec(), v.to_vec());
            assert_eq!(
                warm.advance(&mut a),
                Decoder::new(Limits::REPLY).advance(&mut b),
                "{:?}",
                std::str::from_utf8(v)
            );
        }
        // A head over a smaller limit is refused even when remembered.
        let mut buf = reply.to_vec();
        let _ = dec.advance(&mut buf).unwrap();
        dec.reset(Limits {
            max_head: 40,
            ..Limits::REPLY
        });
        let mut buf = reply.to_vec();
        assert_eq!(dec.advance(&mut buf), Err(DecodeError::HeadTooLarge));
        // Fields are always parsed for a caller that reads them.
        let mut dec = Decoder::new(Limits::REPLY);
        let mut buf = reply.to_vec();
        let _ = dec.advance(&mut buf).unwrap();
        let mut seen = 0;
        let mut buf = reply.to_vec();
        let _ = dec
            .advance_with(&mut buf, &mut |_, headers| seen = headers.len())
            .unwrap();
        assert_eq!(seen, 2);
    }

    fn message_strategy() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
        (
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::bool::ANY,
            1usize..50,
            proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,30}"), 0..6),
        )
            .prop_map(|(body, chunked, chunk, extra)| {
                let mut m = b"HTTP/1.1 200 OK\r\n".to_vec();
                for (k, v) in extra {
                    if k.eq_ignore_ascii_case("content-length")
                        || k.eq_ignore_ascii_case("transfer-encoding")
                        || k.eq_ignore_ascii_case("connection")
                    {
                        continue;
                    }
                    m.extend_from_slice(std::format!("{k}: {}\r\n", v.trim()).as_bytes());
                }
                if chunked {
                    m.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    for c in body.chunks(chunk) {
                        m.extend_from_slice(std::format!("{:x}\r\n", c.len()).as_bytes());
                        m.extend_from_slice(c);
                        m.extend_from_slice(b"\r\n");
                    }
                    m.extend_from_slice(b"0\r\n\r\n");
                } else {
                    m.extend_from_slice(
                        std::format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    m.extend_from_slice(&body);
                }
                (m, body)
            })
    }

    proptest! {
        #[test]
        fn any_split_decodes_the_same(
            (msg, body) in message_strategy(),
            (msg2, body2) in message_strategy(),
            splits in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut input = msg.clone();
            input.extend_from_slice(&msg2);
            input.extend_from_slice(b"HTTP/1.1 2");
            let (msgs, rest) = feed(&input, &splits, Limits::NEXT);
            prop_assert_eq!(msgs.len(), 2);
            prop_assert_eq!(&msgs[0].as_ref().unwrap().1, &body);
            prop_assert_eq!(&msgs[1].as_ref().unwrap().1, &body2);
            // Chunk framing is compacted away, so a chunked message may use fewer buffer bytes.
            prop_assert!(msgs[0].as_ref().unwrap().0.consumed <= msg.len());
            prop_assert_eq!(rest, b"HTTP/1.1 2".to_vec());
        }

        #[test]
        fn a_remembered_head_changes_nothing(
            (msg, _) in message_strategy(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
            splits in proptest::collection::vec(any::<usize>(), 0..4),
        ) {
            // The same message with a few bytes changed (or none), after the original: decoded
            // by a decoder that remembers the original's head exactly as by a fresh one.
            let mut other = msg.clone();
            for (at, b) in flips {
                let i = at % other.len();
                other[i] = b;
            }
            let mut warm = Decoder::new(Limits::REPLY);
            let (first, _) = feed_into(&mut warm, &msg, &[]);
            prop_assert!(first[0].is_ok());
            let (a, rest_a) = feed_into(&mut warm, &other, &splits);
            let (b, rest_b) = feed(&other, &splits, Limits::REPLY);
            prop_assert_eq!(a, b);
            prop_assert_eq!(rest_a, rest_b);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            input in proptest::collection::vec(any::<u8>(), 0..400),
            splits in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut prefixed = b"HTTP/1.1 200 OK\r\n".to_vec();
            prefixed.extend_from_slice(&input);
            let _ = feed(&input, &splits, Limits::NEXT);
            let _ = feed(&prefixed, &splits, Limits { max_body: 16, ..Limits::NEXT });
        }
    }
}
