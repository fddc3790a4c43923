// The fuzz targets' checks, shared verbatim with the ordinary test `tests/fuzz_corpus.rs`
// through `include!`, so the corpus runs in every `cargo test` without cargo-fuzz.
//
// Each `check_*` takes arbitrary bytes and panics when an invariant breaks.

/// FNV-1a, for a deterministic chunking derived from the input itself.
fn fuzz_hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Decodes `data` fed in chunks of the given sizes (cycled), pulling frames after every chunk as
/// the transport does, then draining with `finish`. Also checks the decoder's work stays linear.
fn fuzz_decode_chunked(data: &[u8], sizes: &[usize]) -> Vec<cma_client::sse::SseFrame> {
    let mut decoder = cma_client::sse::SseDecoder::new();
    let mut frames = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        i += 1;
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        decoder.feed(chunk);
        while let Some(frame) = decoder.next_frame() {
            frames.push(frame);
        }
    }
    while let Some(frame) = decoder.finish() {
        frames.push(frame);
    }
    assert_eq!(
        decoder.buffered_len(),
        0,
        "data left after finish() returned None"
    );
    // Each byte is examined once, plus at most one peek after each `\r`.
    let carriage_returns = data.iter().filter(|&&b| b == b'\r').count() as u64;
    assert!(
        decoder.bytes_scanned() <= data.len() as u64 + carriage_returns,
        "scanned {} bytes of {} (quadratic rescanning?)",
        decoder.bytes_scanned(),
        data.len()
    );
    frames
}

/// SSE decoder: never panics, and the frames do not depend on how the bytes were chunked.
pub fn check_sse_decoder(data: &[u8]) {
    let whole = fuzz_decode_chunked(data, &[usize::MAX]);
    let mut seed = fuzz_hash(data);
    let random: Vec<usize> = (0..16)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 9) as usize + 1
        })
        .collect();
    for sizes in [&[1][..], &[2], &[3], &[7, 1], &random] {
        let chunked = fuzz_decode_chunked(data, sizes);
        assert_eq!(
            whole, chunked,
            "frames differ when fed in chunks of {sizes:?}"
        );
    }
    for frame in &whole {
        // Classifying never panics; a `retry` is only ever a run of digits.
        let _ = frame.kind();
        assert!(frame.id.as_deref().is_none_or(|id| !id.contains('\0')));
    }
}

/// The documented path rules (reference 4.2), written out independently of the emulator's
/// validator (the Cf table is the emulator's, since std has no general-category lookup).
/// Returns the first rule the path breaks.
pub fn fuzz_broken_path_rule(path: &str) -> Option<&'static str> {
    use unicode_normalization::UnicodeNormalization;
    if !path.starts_with('/') {
        return Some("starts with /");
    }
    if path.len() > 1024 {
        return Some("at most 1,024 bytes");
    }
    if path.chars().any(char::is_control) {
        return Some("no control characters");
    }
    if path.chars().any(cma_emulator::paths::is_format_char) {
        return Some("no format characters");
    }
    if path.contains(['\u{2028}', '\u{2029}']) {
        return Some("no line or paragraph separators");
    }
    if path.nfc().collect::<String>() != path {
        return Some("NFC");
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    if segments.len() > 20 {
        return Some("at most 20 segments");
    }
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Some("no empty, . or .. segment");
    }
    None
}

/// Memory path validation: never panics, accepts exactly the paths the documented rules allow,
/// names the field when it refuses, and agrees with the `path_prefix` validator.
pub fn check_memory_path(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let verdict = cma_emulator::paths::validate_memory_path(path, "path");
    let broken = fuzz_broken_path_rule(path);
    match (&verdict, broken) {
        (Ok(()), None) => {
            // A valid path, as a directory, is a valid prefix.
            let prefix = format!("{path}/");
            assert!(
                cma_emulator::paths::validate_path_prefix(&prefix).is_ok(),
                "{prefix:?} refused as a prefix"
            );
        }
        (Err(message), Some(_)) => {
            assert!(
                message.starts_with("path: "),
                "{message:?} does not name the field"
            );
        }
        (Ok(()), Some(rule)) => panic!("{path:?} accepted but breaks the rule {rule:?}"),
        (Err(message), None) => {
            panic!("{path:?} refused ({message}) but breaks no documented rule")
        }
    }
    if let Ok(()) = cma_emulator::paths::validate_path_prefix(path) {
        assert!(
            path.starts_with('/') && path.ends_with('/'),
            "{path:?} accepted as a prefix"
        );
        assert!(path == "/" || fuzz_broken_path_rule(&path[..path.len() - 1]).is_none());
    }
}

/// Scenario files: never panics; a refused file gets errors that name the file and point inside it.
pub fn check_scenario_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/nonexistent-fuzz-dir/scenario.toml");
    match cma_scenario::load_str(path, text) {
        Ok(scenario) => assert!(!scenario.name.is_empty(), "a scenario without a name"),
        Err(errors) => {
            assert!(!errors.0.is_empty(), "refused without an error");
            let lines = text.lines().count() + 1;
            for e in &errors.0 {
                let shown = e.to_string();
                assert!(shown.starts_with("/nonexistent-fuzz-dir/"), "{shown:?}");
                assert!(!e.message.trim().is_empty(), "an empty message: {shown:?}");
                if let Some((line, column)) = e.position {
                    assert!(line >= 1 && column >= 1, "{shown:?}");
                    // Errors about the customers file point into that file, not this one.
                    if e.path == path {
                        assert!(
                            line <= lines,
                            "line {line} of a {lines}-line file: {shown:?}"
                        );
                    }
                }
            }
        }
    }
}
