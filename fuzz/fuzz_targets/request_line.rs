//! The HTTP/1 request-line rewriter (`scimd::server::request_line`), which percent-encodes raw
//! `"` in request targets below hyper. Input: a byte stream as a client could send it; its
//! first byte also chooses where the stream is cut into reads.
//!
//! Invariants, each checked against an oracle of its own rather than the rewriter's state:
//! - the output is the input with some `"` replaced by `%22`, nothing else;
//! - cutting the stream into reads anywhere gives the same output;
//! - message boundaries are kept: framing the output as hyper does (httparse for each head,
//!   then `Content-Length` or chunked framing), every `%22` the rewriter wrote lies in the
//!   request target of a head, never in a header, a chunk line or a body; after a head whose
//!   framing is not plain (both or repeated lengths, a non-chunked coding, an upgrade or
//!   `CONNECT`) nothing at all is rewritten; where the output cannot be framed any more
//!   (hyper would refuse it there and close), rewrites are only allowed from that head on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimd::server::request_line::{Rewriter, rewrite};

/// The output positions of each `%22` that replaced a `"`, or None if the output is not the
/// input with some quotes encoded.
fn encoded_quotes(input: &[u8], output: &[u8]) -> Option<Vec<usize>> {
    let (mut i, mut j, mut at) = (0, 0, Vec::new());
    while i < input.len() {
        if input[i] == b'"' && output[j..].starts_with(b"%22") {
            at.push(j);
            j += 3;
        } else if output.get(j) == Some(&input[i]) {
            j += 1;
        } else {
            return None;
        }
        i += 1;
    }
    (j == output.len()).then_some(at)
}

/// Where the rewriter may have written: request-target spans of framed heads, and the
/// offset from which anything goes (an unframeable tail), if any.
struct Allowed {
    targets: Vec<std::ops::Range<usize>>,
    tail_from: Option<usize>,
}

fn frame(stream: &[u8]) -> Allowed {
    let mut allowed = Allowed { targets: Vec::new(), tail_from: None };
    let mut pos = 0;
    while pos < stream.len() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let rest = &stream[pos..];
        let head_len = match req.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            // An unfinished or refused head: hyper stops reading here.
            _ => {
                allowed.tail_from = Some(pos);
                return allowed;
            }
        };
        if let Some(path) = req.path {
            let offset = path.as_ptr() as usize - rest.as_ptr() as usize;
            allowed.targets.push(pos + offset..pos + offset + path.len());
        }
        let (mut lengths, mut codings, mut chunked, mut upgrade) = (Vec::new(), 0, false, false);
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                lengths.push(h.value);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                codings += 1;
                let last = h.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
                chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
            } else if h.name.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
        }
        pos += head_len;
        // Methods are case-sensitive: `CoNNECT` is an extension method with no special framing.
        let connect = req.method == Some("CONNECT");
        let plain =
            lengths.len() + codings <= 1 && (codings == 0 || chunked) && !upgrade && !connect;
        if !plain {
            return allowed;
        }
        if chunked {
            match chunked_body(&stream[pos..]) {
                Some(n) => pos += n,
                None => {
                    allowed.tail_from = Some(stream.len());
                    return allowed;
                }
            }
        } else if let Some(value) = lengths.first() {
            let digits = value.iter().all(u8::is_ascii_digit) && !value.is_empty();
            let Some(n) = std::str::from_utf8(value)
                .ok()
                .filter(|_| digits && value.len() <= 19)
                .and_then(|s| s.parse::<u64>().ok())
            else {
                return allowed;
            };
            pos = pos.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
        }
    }
    allowed
}

/// The length of a complete chunked body at the start of `s` (chunks, last chunk, trailers).
fn chunked_body(s: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let (n, size) = match httparse::parse_chunk_size(&s[pos..]).ok()? {
            httparse::Status::Complete(c) => c,
            httparse::Status::Partial => return None,
        };
        pos += n;
        if size == 0 {
            break;
        }
        pos = pos.checked_add(usize::try_from(size).ok()?)?;
        if s.get(pos..pos + 2)? != b"\r\n" {
            return None;
        }
        pos += 2;
    }
    // Trailer lines, then an empty line.
    loop {
        let line_end = s.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
        pos += line_end + 2;
        if line_end == 0 {
            return Some(pos);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let whole = rewrite(stream);
    let Some(encoded) = encoded_quotes(stream, &whole) else {
        panic!(
            "the output is not the input with quotes encoded: {:?}",
            String::from_utf8_lossy(&whole)
        );
    };
    // The same stream read in pieces of a size the input chooses.
    let step = usize::from(cut % 16) + 1;
    let mut pieces = Vec::new();
    let mut rewriter = Rewriter::new();
    for chunk in stream.chunks(step) {
        rewriter.feed(chunk, &mut pieces);
    }
    assert_eq!(pieces, whole, "reads of {step} bytes differ");
    if encoded.is_empty() {
        return;
    }
    let allowed = frame(&whole);
    for at in encoded {
        let in_target = allowed.targets.iter().any(|t| t.start <= at && at + 3 <= t.end);
        let in_tail = allowed.tail_from.is_some_and(|from| at >= from);
        assert!(
            in_target || in_tail,
            "%22 written at {at}, outside every request target: {:?}",
            String::from_utf8_lossy(&whole)
        );
    }
});
