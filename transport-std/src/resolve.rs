//! Connecting to the Runtime API's host, through the C library's `getaddrinfo`.
//!
//! std's resolver (`(&str, u16)` as `ToSocketAddrs`) does the same after trying to parse an IP
//! literal, but its error path formats `gai_strerror` into a `String` held in an `io::Error`,
//! and that `String` error's `Debug` brings `str`'s escaping and Unicode tables, with a glibc
//! version parser besides: about 9 KB of a bootstrap that, under Lambda, only ever connects to
//! an IP literal. Here the message is built without `format!`, and kept as a code until
//! displayed where nothing else links that `String` error (see `lookup_error`).
//! An IP literal (what Lambda gives) goes through `getaddrinfo` too, which recognises it
//! without any lookup or system call: std's parser would be another 1.9 KB. Each address is
//! connected to as it comes (`socket`, `connect`), not turned into a `SocketAddr` for std to
//! turn back.
//!
//! Built for 64-bit x86 and Arm Linux (what Lambda runs), where `struct addrinfo` and the
//! constants below are what they are; elsewhere std's resolver is used.

use std::ffi::{CStr, c_char, c_int};
#[cfg(panic = "immediate-abort")]
use std::fmt;
use std::io;
use std::net::TcpStream;
use std::os::fd::FromRawFd;

use lamina_core::endpoint::MAX_HOST;

/// `struct addrinfo` (glibc and musl on Linux).
#[repr(C)]
struct AddrInfo {
    ai_flags: c_int,
    ai_family: c_int,
    ai_socktype: c_int,
    ai_protocol: c_int,
    ai_addrlen: u32,
    ai_addr: *mut u8,
    ai_canonname: *const c_char,
    ai_next: *const AddrInfo,
}

unsafe extern "C" {
    fn getaddrinfo(
        node: *const c_char,
        service: *const c_char,
        hints: *const AddrInfo,
        res: *mut *const AddrInfo,
    ) -> c_int;
    fn freeaddrinfo(res: *const AddrInfo);
    fn gai_strerror(code: c_int) -> *const c_char;
    fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
    #[link_name = "connect"]
    fn connect_fd(fd: c_int, addr: *const u8, len: u32) -> c_int;
}

const AF_INET: c_int = 2;
const AF_INET6: c_int = 10;
const SOCK_STREAM: c_int = 1;
const SOCK_CLOEXEC: c_int = 0o2_000_000;
const EAI_SYSTEM: c_int = -11;
const EINTR: i32 = 4;
const EISCONN: i32 = 106;

/// A failed lookup's error: `getaddrinfo`'s error `code`, or 0 when it found no address,
/// displayed as std's resolver words it.
///
/// Where a panic can run std's default hook, its backtrace printer already links std's own
/// string error (`io::Error::new` with a message) and its `Debug`: a message built into a
/// `String` costs nothing more there, where an error type of our own is a vtable and two
/// formatting functions more. Under `-Cpanic=immediate-abort` nothing else links that string
/// error, whose `Debug` brings `str`'s escaping and Unicode tables: the code is kept in
/// `LookupError` and worded only when displayed.
fn lookup_error(code: c_int) -> io::Error {
    #[cfg(panic = "immediate-abort")]
    return match code {
        0 => io::Error::new(io::ErrorKind::InvalidInput, LookupError(0)),
        _ => io::Error::other(LookupError(code)),
    };
    #[cfg(not(panic = "immediate-abort"))]
    {
        if code == 0 {
            return io::Error::new(io::ErrorKind::InvalidInput, NO_ADDRESS);
        }
        let mut message = String::from(LOOKUP_FAILED);
        message.push_str(detail(code));
        io::Error::other(message)
    }
}

const NO_ADDRESS: &str = "could not resolve to any addresses";
const LOOKUP_FAILED: &str = "failed to lookup address information: ";

/// `gai_strerror(code)`.
fn detail(code: c_int) -> &'static str {
    // SAFETY: gai_strerror returns a NUL-terminated string that stays valid (a static
    // message) for any code.
    let detail = unsafe { CStr::from_ptr(gai_strerror(code)) };
    detail.to_str().unwrap_or("unknown error")
}

/// A failed lookup (see `lookup_error`): `getaddrinfo`'s error code, or 0 when it found no
/// address.
#[cfg(panic = "immediate-abort")]
#[derive(Debug)]
struct LookupError(c_int);

#[cfg(panic = "immediate-abort")]
impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str(NO_ADDRESS);
        }
        f.write_str(LOOKUP_FAILED)?;
        f.write_str(detail(self.0))
    }
}

#[cfg(panic = "immediate-abort")]
impl std::error::Error for LookupError {}

/// Connects to `host:port`, trying each address it resolves to in turn (the last failure is
/// returned), as `TcpStream::connect((host, port))` does.
pub(crate) fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    // An endpoint's host fits MAX_HOST and holds no control character (so no NUL).
    let mut name = [0u8; MAX_HOST + 1];
    match name.get_mut(..host.len()) {
        Some(dst) => crate::copy(dst, host.as_bytes()),
        None => return Err(io::ErrorKind::InvalidInput.into()),
    }
    let hints = AddrInfo {
        ai_flags: 0,
        ai_family: 0,
        ai_socktype: SOCK_STREAM,
        ai_protocol: 0,
        ai_addrlen: 0,
        ai_addr: std::ptr::null_mut(),
        ai_canonname: std::ptr::null(),
        ai_next: std::ptr::null(),
    };
    let mut list: *const AddrInfo = std::ptr::null();
    // SAFETY: `name` is NUL-terminated (zero-filled past the host), `hints` a valid addrinfo
    // with null pointers, and `list` receives the result list, freed below.
    let code = unsafe { getaddrinfo(name.as_ptr().cast(), std::ptr::null(), &hints, &mut list) };
    if code == EAI_SYSTEM {
        return Err(io::Error::last_os_error());
    }
    if code != 0 {
        return Err(lookup_error(code));
    }
    let mut last = None;
    let mut next = list;
    // SAFETY: `next` walks the list getaddrinfo returned, which stays valid (and ours) until
    // freeaddrinfo.
    while let Some(ai) = unsafe { next.as_ref() } {
        next = ai.ai_next;
        // IPv4 and IPv6 addresses only, as std takes them.
        let family = ai.ai_family;
        if family != AF_INET && family != AF_INET6 || ai.ai_addrlen < 4 {
            continue;
        }
        // SAFETY: `ai_addr` points to `ai_addrlen` (at least 4) bytes of a `sockaddr_in` or
        // `sockaddr_in6`, whose port is 2 bytes at offset 2, in network order.
        unsafe {
            ai.ai_addr
                .add(2)
                .cast::<[u8; 2]>()
                .write_unaligned(port.to_be_bytes())
        };
        last = Some(connect_to(ai));
        if let Some(Ok(_)) = last {
            break;
        }
    }
    // SAFETY: the list getaddrinfo returned, freed once; nothing points into it any more.
    unsafe { freeaddrinfo(list) };
    last.unwrap_or_else(|| Err(lookup_error(0)))
}

/// A TCP connection to the address of `ai`, as std's `TcpStream::connect` makes it: a
/// close-on-exec socket, `connect` again when interrupted.
fn connect_to(ai: &AddrInfo) -> io::Result<TcpStream> {
    // SAFETY: creates a socket; the descriptor is owned by `stream` at once.
    let fd = unsafe { socket(ai.ai_family, SOCK_STREAM | SOCK_CLOEXEC, ai.ai_protocol) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a socket just created and owned by nothing else.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    loop {
        // SAFETY: `ai_addr` points to `ai_addrlen` bytes of a socket address of the family
        // the socket was made for.
        if unsafe { connect_fd(fd, ai.ai_addr, ai.ai_addrlen) } == 0 {
            return Ok(stream);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(EINTR) => {}
            // An interrupted connect completed meanwhile.
            Some(EISCONN) => return Ok(stream),
            _ => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    #[test]
    fn connects_by_literal_and_by_name() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(super::connect("127.0.0.1", port).is_ok());
        assert!(super::connect("localhost", port).is_ok());
        // Nothing listens on a port the listener had and gave back: the connect error comes back.
        drop(listener);
        let e = super::connect("127.0.0.1", port).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn connects_to_an_ipv6_literal() {
        // Where the machine has IPv6 loopback.
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            return;
        };
        let port = listener.local_addr().unwrap().port();
        let s = super::connect("::1", port).unwrap();
        assert_eq!(s.peer_addr().unwrap(), listener.local_addr().unwrap());
    }

    #[test]
    fn a_name_that_does_not_resolve_says_so() {
        let e = super::connect("no-such-host.invalid", 9001).unwrap_err();
        let std = std::net::TcpStream::connect(("no-such-host.invalid", 9001)).unwrap_err();
        assert_eq!(e.to_string(), std.to_string());
    }
}
