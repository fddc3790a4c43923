//! The one rendering of a session's system prompt: the agent's `system`, then a memory section
//! with one entry per attached store. Every backend sends exactly this text (the reference agent
//! can read it through [`super::TurnInput::system_prompt`]), and the emulator's debug route
//! `GET /emulator/sessions/{id}/system_prompt` returns it.

use super::Mount;

/// The system prompt of a turn: `system` (if any), a blank line, then the memory section (only
/// when at least one store is mounted).
pub fn render(system: Option<&str>, mounts: &[Mount]) -> String {
    let mut out = String::new();
    if let Some(s) = system.map(str::trim_end).filter(|s| !s.is_empty()) {
        out.push_str(s);
    }
    if mounts.is_empty() {
        return out;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&memory_section(mounts));
    out
}

/// The memory section alone.
pub fn memory_section(mounts: &[Mount]) -> String {
    let mut out = String::from(
        "# Memory\n\n\
         Persistent memory stores are mounted as directories in your sandbox. Their files outlive \
         this session: check them for what earlier sessions learned before you answer, and save \
         what is worth remembering as files there (read_only stores cannot be changed).\n",
    );
    for m in mounts {
        out.push_str(&format!("\n## {}\n", m.path));
        out.push_str(&format!("- name: {}\n", m.store_name));
        if !m.store_description.trim().is_empty() {
            out.push_str(&format!("- description: {}\n", m.store_description.trim()));
        }
        out.push_str(&format!("- access: {}\n", m.access.as_str()));
        if let Some(i) = m
            .instructions
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            out.push_str(&format!("- instructions: {i}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cma_types::Access;

    fn mount(path: &str, access: Access, instructions: Option<&str>) -> Mount {
        Mount {
            path: path.into(),
            store_name: "Shopper prefs".into(),
            store_description: "What customers like".into(),
            access,
            instructions: instructions.map(str::to_string),
        }
    }

    #[test]
    fn system_then_one_entry_per_store() {
        let p = render(
            Some("You are a shopper."),
            &[
                mount(
                    "/mnt/memory/shopper-prefs",
                    Access::ReadWrite,
                    Some("Keep it short."),
                ),
                mount("/mnt/memory/catalog", Access::ReadOnly, None),
            ],
        );
        assert!(p.starts_with("You are a shopper.\n\n# Memory\n"), "{p}");
        let first = p.find("## /mnt/memory/shopper-prefs\n").unwrap();
        let second = p.find("## /mnt/memory/catalog\n").unwrap();
        assert!(first < second);
        assert!(
            p[first..second].contains("- access: read_write\n- instructions: Keep it short.\n")
        );
        assert!(p[second..].contains("- description: What customers like\n- access: read_only\n"));
        assert!(!p[second..].contains("instructions"));
    }

    #[test]
    fn no_stores_no_memory_section() {
        assert_eq!(render(Some("Hi"), &[]), "Hi");
        assert_eq!(render(None, &[]), "");
        assert!(
            render(None, &[mount("/mnt/memory/a", Access::ReadWrite, None)])
                .starts_with("# Memory")
        );
    }
}
