//! A small shell over the memory mounts: `ls`, `cat`, `rm`, `mkdir`, `find`, `echo`, `touch`,
//! `pwd`, `true`, `false`, joined by `;`, `&&`, `||` or newlines, with `>`, `>>`, `2>/dev/null`,
//! `2>&1`, `&>` redirections and `<<` here-documents. Anything else fails the way a shell would.

use super::fs::{Errno, Fs, Loc, MOUNT_ROOT, Stat, UpdateError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Redir {
    DevNull,
    Stdout,
    File { path: String, append: bool },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Cmd {
    words: Vec<String>,
    stdout: Option<Redir>,
    stderr: Option<Redir>,
    stdin: Option<String>,
    heredoc: Option<(String, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Always,
    And,
    Or,
}

/// Splits a command line into linked simple commands.
// The word/command macros reset state that the last expansion never reads again.
#[allow(unused_assignments)]
fn parse(line: &str) -> Result<Vec<(Link, Cmd)>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out: Vec<(Link, Cmd)> = Vec::new();
    let mut link = Link::Always;
    let mut cmd = Cmd::default();
    let mut word = String::new();
    let mut in_word = false;
    let mut pending_redir: Option<(u8, bool)> = None; // (fd: 1, 2 or 3 = both, append)
    let mut pending_heredoc = false;
    let mut heredoc_strip = false;
    let mut i = 0;

    macro_rules! end_word {
        () => {
            if in_word {
                let w = std::mem::take(&mut word);
                in_word = false;
                if pending_heredoc {
                    pending_heredoc = false;
                    cmd.heredoc = Some((w, heredoc_strip));
                } else if let Some((fd, append)) = pending_redir.take() {
                    let r = if w == "/dev/null" {
                        Redir::DevNull
                    } else {
                        Redir::File { path: w, append }
                    };
                    match fd {
                        1 => cmd.stdout = Some(r),
                        2 => cmd.stderr = Some(r),
                        _ => {
                            cmd.stdout = Some(r.clone());
                            cmd.stderr = Some(r);
                        }
                    }
                } else {
                    cmd.words.push(w);
                }
            }
        };
    }
    macro_rules! end_cmd {
        ($next:expr) => {
            end_word!();
            if pending_redir.is_some() || pending_heredoc {
                return Err("syntax error near unexpected token `newline'".into());
            }
            if let Some((delim, _)) = &cmd.heredoc {
                return Err(format!(
                    "here-document delimited by end-of-file (wanted `{delim}')"
                ));
            }
            if !cmd.words.is_empty() {
                out.push((link, std::mem::take(&mut cmd)));
            } else if $next != Link::Always {
                return Err("syntax error near unexpected token".into());
            }
            link = $next;
        };
    }

    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unexpected EOF while looking for matching `''".into());
                }
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`'))
                    {
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unexpected EOF while looking for matching `\"'".into());
                }
            }
            '\\' if i + 1 < chars.len() => {
                in_word = true;
                i += 1;
                if chars[i] != '\n' {
                    word.push(chars[i]);
                }
            }
            ' ' | '\t' => end_word!(),
            '\n' | ';' => {
                end_word!();
                let heredoc = if c == '\n' { cmd.heredoc.take() } else { None };
                if let Some((delim, strip_tabs)) = heredoc {
                    // The here-document body is the following lines, up to the delimiter.
                    let rest: String = chars[i + 1..].iter().collect();
                    let mut body = String::new();
                    let mut consumed = 0;
                    let mut found = false;
                    for l in rest.split_inclusive('\n') {
                        consumed += l.chars().count();
                        let t = l.trim_end_matches('\n');
                        let t = if strip_tabs {
                            t.trim_start_matches('\t')
                        } else {
                            t
                        };
                        if t == delim {
                            found = true;
                            break;
                        }
                        body.push_str(if strip_tabs {
                            l.trim_start_matches('\t')
                        } else {
                            l
                        });
                    }
                    if !found {
                        return Err(format!(
                            "here-document delimited by end-of-file (wanted `{delim}')"
                        ));
                    }
                    cmd.stdin = Some(body);
                    i += consumed;
                }
                end_cmd!(Link::Always);
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                end_cmd!(Link::And);
                i += 1;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                end_cmd!(Link::Or);
                i += 1;
            }
            '|' => return Err("pipes are not supported in this sandbox".into()),
            '&' if chars.get(i + 1) == Some(&'>') => {
                end_word!();
                let append = chars.get(i + 2) == Some(&'>');
                pending_redir = Some((3, append));
                i += if append { 2 } else { 1 };
            }
            '&' => return Err("background jobs are not supported in this sandbox".into()),
            '<' if chars.get(i + 1) == Some(&'<') => {
                end_word!();
                heredoc_strip = chars.get(i + 2) == Some(&'-');
                i += if heredoc_strip { 2 } else { 1 };
                // The delimiter is the next word (quotes removed by the word reader).
                pending_heredoc = true;
            }
            '<' => return Err("input redirection is not supported in this sandbox".into()),
            '>' => {
                let fd = if in_word && (word == "1" || word == "2") {
                    let fd = if word == "2" { 2 } else { 1 };
                    word.clear();
                    in_word = false;
                    fd
                } else {
                    end_word!();
                    1
                };
                if chars.get(i + 1) == Some(&'&') && matches!(chars.get(i + 2), Some('1' | '2')) {
                    if fd == 2 && chars[i + 2] == '1' {
                        cmd.stderr = Some(Redir::Stdout);
                    }
                    i += 3;
                    continue;
                }
                let append = chars.get(i + 1) == Some(&'>');
                if append {
                    i += 1;
                }
                pending_redir = Some((fd, append));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
        i += 1;
    }
    end_cmd!(Link::Always);
    Ok(out)
}

struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Out {
    fn ok(stdout: String) -> Self {
        Out {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }
}

/// Runs a command line; returns the combined output and the last exit status.
pub fn run(fs: &Fs, line: &str) -> (String, i32) {
    let cmds = match parse(line) {
        Ok(c) => c,
        Err(e) => return (format!("bash: {e}\n"), 2),
    };
    let mut output = String::new();
    let mut status = 0;
    for (link, cmd) in cmds {
        match link {
            Link::And if status != 0 => continue,
            Link::Or if status == 0 => continue,
            _ => {}
        }
        let out = exec(fs, &cmd);
        status = out.code;
        let mut stderr_to_stdout = false;
        match &cmd.stderr {
            None => {}
            Some(Redir::DevNull) => {}
            Some(Redir::Stdout) => stderr_to_stdout = true,
            Some(Redir::File { path, append }) => {
                if let Err(e) = redirect(fs, path, &out.stderr, *append) {
                    output.push_str(&e);
                    status = 1;
                }
            }
        }
        let mut stdout = out.stdout;
        if stderr_to_stdout {
            stdout.push_str(&out.stderr);
        }
        match &cmd.stdout {
            None => output.push_str(&stdout),
            Some(Redir::DevNull) => {}
            Some(Redir::Stdout) => output.push_str(&stdout),
            Some(Redir::File { path, append }) => {
                if let Err(e) = redirect(fs, path, &stdout, *append) {
                    output.push_str(&e);
                    status = 1;
                }
            }
        }
        if cmd.stderr.is_none() {
            output.push_str(&out.stderr);
        }
    }
    (output, status)
}

fn redirect(fs: &Fs, path: &str, text: &str, append: bool) -> Result<(), String> {
    let loc = fs
        .resolve(path)
        .ok_or_else(|| format!("bash: {path}: No such file or directory\n"))?;
    // Appends against the content as it is when written, so a concurrent write is not lost.
    let written = if append {
        fs.update(&loc, |old| {
            Ok::<_, std::convert::Infallible>(format!("{}{text}", old.unwrap_or("")))
        })
        .map_err(|e| match e {
            UpdateError::Fs(e) => e,
            UpdateError::Refused(never) => match never {},
        })
    } else {
        fs.write(&loc, text)
    };
    written
        .map(|_| ())
        .map_err(|e| format!("bash: {path}: {e}\n"))
}

fn split_flags(args: &[String]) -> (String, Vec<&str>) {
    let mut flags = String::new();
    let mut rest = Vec::new();
    let mut no_more = false;
    for a in args {
        if !no_more && a == "--" {
            no_more = true;
        } else if !no_more && a.len() > 1 && a.starts_with('-') {
            flags.push_str(&a[1..]);
        } else {
            rest.push(a.as_str());
        }
    }
    (flags, rest)
}

fn exec(fs: &Fs, cmd: &Cmd) -> Out {
    let Some((name, args)) = cmd.words.split_first() else {
        return Out::ok(String::new());
    };
    match name.as_str() {
        "true" | ":" => Out::ok(String::new()),
        "false" => Out {
            stdout: String::new(),
            stderr: String::new(),
            code: 1,
        },
        "pwd" => Out::ok("/\n".into()),
        "echo" => {
            let (newline, words) = match args.first().map(String::as_str) {
                Some("-n") => (false, &args[1..]),
                _ => (true, args),
            };
            let mut s = words.join(" ");
            if newline {
                s.push('\n');
            }
            Out::ok(s)
        }
        "ls" => ls(fs, args),
        "cat" => cat(fs, args, cmd.stdin.as_deref()),
        "rm" => rm(fs, args),
        "mkdir" => mkdir(fs, args),
        "touch" => touch(fs, args),
        "find" => find(fs, args),
        other => Out {
            stdout: String::new(),
            stderr: format!("bash: {other}: command not found\n"),
            code: 127,
        },
    }
}

fn ls(fs: &Fs, args: &[String]) -> Out {
    let (flags, mut targets) = split_flags(args);
    if let Some(bad) = flags.chars().find(|c| !"1alAFhR".contains(*c)) {
        return Out {
            stdout: String::new(),
            stderr: format!("ls: invalid option -- '{bad}'\n"),
            code: 2,
        };
    }
    let long = flags.contains('l');
    let all = flags.contains('a');
    if targets.is_empty() {
        targets.push(MOUNT_ROOT);
    }
    let mut out = Out::ok(String::new());
    let many = targets.len() > 1;
    for (n, t) in targets.iter().enumerate() {
        let Some(loc) = fs.resolve(t) else {
            out.stderr.push_str(&format!(
                "ls: cannot access '{t}': No such file or directory\n"
            ));
            out.code = 2;
            continue;
        };
        match fs.stat(&loc) {
            Stat::Missing => {
                out.stderr.push_str(&format!(
                    "ls: cannot access '{t}': No such file or directory\n"
                ));
                out.code = 2;
            }
            Stat::File => {
                let size = fs.read(&loc).map(|c| c.len()).unwrap_or(0);
                out.stdout.push_str(&entry(t, false, size, long));
            }
            Stat::Dir => {
                if many {
                    if n > 0 {
                        out.stdout.push('\n');
                    }
                    out.stdout.push_str(&format!("{t}:\n"));
                }
                let entries = fs.list(&loc).unwrap_or_default();
                if long {
                    out.stdout.push_str(&format!("total {}\n", entries.len()));
                }
                if all {
                    out.stdout.push_str(&entry(".", true, 4096, long));
                    out.stdout.push_str(&entry("..", true, 4096, long));
                }
                for (name, dir) in entries {
                    let size = if dir {
                        4096
                    } else {
                        let child = fs.resolve(&format!("{}/{}", fs.display(&loc), name));
                        child
                            .and_then(|c| fs.read(&c).ok())
                            .map(|c| c.len())
                            .unwrap_or(0)
                    };
                    out.stdout.push_str(&entry(&name, dir, size, long));
                }
            }
        }
    }
    out
}

fn entry(name: &str, dir: bool, size: usize, long: bool) -> String {
    if long {
        let mode = if dir { "drwxr-xr-x" } else { "-rw-r--r--" };
        format!("{mode} 1 agent agent {size:>6} {name}\n")
    } else {
        format!("{name}\n")
    }
}

fn cat(fs: &Fs, args: &[String], stdin: Option<&str>) -> Out {
    let (_, files) = split_flags(args);
    if files.is_empty() {
        return Out::ok(stdin.unwrap_or("").to_string());
    }
    let mut out = Out::ok(String::new());
    for f in files {
        match fs.resolve(f).map(|l| fs.read(&l)) {
            Some(Ok(c)) => out.stdout.push_str(&c),
            Some(Err(e)) => {
                out.stderr.push_str(&format!("cat: {f}: {e}\n"));
                out.code = 1;
            }
            None => {
                out.stderr
                    .push_str(&format!("cat: {f}: No such file or directory\n"));
                out.code = 1;
            }
        }
    }
    out
}

fn rm(fs: &Fs, args: &[String]) -> Out {
    let (flags, targets) = split_flags(args);
    let force = flags.contains('f');
    let recursive = flags.contains('r') || flags.contains('R');
    let mut out = Out::ok(String::new());
    if targets.is_empty() && !force {
        return Out {
            stdout: String::new(),
            stderr: "rm: missing operand\n".into(),
            code: 1,
        };
    }
    for t in targets {
        let fail = |out: &mut Out, e: &dyn std::fmt::Display| {
            out.stderr
                .push_str(&format!("rm: cannot remove '{t}': {e}\n"));
            out.code = 1;
        };
        let Some(loc) = fs.resolve(t) else {
            if !force {
                fail(&mut out, &Errno::NotFound);
            }
            continue;
        };
        match fs.stat(&loc) {
            Stat::Missing if force => {}
            Stat::Missing => fail(&mut out, &Errno::NotFound),
            Stat::File => {
                if let Err(e) = fs.remove_file(&loc) {
                    fail(&mut out, &e);
                }
            }
            Stat::Dir if !recursive => fail(&mut out, &Errno::IsDir),
            Stat::Dir => {
                if matches!(loc, Loc::Root)
                    || matches!(&loc, Loc::Mount { rel, .. } if rel.is_empty())
                {
                    // A mount point itself cannot go; its contents can.
                    if matches!(loc, Loc::Root) {
                        fail(&mut out, &"Device or resource busy");
                        continue;
                    }
                }
                for file in fs.walk(&loc) {
                    if let Some(l) = fs.resolve(&file.full_path)
                        && let Err(e) = fs.remove_file(&l)
                    {
                        fail(&mut out, &e);
                        break;
                    }
                }
            }
        }
    }
    out
}

fn mkdir(fs: &Fs, args: &[String]) -> Out {
    let (flags, targets) = split_flags(args);
    let parents = flags.contains('p');
    let mut out = Out::ok(String::new());
    if targets.is_empty() {
        return Out {
            stdout: String::new(),
            stderr: "mkdir: missing operand\n".into(),
            code: 1,
        };
    }
    for t in targets {
        let fail = |out: &mut Out, e: &dyn std::fmt::Display| {
            out.stderr
                .push_str(&format!("mkdir: cannot create directory '{t}': {e}\n"));
            out.code = 1;
        };
        let Some(loc) = fs.resolve(t) else {
            fail(&mut out, &"Permission denied");
            continue;
        };
        let read_only = match &loc {
            Loc::Root | Loc::File(_) | Loc::Dir(_) => true,
            Loc::Mount { mount, .. } => fs.mounts()[*mount].access == cma_types::Access::ReadOnly,
        };
        match fs.stat(&loc) {
            Stat::Dir if parents => {}
            Stat::Dir | Stat::File => fail(&mut out, &Errno::Exists),
            Stat::Missing if read_only => fail(&mut out, &Errno::ReadOnly),
            // Directories are implied by memory paths: nothing to store.
            Stat::Missing => {}
        }
    }
    out
}

fn touch(fs: &Fs, args: &[String]) -> Out {
    let (_, targets) = split_flags(args);
    let mut out = Out::ok(String::new());
    for t in targets {
        let result = match fs.resolve(t) {
            None => Err(Errno::NotFound),
            Some(loc) => match fs.stat(&loc) {
                Stat::Missing => fs.write(&loc, "").map(|_| ()),
                _ => Ok(()),
            },
        };
        if let Err(e) = result {
            out.stderr
                .push_str(&format!("touch: cannot touch '{t}': {e}\n"));
            out.code = 1;
        }
    }
    out
}

fn find(fs: &Fs, args: &[String]) -> Out {
    let mut roots = Vec::new();
    let mut kind: Option<&str> = None;
    let mut name: Option<regex::Regex> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-type" => kind = it.next().map(String::as_str),
            "-name" => {
                let pat = it.next().map(String::as_str).unwrap_or("");
                match super::files::glob_regex(pat) {
                    Ok(r) => name = Some(r),
                    Err(e) => {
                        return Out {
                            stdout: String::new(),
                            stderr: format!("find: {e}\n"),
                            code: 1,
                        };
                    }
                }
            }
            s if s.starts_with('-') => {
                return Out {
                    stdout: String::new(),
                    stderr: format!("find: unknown predicate `{s}'\n"),
                    code: 1,
                };
            }
            s => roots.push(s),
        }
    }
    if roots.is_empty() {
        roots.push(MOUNT_ROOT);
    }
    let mut out = Out::ok(String::new());
    for root in roots {
        let Some(loc) = fs.resolve(root).filter(|l| fs.stat(l) != Stat::Missing) else {
            out.stderr
                .push_str(&format!("find: '{root}': No such file or directory\n"));
            out.code = 1;
            continue;
        };
        let base = root.trim_end_matches('/');
        let base = if base.is_empty() { "/" } else { base };
        let shown = |full: &str| {
            format!(
                "{base}{}",
                full.strip_prefix(&fs.display(&loc)).unwrap_or(full)
            )
        };
        let files = fs.walk(&loc);
        let mut lines: Vec<String> = Vec::new();
        let base_name_ok = |p: &str| {
            let leaf = p.rsplit('/').next().unwrap_or(p);
            name.as_ref().is_none_or(|r| r.is_match(leaf))
        };
        if kind != Some("f") {
            let mut dirs: Vec<String> = vec![fs.display(&loc)];
            for f in &files {
                let mut p = f.full_path.as_str();
                while let Some((parent, _)) = p.rsplit_once('/') {
                    if parent.len() <= fs.display(&loc).len() {
                        break;
                    }
                    dirs.push(parent.to_string());
                    p = parent;
                }
            }
            dirs.sort();
            dirs.dedup();
            lines.extend(dirs.iter().filter(|d| base_name_ok(d)).map(|d| shown(d)));
        }
        if kind != Some("d") {
            lines.extend(
                files
                    .iter()
                    .filter(|f| base_name_ok(&f.full_path))
                    .map(|f| shown(&f.full_path)),
            );
        }
        lines.sort();
        for l in lines {
            out.stdout.push_str(&l);
            out.stdout.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_links_and_redirections() {
        let cmds = parse("cat /a 2>/dev/null || echo \"No file found\"").unwrap();
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].1.words, vec!["cat", "/a"]);
        assert_eq!(cmds[0].1.stderr, Some(Redir::DevNull));
        assert_eq!(cmds[1].0, Link::Or);
        assert_eq!(cmds[1].1.words, vec!["echo", "No file found"]);
        let cmds = parse("echo 'a b' > /x/y && ls -1 /x").unwrap();
        assert_eq!(
            cmds[0].1.stdout,
            Some(Redir::File {
                path: "/x/y".into(),
                append: false
            })
        );
        assert_eq!(cmds[1].0, Link::And);
        let cmds = parse("cat > /m/f.md << 'EOF'\nline 1\nline 2\nEOF\necho done").unwrap();
        assert_eq!(cmds[0].1.stdin.as_deref(), Some("line 1\nline 2\n"));
        assert_eq!(cmds[1].1.words, vec!["echo", "done"]);
        assert!(parse("ls | head").is_err());
        assert!(parse("echo 'x").is_err());
    }
}
