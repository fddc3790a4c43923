//! The one rendering of a session's system prompt: the agent's `system`, then a memory section
//! with one entry per attached store. Every backend sends exactly this text (the reference agent
//! can read it through [`super::TurnInput::system_prompt`]), and the emulator's debug route
//! `GET /emulator/sessions/{id}/system_prompt` returns it.
//!
//! The memory section says what the service documents it adds ("a note describing each mount
//! … telling the agent where to look"): per store its path, name, description, access and
//! instructions. Advice on when to read or write memory is not part of it, so a model-backed run
//! does not flatter recall compared with the service; [`GUIDANCE`] adds it on request
//! (`--agent-memory-guidance`).

use super::Mount;

/// The advice `--agent-memory-guidance` adds to the memory section; off by default because the
/// service does not give it.
pub const GUIDANCE: &str = "Their files outlive this session: check them for what earlier \
     sessions learned before you answer, and save what is worth remembering as files there \
     (read_only stores cannot be changed).";

/// The system prompt of a turn: `system` (if any), a blank line, then the memory section (only
/// when at least one store is mounted), with [`GUIDANCE`] when `guidance`.
pub fn render(system: Option<&str>, mounts: &[Mount], guidance: bool) -> String {
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
    out.push_str(&memory_section(mounts, guidance));
    out
}

/// The memory section alone.
pub fn memory_section(mounts: &[Mount], guidance: bool) -> String {
    let mut out =
        String::from("# Memory\n\nThese memory stores are mounted as directories in your sandbox.");
    if guidance {
        out.push(' ');
        out.push_str(GUIDANCE);
    }
    out.push('\n');
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
            false,
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
        assert_eq!(render(Some("Hi"), &[], true), "Hi");
        assert_eq!(render(None, &[], false), "");
        assert!(
            render(
                None,
                &[mount("/mnt/memory/a", Access::ReadWrite, None)],
                false
            )
            .starts_with("# Memory")
        );
    }

    /// The service documents a note per mount, not advice on using memory: the advice is only
    /// there when asked for, and the per-mount entries are the same either way.
    #[test]
    fn guidance_only_when_asked() {
        let mounts = [mount("/mnt/memory/probe-notes", Access::ReadWrite, None)];
        let plain = render(None, &mounts, false);
        assert_eq!(
            plain,
            "# Memory\n\nThese memory stores are mounted as directories in your sandbox.\n\n\
             ## /mnt/memory/probe-notes\n- name: Shopper prefs\n\
             - description: What customers like\n- access: read_write\n"
        );
        assert!(!plain.contains("before you answer"), "{plain}");
        let guided = render(None, &mounts, true);
        assert!(guided.contains(GUIDANCE), "{guided}");
        assert_eq!(guided.replace(&format!(" {GUIDANCE}"), ""), plain);
    }
}
