//! Outcomes (`user.define_outcome`): the agent works toward the description in a turn, then the
//! grader judges the turn against the rubric: `span.outcome_evaluation_start` →
//! `span.outcome_evaluation_end{result, explanation, iteration}`. `needs_revision` queues
//! another turn (the grader's explanation and the description) until `max_iterations`; the
//! last unmet evaluation is `max_iterations_reached`, followed by one acknowledgment message.
//! `session.outcome_evaluations` tracks each outcome's state to its final result.
//!
//! A model-backed agent's turns are graded by its model ([`model_grade`]: one question with the
//! description, the rubric and the reply; the answer's first word is the verdict). For the
//! reference agent the grader is rule-based: every rubric line that names
//! a file (`notes.md`, `/mnt/memory/x/a.txt`) is met when a mounted store holds that file, and
//! every phrase in double quotes is met when the reply or a mounted file contains it (case
//! folded). A rubric with nothing to check `failed` (the grader cannot apply it); a `file`
//! rubric too (the emulator has no files to read it from).

use cma_types::{
    AgentMessage, ContentBlock, Marker, ModelUsage, OutcomeEvaluationEnd,
    OutcomeEvaluationProgress, SessionEvent, SessionResource,
};
use serde_json::Value;

use crate::clock;
use crate::store::Model;
use crate::store::pending::Queued;

/// File name endings the grader takes for a file a rubric line names.
const FILE_ENDINGS: &[&str] = &[
    "md", "txt", "json", "csv", "yaml", "yml", "toml", "html", "xml", "log", "py", "rs", "js", "ts",
];

/// The rubric's text (`{type:"text", content}`), or `None` for a `file` rubric.
fn rubric_text(rubric: &Value) -> Option<&str> {
    (rubric.get("type").and_then(Value::as_str) == Some("text"))
        .then(|| rubric.get("content").and_then(Value::as_str))
        .flatten()
}

/// The phrases in double quotes ("…" or “…”) of a line, and the line without them.
fn quoted(line: &str) -> (Vec<String>, String) {
    let mut phrases = Vec::new();
    let mut rest = String::new();
    let mut current: Option<String> = None;
    for c in line.chars() {
        match (&mut current, c) {
            (None, '"' | '“') => current = Some(String::new()),
            (Some(p), '"' | '”') => {
                if !p.trim().is_empty() {
                    phrases.push(p.trim().to_string());
                }
                current = None;
            }
            (Some(p), c) => p.push(c),
            (None, c) => rest.push(c),
        }
    }
    (phrases, rest)
}

/// The file names a line (outside quotes) names.
fn files_named(line: &str) -> Vec<String> {
    line.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| ",;:()[]`'!?".contains(c))
                .trim_end_matches('.')
        })
        .filter(|w| {
            w.rsplit_once('.').is_some_and(|(name, ext)| {
                !name.is_empty()
                    && !name.ends_with('/')
                    && FILE_ENDINGS.contains(&ext.to_ascii_lowercase().as_str())
            })
        })
        .map(str::to_string)
        .collect()
}

/// Grades `reply` and the mounted `files` (`(full path, content)`) against a text rubric:
/// `(result, explanation)`.
pub fn grade(rubric: &str, reply: &str, files: &[(String, String)]) -> (&'static str, String) {
    let mut met = Vec::new();
    let mut unmet = Vec::new();
    let reply_folded = reply.to_lowercase();
    for line in rubric.lines() {
        let (phrases, rest) = quoted(line);
        for f in files_named(&rest) {
            let found = files.iter().any(|(path, _)| {
                path == &f || path.ends_with(&format!("/{}", f.trim_start_matches('/')))
            });
            if found {
                met.push(format!("file {f} exists"));
            } else {
                unmet.push(format!("no mounted store holds {f}"));
            }
        }
        for p in phrases {
            let folded = p.to_lowercase();
            let found = reply_folded.contains(&folded)
                || files
                    .iter()
                    .any(|(_, c)| c.to_lowercase().contains(&folded));
            if found {
                met.push(format!("\"{p}\" is present"));
            } else {
                unmet.push(format!(
                    "\"{p}\" is in neither the reply nor a mounted file"
                ));
            }
        }
    }
    if met.is_empty() && unmet.is_empty() {
        return (
            "failed",
            "The rubric names no file and quotes no phrase, so the emulator's rule-based grader has nothing to check.".into(),
        );
    }
    if unmet.is_empty() {
        (
            "satisfied",
            format!("All criteria met: {}.", met.join("; ")),
        )
    } else {
        (
            "needs_revision",
            format!("Not yet met: {}.", unmet.join("; ")),
        )
    }
}

const GRADER_SYSTEM: &str = "You are the grader of an agent's work toward an outcome. Judge only against the rubric. Answer with SATISFIED or NEEDS_REVISION as the first word, then one short paragraph explaining which criteria are met or missing.";

/// Grades a reply with the agent's model (blocking; called outside the model's lock):
/// `(result, explanation)`. A failed call or an answer with no verdict is `failed`.
pub fn model_grade(
    config: &crate::agent::model::AgentConfig,
    model: &str,
    description: &str,
    rubric: &Value,
    reply: &str,
) -> (String, String) {
    let Some(rubric) = rubric_text(rubric) else {
        return (
            "failed".into(),
            "The emulator's grader cannot read a `file` rubric.".into(),
        );
    };
    let question =
        format!("Outcome: {description}\n\nRubric:\n{rubric}\n\nThe agent's final reply:\n{reply}");
    match cma_models::complete(&config.client(), model, GRADER_SYSTEM, &question) {
        Ok(answer) => {
            let answer = answer.trim();
            let first = answer
                .split(|c: char| !c.is_ascii_alphabetic() && c != '_')
                .find(|w| !w.is_empty())
                .unwrap_or("")
                .to_ascii_uppercase();
            let explanation = answer[answer.find(char::is_whitespace).unwrap_or(answer.len())..]
                .trim()
                .to_string();
            match first.as_str() {
                "SATISFIED" => ("satisfied".into(), explanation),
                "NEEDS_REVISION" => ("needs_revision".into(), explanation),
                _ => (
                    "failed".into(),
                    format!("The grader gave no verdict: {answer}"),
                ),
            }
        }
        Err(e) => (
            "failed".into(),
            format!("The grader's model call failed: {e}"),
        ),
    }
}

impl Model {
    /// The description and rubric of an outcome, for a grader that runs outside the lock.
    pub(crate) fn outcome_task(&self, sid: &str, outcome_id: &str) -> Option<(String, Value)> {
        let rec = self.sessions.get(sid)?;
        let spec = rec.outcomes.iter().find(|o| o.outcome_id == outcome_id)?;
        let state = rec
            .session
            .outcome_evaluations
            .iter()
            .find(|o| o.outcome_id == outcome_id)?;
        Some((state.description.clone(), spec.rubric.clone()))
    }

    /// The files of the session's mounted stores, as `(full path, content)`.
    fn mounted_files(&self, sid: &str) -> Vec<(String, String)> {
        let Some(rec) = self.sessions.get(sid) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in &rec.session.resources {
            let SessionResource::MemoryStore(ms) = r else {
                continue;
            };
            let mount = ms.mount_path.clone().unwrap_or_default();
            let Some(store) = self.stores.get(&ms.memory_store_id) else {
                continue;
            };
            for (path, id) in &store.paths {
                if let Some(m) = self.memories.get(id) {
                    let content = m.memory.content.clone().unwrap_or_default();
                    out.push((format!("{mount}{path}"), content));
                }
            }
        }
        out
    }

    /// Grades the turn that worked on `outcome_id` (its reply `reply`): the evaluation span, the
    /// outcome's new state, and the next step (a revision turn queued first, or the final
    /// acknowledgment message).
    /// `graded` is a model grader's verdict, when one ran; else the rule-based grader decides.
    pub(crate) fn evaluate_outcome(
        &mut self,
        sid: &str,
        outcome_id: &str,
        reply: &str,
        graded: Option<(String, String)>,
    ) {
        let Some(rec) = self.sessions.get(sid) else {
            return;
        };
        let Some(spec) = rec
            .outcomes
            .iter()
            .find(|o| o.outcome_id == outcome_id)
            .cloned()
        else {
            return;
        };
        let Some(state) = rec
            .session
            .outcome_evaluations
            .iter()
            .find(|o| o.outcome_id == outcome_id)
            .cloned()
        else {
            return;
        };
        let iteration = state.iteration;
        if let Some(o) = self.outcome_mut(sid, outcome_id) {
            o.result = "evaluating".into();
        }
        let progress = OutcomeEvaluationProgress {
            outcome_id: outcome_id.to_string(),
            iteration,
        };
        let Some(start) =
            self.append_event(sid, SessionEvent::SpanOutcomeEvaluationStart, progress)
        else {
            return;
        };
        let (verdict, explanation) = match (graded, rubric_text(&spec.rubric)) {
            (Some(graded), _) => graded,
            (None, Some(text)) => {
                let (v, e) = grade(text, reply, &self.mounted_files(sid));
                (v.to_string(), e)
            }
            (None, None) => (
                "failed".to_string(),
                "The emulator's grader cannot read a `file` rubric.".to_string(),
            ),
        };
        let last = iteration + 1 >= spec.max_iterations;
        let result = match verdict.as_str() {
            "needs_revision" if last => "max_iterations_reached",
            "satisfied" => "satisfied",
            "needs_revision" => "needs_revision",
            _ => "failed",
        };
        let end = OutcomeEvaluationEnd {
            outcome_evaluation_start_id: start.id.clone(),
            outcome_id: outcome_id.to_string(),
            iteration,
            result: result.to_string(),
            explanation: explanation.clone(),
            usage: serde_json::to_value(ModelUsage::default()).ok(),
        };
        self.append_event(sid, SessionEvent::SpanOutcomeEvaluationEnd, end);
        let Some(o) = self.outcome_mut(sid, outcome_id) else {
            return;
        };
        o.explanation = Some(explanation.clone());
        if result == "needs_revision" {
            o.iteration = iteration + 1;
            o.result = "running".into();
            let text = format!(
                "{}\n\nThe grader asks for a revision: {explanation}",
                o.description
            );
            if let Some(rec) = self.sessions.get_mut(sid) {
                rec.queue.push_front(Queued {
                    event_id: start.id.clone(),
                    text,
                    outcome: Some(outcome_id.to_string()),
                });
            }
            return;
        }
        o.result = result.into();
        o.completed_at = Some(clock::now());
        if result == "max_iterations_reached" {
            // One acknowledgment turn before the session idles (as the SDK documents it).
            let text = format!(
                "I could not meet the outcome within {} iterations. {explanation}",
                spec.max_iterations
            );
            if let Some(span) =
                self.append_event(sid, SessionEvent::SpanModelRequestStart, Marker {})
            {
                let content = vec![ContentBlock::text(text.clone())];
                self.append_event(sid, SessionEvent::AgentMessage, AgentMessage { content });
                let usage = crate::agent::ModelUsage {
                    output_tokens: text.len().div_ceil(4) as u64,
                    ..Default::default()
                };
                super::lifecycle::end_span(self, sid, &span.id, usage, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_quoted_phrases_are_checked_and_plain_lines_are_not() {
        let files = vec![(
            "/mnt/memory/notes/preferences.md".to_string(),
            "- You wear size 41.".to_string(),
        )];
        let rubric =
            "- The notes are kept in preferences.md\n- It mentions \"size 41\"\n- Be kind.";
        let (r, why) = grade(rubric, "Done.", &files);
        assert_eq!(r, "satisfied", "{why}");
        let (r, why) = grade("- A \"window seat\" is noted in seats.md", "ok", &files);
        assert_eq!(r, "needs_revision");
        assert!(
            why.contains("seats.md") && why.contains("window seat"),
            "{why}"
        );
        // A phrase in the reply counts; case is folded.
        let (r, _) = grade("Says “Thank You”", "thank you!", &[]);
        assert_eq!(r, "satisfied");
        assert_eq!(grade("Be helpful, e.g. polite.", "x", &files).0, "failed");
    }
}
