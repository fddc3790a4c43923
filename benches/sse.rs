//! SSE decoder throughput (bytes/s) over the shapes that broke other decoders: chunk sizes from
//! 1 byte to 64 KiB, one huge `data:` line, many small events per read, mixed line endings, and
//! framing plus typed decoding. Doubling the input should double the time (linearity).

use std::hint::black_box;

use cma_bench::samples::{mixed_line_endings, one_long_line, sample_event_stream};
use cma_client::resources::sessions::events::dispatch_kind;
use cma_client::sse::SseDecoder;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn decode(bytes: &[u8], chunk: usize) -> usize {
    let mut decoder = SseDecoder::new();
    let mut frames = 0;
    for piece in bytes.chunks(chunk) {
        decoder.feed(piece);
        while let Some(frame) = decoder.next_frame() {
            black_box(&frame);
            frames += 1;
        }
    }
    frames + decoder.finish().is_some() as usize
}

fn chunk_sizes(c: &mut Criterion) {
    let stream = sample_event_stream(4 << 20);
    let mut group = c.benchmark_group("sse/session_stream_4MiB");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.sample_size(10);
    for chunk in [1usize, 16, 256, 1024, 4096, 65536] {
        group.bench_with_input(BenchmarkId::from_parameter(chunk), &chunk, |b, &chunk| {
            b.iter(|| decode(&stream, chunk))
        });
    }
    group.finish();
}

fn long_line(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse/one_data_line_1KiB_chunks");
    group.sample_size(10);
    for mib in [1usize, 2, 4, 8] {
        let bytes = one_long_line(mib << 20);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{mib}MiB")),
            &bytes,
            |b, bytes| b.iter(|| decode(bytes, 1024)),
        );
    }
    group.finish();
    let bytes = one_long_line(8 << 20);
    let mut group = c.benchmark_group("sse/one_8MiB_data_line_1B_chunks");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("1B", |b| b.iter(|| decode(&bytes, 1)));
    group.finish();
}

fn many_small_events(c: &mut Criterion) {
    let mut bytes = Vec::new();
    for i in 0..20_000 {
        bytes.extend_from_slice(format!("event: ping\ndata: {{\"n\":{i}}}\n\n").as_bytes());
    }
    let mut group = c.benchmark_group("sse/many_small_events_one_read");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("whole_buffer", |b| b.iter(|| decode(&bytes, bytes.len())));
    group.finish();
}

fn mixed_endings(c: &mut Criterion) {
    let bytes = mixed_line_endings(&sample_event_stream(4 << 20));
    let mut group = c.benchmark_group("sse/mixed_line_endings_4MiB");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    group.bench_function("64KiB_chunks", |b| b.iter(|| decode(&bytes, 65536)));
    group.finish();
}

fn typed(c: &mut Criterion) {
    let stream = sample_event_stream(1 << 20);
    let mut group = c.benchmark_group("sse/framing_and_typed_events_1MiB");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.sample_size(10);
    group.bench_function("64KiB_chunks", |b| {
        b.iter(|| {
            let mut decoder = SseDecoder::new();
            let mut events = 0;
            for piece in stream.chunks(65536) {
                decoder.feed(piece);
                // As `EventStream` reads a live stream: frames lent, not allocated.
                while let Some(frame) = decoder.next_frame_ref() {
                    if let Some(Ok(event)) = dispatch_kind(frame.kind()) {
                        black_box(event);
                        events += 1;
                    }
                }
            }
            events
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    chunk_sizes,
    long_line,
    many_small_events,
    mixed_endings,
    typed
);
criterion_main!(benches);
