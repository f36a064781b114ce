//! The request body a handler sees: bytes, already decoded from base64 when the event said
//! `isBase64Encoded`.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Frame, SizeHint};

/// An HTTP body held whole in memory: text or binary, it is bytes. It implements
/// [`http_body::Body`] (one data frame), so frameworks such as axum take it as it is.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body(Bytes);

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Body(Bytes::new())
    }

    /// The bytes (empty once a framework has read the body through [`http_body::Body`]).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The body as text, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The bytes, without copying.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Body {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => f.debug_tuple("Body").field(&s).finish(),
            None => f.debug_tuple("Body").field(&self.0).finish(),
        }
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body(b.into())
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body(s.into())
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Self {
        Body(Bytes::from_static(b))
    }
}

impl From<Cow<'static, str>> for Body {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => s.into(),
            Cow::Owned(s) => s.into(),
        }
    }
}

impl From<Body> for Bytes {
    fn from(b: Body) -> Self {
        b.0
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let data = std::mem::take(&mut self.get_mut().0);
        Poll::Ready((!data.is_empty()).then(|| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.len() as u64)
    }
}

/// Reads a whole response body into one buffer.
pub(crate) async fn collect<B: http_body::Body>(body: B) -> Result<Bytes, B::Error> {
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(mut data) = frame?.into_data() else {
            continue; // trailers: no place for them in a Lambda response
        };
        let data = data.copy_to_bytes(data.remaining());
        // One frame (the usual case) is kept without copying.
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            Some(f) => {
                rest.extend_from_slice(&f);
                rest.extend_from_slice(&data);
            }
            None => rest.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| rest.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use lamina_mio::block_on;

    #[test]
    fn one_frame_then_the_end() {
        let body = Body::from("hello");
        assert_eq!(body.as_str(), Some("hello"));
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(5));
        assert_eq!(block_on(collect(body)).unwrap(), "hello");
        assert!(http_body::Body::is_end_stream(&Body::empty()));
        assert_eq!(block_on(collect(Body::empty())).unwrap(), "");
        assert_eq!(format!("{:?}", Body::from(vec![0xff])), "Body(b\"\\xff\")");
    }

    /// A body of several frames, to check they are joined in order.
    struct Frames(Vec<&'static str>);

    impl http_body::Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if self.0.is_empty() {
                return Poll::Ready(None);
            }
            let s = self.0.remove(0);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(s.as_bytes())))))
        }
    }

    #[test]
    fn frames_are_joined() {
        let all = block_on(collect(Frames(vec!["a", "", "bc", "d"]))).unwrap();
        assert_eq!(all, "abcd");
    }
}
