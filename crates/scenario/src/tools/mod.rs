//! Custom tools in scenarios: the agent's `[[agent.custom_tools]]`, the canned answers the runner
//! gives its calls (`[[tool_answers]]`), the `confirm` answer to tool uses awaiting confirmation,
//! and the one rule for "this input contains that" that answers and checks share.

pub(crate) mod load;

use std::hash::{Hash, Hasher};

use serde_json::Value;

/// The agent toolset's tools: names a `called_tool` check may use besides the custom tools, and
/// that a custom tool may not take.
pub use cma_client::types::TOOLSET_TOOLS as BUILT_IN_TOOLS;

/// A tool the application runs, sent as a `custom` tool of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomToolSpec {
    pub name: String,
    pub description: String,
    pub input_schema: JsonObject,
}

/// A JSON object, hashable (by its text) so that agent specs holding one can key a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonObject(pub serde_json::Map<String, Value>);

impl Hash for JsonObject {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Value::Object(self.0.clone()).to_string().hash(state);
    }
}

/// The result the runner sends for a custom tool call it matches.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolAnswer {
    pub tool: String,
    /// The answer is used only for a call whose input contains this (see [`input_contains`]).
    pub when_input_contains: Option<serde_json::Map<String, Value>>,
    pub content: String,
    pub is_error: bool,
}

impl ToolAnswer {
    pub fn matches(&self, tool: &str, input: &Value) -> bool {
        self.tool == tool
            && self
                .when_input_contains
                .as_ref()
                .is_none_or(|want| input_contains(input, want))
    }
}

/// How the runner answers a tool use that awaits confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Allow,
    Deny,
}

impl Confirm {
    pub const NAMES: &[&str] = &["allow", "deny"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Confirm::Allow),
            "deny" => Some(Confirm::Deny),
            _ => None,
        }
    }

    /// As `user.tool_confirmation`'s `result` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Confirm::Allow => "allow",
            Confirm::Deny => "deny",
        }
    }
}

/// The answer for a call: the first match among the visit's answers, then the scenario's.
pub fn select_answer<'a>(
    visit: &'a [ToolAnswer],
    scenario: &'a [ToolAnswer],
    tool: &str,
    input: &Value,
) -> Option<&'a ToolAnswer> {
    visit
        .iter()
        .chain(scenario)
        .find(|a| a.matches(tool, input))
}

/// Whether `input` holds every key of `want` with a matching value: objects match when they
/// contain the wanted keys (recursively), numbers by value (`2` matches `2.0`), anything else —
/// strings, booleans, arrays — only when equal.
pub fn input_contains(input: &Value, want: &serde_json::Map<String, Value>) -> bool {
    let Value::Object(have) = input else {
        return false;
    };
    want.iter()
        .all(|(k, w)| have.get(k).is_some_and(|h| value_contains(h, w)))
}

fn value_contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(_), Value::Object(w)) => input_contains(have, w),
        (Value::Number(h), Value::Number(w)) => match (h.as_f64(), w.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => h == w,
        },
        _ => have == want,
    }
}

/// A TOML value as JSON; a date or time becomes its TOML text.
pub(crate) fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(table_to_json(t)),
    }
}

pub(crate) fn table_to_json(t: &toml::Table) -> serde_json::Map<String, Value> {
    t.iter()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect()
}

/// A short rendering of a call's input for verdicts and errors.
pub(crate) fn show_input(input: &Value) -> String {
    crate::check::shorten(&input.to_string(), 120)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn answer(tool: &str, when: Option<Value>, content: &str) -> ToolAnswer {
        ToolAnswer {
            tool: tool.into(),
            when_input_contains: when.map(obj),
            content: content.into(),
            is_error: false,
        }
    }

    #[test]
    fn input_contains_is_a_subset_match() {
        let input = json!({"pet": "Biscuit", "clinic": {"city": "Leeds", "id": 7}, "n": 2, "tags": ["a", "b"]});
        assert!(input_contains(&input, &obj(json!({}))));
        assert!(input_contains(&input, &obj(json!({"pet": "Biscuit"}))));
        assert!(input_contains(
            &input,
            &obj(json!({"clinic": {"city": "Leeds"}}))
        ));
        assert!(input_contains(&input, &obj(json!({"n": 2.0}))));
        assert!(input_contains(&input, &obj(json!({"tags": ["a", "b"]}))));
        assert!(
            !input_contains(&input, &obj(json!({"pet": "biscuit"}))),
            "case matters"
        );
        assert!(
            !input_contains(&input, &obj(json!({"pet": "Bisc"}))),
            "whole strings"
        );
        assert!(
            !input_contains(&input, &obj(json!({"owner": "Ana"}))),
            "a missing key"
        );
        assert!(!input_contains(
            &input,
            &obj(json!({"clinic": {"city": "York"}}))
        ));
        assert!(
            !input_contains(&input, &obj(json!({"tags": ["a"]}))),
            "arrays are equal or not"
        );
        assert!(
            !input_contains(&input, &obj(json!({"n": "2"}))),
            "a string is not a number"
        );
        assert!(
            !input_contains(&json!("Biscuit"), &obj(json!({}))),
            "not an object"
        );
    }

    #[test]
    fn the_visit_answers_first_then_the_first_match_in_file_order() {
        let visit = vec![answer("lookup", Some(json!({"pet": "Rex"})), "visit Rex")];
        let scenario = vec![
            answer("lookup", Some(json!({"pet": "Rex"})), "scenario Rex"),
            answer("lookup", Some(json!({"pet": "Biscuit"})), "Biscuit"),
            answer("lookup", None, "anyone"),
            answer("other", None, "other"),
        ];
        let pick = |tool: &str, input: Value| {
            select_answer(&visit, &scenario, tool, &input).map(|a| a.content.as_str())
        };
        assert_eq!(pick("lookup", json!({"pet": "Rex"})), Some("visit Rex"));
        assert_eq!(
            pick("lookup", json!({"pet": "Biscuit", "x": 1})),
            Some("Biscuit")
        );
        assert_eq!(pick("lookup", json!({"pet": "Tom"})), Some("anyone"));
        assert_eq!(pick("other", json!({})), Some("other"));
        assert_eq!(pick("missing", json!({})), None);
        assert_eq!(
            select_answer(&[], &scenario[..2], "lookup", &json!({"pet": "Tom"})),
            None
        );
    }

    #[test]
    fn toml_values_become_json() {
        let t: toml::Table =
            toml::from_str("a = 1\nb = 2.5\nc = [\"x\", true]\n[d]\ne = \"f\"\n").expect("toml");
        assert_eq!(
            Value::Object(table_to_json(&t)),
            json!({"a": 1, "b": 2.5, "c": ["x", true], "d": {"e": "f"}})
        );
    }
}
