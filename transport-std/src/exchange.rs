//! One request on a fresh blocking connection and its response: for the calls made outside the
//! invocation loop (`/init/error`, SnapStart's `/restore/*`, the Extensions API, the panic
//! report of abort builds). Both transports use it.

use std::io::{self, Read, Write};
use std::ops::Range;
use std::time::Duration;

use lamina_core::Endpoint;
use lamina_core::response::{Decoder, Limits, Status};

use crate::conn::open;

/// A response read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `buf[..head_len]` is the head.
    pub head_len: usize,
    /// Where the body is in `buf`.
    pub body: Range<usize>,
}

/// Sends `request` on a new connection and reads the response into `buf` (at most
/// `Limits::ANSWER`), waiting at most `timeout` for each read (`None`: as long as it takes, for
/// long polls such as `/restore/next`).
pub fn exchange(
    endpoint: &Endpoint,
    request: &[u8],
    buf: &mut [u8],
    timeout: Option<Duration>,
) -> io::Result<Response> {
    let mut stream = open(endpoint)?;
    stream.set_read_timeout(timeout)?;
    stream.write_all(request)?;
    let mut decoder = Decoder::new(Limits::ANSWER);
    let mut filled = 0;
    loop {
        let room = buf
            .get_mut(filled..)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| io::Error::other("response larger than the buffer"))?;
        let n = stream.read(room)?;
        let status = if n == 0 {
            match decoder.finish(buf.get_mut(..filled).unwrap_or_default()) {
                Ok(Some(m)) => Status::Complete(m),
                _ => return Err(io::ErrorKind::UnexpectedEof.into()),
            }
        } else {
            filled += n;
            decoder
                .advance(buf.get_mut(..filled).unwrap_or_default())
                .map_err(io::Error::other)?
        };
        match status {
            Status::NeedMore { keep } => filled = keep,
            Status::Complete(m) => {
                return Ok(Response {
                    status: m.status,
                    head_len: m.head_len,
                    body: m.body,
                });
            }
        }
    }
}

/// Encodes with `f` into a buffer that grows to what the encoder says it needs.
pub fn encoded<E>(
    mut f: impl FnMut(&mut [u8]) -> Result<usize, E>,
    required: impl Fn(&E) -> Option<usize>,
) -> Result<Vec<u8>, E> {
    let mut buf = vec![0u8; 4096];
    loop {
        match f(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) => match required(&e) {
                Some(n) if n > buf.len() => buf.resize(n, 0),
                _ => return Err(e),
            },
        }
    }
}
