//! The fields of the tool checks (`called_tool`, `tool_answered`): a tool the agent has, and
//! the input a call must contain.

use super::{Fields, suggest};
use crate::error::LoadError;
use crate::spec::Str;
use crate::tools::BUILT_IN_TOOLS;
use crate::tools::load::render_table;

impl Fields<'_> {
    /// `tool`: a custom tool of the agent, or (with `built_in`) a tool of the agent toolset.
    fn tool_named(&self, name: &Str, built_in: bool) -> Result<String, LoadError> {
        let written = name.get_ref();
        let mut known: Vec<&str> = self.ctx.tools.iter().map(String::as_str).collect();
        if built_in {
            known.extend(BUILT_IN_TOOLS);
        }
        if known.contains(&written.as_str()) {
            return Ok(written.clone());
        }
        let custom = if self.ctx.tools.is_empty() {
            "none".to_string()
        } else {
            self.ctx.tools.join(", ")
        };
        let also = if built_in {
            format!("; toolset tools: {}", BUILT_IN_TOOLS.join(", "))
        } else {
            " (only custom tool calls are answered)".to_string()
        };
        Err(self.err(
            name.span().start,
            "tool",
            format!(
                "no tool `{written}`{} (custom tools: {custom}{also})",
                suggest(written, &known)
            ),
        ))
    }

    /// `called_tool`'s `tool`: required; a custom or toolset tool.
    pub fn called_tool(&self) -> Result<String, LoadError> {
        match &self.raw.tool {
            Some(t) => self.tool_named(t, true),
            None => Err(self.err(
                self.start,
                "tool",
                format!("`{}` needs `tool` (the tool's name)", self.written),
            )),
        }
    }

    /// `tool_answered`'s `tool`: optional; a custom tool.
    pub fn answered_tool(&self) -> Result<Option<String>, LoadError> {
        self.raw
            .tool
            .as_ref()
            .map(|t| self.tool_named(t, false))
            .transpose()
    }

    pub fn input_contains(
        &self,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, LoadError> {
        self.raw
            .input_contains
            .as_ref()
            .map(|t| render_table(t, &format!("{}.input_contains", self.field), self.ctx))
            .transpose()
    }
}
