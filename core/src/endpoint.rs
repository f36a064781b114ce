//! The Runtime API's address, parsed from `AWS_LAMBDA_RUNTIME_API`.
//!
//! Lambda sets `host:port`. Local emulators add a scheme and a path prefix
//! (`http://127.0.0.1:9000/.rt` from cargo-lambda); both are accepted, and the prefix is put in
//! front of every request path.

use heapless::String;

use crate::id::class;

/// Longest host name (DNS: 253) plus room for an IPv6 literal with a zone.
pub const MAX_HOST: usize = 255;
/// Longest accepted path prefix.
pub const MAX_PREFIX: usize = 256;

/// Why an `AWS_LAMBDA_RUNTIME_API` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointError {
    /// The value is empty.
    Empty,
    /// It contains a space, tab or line break.
    Whitespace,
    /// It contains another control character.
    ControlCharacter,
    /// A scheme other than `http://` (TLS is not part of the Runtime API).
    UnsupportedScheme,
    /// No `:port` after the host.
    MissingPort,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// The host is empty or not a valid host name, IPv4 or bracketed IPv6 address.
    InvalidHost,
    /// The path prefix holds characters that cannot go in a request path, or is too long.
    InvalidPrefix,
}

impl EndpointError {
    /// A short description, for error messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            EndpointError::Empty => "empty",
            EndpointError::Whitespace => "contains whitespace",
            EndpointError::ControlCharacter => "contains a control character",
            EndpointError::UnsupportedScheme => "unsupported scheme (only http:// is allowed)",
            EndpointError::MissingPort => "missing port (expected host:port)",
            EndpointError::InvalidPort => "invalid port (expected 1-65535)",
            EndpointError::InvalidHost => "invalid host",
            EndpointError::InvalidPrefix => "invalid path prefix",
        }
    }
}

impl core::fmt::Display for EndpointError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for EndpointError {}

/// Where the Runtime API listens: host, port and an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    host: String<MAX_HOST>,
    port: u16,
    ipv6: bool,
    prefix: String<MAX_PREFIX>,
    /// What every request line ends with and its first headers, encoded once:
    /// ` HTTP/1.1\r\nHost: host:port\r\nUser-Agent: lamina/x.y.z\r\n`.
    line_end: heapless::Vec<u8, LINE_END>,
    /// How every answer's request line starts, encoded once:
    /// `POST {prefix}/2018-06-01/runtime/invocation/`.
    post_invocation: heapless::Vec<u8, POST_INVOCATION>,
}

/// Room for [`Endpoint`]'s encoded `POST {prefix}/2018-06-01/runtime/invocation/`.
const POST_INVOCATION: usize = 40 + MAX_PREFIX;

/// Room for [`Endpoint`]'s encoded line end: the fixed text, brackets, the host and the port.
const LINE_END: usize = 64 + MAX_HOST;

impl Endpoint {
    /// Parses an `AWS_LAMBDA_RUNTIME_API` value such as `127.0.0.1:9001`,
    /// `http://localhost:9000/.rt` or `[::1]:9001`.
    pub fn parse(value: &str) -> Result<Endpoint, EndpointError> {
        if value.is_empty() {
            return Err(EndpointError::Empty);
        }
        for &b in value.as_bytes() {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
                return Err(EndpointError::Whitespace);
            }
            if b < 0x20 || b == 0x7f {
                return Err(EndpointError::ControlCharacter);
            }
        }
        // Bytes throughout, not `str` searches and slices: their pattern searchers and
        // boundary checks are large code for a binary-size-conscious runtime, and every byte
        // that ends up in the host or the prefix is checked to be ASCII anyway.
        let bytes = value.as_bytes();
        let rest = match bytes.windows(3).position(|w| w == b"://") {
            Some(i) => {
                let (scheme, rest) = bytes.split_at_checked(i).unwrap_or_default();
                if !crate::buf::eq_ignore_case(scheme, b"http") {
                    return Err(EndpointError::UnsupportedScheme);
                }
                rest.get(3..).unwrap_or_default()
            }
            None => bytes,
        };
        let slash = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let (authority, mut prefix) = rest.split_at_checked(slash).unwrap_or_default();
        while let [p @ .., b'/'] = prefix {
            prefix = p;
        }
        if !prefix.iter().all(|&b| class::of(b) & class::PATH != 0) {
            return Err(EndpointError::InvalidPrefix);
        }
        let (host, port, ipv6) = if let [b'[', v6 @ ..] = authority {
            let Some(close) = v6.iter().position(|&b| b == b']') else {
                return Err(EndpointError::InvalidHost);
            };
            let (host, after) = v6.split_at_checked(close).unwrap_or_default();
            if !is_ipv6(host) {
                return Err(EndpointError::InvalidHost);
            }
            match after {
                [b']', b':', port @ ..] => (host, port, true),
                [b']'] => return Err(EndpointError::MissingPort),
                _ => return Err(EndpointError::InvalidHost),
            }
        } else {
            let Some(colon) = authority.iter().position(|&b| b == b':') else {
                if authority.is_empty() {
                    return Err(EndpointError::InvalidHost);
                }
                return Err(EndpointError::MissingPort);
            };
            let (host, port) = authority.split_at_checked(colon).unwrap_or_default();
            if !is_hostname(host) {
                return Err(EndpointError::InvalidHost);
            }
            (host, port.get(1..).unwrap_or_default(), false)
        };
        if port.is_empty() {
            return Err(EndpointError::MissingPort);
        }
        let port = match crate::buf::parse_u64(port) {
            Some(p @ 1..=65535) => p as u16,
            _ => return Err(EndpointError::InvalidPort),
        };
        // Both were checked to be ASCII. Everything is written into `ep` in place: an
        // `Endpoint` is ~1 KB, and building its parts apart cost a copy of each.
        let host = core::str::from_utf8(host).map_err(|_| EndpointError::InvalidHost)?;
        let prefix = core::str::from_utf8(prefix).map_err(|_| EndpointError::InvalidPrefix)?;
        let mut ep = Endpoint {
            host: String::new(),
            port,
            ipv6,
            prefix: String::new(),
            line_end: heapless::Vec::new(),
            post_invocation: heapless::Vec::new(),
        };
        ep.host
            .as_mut_view()
            .push_str(host)
            .map_err(|_| EndpointError::InvalidHost)?;
        ep.prefix
            .as_mut_view()
            .push_str(prefix)
            .map_err(|_| EndpointError::InvalidPrefix)?;
        // Written straight into `line_end`'s storage, then cut to what was written.
        let _ = ep.line_end.resize(LINE_END, 0);
        let mut w = crate::buf::Writer::new(&mut ep.line_end);
        // `host:port`, with brackets for IPv6 (whole pieces: `Writer::byte` is inlined code at
        // every call, `put` a call).
        let (open, close): (&[u8], &[u8]) = if ipv6 {
            (b" HTTP/1.1\r\nHost: [", b"]:")
        } else {
            (b" HTTP/1.1\r\nHost: ", b":")
        };
        w.put(open);
        w.put(host.as_bytes());
        w.put(close);
        w.dec(u64::from(port));
        w.put(b"\r\nUser-Agent: ");
        w.put(crate::request::USER_AGENT.as_bytes());
        w.put(b"\r\n");
        let n = w.finish().map_err(|_| EndpointError::InvalidHost)?;
        ep.line_end.truncate(n);
        append(
            ep.post_invocation.as_mut_view(),
            &[b"POST ", ep.prefix.as_bytes(), crate::request::INVOCATION],
        )
        .map_err(|_| EndpointError::InvalidPrefix)?;
        Ok(ep)
    }

    /// `POST {prefix}/2018-06-01/runtime/invocation/`: how every answer's request line starts.
    pub(crate) fn post_invocation(&self) -> &[u8] {
        &self.post_invocation
    }

    /// ` HTTP/1.1`, `Host` and `User-Agent`: the end of every request line and the headers
    /// every request has.
    pub(crate) fn line_end(&self) -> &[u8] {
        &self.line_end
    }

    /// The host, without brackets for IPv6 (ready for `(host, port)` name resolution).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path prefix put before `/2018-06-01/...`: empty, or starting with `/` and without a
    /// trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl core::str::FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

/// Appends `pieces` to `v`; `Err` when they do not fit.
fn append(v: &mut heapless::vec::VecView<u8>, pieces: &[&[u8]]) -> Result<(), ()> {
    for piece in pieces {
        v.extend_from_slice(piece).map_err(drop)?;
    }
    Ok(())
}

fn is_hostname(host: &[u8]) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    host.split(|&b| b == b'.').all(|label| {
        label.len() <= 63
            && !matches!(label.first(), None | Some(b'-'))
            && label.last() != Some(&b'-')
            && label.iter().all(|&b| class::of(b) & class::HOST != 0)
    })
}

// `iter().any`, not `contains`: `<[u8]>::contains` is a function of its own in the binary.
#[allow(clippy::manual_contains)]
fn is_ipv6(host: &[u8]) -> bool {
    // The address part must look like IPv6 (hex, colons, an embedded IPv4); a zone after `%` is
    // kept as it is if it is a plain interface name. Exact validation is left to the resolver.
    let (addr, zone) = match host.iter().position(|&b| b == b'%') {
        Some(i) => {
            let (addr, zone) = host.split_at_checked(i).unwrap_or_default();
            (addr, zone.get(1..))
        }
        None => (host, None),
    };
    let addr_ok = addr.len() >= 2
        && addr.iter().any(|&b| b == b':')
        && addr.iter().all(|&b| class::of(b) & class::V6 != 0);
    let zone_ok = match zone {
        None => true,
        Some(z) => !z.is_empty() && z.iter().all(|&b| class::of(b) & class::ZONE != 0),
    };
    addr_ok && zone_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (std::string::String, u16, std::string::String) {
        let e = Endpoint::parse(s).unwrap();
        (e.host().into(), e.port(), e.prefix().into())
    }

    extern crate std;

    #[test]
    fn accepts_lambda_and_emulator_forms() {
        assert_eq!(ok("127.0.0.1:9001"), ("127.0.0.1".into(), 9001, "".into()));
        assert_eq!(ok("localhost:80"), ("localhost".into(), 80, "".into()));
        assert_eq!(
            ok("http://127.0.0.1:9000/.rt"),
            ("127.0.0.1".into(), 9000, "/.rt".into())
        );
        assert_eq!(
            ok("HTTP://host.docker.internal:9000/a/b/"),
            ("host.docker.internal".into(), 9000, "/a/b".into())
        );
        assert_eq!(ok("[::1]:9001"), ("::1".into(), 9001, "".into()));
        assert_eq!(
            ok("http://[fe80::1%eth0]:9001/x"),
            ("fe80::1%eth0".into(), 9001, "/x".into())
        );
        assert_eq!(ok("my_host:1/"), ("my_host".into(), 1, "".into()));
    }

    #[test]
    fn refuses_with_the_reason() {
        use EndpointError::*;
        let cases: &[(&str, EndpointError)] = &[
            ("", Empty),
            (" 127.0.0.1:9001", Whitespace),
            ("127.0.0.1:9001\n", Whitespace),
            ("127.0.0.1:90\x0001", ControlCharacter),
            ("127.0.0.1:9001\x7f", ControlCharacter),
            ("https://127.0.0.1:9001", UnsupportedScheme),
            ("unix://sock", UnsupportedScheme),
            ("127.0.0.1", MissingPort),
            ("127.0.0.1:", MissingPort),
            ("[::1]", MissingPort),
            ("127.0.0.1:0", InvalidPort),
            ("127.0.0.1:65536", InvalidPort),
            ("127.0.0.1:-1", InvalidPort),
            ("127.0.0.1:9001:1", InvalidPort),
            (":9001", InvalidHost),
            ("::1:9001", InvalidHost),
            ("[::1:9001", InvalidHost),
            ("[zz]:1", InvalidHost),
            ("-bad-.host:1", InvalidHost),
            ("h\u{e9}llo:1", InvalidHost),
            ("http://", InvalidHost),
            ("127.0.0.1:9001/a?b", InvalidPrefix),
            ("127.0.0.1:9001/a#b", InvalidPrefix),
        ];
        for (input, want) in cases {
            assert_eq!(Endpoint::parse(input), Err(*want), "{input:?}");
        }
    }

    #[test]
    fn authority_brackets_ipv6() {
        for (input, want) in [
            ("[::1]:9001", "[::1]:9001"),
            ("http://localhost:80/.rt", "localhost:80"),
        ] {
            let e = Endpoint::parse(input).unwrap();
            let line_end = std::format!(
                " HTTP/1.1\r\nHost: {want}\r\nUser-Agent: {}\r\n",
                crate::request::USER_AGENT
            );
            assert_eq!(e.line_end(), line_end.as_bytes());
        }
    }
}
