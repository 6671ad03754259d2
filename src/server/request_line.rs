//! Tolerance for raw `"` in HTTP/1 request targets.
//!
//! Entra's older provisioning engine sends filters with unencoded quotes
//! (`GET /scim/v2/Users?filter=externalId+eq+"abc"`). The `http` crate refuses a raw `"` in a
//! query before any handler runs, so this reader percent-encodes `"` as `%22` inside request
//! targets only: in a line that starts with an upper-case method, a space and `/`, up to the
//! next space. Such a line cannot occur inside a JSON body (a JSON token never starts with an
//! upper-case letter) nor a chunk-size line, so bodies pass through untouched. It is only used
//! on HTTP/1 connections; HTTP/2 (ALPN `h2`, or the `PRI` preface) is passed through as is.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where the scanner is within the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    LineStart,
    Method(usize),
    AfterMethod,
    Target,
    Other,
    /// Not HTTP/1 (an HTTP/2 preface): never rewrite.
    Off,
}

/// A stream whose reads have raw `"` in request targets encoded as `%22`.
pub struct QuoteTolerant<T> {
    inner: T,
    state: State,
    first_line: bool,
    /// The first bytes of the first line, to recognise the HTTP/2 preface (`PRI`).
    first_method: Vec<u8>,
    pending: VecDeque<u8>,
}

impl<T> QuoteTolerant<T> {
    /// Wraps `inner`; with `enabled` false it passes every byte through.
    pub fn new(inner: T, enabled: bool) -> QuoteTolerant<T> {
        let state = if enabled { State::LineStart } else { State::Off };
        QuoteTolerant {
            inner,
            state,
            first_line: true,
            first_method: Vec::new(),
            pending: VecDeque::new(),
        }
    }

    fn scan(&mut self, b: u8) {
        let next = match (self.state, b) {
            (State::Off, _) => State::Off,
            (State::Target, b'"') => {
                self.pending.extend(b"%22");
                return;
            }
            (State::Target, b' ' | b'\r') => State::Other,
            (State::Target, _) => State::Target,
            (_, b'\n') => State::LineStart,
            (State::LineStart, b'A'..=b'Z') => State::Method(1),
            (State::Method(n), b'A'..=b'Z') if n < 16 => State::Method(n + 1),
            (State::Method(3), b' ') if self.first_line && self.first_method == b"PRI" => {
                State::Off
            }
            (State::Method(_), b' ') => State::AfterMethod,
            (State::AfterMethod, b'/') => State::Target,
            _ => State::Other,
        };
        if next == State::LineStart {
            self.first_line = false;
        }
        if self.first_line && matches!(next, State::Method(_)) {
            self.first_method.push(b);
        }
        self.state = next;
        self.pending.push_back(b);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for QuoteTolerant<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.state == State::Off && self.pending.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        if self.pending.is_empty() {
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut read))?;
            for &b in read.filled() {
                self.scan(b);
            }
        }
        let take = self.pending.len().min(buf.remaining());
        let bytes: Vec<u8> = self.pending.drain(..take).collect();
        buf.put_slice(&bytes);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for QuoteTolerant<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn through(input: &[u8], enabled: bool) -> Vec<u8> {
        let mut out = Vec::new();
        QuoteTolerant::new(input, enabled).read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn encodes_quotes_in_request_targets_only() {
        let req = b"GET /Users?filter=a+eq+\"x\" HTTP/1.1\r\nHost: h\r\nX: \"y\"\r\n\r\n\
                    POST /Users HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}";
        let out = through(req, true).await;
        let expected = b"GET /Users?filter=a+eq+%22x%22 HTTP/1.1\r\nHost: h\r\nX: \"y\"\r\n\r\n\
                    POST /Users HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}";
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(expected));
    }

    #[tokio::test]
    async fn leaves_http2_and_disabled_streams_alone() {
        let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\nGET /\"x\" ";
        assert_eq!(through(h2, true).await, h2.to_vec());
        let req = b"GET /\"x\" HTTP/1.1\r\n\r\n";
        assert_eq!(through(req, false).await, req.to_vec());
    }
}
