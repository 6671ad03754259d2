//! Tolerance for raw `"` in HTTP/1 request targets, aware of where each message ends.
//!
//! Entra's older provisioning engine sends filters with unencoded quotes
//! (`GET /scim/v2/Users?filter=externalId+eq+"abc"`). The `http` crate refuses a raw `"` in a
//! request target before any handler runs, so this reader percent-encodes `"` as `%22` in
//! origin-form targets (`/…`) and nowhere else.
//!
//! To know which bytes are a request target, [`Rewriter`] follows HTTP/1.1 message framing
//! the way hyper (which parses the stream after us) does: the request line, the header lines,
//! then a body delimited by `Content-Length` or `Transfer-Encoding: chunked` (chunk-size lines,
//! extensions, data, trailers), and only then the next request line. A body is never looked
//! into, so no byte of it can be rewritten and the message boundaries hyper sees are the ones
//! the client sent (a rewrite inside a body once let a crafted body carry a second request).
//!
//! Wherever the framing is not plain (both or repeated `Content-Length`/`Transfer-Encoding`, a
//! non-chunked transfer coding, a folded or malformed header line, an upgrade or `CONNECT`, a
//! head over [`MAX_HEAD`], an HTTP/2 preface) the rewriter stops for the rest of the connection
//! and passes every later byte through unchanged: from there hyper sees exactly what the
//! client sent, and answers or refuses it itself. Passing through can only lose the quote
//! tolerance, never move a boundary.
//!
//! It is used on HTTP/1 connections only; HTTP/2 (ALPN `h2`) is passed through as is.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The longest request head (request line and headers) followed; hyper's own read buffer for
/// a head is 64 KiB (`max_buf_size` in `listener.rs`), so a longer head is refused by hyper.
pub const MAX_HEAD: usize = 64 * 1024;

/// Where the rewriter is within the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages: empty lines are skipped (as httparse does), then a method.
    Idle,
    /// Between messages, after a `\r`.
    IdleCr,
    /// Reading the method token (kept in `line`).
    Method,
    /// The first byte of the request target.
    TargetStart,
    /// Reading the request target; `encode` when it is origin-form (starts with `/`).
    Target {
        encode: bool,
    },
    /// The rest of the request line (the version), up to its `\n`.
    Version,
    /// A header line, collected in `line` up to its `\n`.
    Header,
    /// A `Content-Length` body: this many bytes left.
    Body(u64),
    /// The first hex digit of a chunk-size line.
    ChunkStart,
    /// More hex digits of a chunk size: the size so far and how many digits it had.
    ChunkSize(u64, u8),
    /// Spaces or tabs after a chunk size.
    ChunkSizeSpace(u64),
    /// A chunk extension, up to `\r`.
    ChunkExtension(u64),
    /// The `\n` ending a chunk-size line.
    ChunkSizeLf(u64),
    /// Chunk data: this many bytes left.
    ChunkData(u64),
    /// The `\r\n` after chunk data.
    ChunkDataCr,
    ChunkDataLf,
    /// After the last chunk: `\r\n` ends the message, anything else starts a trailer line.
    TrailersCr,
    TrailersLf,
    /// A trailer line, up to its `\r`, then its `\n`.
    Trailer,
    TrailerLf,
    /// Framing not followed (see the module doc): every byte passes through.
    Off,
}

/// What the headers of the message being read said about its body.
#[derive(Debug, Default, Clone, Copy)]
struct Framing {
    content_length: Option<u64>,
    content_length_headers: usize,
    transfer_encoding_headers: usize,
    chunked: bool,
    upgrade: bool,
    /// A header line the rewriter does not follow exactly as hyper would.
    unclear: bool,
}

/// The most hex digits a chunk size may have and still be followed (httparse's limit).
const MAX_CHUNK_SIZE_DIGITS: u8 = 16;

/// Percent-encodes `"` in the request targets of an HTTP/1 byte stream, fed in pieces.
#[derive(Debug)]
pub struct Rewriter {
    state: State,
    /// The method, a header line or a trailer being collected.
    line: Vec<u8>,
    /// Bytes of the current head so far.
    head_len: usize,
    framing: Framing,
    first_message: bool,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter::new()
    }
}

impl Rewriter {
    pub fn new() -> Rewriter {
        Rewriter {
            state: State::Idle,
            line: Vec::new(),
            head_len: 0,
            framing: Framing::default(),
            first_message: true,
        }
    }

    /// A rewriter that passes everything through.
    pub fn off() -> Rewriter {
        Rewriter { state: State::Off, ..Rewriter::new() }
    }

    /// Whether every further byte passes through unchanged.
    pub fn is_off(&self) -> bool {
        self.state == State::Off
    }

    /// Rewrites `input`, the next bytes of the stream, appending the result to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while let Some((&b, rest)) = input.split_first() {
            match self.state {
                State::Off => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Body(left) | State::ChunkData(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let (body, rest) = input.split_at(take);
                    out.extend_from_slice(body);
                    input = rest;
                    let left = left - take as u64;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => self.message_done(),
                        (State::Body(_), n) => State::Body(n),
                        (_, 0) => State::ChunkDataCr,
                        (_, n) => State::ChunkData(n),
                    };
                }
                State::Target { .. } | State::Version | State::Header => {
                    // The bytes up to the next one that can change the state, at once (what
                    // `byte` would do to each of them), within the head's limit.
                    let run = input.iter().position(|&b| self.ends_run(b)).unwrap_or(input.len());
                    let run = run.min(MAX_HEAD.saturating_sub(self.head_len));
                    if run == 0 {
                        self.byte(b, out);
                        input = rest;
                        continue;
                    }
                    let (bytes, rest) = input.split_at(run);
                    if self.state == State::Header {
                        self.line.extend_from_slice(bytes);
                    }
                    out.extend_from_slice(bytes);
                    self.head_len += run;
                    input = rest;
                }
                _ => {
                    self.byte(b, out);
                    input = rest;
                }
            }
        }
    }

    /// Whether `b` may change the state (or be rewritten) in a request target, the version or
    /// a header line; every other byte there is passed on as it is.
    fn ends_run(&self, b: u8) -> bool {
        match self.state {
            State::Target { encode } => matches!(b, b' ' | b'\r' | b'\n') || (encode && b == b'"'),
            _ => b == b'\n',
        }
    }

    /// One byte of a head, a chunk-size line or a trailer.
    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        let in_head = matches!(
            self.state,
            State::Method
                | State::TargetStart
                | State::Target { .. }
                | State::Version
                | State::Header
        );
        if in_head {
            self.head_len += 1;
            if self.head_len > MAX_HEAD {
                return self.turn_off(b, out);
            }
        }
        let next = match (self.state, b) {
            (State::Idle, b'\n') => State::Idle,
            (State::Idle, b'\r') => State::IdleCr,
            (State::IdleCr, b'\n') => State::Idle,
            (State::Idle, b) if is_token(b) => {
                self.line.clear();
                self.line.push(b);
                self.head_len = 1;
                self.framing = Framing::default();
                State::Method
            }
            (State::Method, b' ') => {
                if self.first_message && self.line == b"PRI" {
                    // The HTTP/2 connection preface (prior knowledge).
                    return self.turn_off(b, out);
                }
                if self.line == b"CONNECT" {
                    self.framing.upgrade = true;
                }
                State::TargetStart
            }
            (State::Method, b) if is_token(b) => {
                self.line.push(b);
                State::Method
            }
            (State::TargetStart, b' ' | b'\r' | b'\n') => return self.turn_off(b, out),
            // Only an origin-form target (`/path?query`) is encoded.
            (State::TargetStart, b) => State::Target { encode: b == b'/' },
            (State::Target { encode: true }, b'"') => {
                out.extend_from_slice(b"%22");
                return;
            }
            (State::Target { .. }, b' ') => State::Version,
            (State::Target { .. }, b'\r' | b'\n') => return self.turn_off(b, out),
            (State::Target { encode }, _) => State::Target { encode },
            (State::Version, b'\n') => {
                self.line.clear();
                State::Header
            }
            (State::Version, _) => State::Version,
            (State::Header, b'\n') => {
                out.push(b);
                let line = std::mem::take(&mut self.line);
                self.state = self.header_line(&line);
                self.line = line;
                self.line.clear();
                return;
            }
            (State::Header, b) => {
                self.line.push(b);
                State::Header
            }
            (State::ChunkStart, b) if b.is_ascii_hexdigit() => State::ChunkSize(hex(b), 1),
            // More than 16 digits (leading zeros too) is where httparse stops agreeing with
            // hyper: such a body is not followed.
            (State::ChunkSize(_, MAX_CHUNK_SIZE_DIGITS), _) if b.is_ascii_hexdigit() => {
                return self.turn_off(b, out);
            }
            (State::ChunkSize(n, digits), b) if b.is_ascii_hexdigit() => {
                match n.checked_mul(16).and_then(|n| n.checked_add(hex(b))) {
                    Some(n) => State::ChunkSize(n, digits + 1),
                    None => return self.turn_off(b, out),
                }
            }
            (State::ChunkSize(n, _) | State::ChunkSizeSpace(n), b' ' | b'\t') => {
                State::ChunkSizeSpace(n)
            }
            (State::ChunkSize(n, _) | State::ChunkSizeSpace(n), b';') => State::ChunkExtension(n),
            (
                State::ChunkSize(n, _) | State::ChunkSizeSpace(n) | State::ChunkExtension(n),
                b'\r',
            ) => State::ChunkSizeLf(n),
            (State::ChunkExtension(n), b) if b != b'\n' => State::ChunkExtension(n),
            (State::ChunkSizeLf(0), b'\n') => State::TrailersCr,
            (State::ChunkSizeLf(n), b'\n') => State::ChunkData(n),
            (State::ChunkDataCr, b'\r') => State::ChunkDataLf,
            (State::ChunkDataLf, b'\n') => State::ChunkStart,
            (State::TrailersCr, b'\r') => State::TrailersLf,
            (State::TrailersLf, b'\n') => self.message_done(),
            (State::Trailer, b'\r') => State::TrailerLf,
            (State::TrailersCr | State::Trailer, _) => State::Trailer,
            (State::TrailerLf, b'\n') => State::TrailersCr,
            _ => return self.turn_off(b, out),
        };
        self.state = next;
        out.push(b);
    }

    /// Stops following the framing; `b` and everything after pass through.
    fn turn_off(&mut self, b: u8, out: &mut Vec<u8>) {
        self.state = State::Off;
        self.line = Vec::new();
        out.push(b);
    }

    /// The state after a message ends.
    fn message_done(&mut self) -> State {
        self.first_message = false;
        self.line.clear();
        State::Idle
    }

    /// Reads one header line (without its `\n`); an empty line ends the head.
    fn header_line(&mut self, line: &[u8]) -> State {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.contains(&b'\r') {
            return State::Off;
        }
        if line.is_empty() {
            return self.body();
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return State::Off;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            // Also a folded line (it starts with a space or tab): hyper refuses it.
            return State::Off;
        }
        let f = &mut self.framing;
        if name.eq_ignore_ascii_case(b"content-length") {
            f.content_length_headers += 1;
            f.content_length = parse_length(value);
            f.unclear |= f.content_length.is_none();
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            f.transfer_encoding_headers += 1;
            let last = value.rsplit(|&b| b == b',').next().map(trim).unwrap_or_default();
            f.chunked = last.eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            f.upgrade = true;
        }
        State::Header
    }

    /// The state after a head: its body's framing, or off where it is not plain.
    fn body(&mut self) -> State {
        let f = self.framing;
        let plain = !f.unclear
            && !f.upgrade
            && f.content_length_headers <= 1
            && f.transfer_encoding_headers <= 1
            && f.content_length_headers + f.transfer_encoding_headers <= 1
            && (f.transfer_encoding_headers == 0 || f.chunked);
        match (plain, f.chunked, f.content_length) {
            (false, _, _) => State::Off,
            (true, true, _) => State::ChunkStart,
            (true, false, Some(n)) if n > 0 => State::Body(n),
            (true, false, _) => self.message_done(),
        }
    }
}

/// Rewrites a whole byte stream at once (what [`QuoteTolerant`] does piece by piece).
pub fn rewrite(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    Rewriter::new().feed(input, &mut out);
    out
}

/// An RFC 9110 `tchar` (methods and header names are tokens).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn hex(b: u8) -> u64 {
    u64::from(match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    })
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// A `Content-Length` value as hyper accepts it: ASCII digits only, fitting a `u64`.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// A stream whose reads have raw `"` in request targets encoded as `%22`.
pub struct QuoteTolerant<T> {
    inner: T,
    rewriter: Rewriter,
    /// Rewritten bytes not yet read, from `start`.
    pending: Vec<u8>,
    start: usize,
}

impl<T> QuoteTolerant<T> {
    /// Wraps `inner`; with `enabled` false it passes every byte through.
    pub fn new(inner: T, enabled: bool) -> QuoteTolerant<T> {
        let rewriter = if enabled { Rewriter::new() } else { Rewriter::off() };
        QuoteTolerant { inner, rewriter, pending: Vec::new(), start: 0 }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for QuoteTolerant<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.start == this.pending.len() {
            if this.rewriter.is_off() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            this.pending.clear();
            this.start = 0;
            this.rewriter.feed(read.filled(), &mut this.pending);
        }
        let take = (this.pending.len() - this.start).min(buf.remaining());
        buf.put_slice(&this.pending[this.start..this.start + take]);
        this.start += take;
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
mod tests;
