//! Unit tests of the SSE decoder: framing, field rules, chunk boundaries and buffer compaction.

use super::*;

fn frames(dec: &mut SseDecoder) -> Vec<SseFrame> {
    std::iter::from_fn(|| dec.next_frame()).collect()
}

fn decode_all(input: &[u8]) -> Vec<SseFrame> {
    let mut dec = SseDecoder::new();
    dec.feed(input);
    let mut out = frames(&mut dec);
    out.extend(std::iter::from_fn(|| dec.finish()));
    out
}

fn ev(event: Option<&str>, data: &str) -> SseFrame {
    SseFrame {
        event: event.map(str::to_owned),
        data: data.to_owned(),
        ..SseFrame::default()
    }
}

#[test]
fn find_eol_matches_naive_search() {
    let mut hay = vec![b'x'; 200];
    assert_eq!(find_eol(&hay), None);
    for at in 0..hay.len() {
        for eol in [b'\n', b'\r'] {
            hay[at] = eol;
            assert_eq!(find_eol(&hay), Some(at));
            assert_eq!(find_eol(&hay[..at]), None);
            hay[at] = b'x';
        }
    }
    assert_eq!(find_eol(b""), None);
    assert_eq!(find_eol(b"ab\rc\n"), Some(2));
}

#[test]
fn parse_retry_accepts_digits_only() {
    assert_eq!(parse_retry(b"0"), Some(0));
    assert_eq!(parse_retry(b"1500"), Some(1500));
    assert_eq!(parse_retry(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_retry(b"18446744073709551616"), None);
    for bad in [&b""[..], b" 1", b"1 ", b"+1", b"-1", b"1_0", b"1.5", b"abc"] {
        assert_eq!(parse_retry(bad), None, "{bad:?}");
    }
}

#[test]
fn basic_frame_and_field_rules() {
    let got = decode_all(b"event: a\ndata:  two spaces\ndata\ndata:x\n\n");
    assert_eq!(got, vec![ev(Some("a"), " two spaces\n\nx")]);
}

#[test]
fn id_is_sticky_and_nul_ids_ignored() {
    let got = decode_all(b"id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\n");
    let ids: Vec<_> = got.iter().map(|f| f.id.as_deref()).collect();
    assert_eq!(ids, vec![Some("1"), Some("1"), Some("1"), Some("")]);
}

#[test]
fn block_without_fields_is_not_emitted() {
    assert!(decode_all(b"\n\n\r\n:comment\n\nfoo: bar\n\n").is_empty());
    // A rejected id or retry sets nothing either.
    assert!(decode_all(b"retry: x\n\nid: a\0\n\n").is_empty());
    assert_eq!(decode_all(b"retry: 5\n\n").len(), 1);
}

#[test]
fn cr_at_end_of_chunk_dispatches_now_and_swallows_following_lf() {
    let mut dec = SseDecoder::new();
    dec.feed(b"event: e\rdata: 1\r\r");
    assert_eq!(dec.next_frame(), Some(ev(Some("e"), "1")));
    assert!(dec.skip_lf);
    dec.feed(b"\n");
    // The `\n` completes the `\r\n`; it is not a second (blank) line.
    assert_eq!(dec.next_frame(), None);
    dec.feed(b"data: 2\n\n");
    assert_eq!(dec.next_frame(), Some(ev(None, "2")));
    assert_eq!(dec.finish(), None);
}

#[test]
fn bom_split_across_chunks_is_stripped_once() {
    let input = b"\xEF\xBB\xBFevent: a\ndata: 1\n\n";
    for split in 0..input.len() {
        let mut dec = SseDecoder::new();
        dec.feed(&input[..split]);
        let mut got = frames(&mut dec);
        dec.feed(&input[split..]);
        got.extend(frames(&mut dec));
        assert_eq!(got, vec![ev(Some("a"), "1")], "split at {split}");
    }
    // Only at the very start of the stream.
    let got = decode_all(b"\n\xEF\xBB\xBFevent: a\ndata: 1\n\n");
    assert_eq!(got, vec![ev(None, "1")]);
}

#[test]
fn finish_flushes_unterminated_tail() {
    assert_eq!(decode_all(b"event: a\ndata: 1"), vec![ev(Some("a"), "1")]);
    assert_eq!(decode_all(b"event: a\ndata: 1\n"), vec![ev(Some("a"), "1")]);
    assert_eq!(decode_all(b"event: a\ndata: 1\r"), vec![ev(Some("a"), "1")]);
    assert!(decode_all(b": only a comment").is_empty());
    let mut dec = SseDecoder::new();
    dec.feed(b"data: 1\n\ndata: 2\n\ndata: 3");
    // Complete frames come first, one per call.
    let got: Vec<_> = std::iter::from_fn(|| dec.finish()).collect();
    assert_eq!(got, vec![ev(None, "1"), ev(None, "2"), ev(None, "3")]);
    assert_eq!(dec.buffered_len(), 0);
}

#[test]
fn compaction_is_amortised_and_keeps_offsets_valid() {
    let mut dec = SseDecoder::new();
    dec.feed(b"data: a\n\ndata: b");
    assert_eq!(dec.next_frame(), Some(ev(None, "a")));
    assert_eq!(dec.pos, 9);
    // The live tail (7 bytes) is smaller than the consumed prefix: compacted on next feed.
    dec.feed(b"c\n\n");
    assert_eq!(dec.pos, 0);
    assert_eq!(dec.next_frame(), Some(ev(None, "bc")));
    // A long live tail behind a short consumed prefix is not moved.
    dec.feed(b"data: 1\n\ndata: ");
    assert!(dec.next_frame().is_some());
    dec.feed(&[b'x'; 100]);
    assert_eq!(dec.next_frame(), None);
    let pos = dec.pos;
    dec.feed(b"y");
    assert_eq!(dec.pos, pos, "no compaction while the live tail dominates");
    assert!(dec.scan >= dec.pos && dec.scan <= dec.buf.len());
}

#[test]
fn buffer_shrinks_after_a_huge_line() {
    let mut dec = SseDecoder::new();
    dec.feed(b"data: ");
    dec.feed(&vec![b'x'; 4 << 20]);
    dec.feed(b"\n\n");
    assert_eq!(dec.next_frame().map(|f| f.data.len()), Some(4 << 20));
    assert!(dec.capacity() >= 4 << 20);
    dec.feed(b"data: small\n\n");
    assert!(
        dec.capacity() <= SHRINK_ABOVE,
        "capacity {}",
        dec.capacity()
    );
    assert_eq!(dec.next_frame(), Some(ev(None, "small")));
}

#[test]
fn buffered_len_counts_raw_and_pending_bytes() {
    let mut dec = SseDecoder::new();
    assert_eq!(dec.buffered_len(), 0);
    dec.feed(b"event: abc\ndata: 12345");
    assert_eq!(dec.buffered_len(), 22);
    assert_eq!(dec.next_frame(), None);
    // "abc" is pending in the builder, "data: 12345" is still raw.
    assert_eq!(dec.buffered_len(), 3 + 11);
    dec.feed(b"\n");
    assert_eq!(dec.next_frame(), None);
    assert_eq!(dec.buffered_len(), 3 + 5);
    dec.feed(b"\n");
    assert!(dec.next_frame().is_some());
    assert_eq!(dec.buffered_len(), 0);
}

#[test]
fn scanner_examines_each_byte_about_once() {
    let input = b"event: a\r\ndata: 1\r\r\ndata: 2\n\n";
    let mut dec = SseDecoder::new();
    for b in input {
        dec.feed(std::slice::from_ref(b));
        while dec.next_frame().is_some() {}
    }
    let n = input.len() as u64;
    assert!(dec.bytes_scanned() >= n && dec.bytes_scanned() <= n + 4);
}

#[test]
fn kind_follows_sdk_dispatch_order() {
    let f = |event: Option<&str>, data: &str| ev(event, data);
    assert_eq!(f(Some("ping"), "{}").kind(), FrameKind::Ping);
    assert_eq!(f(Some("ping"), "").kind(), FrameKind::Ping);
    assert_eq!(f(None, "{}").kind(), FrameKind::NoEventName);
    assert_eq!(f(Some(""), "{}").kind(), FrameKind::NoEventName);
    assert_eq!(f(Some("error"), "").kind(), FrameKind::Error(""));
    assert_eq!(f(Some("error"), "{}").kind(), FrameKind::Error("{}"));
    assert_eq!(f(Some("x"), "").kind(), FrameKind::EmptyData);
    assert_eq!(
        f(Some("x"), "{}").kind(),
        FrameKind::Event {
            name: "x",
            data: "{}"
        }
    );
}
