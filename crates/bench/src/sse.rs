//! SSE decoding throughput over a byte buffer, for comparison with other decoders on the same bytes.

use std::time::Instant;

use cma_client::resources::sessions::events::dispatch_kind;
use cma_client::sse::{FrameKind, SseDecoder};
use serde::Serialize;

use crate::BenchError;

#[derive(Debug, Clone)]
pub struct SseConfig {
    /// Bytes fed to the decoder per call.
    pub chunk: usize,
    /// Also decode each frame's JSON into a typed event.
    pub typed: bool,
    /// Passes over the bytes; the fastest is reported.
    pub iterations: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SseReport {
    pub bytes: usize,
    pub chunk: usize,
    pub typed: bool,
    /// Frames decoded in one pass.
    pub frames: usize,
    /// Typed events decoded in one pass (0 unless `typed`).
    pub events: usize,
    pub iterations: usize,
    pub best_seconds: f64,
    pub mib_per_second: f64,
}

/// Decodes `bytes` `iterations` times in `chunk`-byte pieces and reports the fastest pass.
pub fn measure_sse(bytes: &[u8], config: &SseConfig) -> Result<SseReport, BenchError> {
    if config.chunk == 0 {
        return Err(BenchError::InvalidSettings(
            "the chunk size must be at least 1 byte".into(),
        ));
    }
    let iterations = config.iterations.max(1);
    let mut best = f64::INFINITY;
    let mut counts = (0, 0);
    for _ in 0..iterations {
        let start = Instant::now();
        counts = decode_once(bytes, config.chunk, config.typed);
        best = best.min(start.elapsed().as_secs_f64());
    }
    let (frames, events) = counts;
    Ok(SseReport {
        bytes: bytes.len(),
        chunk: config.chunk,
        typed: config.typed,
        frames,
        events,
        iterations,
        best_seconds: best,
        mib_per_second: bytes.len() as f64 / best / f64::from(1u32 << 20),
    })
}

/// One pass: (frames, typed events decoded).
fn decode_once(bytes: &[u8], chunk: usize, typed: bool) -> (usize, usize) {
    // As `EventStream` reads a live stream: frames lent by the decoder, not allocated.
    let mut decoder = SseDecoder::new();
    let (mut frames, mut events) = (0, 0);
    let mut take = |kind: FrameKind<'_>| {
        frames += 1;
        if typed && let Some(Ok(event)) = dispatch_kind(kind) {
            std::hint::black_box(event);
            events += 1;
        }
    };
    for piece in bytes.chunks(chunk) {
        decoder.feed(piece);
        while let Some(frame) = decoder.next_frame_ref() {
            take(frame.kind());
        }
    }
    while let Some(frame) = decoder.finish() {
        take(frame.kind());
    }
    (frames, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(chunk: usize, typed: bool) -> SseConfig {
        SseConfig {
            chunk,
            typed,
            iterations: 2,
        }
    }

    #[test]
    fn counts_every_frame_and_event_whatever_the_chunking() {
        let bytes =
            b"event: message\ndata: {\"type\":\"session.status_running\",\"id\":\"sevt_1\"}\n\n\
                      event: ping\ndata: {}\n\n\
                      event: message\ndata: {\"type\":\"agent.thinking\",\"id\":\"sevt_2\"}";
        for chunk in [1, 7, 4096] {
            let r = measure_sse(bytes, &config(chunk, true)).expect("valid settings");
            // The last frame has no blank line after it: `finish` must still deliver it.
            assert_eq!((r.frames, r.events), (3, 2), "chunk {chunk}");
            assert!(r.mib_per_second > 0.0 && r.best_seconds.is_finite());
        }
        let r = measure_sse(bytes, &config(4096, false)).expect("valid settings");
        assert_eq!((r.frames, r.events), (3, 0));
    }

    #[test]
    fn a_zero_chunk_is_refused() {
        assert!(matches!(
            measure_sse(b"data: x\n\n", &config(0, false)),
            Err(BenchError::InvalidSettings(_))
        ));
    }
}
