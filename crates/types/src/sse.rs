//! Incremental, sans-IO Server-Sent-Events (SSE) decoder: the one every SSE reader in the
//! workspace uses, the session event stream (`GET /v1/sessions/{id}/events/stream`, re-exported as
//! `cma_client::sse`) and the model clients' streamed responses (`cma-models`).
//!
//! The decoder does no I/O: the transport [`feed`](SseDecoder::feed)s it whatever byte chunks the
//! network delivers, pulls complete frames out with [`next_frame`](SseDecoder::next_frame), and calls
//! [`finish`](SseDecoder::finish) once the connection is closed.
//!
//! # Why this is hand-written rather than taken from a crate
//!
//! Line-oriented SSE decoders that re-scan (or re-copy) the buffered, still-incomplete line every time
//! a network chunk arrives are quadratic in the length of that line. This is not hypothetical: one
//! 8 MB `data:` line arriving in 1 KiB chunks took about 7 s in the `eventsource-stream` crate (an
//! open issue at the time of writing), and Deno, openai-node, eventsource-parser and the Anthropic
//! TypeScript SDK all had to ship fixes for the same shape of bug. Agent events can carry very large
//! payloads (tool results, file contents), so this matters for us.
//!
//! This decoder keeps a *scan offset*: bytes that have already been searched for a line ending are
//! never searched again, so each input byte is examined O(1) times whatever the chunking. The buffer
//! is compacted only when the consumed prefix is at least as large as the live tail, so the cost of
//! compaction is amortised O(1) per byte too; a chunk is never appended by re-copying what is already
//! buffered. Lines are decoded to UTF-8 only once they are complete, which also makes multi-byte
//! characters split across chunks a non-issue. The hidden [`SseDecoder::bytes_scanned`] counter
//! lets tests assert linearity without timing anything. The whole thing is std-only.
//!
//! # Framing (HTML Living Standard, "event stream interpretation", and the Python SDK)
//!
//! - A line ends with `\n`, `\r\n` or `\r`. A `\r` at the end of one chunk followed by `\n` at the
//!   start of the next is *one* line ending.
//! - A blank line dispatches the frame being built. A block that set no field (only comments,
//!   unknown fields, or nothing at all) produces no frame.
//! - `field:value` — exactly one space after the colon is removed. A line without a colon is a field
//!   name with an empty value (`data` alone appends an empty data line). A line starting with `:` is
//!   a comment. Unknown field names are ignored.
//! - `event` sets the frame's name; every `data` line is appended, lines joined with `\n`; `retry`
//!   is taken only if it is a non-empty run of ASCII digits that fits in a `u64`; `id` is ignored if
//!   it contains U+0000.
//! - `id` follows the spec's (and the SDK's) *last event ID* semantics: it is **not** reset between
//!   frames, so [`SseFrame::id`] is the most recent `id` seen on the stream so far. (The SDK parses
//!   ids but never uses them; resuming is done by listing events and de-duplicating by event id.)
//! - Complete lines are decoded as UTF-8 lossily: invalid sequences become U+FFFD, never a panic.
//! - One UTF-8 byte-order mark at the very start of the stream is ignored.
//!
//! # Dispatch: what the client does with a frame
//!
//! [`SseFrame::kind`] classifies a frame with the official Python SDK's rules, in this order:
//!
//! 1. `event: ping` → [`FrameKind::Ping`]: skipped.
//! 2. no `event:` line (or an empty one: the SDK stores `event or None`) → [`FrameKind::NoEventName`]:
//!    **the client silently drops it, as the official Python SDK does.** The server (and our
//!    emulator) must therefore send an `event:` line on every event, e.g. `event: session.status_idle`.
//! 3. `event: error` → [`FrameKind::Error`] with the raw data: the client raises an API error.
//! 4. empty `data` → [`FrameKind::EmptyData`]: skipped.
//! 5. anything else → [`FrameKind::Event`]: the data is parsed as JSON and typed by its `type` field
//!    (the `event:` name is not used for typing).
//!
//! # Deliberate differences from the Python SDK's `SSEDecoder`
//!
//! - **End of stream.** The SDK's `_iter_chunks` yields the unterminated tail at EOF and splits it
//!   into lines, but since no blank line follows, the frame is never dispatched: an event whose final
//!   blank line never arrived is silently lost (the HTML spec likewise says to discard it).
//!   [`SseDecoder::finish`] instead *returns* that last frame, treating EOF as the end of the final
//!   line and of the frame. Reason: a stream cut after a complete `data:` line but before the blank
//!   line otherwise loses a real event without trace, and a truncated payload is better surfaced (it
//!   fails JSON parsing and can be reported) than hidden. A caller that wants strict SDK parity
//!   simply ignores what `finish` returns.
//! - **BOM.** The SDK decodes lines with plain `utf-8` (not `utf-8-sig`), so a leading BOM turns the
//!   first field name into `\u{feff}event` and that field is ignored. We strip it, as the HTML spec
//!   requires.
//! - **Invalid UTF-8.** The SDK raises `UnicodeDecodeError`; we substitute U+FFFD.
//! - **`retry`.** The SDK uses Python's `int()`, which also accepts signs, surrounding whitespace and
//!   `_`; we accept ASCII digits only, as the spec does. The SDK ignores `retry` either way.
//! - **Frames with no fields.** The SDK dispatches on a blank line whenever a last event id is set,
//!   even if the block itself was empty (yielding an event-less frame that it then drops). We emit a
//!   frame only if the block set a field; the observable result after dispatch is the same.

use std::mem;

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Once the buffer's capacity exceeds this, it is shrunk when mostly empty (after a huge line).
const SHRINK_ABOVE: usize = 1 << 20;
/// Capacity kept at least when shrinking.
const SHRINK_FLOOR: usize = 256 << 10;

/// One decoded SSE frame (the fields of one event block, before any JSON parsing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseFrame {
    /// The `event:` field, if the block had one (`Some("")` for an empty `event:` line).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n` (empty if there was none).
    pub data: String,
    /// The stream's last event ID at dispatch time: the most recent `id:` seen so far, possibly in
    /// an earlier block (spec and SDK semantics; never reset between frames).
    pub id: Option<String>,
    /// The `retry:` field of this block, if it was a valid run of ASCII digits.
    pub retry: Option<u64>,
}

/// What the official SDK does with a frame (section 6.5 dispatch rules, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameKind<'a> {
    /// `event: ping`: skipped.
    Ping,
    /// No `event:` line (or an empty one): silently dropped, as the Python SDK does.
    NoEventName,
    /// `event: error`: the client raises an API error; the payload is the raw data (may be empty).
    Error(&'a str),
    /// A named event with empty data: skipped.
    EmptyData,
    /// A named event with data: parse `data` as JSON and type it by its `type` field.
    Event {
        /// The `event:` name (informational only; typing uses the JSON `type` field).
        name: &'a str,
        /// The raw data, to be parsed as JSON.
        data: &'a str,
    },
}

impl SseFrame {
    /// Classify the frame with the SDK's dispatch rules, in order: ping → no event name → error →
    /// empty data → event.
    pub fn kind(&self) -> FrameKind<'_> {
        classify(self.event.as_deref(), &self.data)
    }
}

/// A decoded frame borrowed from the decoder ([`SseDecoder::next_frame_ref`]): the same fields as
/// [`SseFrame`], without allocating them for every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseFrameRef<'a> {
    pub event: Option<&'a str>,
    pub data: &'a str,
    pub id: Option<&'a str>,
    pub retry: Option<u64>,
}

impl<'a> SseFrameRef<'a> {
    /// See [`SseFrame::kind`].
    pub fn kind(&self) -> FrameKind<'a> {
        classify(self.event, self.data)
    }

    pub fn to_owned(&self) -> SseFrame {
        SseFrame {
            event: self.event.map(str::to_owned),
            data: self.data.to_owned(),
            id: self.id.map(str::to_owned),
            retry: self.retry,
        }
    }
}

fn classify<'a>(event: Option<&'a str>, data: &'a str) -> FrameKind<'a> {
    match event {
        Some("ping") => FrameKind::Ping,
        // The SDK's `ServerSentEvent` stores `event or None`, so an empty name counts as none.
        None | Some("") => FrameKind::NoEventName,
        Some("error") => FrameKind::Error(data),
        Some(_) if data.is_empty() => FrameKind::EmptyData,
        Some(name) => FrameKind::Event { name, data },
    }
}

/// Incremental SSE decoder. See the [module documentation](self) for the rules it implements.
///
/// ```
/// use cma_types::sse::{FrameKind, SseDecoder};
///
/// let mut dec = SseDecoder::new();
/// dec.feed(b"event: session.status_idle\r\ndata: {\"type\":");
/// assert!(dec.next_frame().is_none());
/// dec.feed(b"\"session.status_idle\"}\r\n\r\n");
/// let frame = dec.next_frame().expect("one complete frame");
/// assert_eq!(
///     frame.kind(),
///     FrameKind::Event { name: "session.status_idle", data: r#"{"type":"session.status_idle"}"# }
/// );
/// assert!(dec.finish().is_none());
/// ```
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Raw bytes; `buf[..pos]` is consumed and only waits for compaction.
    buf: Vec<u8>,
    /// Start of the first line not yet handed to the frame builder.
    pos: usize,
    /// Where the search for the next line ending resumes (`pos <= scan <= buf.len()`): everything in
    /// `buf[pos..scan]` is known to contain no `\r` or `\n`.
    scan: usize,
    /// The last line ended with a `\r` that was the last buffered byte: if the next byte is `\n`,
    /// it belongs to that line ending.
    skip_lf: bool,
    /// The frame being assembled from field lines.
    builder: FrameBuilder,
    /// Bytes examined by the line scanner (work counter for linearity tests).
    bytes_scanned: u64,
}

/// Per-stream field state: the frame under construction plus the sticky last event id.
///
/// Once a blank line dispatches, the frame's fields stay here (`ready`) until the decoder takes
/// them ([`FrameBuilder::take_frame`]) or lends them ([`SseDecoder::next_frame_ref`]) and moves
/// on; a lent frame's buffers are cleared and reused, so a stream read by reference allocates
/// nothing per frame.
#[derive(Debug, Default)]
struct FrameBuilder {
    /// The `event:` name; meaningful only when `has_event`.
    event: String,
    has_event: bool,
    data: String,
    /// A block's first `data` value, left where it is in the decoder's buffer instead of copied
    /// into `data` (most frames have one `data` line): copied only when a second line follows or
    /// the buffer is about to move. While set, `data` is empty and the bytes are not yet checked
    /// as UTF-8.
    data_in_buf: Option<(usize, usize)>,
    /// At least one `data` line was seen in this block (so the next one is preceded by `\n`).
    has_data: bool,
    retry: Option<u64>,
    /// This block set at least one field, so a blank line dispatches a frame.
    dirty: bool,
    last_event_id: Option<String>,
    /// The first line of the stream has been processed (a BOM is only stripped from that one).
    started: bool,
    /// A dispatched frame's fields are still held.
    ready: bool,
}

impl FrameBuilder {
    /// Interpret one complete line, `buf[start..end]` (without its line ending). Returns whether
    /// it was a blank line that dispatched a frame.
    fn line(&mut self, buf: &[u8], mut start: usize, end: usize) -> bool {
        if !self.started {
            self.started = true;
            if buf[start..end].starts_with(BOM) {
                start += BOM.len();
            }
        }
        let line = &buf[start..end];
        let (name, value_start) = match line.first() {
            None => return self.dispatch(),
            Some(b':') => return false, // comment
            Some(_) => match memchr::memchr(b':', line) {
                Some(colon) => {
                    let space = usize::from(line.get(colon + 1) == Some(&b' '));
                    (&line[..colon], start + colon + 1 + space)
                }
                None => (line, end),
            },
        };
        let value = &buf[value_start..end];
        match name {
            b"event" => {
                self.event.clear();
                push_lossy(&mut self.event, value);
                self.has_event = true;
                self.dirty = true;
            }
            b"data" => {
                if self.has_data {
                    self.keep_data(buf);
                    self.data.push('\n');
                    push_lossy(&mut self.data, value);
                } else {
                    self.data_in_buf = Some((value_start, end));
                }
                self.has_data = true;
                self.dirty = true;
            }
            // An id containing U+0000 is ignored (falls through to the catch-all arm).
            b"id" if !value.contains(&0) => {
                let id = self.last_event_id.get_or_insert_default();
                id.clear();
                push_lossy(id, value);
                self.dirty = true;
            }
            b"retry" => {
                if let Some(ms) = parse_retry(value) {
                    self.retry = Some(ms);
                    self.dirty = true;
                }
            }
            _ => {} // unknown field: ignored
        }
        false
    }

    /// End of block: if the block set any field, its frame is ready; returns whether it is.
    fn dispatch(&mut self) -> bool {
        if !mem::take(&mut self.dirty) {
            return false;
        }
        self.has_data = false;
        self.ready = true;
        true
    }

    /// Copies a `data` value still in the decoder's buffer into `data`: before the buffer moves,
    /// or when more data follows.
    fn keep_data(&mut self, buf: &[u8]) {
        if let Some((start, end)) = self.data_in_buf.take() {
            push_lossy(&mut self.data, &buf[start..end]);
        }
    }

    /// The ready frame, handed over (its buffers go with it).
    fn take_frame(&mut self, buf: &[u8]) -> SseFrame {
        self.keep_data(buf);
        self.ready = false;
        SseFrame {
            event: mem::take(&mut self.has_event).then(|| mem::take(&mut self.event)),
            data: mem::take(&mut self.data),
            id: self.last_event_id.clone(),
            retry: self.retry.take(),
        }
    }

    /// The ready frame, lent; its data straight from the decoder's buffer `buf` when it is one
    /// valid UTF-8 line there.
    fn frame_ref<'a>(&'a mut self, buf: &'a [u8]) -> SseFrameRef<'a> {
        let in_buf = self
            .data_in_buf
            .and_then(|(start, end)| std::str::from_utf8(&buf[start..end]).ok());
        if in_buf.is_none() {
            self.keep_data(buf);
        }
        SseFrameRef {
            event: self.has_event.then_some(self.event.as_str()),
            data: in_buf.unwrap_or(&self.data),
            id: self.last_event_id.as_deref(),
            retry: self.retry,
        }
    }

    /// Forgets a lent frame, keeping its buffers for the next one (unless a huge line grew them).
    fn release(&mut self) {
        if !mem::take(&mut self.ready) {
            return;
        }
        self.has_event = false;
        self.event.clear();
        self.retry = None;
        self.data_in_buf = None;
        if self.data.capacity() > SHRINK_ABOVE {
            self.data = String::new();
        } else {
            self.data.clear();
        }
    }

    /// Bytes held for the frame under construction.
    fn pending_len(&self) -> usize {
        if self.ready {
            return 0;
        }
        let in_buf = self.data_in_buf.map_or(0, |(start, end)| end - start);
        self.data.len() + in_buf + if self.has_event { self.event.len() } else { 0 }
    }
}

/// Appends the bytes as text, invalid UTF-8 replaced by U+FFFD. `from_utf8` first: its
/// validation is several times faster than `from_utf8_lossy`'s on the valid text streams nearly
/// always carry.
fn push_lossy(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// `retry:` value: a non-empty run of ASCII digits that fits in a `u64`.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Index of the first `\r` or `\n` in `hay` (memchr's SIMD search).
#[inline]
fn find_eol(hay: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\n', b'\r', hay)
}

impl SseDecoder {
    /// A decoder at the start of a stream. Use a new decoder for each connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append bytes from the network. Never fails; never re-scans bytes already scanned.
    ///
    /// This only buffers (compacting the consumed prefix when that is amortised-cheap); the work
    /// of finding lines and building frames happens in [`next_frame`](Self::next_frame).
    pub fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        self.compact();
        self.buf.extend_from_slice(chunk);
    }

    /// Take the next complete frame, if one is complete.
    ///
    /// Call it repeatedly after each [`feed`](Self::feed) until it returns `None`: one chunk may
    /// complete many frames.
    pub fn next_frame(&mut self) -> Option<SseFrame> {
        self.step(false).then(|| self.builder.take_frame(&self.buf))
    }

    /// [`next_frame`](Self::next_frame) without allocating: the frame is lent until the next call
    /// on the decoder, and its buffers are reused for the next frame.
    pub fn next_frame_ref(&mut self) -> Option<SseFrameRef<'_>> {
        if self.step(false) {
            Some(self.builder.frame_ref(&self.buf))
        } else {
            None
        }
    }

    /// End of stream: flush a final frame that had data/event but no terminating blank line.
    ///
    /// Any complete frames still buffered are returned first, one per call, so the simplest use is
    /// `while let Some(frame) = decoder.finish() { … }` after the connection closes. The
    /// unterminated tail of the stream is treated as a final complete line, and a frame left
    /// open by it (or by earlier lines) is returned as if a blank line had followed.
    ///
    /// **This differs from the Python SDK on purpose**: its `SSEDecoder` processes the
    /// unterminated tail but never dispatches it, so such a last event is silently lost (the HTML
    /// spec also discards it). We return it so that a real event is not lost and a truncated one
    /// surfaces as a JSON error instead of vanishing; callers wanting strict SDK parity ignore the
    /// frame returned after the last `next_frame`. See the module documentation.
    ///
    /// After `finish` has returned `None`, the decoder holds no data; feeding it more continues the
    /// same stream (the last event id is kept).
    pub fn finish(&mut self) -> Option<SseFrame> {
        if self.step(true) || self.builder.dispatch() {
            return Some(self.builder.take_frame(&self.buf));
        }
        None
    }

    /// Bytes buffered but not yet decoded into a frame (for memory-bound checks): raw bytes not yet
    /// split into lines, plus the event name and data of the frame under construction.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() - self.pos + self.builder.pending_len()
    }

    /// Bytes examined by the line scanner so far (a work counter for linearity tests: each input
    /// byte is examined once, plus at most one extra peek after each `\r`).
    #[doc(hidden)]
    pub fn bytes_scanned(&self) -> u64 {
        self.bytes_scanned
    }

    /// Hand complete lines to the builder until one dispatches a frame; returns whether one did
    /// (it is then ready in the builder).
    fn step(&mut self, eof: bool) -> bool {
        self.builder.release();
        while let Some((start, end)) = self.next_line(eof) {
            if self.builder.line(&self.buf, start, end) {
                return true;
            }
        }
        false
    }

    /// The next complete line as a range of `buf` (line ending excluded), consuming it. At EOF the
    /// unterminated remainder counts as a line.
    fn next_line(&mut self, eof: bool) -> Option<(usize, usize)> {
        let len = self.buf.len();
        if self.skip_lf {
            // The previous line ended with a `\r` that was the last byte we had.
            if self.pos == len {
                return None;
            }
            self.skip_lf = false;
            self.bytes_scanned += 1;
            if self.buf[self.pos] == b'\n' {
                self.pos += 1;
                self.scan = self.pos;
            }
        }
        let start = self.pos;
        let hay = &self.buf[self.scan..];
        match find_eol(hay) {
            Some(i) => {
                let eol = self.scan + i;
                self.bytes_scanned += i as u64 + 1;
                let mut next = eol + 1;
                if self.buf[eol] == b'\r' {
                    if next < len {
                        self.bytes_scanned += 1;
                        if self.buf[next] == b'\n' {
                            next += 1;
                        }
                    } else {
                        self.skip_lf = true;
                    }
                }
                self.pos = next;
                self.scan = next;
                Some((start, eol))
            }
            None => {
                self.bytes_scanned += hay.len() as u64;
                self.scan = len;
                if eof && start < len {
                    self.pos = len;
                    Some((start, len))
                } else {
                    None
                }
            }
        }
    }

    /// Drop the consumed prefix when that costs no more than the bytes it frees (amortised O(1)
    /// per byte), and give back memory after a huge line.
    fn compact(&mut self) {
        if self.pos == 0 {
            return;
        }
        let live = self.buf.len() - self.pos;
        if live > self.pos {
            return;
        }
        // The consumed prefix goes: a `data` value must not point into it any more.
        self.builder.keep_data(&self.buf);
        if live == 0 {
            self.buf.clear();
        } else {
            self.buf.drain(..self.pos);
        }
        self.scan -= self.pos;
        self.pos = 0;
        if self.buf.capacity() > SHRINK_ABOVE && self.buf.len() < self.buf.capacity() / 4 {
            self.buf.shrink_to(SHRINK_FLOOR.max(self.buf.len() * 2));
        }
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests;
