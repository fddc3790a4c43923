//! The fuzz targets' seed corpora (`fuzz/corpus/<target>/`) run through the same checks the
//! cargo-fuzz targets use (`fuzz/checks.rs`, included here verbatim), so every `cargo test`
//! replays them without cargo-fuzz or a nightly toolchain. Crashes a fuzzer finds belong in the
//! corpus: copy `fuzz/artifacts/<target>/crash-*` into `fuzz/corpus/<target>/`.
#![allow(clippy::unwrap_used)]

include!("../fuzz/checks.rs");

use std::path::PathBuf;

/// Every file of a target's corpus, sorted by name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs `check` on every corpus file, naming the file that fails.
fn replay(target: &str, min_files: usize, check: fn(&[u8])) {
    let files = corpus(target);
    assert!(
        files.len() >= min_files,
        "{target}: only {} corpus files",
        files.len()
    );
    for (path, bytes) in files {
        if std::panic::catch_unwind(|| check(&bytes)).is_err() {
            panic!("{target}: the check fails on {}", path.display());
        }
    }
}

/// To see it fail: in `SseDecoder::next_line` (`crates/client/src/sse.rs`), leave `skip_lf`
/// false when a line ends with a `\r` that is the last buffered byte; `crlf.sse` fed in 1-byte
/// chunks then reads each CRLF as two line endings (an early dispatch), and the check reports
/// "frames differ when fed in chunks of [1]".
#[test]
fn sse_decoder_corpus() {
    replay("sse_decoder", 8, check_sse_decoder);
}

/// To see it fail: drop the NFC rule from `validate_memory_path`; the check reports
/// `"/cafe\u{301}.md" accepted but breaks the rule "NFC"` (`not_nfc.txt`).
#[test]
fn memory_path_corpus() {
    replay("memory_path", 15, check_memory_path);
}

/// To see it fail: make `LoadError::at` report the line one past the error; `empty.toml`'s
/// error then points at "line 2 of a 1-line file".
#[test]
fn scenario_file_corpus() {
    replay("scenario_file", 5, check_scenario_file);
}

/// The path rules' own witnesses: each rule refuses its corpus example, and the boundary cases
/// are accepted.
#[test]
fn path_rules_have_witnesses() {
    for (file, rule) in [
        ("relative.txt", Some("starts with /")),
        ("1025_bytes.txt", Some("at most 1,024 bytes")),
        ("1024_bytes.txt", None),
        ("control.txt", Some("no control characters")),
        ("zwsp.txt", Some("no format characters")),
        ("bom.txt", Some("no format characters")),
        (
            "line_separator.txt",
            Some("no line or paragraph separators"),
        ),
        ("not_nfc.txt", Some("NFC")),
        ("nfc.txt", None),
        ("twenty_segments.txt", None),
        ("twenty_one_segments.txt", Some("at most 20 segments")),
        ("empty_segment.txt", Some("no empty, . or .. segment")),
        ("dotdot.txt", Some("no empty, . or .. segment")),
        ("root.txt", Some("no empty, . or .. segment")),
    ] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/memory_path")
            .join(file);
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(fuzz_broken_path_rule(&text), rule, "{file}");
    }
}

/// The decoder check itself catches chunking-dependent output: a "decoder" that splits lines at
/// chunk boundaries would produce different frames, which `assert_eq!` in the check reports.
#[test]
fn chunkings_are_really_different() {
    let data = b"event: a\r\ndata: 1\r\n\r\n";
    // 1-byte chunks cut every CRLF in two: the check must still see identical frames.
    let whole = fuzz_decode_chunked(data, &[usize::MAX]);
    assert_eq!(whole.len(), 1);
    assert_eq!(fuzz_decode_chunked(data, &[1]), whole);
    assert_eq!(fuzz_hash(b"a"), fuzz_hash(b"a"));
    assert_ne!(fuzz_hash(b"a"), fuzz_hash(b"b"));
}
