//! Builds the custom tools, canned answers and `confirm` from the file, refusing a bad tool name,
//! a bad input schema, an answer for a tool the agent does not have, an answer keyed on a
//! property the schema lacks, and a `confirm` that could never apply — each at its
//! `line:column` and field path.

use serde_json::Value;
use toml::Spanned;

use super::{BUILT_IN_TOOLS, Confirm, CustomToolSpec, JsonObject, ToolAnswer, table_to_json};
use crate::error::LoadError;
use crate::spec::{Ctx, suggest};
use crate::spec::{RawCustomTool, RawScenario, RawToolAnswer, Str};

/// The API's limit on a custom tool's name.
const MAX_NAME: usize = 128;

/// The custom tools' names as written, for checks and answers to refer to.
pub(crate) fn names(raw: &RawScenario) -> Vec<String> {
    raw.agent
        .as_ref()
        .map(|a| {
            a.get_ref()
                .custom_tools
                .iter()
                .map(|t| t.get_ref().name.get_ref().clone())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn custom_tools(
    list: &[Spanned<RawCustomTool>],
    ctx: &Ctx<'_>,
) -> Result<Vec<CustomToolSpec>, LoadError> {
    let mut out: Vec<CustomToolSpec> = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let field = format!("agent.custom_tools[{}]", i + 1);
        let raw = t.get_ref();
        let name = raw.name.get_ref();
        let name_err =
            |message: String| ctx.err(raw.name.span().start, &format!("{field}.name"), message);
        if name.is_empty()
            || name.chars().count() > MAX_NAME
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(name_err(format!(
                "a tool name is 1 to {MAX_NAME} letters, digits, `_` and `-`"
            )));
        }
        if BUILT_IN_TOOLS.contains(&name.as_str()) {
            return Err(name_err(format!(
                "`{name}` is a tool of the agent toolset; give the custom tool another name"
            )));
        }
        if out.iter().any(|o| o.name == *name) {
            return Err(name_err(format!("custom tool `{name}` is declared twice")));
        }
        let description = match &raw.description {
            Some(d) => ctx.render(d, &format!("{field}.description"))?,
            None => {
                return Err(ctx.err(
                    t.span().start,
                    &format!("{field}.description"),
                    "a custom tool needs a `description`: the model reads it to decide when to call the tool",
                ));
            }
        };
        if description.trim().is_empty() {
            let at = raw
                .description
                .as_ref()
                .map_or(t.span().start, |d| d.span().start);
            return Err(ctx.err(
                at,
                &format!("{field}.description"),
                "the description is empty",
            ));
        }
        let input_schema = match &raw.input_schema {
            None => JsonObject(serde_json::Map::from_iter([(
                "type".to_string(),
                Value::String("object".into()),
            )])),
            Some(s) => JsonObject(schema(s, &format!("{field}.input_schema"), ctx)?),
        };
        out.push(CustomToolSpec {
            name: name.clone(),
            description,
            input_schema,
        });
    }
    Ok(out)
}

/// The API's shape for an input schema: `{type = "object", properties?, required?}`, with
/// `properties` a table of tables and `required` naming some of them.
fn schema(
    s: &Spanned<toml::Table>,
    field: &str,
    ctx: &Ctx<'_>,
) -> Result<serde_json::Map<String, Value>, LoadError> {
    let at = s.span().start;
    let bad = |sub: &str, message: String| ctx.err(at, &format!("{field}{sub}"), message);
    let t = s.get_ref();
    match t.get("type") {
        Some(toml::Value::String(ty)) if ty == "object" => {}
        Some(other) => {
            return Err(bad(
                ".type",
                format!("an input schema's `type` is \"object\", not {other}"),
            ));
        }
        None => {
            return Err(bad(
                ".type",
                "an input schema needs `type = \"object\"`".into(),
            ));
        }
    }
    let properties: Vec<&str> = match t.get("properties") {
        None => Vec::new(),
        Some(toml::Value::Table(props)) => {
            for (name, p) in props {
                if !p.is_table() {
                    return Err(bad(
                        &format!(".properties.{name}"),
                        format!(
                            "property `{name}` is a JSON schema: a table such as `{{ type = \"string\" }}`"
                        ),
                    ));
                }
            }
            props.keys().map(String::as_str).collect()
        }
        Some(_) => {
            return Err(bad(
                ".properties",
                "`properties` is a table of property schemas".into(),
            ));
        }
    };
    if let Some(required) = t.get("required") {
        let Some(list) = required.as_array() else {
            return Err(bad(
                ".required",
                "`required` is a list of property names".into(),
            ));
        };
        for (i, r) in list.iter().enumerate() {
            match r.as_str() {
                Some(name) if properties.contains(&name) => {}
                Some(name) => {
                    return Err(bad(
                        &format!(".required[{}]", i + 1),
                        format!(
                            "`{name}` is not among the schema's properties{}",
                            listed(&properties)
                        ),
                    ));
                }
                None => {
                    return Err(bad(
                        &format!(".required[{}]", i + 1),
                        "`required` is a list of property names".into(),
                    ));
                }
            }
        }
    }
    Ok(table_to_json(t))
}

fn listed(names: &[&str]) -> String {
    if names.is_empty() {
        " (it has none)".to_string()
    } else {
        format!(" ({})", names.join(", "))
    }
}

/// `[[tool_answers]]` (or `[[visits.tool_answers]]`), rendered for the customer.
pub(crate) fn answers(
    list: &[Spanned<RawToolAnswer>],
    base: &str,
    tools: &[CustomToolSpec],
    ctx: &Ctx<'_>,
) -> Result<Vec<ToolAnswer>, LoadError> {
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let field = format!("{base}tool_answers[{}]", i + 1);
        let raw = a.get_ref();
        let tool = tool_ref(&raw.tool, &format!("{field}.tool"), tools, ctx)?;
        let when_input_contains = match &raw.when_input_contains {
            None => None,
            Some(w) => {
                let f = format!("{field}.when_input_contains");
                if let Some(props) = tool
                    .input_schema
                    .0
                    .get("properties")
                    .and_then(Value::as_object)
                    && let Some(key) = w.get_ref().keys().find(|k| !props.contains_key(*k))
                {
                    let names: Vec<&str> = props.keys().map(String::as_str).collect();
                    return Err(ctx.err(
                        w.span().start,
                        &format!("{f}.{key}"),
                        format!(
                            "`{key}` is not a property of `{}`'s input_schema{}{}",
                            tool.name,
                            suggest(key, &names),
                            listed(&names)
                        ),
                    ));
                }
                Some(render_table(w, &f, ctx)?)
            }
        };
        out.push(ToolAnswer {
            tool: tool.name.clone(),
            when_input_contains,
            content: ctx.render(&raw.content, &format!("{field}.content"))?,
            is_error: raw.is_error.as_ref().is_some_and(|b| *b.get_ref()),
        });
    }
    Ok(out)
}

/// The custom tool an answer names.
fn tool_ref<'t>(
    name: &Str,
    field: &str,
    tools: &'t [CustomToolSpec],
    ctx: &Ctx<'_>,
) -> Result<&'t CustomToolSpec, LoadError> {
    let written = name.get_ref();
    if let Some(t) = tools.iter().find(|t| t.name == *written) {
        return Ok(t);
    }
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let message = if names.is_empty() {
        format!(
            "no custom tool `{written}`: the agent has none (declare it in `[[agent.custom_tools]]`)"
        )
    } else {
        format!(
            "no custom tool `{written}`{} (custom tools: {})",
            suggest(written, &names),
            names.join(", ")
        )
    };
    Err(ctx.err(name.span().start, field, message))
}

/// A table of wanted input values, every string rendered for the customer.
pub(crate) fn render_table(
    t: &Spanned<toml::Table>,
    field: &str,
    ctx: &Ctx<'_>,
) -> Result<serde_json::Map<String, Value>, LoadError> {
    fn render(
        v: Value,
        span: &std::ops::Range<usize>,
        field: &str,
        ctx: &Ctx<'_>,
    ) -> Result<Value, LoadError> {
        Ok(match v {
            Value::String(s) => Value::String(ctx.render(&Spanned::new(span.clone(), s), field)?),
            Value::Array(a) => Value::Array(
                a.into_iter()
                    .map(|v| render(v, span, field, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, v)| Ok((k, render(v, span, field, ctx)?)))
                    .collect::<Result<_, LoadError>>()?,
            ),
            other => other,
        })
    }
    let span = t.span();
    table_to_json(t.get_ref())
        .into_iter()
        .map(|(k, v)| {
            let f = format!("{field}.{k}");
            Ok((k, render(v, &span, &f, ctx)?))
        })
        .collect()
}

/// `confirm`, refused where no tool use can await confirmation.
pub(crate) fn confirm(
    raw: &Option<Str>,
    policy: &Option<Str>,
    ctx: &Ctx<'_>,
) -> Result<Option<Confirm>, LoadError> {
    let Some(c) = raw else { return Ok(None) };
    let Some(confirm) = Confirm::parse(c.get_ref()) else {
        return Err(ctx.err(
            c.span().start,
            "confirm",
            format!(
                "confirm is `allow` or `deny`, not `{}`{}",
                c.get_ref(),
                suggest(c.get_ref(), Confirm::NAMES)
            ),
        ));
    };
    let policy = policy
        .as_ref()
        .map_or("always_allow", |p| p.get_ref().as_str());
    if policy == "always_allow" {
        return Err(ctx.err(
            c.span().start,
            "confirm",
            "with permission_policy `always_allow` no tool use awaits confirmation; set `[agent] permission_policy = \"always_ask\"` (or `auto`)",
        ));
    }
    Ok(Some(confirm))
}
