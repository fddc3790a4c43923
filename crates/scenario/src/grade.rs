//! `llm_rubric` checks: a grader model (`--grader anthropic:MODEL` or `--grader
//! openai:MODEL@URL`) judges the reply in scope against the check's rubric. The verdict's reason
//! is the check's `seen`, so it reaches every report. Verdicts are cached per (grader, rubric,
//! reply) in a directory under the reports directory, so a re-run of the same replies asks
//! nothing.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use cma_models::{Backend, ClientConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::check::Verdict;
use crate::text::redact_url;

const SYSTEM: &str = "You grade the replies of a customer-facing AI agent against a rubric. \
Answer with one JSON object and nothing else: {\"pass\": true or false, \"reason\": \"one short sentence\"}.";

/// Bound on one grading, retries included.
const GRADE_TIMEOUT: Duration = Duration::from_secs(300);

/// Which model grades, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraderSpec {
    pub backend: Backend,
    pub model: String,
    /// `None`: the backend's default (api.anthropic.com, or Ollama's on 127.0.0.1).
    pub base_url: Option<String>,
}

impl FromStr for GraderSpec {
    type Err = String;

    /// `anthropic:MODEL`, `openai:MODEL@URL` (either may carry `@URL`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "a grader is `anthropic:MODEL` or `openai:MODEL@URL` (e.g. openai:qwen2.5:7b@http://127.0.0.1:11434/v1), not {s:?}"
            )
        };
        let (backend, rest) = s.trim().split_once(':').ok_or_else(bad)?;
        let backend = match backend {
            "anthropic" => Backend::Anthropic,
            "openai" => Backend::OpenAi,
            _ => return Err(bad()),
        };
        // Model ids may contain `:` (qwen2.5:7b) but not `@http`.
        let (model, base_url) = match rest.find("@http") {
            Some(at) => (&rest[..at], Some(rest[at + 1..].to_string())),
            None => (rest, None),
        };
        if model.trim().is_empty() {
            return Err(bad());
        }
        Ok(GraderSpec {
            backend,
            model: model.trim().to_string(),
            base_url,
        })
    }
}

impl fmt::Display for GraderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.backend, self.model)?;
        match &self.base_url {
            Some(u) => write!(f, "@{}", redact_url(u).trim_end_matches('/')),
            None => Ok(()),
        }
    }
}

/// A cached verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cached {
    passed: bool,
    reason: String,
}

/// A grader with its cache.
#[derive(Debug, Clone)]
pub struct Grader {
    spec: GraderSpec,
    config: ClientConfig,
    cache_dir: Option<PathBuf>,
}

impl Grader {
    pub fn new(spec: GraderSpec, cache_dir: Option<PathBuf>) -> Self {
        let config = ClientConfig {
            backend: spec.backend,
            base_url: spec.base_url.clone(),
            max_tokens: 1024,
            request_timeout: Duration::from_secs(120),
            ..ClientConfig::default()
        };
        // The grader's key is redacted from everything `cma` writes, as every key it holds.
        if let Some(key) = config.key() {
            cma_client::types::redact::register(key.expose());
        }
        Grader {
            spec,
            config,
            cache_dir,
        }
    }

    fn cache_path(&self, rubric: &str, reply: &str) -> Option<PathBuf> {
        let mut h = Sha256::new();
        for part in [self.spec.to_string().as_str(), rubric, reply] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let name = format!("{}.json", hex::encode(h.finalize()));
        self.cache_dir.as_ref().map(|d| d.join(name))
    }

    /// Judges `reply` against `rubric`.
    pub async fn judge(&self, expected: String, rubric: &str, reply: &str) -> Verdict {
        let verdict = |c: &Cached, cached: bool| Verdict {
            passed: c.passed,
            expected: expected.clone(),
            seen: format!(
                "grader {}{}: {}",
                self.spec,
                if cached { " (cached)" } else { "" },
                c.reason
            ),
        };
        let path = self.cache_path(rubric, reply);
        if let Some(c) = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<Cached>(&t).ok())
        {
            return verdict(&c, true);
        }
        let question = format!(
            "Rubric:\n{rubric}\n\nReply to grade:\n<reply>\n{}\n</reply>",
            if reply.is_empty() {
                "(no reply)"
            } else {
                reply
            }
        );
        let (config, model) = (self.config.clone(), self.spec.model.clone());
        let call = tokio::task::spawn_blocking(move || {
            cma_models::complete(&config, &model, SYSTEM, &question)
        });
        let answer = match tokio::time::timeout(GRADE_TIMEOUT, call).await {
            Ok(Ok(Ok(text))) => text,
            Ok(Ok(Err(e))) => {
                return Verdict::failed(expected, format!("grader {}: {e}", self.spec));
            }
            Ok(Err(_)) | Err(_) => {
                return Verdict::failed(
                    expected,
                    format!(
                        "grader {}: no answer within {} s",
                        self.spec,
                        GRADE_TIMEOUT.as_secs()
                    ),
                );
            }
        };
        let Some(mut c) = parse_verdict(&answer) else {
            let shown: String = answer.chars().take(200).collect();
            return Verdict::failed(
                expected,
                format!(
                    "grader {}: its answer is not a verdict: {shown:?}",
                    self.spec
                ),
            );
        };
        // The reason reaches the cache file and every report: no secret `cma` holds does.
        c.reason = cma_client::types::redact::redact(&c.reason).into_owned();
        if let Some(p) = &path {
            let written = p
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(p, serde_json::to_string(&c).unwrap_or_default()));
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not cache a grader verdict");
            }
        }
        verdict(&c, false)
    }
}

/// `{"pass": bool, "reason": "..."}`, possibly wrapped in prose or a code fence.
fn parse_verdict(answer: &str) -> Option<Cached> {
    let start = answer.find('{')?;
    let end = answer.rfind('}')?;
    let v: serde_json::Value = serde_json::from_str(answer.get(start..=end)?).ok()?;
    Some(Cached {
        passed: v.get("pass")?.as_bool()?,
        reason: v
            .get("reason")
            .and_then(|r| r.as_str())
            .unwrap_or("(no reason given)")
            .to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn grader_specs() {
        let a: GraderSpec = "anthropic:claude-haiku-4-5".parse().unwrap();
        assert_eq!(
            (a.backend, a.model.as_str(), a.base_url),
            (Backend::Anthropic, "claude-haiku-4-5", None)
        );
        let o: GraderSpec = "openai:qwen2.5:7b@http://127.0.0.1:11434/v1"
            .parse()
            .unwrap();
        assert_eq!(o.model, "qwen2.5:7b");
        assert_eq!(o.base_url.as_deref(), Some("http://127.0.0.1:11434/v1"));
        assert_eq!(o.to_string(), "openai:qwen2.5:7b@http://127.0.0.1:11434/v1");
        for bad in ["gpt-4", "mistral:x", "openai:", "anthropic:@http://x"] {
            assert!(bad.parse::<GraderSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn verdicts_are_read_from_json_in_prose() {
        let c = parse_verdict("Sure.\n```json\n{\"pass\": false, \"reason\": \"No size.\"}\n```")
            .unwrap();
        assert!(!c.passed);
        assert_eq!(c.reason, "No size.");
        assert!(parse_verdict("{\"pass\": \"yes\"}").is_none());
        assert!(parse_verdict("I think it passes").is_none());
    }
}
