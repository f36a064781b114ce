//! Connecting to the Runtime API's host, through the C library's `getaddrinfo`.
//!
//! std's resolver (`(&str, u16)` as `ToSocketAddrs`) does the same after trying to parse an IP
//! literal, but its error path formats `gai_strerror` into a `String` held in an `io::Error`,
//! and that `String` error's `Debug` brings `str`'s escaping and Unicode tables, with a glibc
//! version parser besides: about 9 KB of a bootstrap that, under Lambda, only ever connects to
//! an IP literal. Here the error keeps the code and writes the same message when displayed.
//! An IP literal (what Lambda gives) goes through `getaddrinfo` too, which recognises it
//! without any lookup or system call: std's parser would be another 1.9 KB.
//!
//! Built for 64-bit x86 and Arm Linux (what Lambda runs), where `struct addrinfo` and the
//! constants below are what they are; elsewhere std's resolver is used.

use std::ffi::{CStr, c_char, c_int};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpStream};

use lamina_core::endpoint::MAX_HOST;

/// `struct addrinfo` (glibc and musl on Linux).
#[repr(C)]
struct AddrInfo {
    ai_flags: c_int,
    ai_family: c_int,
    ai_socktype: c_int,
    ai_protocol: c_int,
    ai_addrlen: u32,
    ai_addr: *const u8,
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
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const SOCK_STREAM: c_int = 1;
const EAI_SYSTEM: c_int = -11;

/// A failed lookup: `getaddrinfo`'s error code, or 0 when it found no address. Displayed as
/// std's resolver words it.
#[derive(Debug)]
struct LookupError(c_int);

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("could not resolve to any addresses");
        }
        // SAFETY: gai_strerror returns a NUL-terminated string that stays valid (a static
        // message) for any code.
        let detail = unsafe { CStr::from_ptr(gai_strerror(self.0)) };
        f.write_str("failed to lookup address information: ")?;
        f.write_str(detail.to_str().unwrap_or("unknown error"))
    }
}

impl std::error::Error for LookupError {}

/// Connects to `host:port`, trying each address it resolves to in turn (the last failure is
/// returned), as `TcpStream::connect((host, port))` does.
pub(crate) fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    // An endpoint's host fits MAX_HOST and holds no control character (so no NUL).
    let mut name = [0u8; MAX_HOST + 1];
    match name.get_mut(..host.len()) {
        Some(dst) => dst.copy_from_slice(host.as_bytes()),
        None => return Err(io::ErrorKind::InvalidInput.into()),
    }
    let hints = AddrInfo {
        ai_flags: 0,
        ai_family: 0,
        ai_socktype: SOCK_STREAM,
        ai_protocol: 0,
        ai_addrlen: 0,
        ai_addr: std::ptr::null(),
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
        return Err(io::Error::other(LookupError(code)));
    }
    let mut last = None;
    let mut next = list;
    // SAFETY: `next` walks the list getaddrinfo returned, which stays valid until
    // freeaddrinfo; each entry's `ai_addr` points to `ai_addrlen` bytes.
    while let Some(ai) = unsafe { next.as_ref() } {
        next = ai.ai_next;
        // SAFETY: see above.
        let raw = unsafe { std::slice::from_raw_parts(ai.ai_addr, ai.ai_addrlen as usize) };
        let Some(addr) = socket_addr(raw, port) else {
            continue;
        };
        match TcpStream::connect(addr) {
            Ok(s) => {
                last = Some(Ok(s));
                break;
            }
            Err(e) => last = Some(Err(e)),
        }
    }
    // SAFETY: the list getaddrinfo returned, freed once; nothing points into it any more.
    unsafe { freeaddrinfo(list) };
    last.unwrap_or_else(|| Err(io::Error::new(io::ErrorKind::InvalidInput, LookupError(0))))
}

/// The address in a `struct sockaddr_in` or `sockaddr_in6` (`raw`), with `port`.
fn socket_addr(raw: &[u8], port: u16) -> Option<SocketAddr> {
    let u32_at = |i: usize| Some(u32::from_ne_bytes(raw.get(i..i + 4)?.try_into().ok()?));
    let family = u16::from_ne_bytes(raw.get(..2)?.try_into().ok()?);
    match family {
        AF_INET => {
            let ip: [u8; 4] = raw.get(4..8)?.try_into().ok()?;
            Some(SocketAddrV4::new(Ipv4Addr::from(ip), port).into())
        }
        AF_INET6 => {
            let ip: [u8; 16] = raw.get(8..24)?.try_into().ok()?;
            let (flowinfo, scope) = (u32_at(4)?, u32_at(24)?);
            Some(SocketAddrV6::new(Ipv6Addr::from(ip), port, flowinfo, scope).into())
        }
        _ => None,
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
