//! Integration tests for the incremental SSE decoder (`cma_client::sse`).
//!
//! No timing and no sleeps: linearity is checked with the decoder's work counter.

use cma_client::sse::{FrameKind, SseDecoder, SseFrame};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Feed `chunks` one by one, draining complete frames after each feed, then drain `finish`.
fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseFrame> {
    let mut dec = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        dec.feed(chunk);
        while let Some(frame) = dec.next_frame() {
            out.push(frame);
        }
    }
    while let Some(frame) = dec.finish() {
        out.push(frame);
    }
    assert_eq!(dec.buffered_len(), 0, "finish must leave nothing buffered");
    out
}

/// As [`decode_chunks`], but frames read by reference (`next_frame_ref`, as `EventStream` reads
/// them), every other one taken owned, so lent and owned frames interleave on one decoder.
fn decode_chunks_by_ref<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseFrame> {
    let mut dec = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        dec.feed(chunk);
        loop {
            let next = if out.len() % 2 == 0 {
                dec.next_frame_ref().map(|f| f.to_owned())
            } else {
                dec.next_frame()
            };
            let Some(frame) = next else { break };
            out.push(frame);
        }
    }
    while let Some(frame) = dec.finish() {
        out.push(frame);
    }
    assert_eq!(dec.buffered_len(), 0, "finish must leave nothing buffered");
    out
}

/// Feed all chunks first and only then pull frames (frames must not depend on when they are pulled).
fn decode_chunks_lazily<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseFrame> {
    let mut dec = SseDecoder::new();
    for chunk in chunks {
        dec.feed(chunk);
    }
    let mut out: Vec<SseFrame> = std::iter::from_fn(|| dec.next_frame()).collect();
    out.extend(std::iter::from_fn(|| dec.finish()));
    out
}

fn decode_whole(input: &[u8]) -> Vec<SseFrame> {
    decode_chunks([input])
}

/// Frames produced by `next_frame` only (no EOF flush).
fn decode_without_finish(input: &[u8]) -> Vec<SseFrame> {
    let mut dec = SseDecoder::new();
    dec.feed(input);
    std::iter::from_fn(|| dec.next_frame()).collect()
}

fn decode_bytewise(input: &[u8]) -> Vec<SseFrame> {
    decode_chunks(input.chunks(1))
}

fn decode_split(input: &[u8], at: usize) -> Vec<SseFrame> {
    decode_chunks([&input[..at], &input[at..]])
}

/// A tiny fixed-seed LCG (Knuth's MMIX constants), so randomized chunking needs no extra deps.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// Split `input` into chunks of random length in `1..=max` (and occasionally empty chunks).
    fn chunks<'a>(&mut self, input: &'a [u8], max: usize) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            if self.next().is_multiple_of(16) {
                out.push(&rest[..0]);
            }
            let n = (1 + self.next() as usize % max).min(rest.len());
            let (head, tail) = rest.split_at(n);
            out.push(head);
            rest = tail;
        }
        out
    }
}

fn frame(event: Option<&str>, data: &str) -> SseFrame {
    SseFrame {
        event: event.map(str::to_owned),
        data: data.to_owned(),
        id: None,
        retry: None,
    }
}

fn named(event: &str, data: &str) -> SseFrame {
    frame(Some(event), data)
}

/// Assert that every chunking of `input` yields the same frames as feeding it whole.
fn assert_chunk_invariant(input: &[u8]) -> Vec<SseFrame> {
    let whole = decode_whole(input);
    for at in 0..=input.len() {
        assert_eq!(decode_split(input, at), whole, "split at byte {at}");
        let split = [&input[..at], &input[at..]];
        assert_eq!(decode_chunks_by_ref(split), whole, "by ref, split at {at}");
    }
    assert_eq!(decode_bytewise(input), whole, "1-byte chunks");
    assert_eq!(
        decode_chunks_by_ref(input.chunks(1)),
        whole,
        "by ref, 1-byte chunks"
    );
    assert_eq!(
        decode_chunks_lazily(input.chunks(1)),
        whole,
        "1-byte chunks, frames pulled at the end"
    );
    for size in [2, 3, 5, 7, 64, 1024] {
        assert_eq!(
            decode_chunks(input.chunks(size)),
            whole,
            "{size}-byte chunks"
        );
    }
    let mut lcg = Lcg(0x5EED_CAFE);
    for round in 0..50 {
        let max = [2, 8, 33, 200][round % 4];
        let chunks = lcg.chunks(input, max);
        assert_eq!(
            decode_chunks(chunks.iter().copied()),
            whole,
            "random chunking round {round} (max {max})"
        );
        assert_eq!(
            decode_chunks_by_ref(chunks.iter().copied()),
            whole,
            "by ref, random chunking round {round} (max {max})"
        );
    }
    whole
}

/// Build a stream from lines, ending each line with the ending chosen by `ending(line_index)`.
///
/// A blank line ended by `\n` right after a line ended by `\r` would merge into one `\r\n` ending
/// (that is the SSE grammar, not a decoder quirk), so such a blank line gets `\r\n` instead.
fn join_lines(lines: &[&str], ending: impl Fn(usize) -> &'static str) -> Vec<u8> {
    let mut out = String::new();
    let mut prev = "";
    for (i, line) in lines.iter().enumerate() {
        let mut end = ending(i);
        if prev == "\r" && line.is_empty() && end == "\n" {
            end = "\r\n";
        }
        out.push_str(line);
        out.push_str(end);
        prev = end;
    }
    out.into_bytes()
}

const ENDINGS: [&str; 3] = ["\n", "\r\n", "\r"];

/// A realistic session event stream, as lines (blank strings are the frame separators).
fn session_stream_lines() -> Vec<&'static str> {
    vec![
        ": stream opened",
        "event: session.status_running",
        r#"data: {"type":"session.status_running","id":"sevt_01","processed_at":"2026-04-01T10:00:00Z"}"#,
        "",
        "event: ping",
        r#"data: {"type":"ping"}"#,
        "",
        "event: span.model_request_start",
        r#"data: {"type":"span.model_request_start","id":"sevt_02"}"#,
        "",
        ": keepalive",
        "",
        "event: agent.thinking",
        r#"data: {"type":"agent.thinking","id":"sevt_03","content":[]}"#,
        "",
        "event: agent.message",
        r#"data: {"type":"agent.message","id":"sevt_04","#,
        r#"data:  "content":[{"type":"text","text":"héllo wörld — €5 😀 日本語"}]}"#,
        "",
        "event: agent.tool_use",
        r#"data: {"type":"agent.tool_use","id":"sevt_05","name":"bash","input":{"command":"printf 'a\\r\\nb'"}}"#,
        "",
        "data: {\"type\":\"no.event.line\"}",
        "",
        "event: ping",
        "data:",
        "",
        "event: span.model_request_end",
        "data:",
        "",
        "event: session.status_idle",
        r#"data: {"type":"session.status_idle","stop_reason":{"type":"end_turn"}}"#,
        "",
    ]
}

fn session_stream_expected() -> Vec<SseFrame> {
    vec![
        named(
            "session.status_running",
            r#"{"type":"session.status_running","id":"sevt_01","processed_at":"2026-04-01T10:00:00Z"}"#,
        ),
        named("ping", r#"{"type":"ping"}"#),
        named(
            "span.model_request_start",
            r#"{"type":"span.model_request_start","id":"sevt_02"}"#,
        ),
        named(
            "agent.thinking",
            r#"{"type":"agent.thinking","id":"sevt_03","content":[]}"#,
        ),
        named(
            "agent.message",
            "{\"type\":\"agent.message\",\"id\":\"sevt_04\",\n \"content\":[{\"type\":\"text\",\"text\":\"héllo wörld — €5 😀 日本語\"}]}",
        ),
        named(
            "agent.tool_use",
            r#"{"type":"agent.tool_use","id":"sevt_05","name":"bash","input":{"command":"printf 'a\\r\\nb'"}}"#,
        ),
        frame(None, r#"{"type":"no.event.line"}"#),
        named("ping", ""),
        named("span.model_request_end", ""),
        named(
            "session.status_idle",
            r#"{"type":"session.status_idle","stop_reason":{"type":"end_turn"}}"#,
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Line endings
// ---------------------------------------------------------------------------------------------

#[test]
fn every_line_ending_style() {
    let lines = ["event: e", "data: a", "data: b", "", "data: c", ""];
    let expected = vec![named("e", "a\nb"), frame(None, "c")];
    for ending in ENDINGS {
        let input = join_lines(&lines, |_| ending);
        assert_eq!(decode_whole(&input), expected, "ending {ending:?}");
        assert_eq!(decode_without_finish(&input), expected, "ending {ending:?}");
    }
}

#[test]
fn mixed_line_endings() {
    let lines = [
        "event: e", "data: a", "data: b", "", "data: c", "", "data: d", "",
    ];
    let expected = vec![named("e", "a\nb"), frame(None, "c"), frame(None, "d")];
    // Every assignment of the three endings to the first five lines, the rest rotating.
    for code in 0..3usize.pow(5) {
        let pick = |i: usize| {
            let digit = if i < 5 {
                code / 3usize.pow(i as u32) % 3
            } else {
                i % 3
            };
            ENDINGS[digit]
        };
        let input = join_lines(&lines, pick);
        assert_eq!(decode_whole(&input), expected, "code {code}: {input:?}");
    }
}

#[test]
fn cr_then_lf_is_one_line_ending_even_across_chunks() {
    // If `\r` | `\n` were two endings, "a" would be dispatched on its own.
    let got = decode_chunks([&b"data: a\r"[..], b"\ndata: b\r", b"\n\r", b"\n"]);
    assert_eq!(got, vec![frame(None, "a\nb")]);
    // `\n\r` is two line endings (LF, then CR), i.e. a blank line.
    assert_eq!(
        decode_whole(b"data: a\n\rdata: b\n\n"),
        vec![frame(None, "a"), frame(None, "b")]
    );
    // `\r\r` is a blank line too, and a frame ending in `\r\r` is dispatched before more arrives.
    let mut dec = SseDecoder::new();
    dec.feed(b"event: e\rdata: 1\r\r");
    assert_eq!(dec.next_frame(), Some(named("e", "1")));
    dec.feed(b"\ndata: 2\r\n\r\n");
    assert_eq!(dec.next_frame(), Some(frame(None, "2")));
    assert_eq!(dec.next_frame(), None);
    assert_eq!(dec.finish(), None);
}

#[test]
fn crlf_split_at_every_point() {
    let input = b"event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n";
    let got = assert_chunk_invariant(input);
    assert_eq!(got, vec![named("a", "1"), named("b", "2")]);
    // Chunks that each end exactly with a `\r`.
    let chunks: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\r').collect::<Vec<_>>();
    assert!(chunks.len() > 4);
    assert_eq!(decode_chunks(chunks), got);
}

// ---------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------

#[test]
fn multi_line_data_is_joined_with_lf() {
    assert_eq!(
        decode_whole(b"event: e\ndata: {\"a\":\ndata: 1,\ndata:\ndata: \"b\":2}\n\n"),
        vec![named("e", "{\"a\":\n1,\n\n\"b\":2}")]
    );
    // A trailing empty data line yields a trailing `\n`; the last `event:` wins.
    assert_eq!(
        decode_whole(b"event: x\nevent: y\ndata: a\ndata:\n\n"),
        vec![named("y", "a\n")]
    );
}

#[test]
fn field_syntax_rules() {
    // Only ONE leading space is removed; colons in the value are kept; no-space form works.
    assert_eq!(
        decode_whole(b"event:e\ndata:   x: y:z \n\n"),
        vec![named("e", "  x: y:z ")]
    );
    // A field without a colon is the field name with an empty value.
    assert_eq!(
        decode_whole(b"event: e\ndata\ndata\n\n"),
        vec![named("e", "\n")]
    );
    // Field names are case-sensitive; unknown fields are ignored.
    assert_eq!(
        decode_whole(b"Event: nope\nDATA: nope\nfoo: bar\nevent : nope\nevent: e\ndata: ok\n\n"),
        vec![named("e", "ok")]
    );
    // A tab is not a space.
    assert_eq!(
        decode_whole(b"event: e\ndata:\tx\n\n"),
        vec![named("e", "\tx")]
    );
}

#[test]
fn comments_are_ignored() {
    let input = b": hello\n:\nevent: e\n: between\ndata: a\n:comment: with colon\ndata: b\n\n: trailing\n\n";
    assert_eq!(assert_chunk_invariant(input), vec![named("e", "a\nb")]);
    // Comment-only blocks produce no frame at all.
    assert!(decode_whole(b": keepalive\n\n: keepalive\r\n\r\n:x\r\r").is_empty());
}

#[test]
fn blank_lines_alone_emit_nothing() {
    assert!(decode_whole(b"\n\n\n\r\n\r\r\n").is_empty());
    assert!(decode_whole(b"").is_empty());
    assert!(decode_whole(b"unknown: field\n\n").is_empty());
}

#[test]
fn ping_frames() {
    let got = decode_whole(b"event: ping\ndata: {\"type\":\"ping\"}\n\nevent: ping\n\n");
    assert_eq!(got.len(), 2);
    for f in &got {
        assert_eq!(f.kind(), FrameKind::Ping);
    }
}

#[test]
fn error_frames() {
    let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let input = format!("event: error\ndata: {body}\n\nevent: error\ndata:\n\n");
    let got = decode_whole(input.as_bytes());
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].kind(), FrameKind::Error(body));
    // Error comes before the empty-data rule: an empty error is still an error.
    assert_eq!(got[1].kind(), FrameKind::Error(""));
}

#[test]
fn empty_data_frames() {
    let got =
        decode_whole(b"event: e\ndata:\n\nevent: e\ndata\n\nevent: e\n\nevent: e\ndata: \n\n");
    assert_eq!(got, vec![named("e", ""); 4]);
    for f in &got {
        assert_eq!(f.kind(), FrameKind::EmptyData);
    }
    // Two empty data lines are "\n", which is not empty.
    let got = decode_whole(b"event: e\ndata:\ndata:\n\n");
    assert_eq!(
        got[0].kind(),
        FrameKind::Event {
            name: "e",
            data: "\n"
        }
    );
}

#[test]
fn frames_without_event_name_are_reported_as_such() {
    let got = decode_whole(
        b"data: {\"type\":\"agent.message\"}\n\nevent:\ndata: {}\n\nevent: \ndata: {}\n\n",
    );
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].event, None);
    assert_eq!(got[1].event.as_deref(), Some(""));
    for f in &got {
        // The SDK drops these; so does the client.
        assert_eq!(f.kind(), FrameKind::NoEventName);
    }
    // An `event:` line alone with an empty value still makes a frame (which is then dropped).
    assert_eq!(
        decode_whole(b"event:\n\n")[0].kind(),
        FrameKind::NoEventName
    );
}

#[test]
fn event_frames_are_typed_by_the_client() {
    let got = decode_whole(b"event: message\ndata: {\"type\":\"session.status_idle\"}\n\n");
    assert_eq!(
        got[0].kind(),
        FrameKind::Event {
            name: "message",
            data: r#"{"type":"session.status_idle"}"#
        }
    );
}

#[test]
fn id_and_retry() {
    let input = b"id: 1\nretry: 2500\nevent: a\ndata: x\n\nevent: b\ndata: y\n\nid: 2\nretry: soon\nevent: c\ndata: z\n\nid: bad\0id\nretry: 1x\nevent: d\ndata: w\n\nid\nretry:7\nevent: e\ndata: v\n\n";
    let got = assert_chunk_invariant(input);
    let summary: Vec<(&str, Option<&str>, Option<u64>)> = got
        .iter()
        .map(|f| (f.event.as_deref().unwrap_or("-"), f.id.as_deref(), f.retry))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a", Some("1"), Some(2500)),
            // The last event id is sticky (spec + SDK); retry belongs to its own block.
            ("b", Some("1"), None),
            ("c", Some("2"), None),
            // An id containing NUL is ignored, as is a non-numeric retry.
            ("d", Some("2"), None),
            // `id` with no value resets the last event id to "".
            ("e", Some(""), Some(7)),
        ]
    );
    // A block with only an id or a retry still produces a frame (with no event name).
    let got = decode_whole(b"id: 9\n\nretry: 10\n\n");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id.as_deref(), Some("9"));
    assert_eq!(got[1].retry, Some(10));
    assert!(got.iter().all(|f| f.kind() == FrameKind::NoEventName));
    // Retry must be all ASCII digits.
    for bad in ["-1", "+1", " 1", "1.0", "", "99999999999999999999999"] {
        let input = format!("retry: {bad}\nevent: e\ndata: x\n\n");
        assert_eq!(decode_whole(input.as_bytes())[0].retry, None, "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// UTF-8 and BOM
// ---------------------------------------------------------------------------------------------

#[test]
fn utf8_split_at_every_byte() {
    let text = "é € 😀 日本語 ä😀😀b";
    let input = format!("event: ünïcödé 😀\ndata: {text}\ndata: 🎉\n\n");
    let expected = vec![named("ünïcödé 😀", &format!("{text}\n🎉"))];
    assert_eq!(assert_chunk_invariant(input.as_bytes()), expected);
    // Every split of every single 4-byte emoji.
    for emoji in ["😀", "🎉", "𝄞", "\u{10FFFF}"] {
        let input = format!("event: e\ndata: {emoji}\n\n");
        let bytes = input.as_bytes();
        let start = bytes.len() - 2 - 4;
        for a in start..start + 4 {
            for b in a..=start + 4 {
                let got = decode_chunks([&bytes[..a], &bytes[a..b], &bytes[b..]]);
                assert_eq!(got, vec![named("e", emoji)], "{emoji} split at {a},{b}");
            }
        }
    }
}

#[test]
fn invalid_utf8_is_replaced_not_panicking() {
    let input = b"event: e\ndata: a\xFFb\xC3\ndata: \xF0\x9F\x98\n\n";
    let got = assert_chunk_invariant(input);
    assert_eq!(got, vec![named("e", "a\u{FFFD}b\u{FFFD}\n\u{FFFD}")]);
    // One invalid data line: a frame read by reference (its data left in the decoder's buffer)
    // is replaced the same way.
    assert_eq!(
        assert_chunk_invariant(b"event: e\ndata: a\xFFb\n\nevent: f\ndata: ok\n\n"),
        vec![named("e", "a\u{FFFD}b"), named("f", "ok")]
    );
    // A truncated multi-byte sequence at EOF is also replaced.
    assert_eq!(
        decode_whole(b"event: e\ndata: \xE2\x82"),
        vec![named("e", "\u{FFFD}")]
    );
}

#[test]
fn bom_at_stream_start_is_ignored() {
    let input = b"\xEF\xBB\xBFevent: e\r\ndata: 1\r\n\r\n";
    assert_eq!(assert_chunk_invariant(input), vec![named("e", "1")]);
    // A BOM alone on the first line makes that line blank.
    assert_eq!(
        decode_whole(b"\xEF\xBB\xBF\nevent: e\ndata: 1\n\n"),
        vec![named("e", "1")]
    );
    // Only one BOM is stripped: a second one is part of the field name, which is then unknown.
    assert_eq!(
        decode_whole(b"\xEF\xBB\xBF\xEF\xBB\xBFevent: x\nevent: e\ndata: 1\n\n"),
        vec![named("e", "1")]
    );
    // A BOM anywhere else is not special.
    assert_eq!(
        decode_whole(b"event: e\ndata: \xEF\xBB\xBF1\n\n"),
        vec![named("e", "\u{FEFF}1")]
    );
    assert_eq!(
        decode_whole(b"\n\xEF\xBB\xBFevent: x\ndata: 1\n\n"),
        vec![frame(None, "1")]
    );
}

// ---------------------------------------------------------------------------------------------
// Many events, EOF
// ---------------------------------------------------------------------------------------------

#[test]
fn many_events_in_one_feed() {
    let mut input = String::new();
    for i in 0..2000 {
        let ending = ENDINGS[i % 3];
        input.push_str(&format!(
            "event: ev{i}{ending}data: {{\"type\":\"t\",\"n\":{i}}}{ending}{ending}"
        ));
    }
    let mut dec = SseDecoder::new();
    dec.feed(input.as_bytes());
    let got: Vec<_> = std::iter::from_fn(|| dec.next_frame()).collect();
    assert_eq!(got.len(), 2000);
    for (i, f) in got.iter().enumerate() {
        assert_eq!(
            f,
            &named(&format!("ev{i}"), &format!("{{\"type\":\"t\",\"n\":{i}}}"))
        );
    }
    assert_eq!(dec.finish(), None);
    assert_eq!(dec.buffered_len(), 0);
}

#[test]
fn finish_flushes_an_unterminated_final_frame() {
    // No blank line at the end (the Python SDK would drop this frame; we return it from finish).
    let mut dec = SseDecoder::new();
    dec.feed(b"event: a\ndata: 1\n\nevent: b\ndata: 2\n");
    assert_eq!(dec.next_frame(), Some(named("a", "1")));
    assert_eq!(dec.next_frame(), None);
    assert_eq!(dec.finish(), Some(named("b", "2")));
    assert_eq!(dec.finish(), None);
    // The final line itself may lack its line ending.
    assert_eq!(decode_without_finish(b"event: b\ndata: 2"), vec![]);
    assert_eq!(decode_whole(b"event: b\ndata: 2"), vec![named("b", "2")]);
    assert_eq!(
        decode_whole(b"event: b\r\ndata: 2\r"),
        vec![named("b", "2")]
    );
    // Nothing pending: nothing flushed.
    assert_eq!(
        decode_whole(b"event: a\ndata: 1\n\n: bye"),
        vec![named("a", "1")]
    );
    assert_eq!(
        decode_whole(b"event: a\ndata: 1\n\n\n"),
        vec![named("a", "1")]
    );
}

#[test]
fn buffered_len_tracks_undecoded_bytes() {
    let mut dec = SseDecoder::new();
    dec.feed(b"event: e\ndata: ");
    assert_eq!(dec.next_frame(), None);
    let mut fed = 0;
    for _ in 0..100 {
        dec.feed(&[b'x'; 100]);
        fed += 100;
        assert_eq!(dec.next_frame(), None);
        // "e" pending in the frame + "data: " + the x's still raw.
        assert_eq!(dec.buffered_len(), 1 + 6 + fed);
    }
    dec.feed(b"\n\n");
    assert_eq!(dec.next_frame().map(|f| f.data.len()), Some(fed));
    assert_eq!(dec.buffered_len(), 0);
}

// ---------------------------------------------------------------------------------------------
// Chunk-boundary invariance on realistic streams
// ---------------------------------------------------------------------------------------------

#[test]
fn session_stream_is_chunk_invariant_for_every_line_ending() {
    let lines = session_stream_lines();
    let expected = session_stream_expected();
    for ending in ENDINGS {
        let input = join_lines(&lines, |_| ending);
        assert_eq!(
            assert_chunk_invariant(&input),
            expected,
            "ending {ending:?}"
        );
    }
    // Mixed endings, rotating per line (so `\r` is followed by `\n`-terminated lines, etc.).
    let input = join_lines(&lines, |i| ENDINGS[i % 3]);
    assert_eq!(assert_chunk_invariant(&input), expected, "rotating endings");
    let input = join_lines(&lines, |i| ENDINGS[(i * 7 / 3) % 3]);
    assert_eq!(
        assert_chunk_invariant(&input),
        expected,
        "irregular endings"
    );
}

#[test]
fn session_stream_kinds() {
    let input = join_lines(&session_stream_lines(), |_| "\n");
    let got = decode_whole(&input);
    let kinds: Vec<&str> = got
        .iter()
        .map(|f| match f.kind() {
            FrameKind::Ping => "ping",
            FrameKind::NoEventName => "dropped",
            FrameKind::Error(_) => "error",
            FrameKind::EmptyData => "empty",
            FrameKind::Event { .. } => "event",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "event", "ping", "event", "event", "event", "event", "dropped", "ping", "empty",
            "event"
        ]
    );
}

#[test]
fn stream_with_bom_error_and_unterminated_tail_is_chunk_invariant() {
    let input = b"\xEF\xBB\xBF: hi\r\nid: 7\r\nretry: 100\r\nevent: session.status_running\r\ndata: {\"type\":\"session.status_running\"}\r\n\r\nevent: ping\rdata: {}\r\revent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"\xE2\x9C\x97\"}}\n\nevent: session.deleted\r\ndata: {\"type\":\"session.deleted\"}";
    let got = assert_chunk_invariant(input);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].id.as_deref(), Some("7"));
    assert_eq!(got[0].retry, Some(100));
    assert_eq!(got[1].kind(), FrameKind::Ping);
    assert_eq!(
        got[2].kind(),
        FrameKind::Error(r#"{"type":"error","error":{"type":"api_error","message":"✗"}}"#)
    );
    assert_eq!(got[3].event.as_deref(), Some("session.deleted"));
    assert_eq!(got[3].id.as_deref(), Some("7"));
}

#[test]
fn randomized_chunking_of_a_long_generated_stream() {
    // A longer stream with varied frames, decoded under many random chunkings.
    let mut lcg = Lcg(42);
    let mut input = Vec::new();
    for i in 0..300 {
        let ending = ENDINGS[(lcg.next() % 3) as usize].as_bytes();
        match lcg.next() % 6 {
            0 => input.extend_from_slice(b": keepalive"),
            1 => input.extend_from_slice(b"event: ping"),
            _ => input.extend_from_slice(format!("event: agent.message.{i}").as_bytes()),
        }
        input.extend_from_slice(ending);
        for line in 0..lcg.next() % 4 {
            let text = "x😀é".repeat((lcg.next() % 40) as usize);
            input.extend_from_slice(
                format!("data: {{\"n\":{i},\"l\":{line},\"t\":\"{text}\"}}").as_bytes(),
            );
            input.extend_from_slice(ENDINGS[(lcg.next() % 3) as usize].as_bytes());
        }
        input.extend_from_slice(ending);
    }
    let whole = decode_whole(&input);
    assert!(whole.len() > 150, "{} frames", whole.len());
    for seed in 0..40u64 {
        let mut rng = Lcg(seed);
        let max = [1, 3, 17, 256, 4096][seed as usize % 5];
        let chunks = rng.chunks(&input, max);
        assert_eq!(decode_chunks(chunks.iter().copied()), whole, "seed {seed}");
    }
    assert_eq!(decode_bytewise(&input), whole);
}

// ---------------------------------------------------------------------------------------------
// Linearity (work counter, not timing)
// ---------------------------------------------------------------------------------------------

const HUGE: usize = 8 << 20;

fn huge_line_stream() -> Vec<u8> {
    let mut input = Vec::with_capacity(HUGE + 64);
    input.extend_from_slice(b"event: agent.tool_result\ndata: ");
    input.resize(input.len() + HUGE, b'a');
    input.extend_from_slice(b"\n\n");
    input
}

fn assert_linear_scan(input: &[u8], chunk: usize) -> SseDecoder {
    let mut dec = SseDecoder::new();
    let mut frames = 0;
    let mut max_buffered = 0;
    let mut fed = 0u64;
    for piece in input.chunks(chunk) {
        dec.feed(piece);
        fed += piece.len() as u64;
        max_buffered = max_buffered.max(dec.buffered_len());
        while let Some(f) = dec.next_frame() {
            assert!(f.data.len() <= HUGE);
            frames += 1;
        }
        // Checked as we go, so a quadratic decoder fails fast instead of hanging the test.
        assert!(
            dec.bytes_scanned() <= 2 * fed,
            "{chunk}-byte chunks: scanned {} bytes after {fed} input bytes",
            dec.bytes_scanned()
        );
    }
    assert_eq!(frames, 1);
    assert_eq!(dec.finish(), None);
    let n = input.len() as u64;
    assert!(
        dec.bytes_scanned() <= 2 * n,
        "{chunk}-byte chunks: scanned {} bytes for {n} input bytes",
        dec.bytes_scanned()
    );
    assert!(dec.bytes_scanned() >= n - 2, "the counter must count");
    // Memory stays bounded by what is actually pending (no duplicate copies).
    assert!(max_buffered <= input.len(), "max buffered {max_buffered}");
    dec
}

#[test]
fn huge_data_line_in_1kib_chunks_is_linear() {
    assert_linear_scan(&huge_line_stream(), 1024);
}

#[test]
fn huge_data_line_in_1_byte_chunks_is_linear() {
    assert_linear_scan(&huge_line_stream(), 1);
}

#[test]
fn doubling_the_input_doubles_the_work() {
    let counted = |len: usize, chunk: usize| {
        let mut input = b"data: ".to_vec();
        input.resize(input.len() + len, b'z');
        input.extend_from_slice(b"\r\n\r\n");
        let mut dec = SseDecoder::new();
        let mut fed = 0u64;
        for piece in input.chunks(chunk) {
            dec.feed(piece);
            fed += piece.len() as u64;
            while dec.next_frame().is_some() {}
            assert!(dec.bytes_scanned() <= 2 * fed, "chunk {chunk}: re-scanning");
        }
        dec.bytes_scanned()
    };
    for chunk in [1, 7, 1024] {
        let one = counted(1 << 20, chunk);
        let two = counted(2 << 20, chunk);
        // Exactly linear up to the constant framing bytes.
        assert!(two <= 2 * one, "chunk {chunk}: {one} vs {two}");
        assert!(two >= 2 * one - 64, "chunk {chunk}: {one} vs {two}");
    }
}

#[test]
fn many_small_events_with_cr_endings_stay_linear() {
    // Lone `\r` endings force a one-byte peek; the bound still holds.
    let unit = b"event: e\rdata: {}\r\r:c\r\n";
    let reps = (1 << 20) / unit.len();
    let input = unit.repeat(reps);
    let mut dec = SseDecoder::new();
    let mut frames = 0usize;
    for piece in input.chunks(3) {
        dec.feed(piece);
        while dec.next_frame().is_some() {
            frames += 1;
        }
    }
    assert_eq!(frames, reps);
    assert!(dec.bytes_scanned() <= 2 * input.len() as u64);
    assert_eq!(dec.buffered_len(), 0);
}
