//! The tool definitions a model is given: the enabled `agent_toolset_20260401` tools exactly as
//! the official SDK (anthropic 2.10.0, `anthropic/lib/tools/agent_toolset.py`) builds them, then
//! the agent's custom tools.

use std::sync::OnceLock;

use cma_models::ToolDef;
use cma_types::Tool;

use crate::sandbox::{Permission, permission_for};

/// `[t.to_dict() for t in beta_agent_toolset_20260401(ctx)]`, dumped from the installed SDK.
const TOOLSET_JSON: &str = include_str!("toolset_20260401.json");

/// The SDK's definitions of `bash`, `read`, `write`, `edit`, `glob` and `grep`.
pub fn toolset_definitions() -> &'static [ToolDef] {
    static DEFS: OnceLock<Vec<ToolDef>> = OnceLock::new();
    DEFS.get_or_init(|| match serde_json::from_str(TOOLSET_JSON) {
        Ok(defs) => defs,
        Err(e) => {
            tracing::error!(error = %e, "the bundled toolset definitions do not parse");
            Vec::new()
        }
    })
}

/// What the agent with `tools` may call: enabled toolset tools, then custom tools. `web_fetch`
/// and `web_search` are never offered (the emulator has no network; a call of either is
/// answered with an error result).
pub fn tool_defs(tools: &[Tool]) -> Vec<ToolDef> {
    let mut out: Vec<ToolDef> = toolset_definitions()
        .iter()
        .filter(|d| permission_for(tools, &d.name) != Permission::Deny)
        .cloned()
        .collect();
    for t in tools {
        if let Tool::Custom(c) = t {
            out.push(ToolDef {
                name: c.name.clone(),
                description: c.description.clone(),
                input_schema: c.input_schema.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_sdk_toolset_in_its_order_with_its_schemas() {
        let defs = toolset_definitions();
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["bash", "read", "write", "edit", "glob", "grep"]);
        let write = &defs[2];
        assert_eq!(
            write.description,
            "Write a file, creating parent directories as needed."
        );
        assert_eq!(
            write.input_schema["required"],
            json!(["content", "file_path"])
        );
        assert_eq!(
            write.input_schema["title"],
            "BetaManagedAgentsAgentToolset20260401WriteInput"
        );
    }

    #[test]
    fn disabled_tools_are_left_out_and_custom_tools_added() {
        let tools: Vec<Tool> = serde_json::from_value(json!([
            { "type": "agent_toolset_20260401", "configs": [{ "name": "bash", "enabled": false }] },
            { "type": "custom", "name": "lookup", "description": "Look up", "input_schema": { "type": "object" } }
        ]))
        .unwrap();
        let names: Vec<String> = tool_defs(&tools).into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["read", "write", "edit", "glob", "grep", "lookup"]);
        assert!(tool_defs(&[]).is_empty());
    }
}
