//! Reads scenario files: TOML with spans, then every rule about their meaning, so a bad file is
//! refused before anything runs, with `path:line:column: field: message`.

use std::path::{Path, PathBuf};

use cma_client::types::Access;
use serde_path_to_error::Segment;
use toml::Spanned;

use crate::check::parse::parse as parse_check;
use crate::check::{CheckId, CheckSpec};
use crate::error::{LoadError, LoadErrors};
use crate::scenario::{
    AgentSpec, DEFAULT_MODEL, Scenario, Script, SeedMemory, StoreSpec, TurnSpec, VisitSpec,
};
use crate::spec::{Ctx, StoreRef, suggest};
use crate::spec::{RawCheck, RawScenario, Str};
use crate::template::{Customer, Customers, placeholders, read_customers};
use crate::tools::load as tools;

/// The API's limit on memory stores attached to one session.
pub const MAX_STORES: usize = 8;

/// The API's limit on a memory store's name.
const MAX_STORE_NAME_CHARS: usize = 255;
const PERMISSION_POLICIES: &[&str] = &["always_allow", "always_ask", "auto"];

/// Loads every scenario named by `paths`: files, or directories searched (recursively) for
/// `*.toml`. Scenario names must be unique. All errors of all files are returned together.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Scenario>, LoadErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            match toml_files(p) {
                Ok(mut found) if !found.is_empty() => files.append(&mut found),
                Ok(_) => errors.push(LoadError::file(
                    p,
                    "no *.toml scenario files in this directory",
                )),
                Err(e) => errors.push(LoadError::file(p, format!("cannot list directory: {e}"))),
            }
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            errors.push(LoadError::file(p, "no such file or directory"));
        }
    }
    let mut scenarios: Vec<Scenario> = Vec::new();
    for f in files {
        match load_file(&f) {
            Ok(s) => {
                if let Some(first) = scenarios.iter().find(|o| o.name == s.name) {
                    errors.push(LoadError::file(
                        &f,
                        format!(
                            "scenario name `{}` is already used by {}",
                            s.name,
                            first.path.display()
                        ),
                    ));
                } else if !scenarios.iter().any(|o| o.path == s.path) {
                    scenarios.push(s);
                }
            }
            Err(mut e) => errors.append(&mut e.0),
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(LoadErrors(errors))
    }
}

fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            out.extend(toml_files(&p)?);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
    Ok(out)
}

/// Loads one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, LoadErrors> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| LoadError::file(path, format!("cannot read: {e}")))?;
    load_str(path, &source)
}

/// Loads a scenario from text; `path` names it in errors and anchors the customers file.
pub fn load_str(path: &Path, source: &str) -> Result<Scenario, LoadErrors> {
    let raw = parse_toml(path, source)?;
    build(path, source, raw)
}

pub(crate) fn parse_toml(path: &Path, source: &str) -> Result<RawScenario, LoadError> {
    let located = |e: toml::de::Error, field: String| match e.span() {
        Some(span) => LoadError::at(path, source, span.start, field, e.message().trim()),
        None => LoadError {
            path: path.to_path_buf(),
            position: Some((1, 1)),
            field,
            message: e.message().trim().to_string(),
        },
    };
    let de = toml::de::Deserializer::parse(source).map_err(|e| located(e, String::new()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = field_path(e.path());
        located(e.into_inner(), field)
    })
}

/// `visits[2].turns[1].checks[1].kind`: indices from 1, spans' private keys left out.
fn field_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{}]", index + 1)),
            Segment::Map { key } if key.starts_with("$__") => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn build(path: &Path, source: &str, raw: RawScenario) -> Result<Scenario, LoadErrors> {
    let err = |offset: usize, field: &str, message: String| {
        LoadError::at(path, source, offset, field, message)
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();

    // Name, description, tags: not templated.
    let name = match &raw.name {
        Some(n) if is_identifier(n.get_ref()) => n.get_ref().clone(),
        Some(n) => {
            return Err(err(
                n.span().start,
                "name",
                "a scenario name is letters, digits, `-` and `_`".into(),
            )
            .into());
        }
        None if is_identifier(&stem) => stem.clone(),
        None => {
            return Err(LoadError::file(
                path,
                "set `name`: the file name is not a valid scenario name",
            )
            .into());
        }
    };
    let mut tags = Vec::new();
    for (i, t) in raw.tags.iter().enumerate() {
        if !is_identifier(t.get_ref()) {
            return Err(err(
                t.span().start,
                &format!("tags[{}]", i + 1),
                "a tag is letters, digits, `-` and `_`".into(),
            )
            .into());
        }
        tags.push(t.get_ref().clone());
    }

    // Customers.
    let customers: Option<Customers> = match &raw.customers {
        None => None,
        Some(c) => {
            let csv_path = path.parent().unwrap_or(Path::new(".")).join(c.get_ref());
            if !csv_path.is_file() {
                return Err(err(
                    c.span().start,
                    "customers",
                    format!("no such file: {}", csv_path.display()),
                )
                .into());
            }
            Some(read_customers(&csv_path)?)
        }
    };
    let rows: Vec<Customer> = customers
        .as_ref()
        .map_or_else(|| vec![Customer::solo()], |c| c.rows.clone());
    let columns = customers.as_ref().map(|c| c.columns.clone());

    // Structure that does not depend on the customer.
    if raw.visits.is_empty() {
        return Err(LoadError::at(
            path,
            source,
            source.len(),
            "visits",
            "a scenario needs at least one `[[visits]]`",
        )
        .into());
    }
    for (vi, v) in raw.visits.iter().enumerate() {
        if v.get_ref().turns.is_empty() {
            return Err(err(
                v.span().start,
                &format!("visits[{}].turns", vi + 1),
                "a visit needs at least one `[[visits.turns]]`".into(),
            )
            .into());
        }
    }
    if raw.stores.len() > MAX_STORES {
        return Err(err(
            raw.stores[MAX_STORES].span().start,
            "stores",
            format!("at most {MAX_STORES} stores can be attached to a session"),
        )
        .into());
    }
    let mut store_refs: Vec<StoreRef> = Vec::new();
    for (si, s) in raw.stores.iter().enumerate() {
        let s = s.get_ref();
        let field = format!("stores[{}]", si + 1);
        if !is_identifier(s.key.get_ref()) {
            return Err(err(
                s.key.span().start,
                &format!("{field}.key"),
                "a store key is letters, digits, `-` and `_`".into(),
            )
            .into());
        }
        if store_refs.iter().any(|r| r.key == *s.key.get_ref()) {
            return Err(err(
                s.key.span().start,
                &format!("{field}.key"),
                format!("store key `{}` is used twice", s.key.get_ref()),
            )
            .into());
        }
        let access = match s.access.as_ref().map(|a| a.get_ref().as_str()) {
            None | Some("read_write") => Access::ReadWrite,
            Some("read_only") => Access::ReadOnly,
            Some(other) => {
                let at = s.access.as_ref().map_or(0, |a| a.span().start);
                return Err(err(
                    at,
                    &format!("{field}.access"),
                    format!(
                        "access is `read_write` or `read_only`, not `{other}`{}",
                        suggest(other, &["read_write", "read_only"])
                    ),
                )
                .into());
            }
        };
        let shared = s.shared.as_ref().is_some_and(|b| *b.get_ref());
        if shared {
            // A shared store is created once, so it cannot differ per customer.
            for (f, v) in [
                ("name", &s.name),
                ("description", &s.description),
                ("instructions", &s.instructions),
            ] {
                if let Some(v) = v {
                    no_placeholders(path, source, v, &format!("{field}.{f}"))?;
                }
            }
            for (mi, m) in s.memories.iter().enumerate() {
                no_placeholders(
                    path,
                    source,
                    &m.get_ref().path,
                    &format!("{field}.memories[{mi}].path", mi = mi + 1),
                )?;
                no_placeholders(
                    path,
                    source,
                    &m.get_ref().content,
                    &format!("{field}.memories[{mi}].content", mi = mi + 1),
                )?;
            }
        }
        store_refs.push(StoreRef {
            key: s.key.get_ref().clone(),
            access,
        });
    }
    if let Some(agent) = &raw.agent
        && let Some(p) = &agent.get_ref().permission_policy
        && !PERMISSION_POLICIES.contains(&p.get_ref().as_str())
    {
        return Err(err(
            p.span().start,
            "agent.permission_policy",
            format!(
                "permission_policy is one of {}, not `{}`",
                PERMISSION_POLICIES.join(", "),
                p.get_ref()
            ),
        )
        .into());
    }

    let tool_names = crate::tools::load::names(&raw);
    let mut scripts = Vec::new();
    for row in &rows {
        let ctx = Ctx {
            path,
            source,
            stores: &store_refs,
            tools: &tool_names,
            columns: columns.as_deref(),
            values: &row.values,
            customer: customers.as_ref().map(|_| row.id.as_str()),
        };
        scripts.push(script(&raw, &ctx, row, &name)?);
    }

    Ok(Scenario {
        name,
        description: raw
            .description
            .as_ref()
            .map(|d| d.get_ref().clone())
            .unwrap_or_default(),
        tags,
        path: path.to_path_buf(),
        customers_file: customers.map(|c| c.path),
        scripts,
    })
}

fn no_placeholders(path: &Path, source: &str, s: &Str, field: &str) -> Result<(), LoadError> {
    if let Ok(holes) = placeholders(s.get_ref())
        && !holes.is_empty()
    {
        return Err(LoadError::at(
            path,
            source,
            s.span().start,
            field,
            "a shared store is the same for every customer: it cannot use `{{column}}`",
        ));
    }
    Ok(())
}

fn script(
    raw: &RawScenario,
    ctx: &Ctx<'_>,
    row: &Customer,
    scenario: &str,
) -> Result<Script, LoadError> {
    let opt = |s: &Option<Str>, field: &str| -> Result<Option<String>, LoadError> {
        s.as_ref().map(|s| ctx.render(s, field)).transpose()
    };

    let agent = match &raw.agent {
        None => AgentSpec {
            name: scenario.to_string(),
            model: DEFAULT_MODEL.into(),
            system: None,
            description: None,
            permission_policy: "always_allow".into(),
            custom_tools: Vec::new(),
        },
        Some(a) => {
            let a = a.get_ref();
            AgentSpec {
                name: opt(&a.name, "agent.name")?.unwrap_or_else(|| scenario.to_string()),
                model: opt(&a.model, "agent.model")?.unwrap_or_else(|| DEFAULT_MODEL.into()),
                system: opt(&a.system, "agent.system")?,
                description: opt(&a.description, "agent.description")?,
                permission_policy: a
                    .permission_policy
                    .as_ref()
                    .map_or("always_allow".into(), |p| p.get_ref().clone()),
                custom_tools: tools::custom_tools(&a.custom_tools, ctx)?,
            }
        }
    };

    let mut stores = Vec::new();
    for (si, s) in raw.stores.iter().enumerate() {
        let s = s.get_ref();
        let field = format!("stores[{}]", si + 1);
        let access = ctx.stores[si].access;
        let mut memories: Vec<SeedMemory> = Vec::new();
        for (mi, m) in s.memories.iter().enumerate() {
            let m = m.get_ref();
            let mf = format!("{field}.memories[{}]", mi + 1);
            let path = ctx.render(&m.path, &format!("{mf}.path"))?;
            if !path.starts_with('/') || path.ends_with('/') || path.contains("//") {
                return Err(ctx.err(
                    m.path.span().start,
                    &format!("{mf}.path"),
                    "a memory path starts with `/` and names a file, e.g. `/purchase-history.md`",
                ));
            }
            if memories.iter().any(|o| o.path == path) {
                return Err(ctx.err(
                    m.path.span().start,
                    &format!("{mf}.path"),
                    format!("path `{path}` is seeded twice"),
                ));
            }
            memories.push(SeedMemory {
                path,
                content: ctx.render(&m.content, &format!("{mf}.content"))?,
            });
        }
        let name =
            opt(&s.name, &format!("{field}.name"))?.unwrap_or_else(|| s.key.get_ref().clone());
        // The store is created under this very name (the API's rules apply), and its mount is
        // the slug of it.
        let bad_name = if crate::record::slug(&name).is_empty() {
            Some("a store name needs at least one letter or digit".to_string())
        } else if name.chars().count() > MAX_STORE_NAME_CHARS {
            Some(format!(
                "a store name is at most {MAX_STORE_NAME_CHARS} characters (this one has {})",
                name.chars().count()
            ))
        } else if name.chars().any(char::is_control) {
            Some("a store name has no control characters (tabs, newlines, …)".to_string())
        } else {
            None
        };
        if let Some(why) = bad_name {
            let at = s
                .name
                .as_ref()
                .map_or(s.key.span().start, |n| n.span().start);
            return Err(ctx.err(at, &format!("{field}.name"), why));
        }
        stores.push(StoreSpec {
            key: s.key.get_ref().clone(),
            name,
            description: opt(&s.description, &format!("{field}.description"))?,
            access,
            instructions: opt(&s.instructions, &format!("{field}.instructions"))?,
            shared: s.shared.as_ref().is_some_and(|b| *b.get_ref()),
            memories,
        });
        if let Some(i) = &stores[si].instructions
            && i.chars().count() > 4096
        {
            let at = s.instructions.as_ref().map_or(0, |v| v.span().start);
            return Err(ctx.err(
                at,
                &format!("{field}.instructions"),
                "instructions are at most 4,096 characters",
            ));
        }
    }

    let checks = |list: &[Spanned<RawCheck>],
                  base: &str,
                  visit: Option<usize>,
                  turn: Option<usize>|
     -> Result<Vec<CheckSpec>, LoadError> {
        list.iter()
            .enumerate()
            .map(|(ci, c)| {
                let field = format!("{base}checks[{}]", ci + 1);
                let check = parse_check(c, &field, ctx)?;
                let label = match &c.get_ref().name {
                    Some(n) => ctx.render(n, &format!("{field}.name"))?,
                    None => check.default_label(),
                };
                Ok(CheckSpec {
                    id: CheckId {
                        visit,
                        turn,
                        index: ci + 1,
                    },
                    label,
                    check,
                })
            })
            .collect()
    };

    let mut visits = Vec::new();
    for (vi, v) in raw.visits.iter().enumerate() {
        let v = v.get_ref();
        let vf = format!("visits[{}]", vi + 1);
        let mut turns = Vec::new();
        for (ti, t) in v.turns.iter().enumerate() {
            let t = t.get_ref();
            let tf = format!("{vf}.turns[{}]", ti + 1);
            let user = ctx.render(&t.user, &format!("{tf}.user"))?;
            if user.trim().is_empty() {
                return Err(ctx.err(
                    t.user.span().start,
                    &format!("{tf}.user"),
                    "a turn's `user` text is empty",
                ));
            }
            turns.push(TurnSpec {
                user,
                checks: checks(&t.checks, &format!("{tf}."), Some(vi + 1), Some(ti + 1))?,
            });
        }
        visits.push(VisitSpec {
            name: opt(&v.name, &format!("{vf}.name"))?,
            turns,
            checks: checks(&v.checks, &format!("{vf}."), Some(vi + 1), None)?,
            tool_answers: tools::answers(
                &v.tool_answers,
                &format!("{vf}."),
                &agent.custom_tools,
                ctx,
            )?,
        });
    }
    let end = checks(&raw.checks, "", None, None)?;
    let policy = raw
        .agent
        .as_ref()
        .and_then(|a| a.get_ref().permission_policy.clone());
    Ok(Script {
        customer: row.clone(),
        tool_answers: tools::answers(&raw.tool_answers, "", &agent.custom_tools, ctx)?,
        confirm: tools::confirm(&raw.confirm, &policy, ctx)?,
        agent,
        stores,
        visits,
        checks: end,
    })
}
