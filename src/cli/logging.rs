//! Where the CLI's logs go: stderr, filtered by `RUST_LOG` (default `warn`), each event with every
//! secret `cma` holds replaced by `[redacted]` (`cma_types::redact`), whatever logged it: a
//! library at `trace` may print a request, a tool result or an error that carries one.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

/// Wraps a log destination so each event reaches it redacted.
struct Redacted<M>(M);

/// One event's text, held until the event is whole (so a secret split across writes is still
/// seen) and written redacted to `out` when dropped.
struct RedactedEvent<W: Write> {
    text: Vec<u8>,
    out: W,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacted<M> {
    type Writer = RedactedEvent<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedEvent {
            text: Vec::new(),
            out: self.0.make_writer(),
        }
    }
}

impl<W: Write> Write for RedactedEvent<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactedEvent<W> {
    fn drop(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.text);
        let redacted = cma_emulator::redact::redact(&text);
        let _ = self.out.write_all(redacted.as_bytes());
        let _ = self.out.flush();
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `warn`), redacted.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacted(std::io::stderr))
        .try_init();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A secret written in two pieces reaches the log redacted. Break it: write `self.text` as is
    /// in `drop`.
    #[test]
    fn a_log_event_is_written_with_its_secrets_redacted() {
        cma_emulator::redact::register("sk-log-test-secret-0123456789");
        let log = Redacted(Mutex::new(Vec::new()));
        {
            let mut event = log.make_writer();
            event.write_all(b"request key=sk-log-test-").unwrap();
            event.write_all(b"secret-0123456789 sent\n").unwrap();
        }
        let written = log.0.lock().unwrap().clone();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            "request key=[redacted] sent\n"
        );
    }
}
