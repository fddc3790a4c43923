//! `cma run --variant NAME:FLAGS`: one agent configuration among several compared in one run.
//! A variant sets the model, the emulator's agent backend (model id, base URL), or replaces the
//! scenarios' `[agent] system` or every store's `instructions` with a file's text. The runner
//! runs every unit once per variant; [`crate::compare::combine`] joins their reports.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// The flags a variant takes, for the error on an unknown one.
pub const VARIANT_FLAGS: &str =
    "model, agent, agent-model, agent-base-url, temperature, system-file, instructions-file";

/// What a report records of a variant (or of a run, in `cma compare`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantInfo {
    pub name: String,
    /// The flags as given (`model=emulator:forgetful`), or the run a `cma compare` column is.
    pub description: String,
}

/// One `--variant`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariantSpec {
    pub name: String,
    /// The flags after the name, as given.
    pub flags: String,
    /// Replaces every scenario's model (as `--model`).
    pub model: Option<String>,
    /// The embedded emulator's agent backend: `reference`, `anthropic` or `openai`.
    pub agent: Option<String>,
    /// The model id the backend sends (as `--agent-model`).
    pub agent_model: Option<String>,
    /// Where the backend's model is (as `--agent-base-url`).
    pub agent_base_url: Option<String>,
    /// The backend's sampling temperature (as `--agent-temperature`), 0 to 2.
    pub temperature: Option<f64>,
    /// A file whose text replaces every scenario's `[agent] system`.
    pub system_file: Option<PathBuf>,
    /// A file whose text replaces every store's `instructions`.
    pub instructions_file: Option<PathBuf>,
}

impl FromStr for VariantSpec {
    type Err = String;

    /// `NAME` or `NAME:FLAG=VALUE[,FLAG=VALUE…]`; a value may hold `:` but not `,`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, flags) = s.split_once(':').unwrap_or((s, ""));
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "--variant {s:?}: a variant is NAME[:FLAG=VALUE,…] with a NAME of letters, digits, \
                 `-`, `_` or `.`"
            ));
        }
        let mut spec = VariantSpec {
            name: name.to_string(),
            flags: flags.trim().to_string(),
            ..VariantSpec::default()
        };
        let (mut system_file, mut instructions_file, mut temperature) = (None, None, None);
        for part in flags.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!("--variant {name}: {part:?} is not FLAG=VALUE (flags: {VARIANT_FLAGS})")
            })?;
            let (key, value) = (key.trim(), value.trim());
            if value.is_empty() {
                return Err(format!("--variant {name}: `{key}` has no value"));
            }
            let slot = match key {
                "model" => &mut spec.model,
                "agent" => &mut spec.agent,
                "agent-model" => &mut spec.agent_model,
                "agent-base-url" => &mut spec.agent_base_url,
                "temperature" => &mut temperature,
                "system-file" => &mut system_file,
                "instructions-file" => &mut instructions_file,
                other => {
                    return Err(format!(
                        "--variant {name}: no flag `{other}` (flags: {VARIANT_FLAGS})"
                    ));
                }
            };
            if slot.replace(value.to_string()).is_some() {
                return Err(format!("--variant {name}: `{key}` is given twice"));
            }
        }
        if let Some(t) = temperature {
            spec.temperature = Some(
                t.parse::<f64>()
                    .ok()
                    .filter(|t| (0.0..=2.0).contains(t))
                    .ok_or_else(|| {
                        format!(
                            "--variant {name}: temperature must be a number from 0 to 2, not {t:?}"
                        )
                    })?,
            );
        }
        spec.system_file = system_file.map(PathBuf::from);
        spec.instructions_file = instructions_file.map(PathBuf::from);
        if let Some(url) = &spec.agent_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "--variant {name}: agent-base-url must be an http(s) URL, not {url:?}"
            ));
        }
        Ok(spec)
    }
}

impl fmt::Display for VariantSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.flags.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}:{}", self.name, self.flags)
        }
    }
}

impl VariantSpec {
    /// What reports record.
    pub fn info(&self) -> VariantInfo {
        VariantInfo {
            name: self.name.clone(),
            description: if self.flags.is_empty() {
                "(the run's own settings)".into()
            } else {
                self.flags.clone()
            },
        }
    }

    /// The scenarios as this variant runs them: the system prompt and store instructions
    /// replaced from their files. A file that cannot be read is an error naming it.
    pub fn apply(&self, scenarios: &[Scenario]) -> Result<Vec<Scenario>, String> {
        let read = |path: &PathBuf, flag: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| format!("--variant {}: {flag} {}: {e}", self.name, path.display()))
        };
        let system = self
            .system_file
            .as_ref()
            .map(|p| read(p, "system-file"))
            .transpose()?;
        let instructions = self
            .instructions_file
            .as_ref()
            .map(|p| read(p, "instructions-file"))
            .transpose()?;
        let mut out = scenarios.to_vec();
        for script in out.iter_mut().flat_map(|s| s.scripts.iter_mut()) {
            if let Some(system) = &system {
                script.agent.system = Some(system.clone());
            }
            if let Some(text) = &instructions {
                for store in &mut script.stores {
                    store.instructions = Some(text.clone());
                }
            }
        }
        Ok(out)
    }
}

/// Refuses two variants of one name.
pub fn check_unique(variants: &[VariantSpec]) -> Result<(), String> {
    for (i, v) in variants.iter().enumerate() {
        if variants[..i].iter().any(|w| w.name == v.name) {
            return Err(format!(
                "--variant {}: two variants are named `{}`; give each its own name",
                v, v.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_flags() {
        let v: VariantSpec = "forgetful:model=emulator:forgetful"
            .parse()
            .expect("parses");
        assert_eq!(v.name, "forgetful");
        assert_eq!(v.model.as_deref(), Some("emulator:forgetful"));
        let v: VariantSpec = "reference".parse().expect("parses");
        assert_eq!((v.name.as_str(), v.model), ("reference", None));
        let v: VariantSpec =
            "a:agent=openai, agent-base-url=http://127.0.0.1:9/v1,system-file=p.txt"
                .parse()
                .expect("parses");
        assert_eq!(v.agent.as_deref(), Some("openai"));
        assert_eq!(v.agent_base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(v.system_file, Some(PathBuf::from("p.txt")));
        assert_eq!(v.temperature, None);
        let v: VariantSpec = "warm:agent=openai,temperature=0.7".parse().expect("parses");
        assert_eq!(v.temperature, Some(0.7));
    }

    #[test]
    fn files_replace_the_system_prompt_and_every_stores_instructions() {
        let toml = r#"
name = "s"
[agent]
name = "A"
system = "old system"
[[stores]]
key = "prefs"
name = "Notes"
instructions = "old instructions"
[[stores]]
key = "other"
name = "Other"
[[visits]]
[[visits.turns]]
user = "hi"
"#;
        let scenario =
            crate::load_str(std::path::Path::new("s.toml"), toml).expect("the scenario loads");
        let dir = tempfile::tempdir().expect("tempdir");
        let (system, instructions) = (dir.path().join("s.txt"), dir.path().join("i.txt"));
        std::fs::write(&system, "new system").expect("write");
        std::fs::write(&instructions, "new instructions").expect("write");
        let spec: VariantSpec = format!(
            "v:system-file={},instructions-file={}",
            system.display(),
            instructions.display()
        )
        .parse()
        .expect("parses");
        let applied = spec
            .apply(std::slice::from_ref(&scenario))
            .expect("applies");
        let script = &applied[0].scripts[0];
        assert_eq!(script.agent.system.as_deref(), Some("new system"));
        assert_eq!(script.stores.len(), 2);
        for store in &script.stores {
            assert_eq!(store.instructions.as_deref(), Some("new instructions"));
        }
        // Without files, nothing changes.
        let plain: VariantSpec = "p:model=x".parse().expect("parses");
        let same = plain
            .apply(std::slice::from_ref(&scenario))
            .expect("applies");
        assert_eq!(
            same[0].scripts[0].agent.system.as_deref(),
            Some("old system")
        );
        let missing: VariantSpec = "m:system-file=/nonexistent/x.txt".parse().expect("parses");
        assert!(
            missing
                .apply(&[scenario])
                .expect_err("unreadable")
                .contains("--variant m: system-file /nonexistent/x.txt")
        );
    }

    #[test]
    fn refuses_bad_variants_naming_the_problem() {
        let err = |s: &str| s.parse::<VariantSpec>().expect_err(s);
        assert!(err("x:temprature=0.2").contains("no flag `temprature`"));
        assert!(err("x:model").contains("not FLAG=VALUE"));
        assert!(err("x:model=a,model=b").contains("given twice"));
        assert!(err(":model=a").contains("NAME"));
        assert!(err("a b:model=x").contains("NAME"));
        assert!(err("x:agent-base-url=ftp://h").contains("http(s)"));
        assert!(err("x:temperature=hot").contains("from 0 to 2"));
        assert!(err("x:temperature=2.5").contains("from 0 to 2"));
        let dup = ["a:model=x", "b", "a"].map(|s| s.parse::<VariantSpec>().expect(s));
        assert!(
            check_unique(&dup)
                .expect_err("duplicate")
                .contains("two variants are named `a`")
        );
        assert!(check_unique(&dup[..2]).is_ok());
    }
}
