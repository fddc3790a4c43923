//! Sample event streams for the SSE throughput benchmark (`cma bench sse`) and the criterion
//! benches of the decoder.

/// A realistic session event stream of at least `target_len` bytes: status changes, a memory
/// read and its result, a reply, the idle event, and a ping, repeated.
pub fn sample_event_stream(target_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target_len + 4096);
    let mut i = 0u64;
    while out.len() < target_len {
        let frames = [
            (
                "session.status_running",
                format!(
                    r#"{{"type":"session.status_running","id":"sevt_{i}a","processed_at":"2026-11-24T12:00:00.000001Z"}}"#
                ),
            ),
            (
                "agent.tool_use",
                format!(
                    r#"{{"type":"agent.tool_use","id":"sevt_{i}b","processed_at":"2026-11-24T12:00:00.000002Z","name":"read","input":{{"file_path":"/mnt/memory/shopper-preferences/preferences.md"}},"evaluated_permission":"allow"}}"#
                ),
            ),
            (
                "agent.tool_result",
                format!(
                    r##"{{"type":"agent.tool_result","id":"sevt_{i}c","processed_at":"2026-11-24T12:00:00.000003Z","tool_use_id":"sevt_{i}b","content":[{{"type":"text","text":"# Customer notes\n\n## Size\n- Size: medium\n"}}],"is_error":false}}"##
                ),
            ),
            (
                "agent.message",
                format!(
                    r#"{{"type":"agent.message","id":"sevt_{i}d","processed_at":"2026-11-24T12:00:00.000004Z","content":[{{"type":"text","text":"From your notes I remember: size medium; budget under $200. Here are three jackets in earth tones under $200."}}]}}"#
                ),
            ),
            (
                "session.status_idle",
                format!(
                    r#"{{"type":"session.status_idle","id":"sevt_{i}e","processed_at":"2026-11-24T12:00:00.000005Z","stop_reason":{{"type":"end_turn"}}}}"#
                ),
            ),
        ];
        for (name, data) in frames {
            out.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
        }
        out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        i += 1;
    }
    out
}

/// One event whose single `data:` line is `len` bytes long.
pub fn one_long_line(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    out.extend_from_slice(b"event: blob\ndata: ");
    out.extend(std::iter::repeat_n(b'x', len));
    out.extend_from_slice(b"\n\n");
    out
}

/// The same stream with its line endings rotated through `\n`, `\r\n` and `\r`.
pub fn mixed_line_endings(stream: &[u8]) -> Vec<u8> {
    let endings: [&[u8]; 3] = [b"\n", b"\r\n", b"\r"];
    let mut out = Vec::with_capacity(stream.len() + stream.len() / 16);
    for (i, line) in stream.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(endings[i % 3]);
        }
        out.extend_from_slice(line);
    }
    out
}
