//! Arbitrary strings as `AWS_LAMBDA_RUNTIME_API`, into `Endpoint::parse`.
//!
//! Checks, when it parses: host and prefix hold no whitespace or control character; the port
//! is not 0; the prefix is empty or starts with `/` and does not end with one; and the `/next`
//! request encoded for it parses back with httparse as a `GET` whose path is the prefix
//! followed by `/2018-06-01/runtime/invocation/next`, with one `Host` header naming the
//! host and port. Parsing is also repeatable and `FromStr` agrees.
#![no_main]

use lamina_core::{Endpoint, request};
use libfuzzer_sys::fuzz_target;

fn clean(s: &str) -> bool {
    s.bytes().all(|b| b > 0x20 && b != 0x7f)
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = core::str::from_utf8(data) else {
        return;
    };
    let parsed = Endpoint::parse(value);
    assert_eq!(parsed, value.parse::<Endpoint>());
    let Ok(ep) = parsed else {
        return;
    };
    let (host, port, prefix) = (ep.host(), ep.port(), ep.prefix());
    assert!(!host.is_empty(), "empty host from {value:?}");
    assert!(clean(host), "host {host:?} from {value:?}");
    assert!(clean(prefix), "prefix {prefix:?} from {value:?}");
    assert_ne!(port, 0);
    assert!(
        prefix.is_empty() || (prefix.starts_with('/') && !prefix.ends_with('/')),
        "prefix {prefix:?} from {value:?}"
    );
    for c in ['?', '#'] {
        assert!(!prefix.contains(c), "prefix {prefix:?} holds {c:?}");
    }

    let mut out = [0u8; 2048];
    let n = request::next(&ep, &mut out).expect("a /next request fits in 2 KiB");
    let bytes = &out[..n];
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    let status = req
        .parse(bytes)
        .unwrap_or_else(|e| panic!("{e:?} for {value:?}: {:?}", String::from_utf8_lossy(bytes)));
    assert_eq!(status, httparse::Status::Complete(n), "request not whole");
    assert_eq!(req.method, Some("GET"));
    assert_eq!(req.version, Some(1));
    let path = req.path.expect("a path");
    assert!(path.starts_with(prefix), "path {path:?} prefix {prefix:?}");
    assert_eq!(
        path.strip_prefix(prefix),
        Some("/2018-06-01/runtime/invocation/next"),
        "path {path:?} for {value:?}"
    );
    let hosts: Vec<&[u8]> = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"))
        .map(|h| h.value)
        .collect();
    let want = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    assert_eq!(hosts, [want.as_bytes()], "Host for {value:?}");

    // What it parsed to parses again to the same endpoint.
    let again = format!("http://{}{prefix}", want);
    assert_eq!(Endpoint::parse(&again).as_ref(), Ok(&ep), "{again:?}");
});
