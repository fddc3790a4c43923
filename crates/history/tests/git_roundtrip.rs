//! The `patch` output applies with `git apply`, and the `git-fast-import` output imports with
//! `git fast-import`, on real git repositories in temp directories.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use cma_history::{
    Format, History, RenderOptions, Snapshot, SnapshotDiff, SnapshotPoint, VersionFilter,
    render_history, render_snapshot_diff,
};
use common::{big_history, fixture_history, t};

fn git_available() -> bool {
    let found = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("notice: `git` is not on PATH; skipping this test");
    }
    found
}

/// Runs git in `dir` with no user or system configuration, feeding `stdin`.
fn git(dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "core.quotepath=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let output = child.wait_with_output().expect("git finishes");
    assert!(
        output.status.success(),
        "git {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn write_tree(dir: &Path, snapshot: &Snapshot) {
    for (path, content) in &snapshot.memories {
        let file = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, content).expect("write");
    }
}

/// Every file under `dir` except `.git`, as `/relative/path` → content.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned();
                out.insert(
                    format!("/{rel}"),
                    std::fs::read_to_string(&path).expect("utf-8 file"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn apply(dir: &Path, patch: &[u8]) {
    git(
        dir,
        &["apply", "--verbose", "--whitespace=nowarn", "-"],
        patch,
    );
}

fn render(history: &History, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    render_history(history, format, &RenderOptions::default(), &mut out).expect("render");
    out
}

#[test]
fn snapshot_diff_patch_turns_the_older_snapshot_into_the_newer() {
    if !git_available() {
        return;
    }
    let history = fixture_history();
    for (from, to) in [
        (
            SnapshotPoint::Time(t(1)),
            SnapshotPoint::Version("memver_10".into()),
        ),
        (SnapshotPoint::Time(t(0)), SnapshotPoint::Time(t(60))),
        (
            SnapshotPoint::Version("memver_04".into()),
            SnapshotPoint::Version("memver_08".into()),
        ),
    ] {
        let older = Snapshot::at(&history, &from).expect("older");
        let newer = Snapshot::at(&history, &to).expect("newer");
        let dir = tempfile::tempdir().expect("tempdir");
        git(dir.path(), &["init", "-q"], b"");
        write_tree(dir.path(), &older);
        let mut patch = Vec::new();
        let diff = SnapshotDiff::new(older, newer.clone());
        render_snapshot_diff(&diff, Format::Patch, &RenderOptions::default(), &mut patch)
            .expect("render");
        apply(dir.path(), &patch);
        assert_eq!(read_tree(dir.path()), newer.memories, "{from} -> {to}");
    }
}

fn commit_all(dir: &Path) {
    git(dir, &["add", "-A"], b"");
    git(
        dir,
        &["commit", "-q", "--allow-empty", "-m", "older snapshot"],
        b"",
    );
}

fn commit_count(dir: &Path) -> usize {
    git(dir, &["rev-list", "--count", "HEAD"], b"")
        .trim()
        .parse()
        .expect("a count")
}

#[test]
fn whole_history_patch_applies_commit_by_commit_with_git_am() {
    if !git_available() {
        return;
    }
    for history in [fixture_history(), big_history()] {
        let dir = tempfile::tempdir().expect("tempdir");
        git(dir.path(), &["init", "-q"], b"");
        commit_all(dir.path());
        git(
            dir.path(),
            &["am", "--empty=keep", "-q"],
            &render(&history, Format::Patch),
        );
        assert_eq!(commit_count(dir.path()), 1 + history.versions().len());
        let last = history.versions().last().expect("versions").id.clone();
        let newest = Snapshot::at(&history, &SnapshotPoint::Version(last)).expect("snapshot");
        assert_eq!(read_tree(dir.path()), newest.memories);
        // The commits carry the actors as authors.
        let authors = git(dir.path(), &["log", "--format=%an", "-n1", "HEAD~1"], b"");
        assert!(
            authors.starts_with("api key") || authors.starts_with("session"),
            "{authors}"
        );
    }
}

#[test]
fn each_version_of_a_history_patch_applies_with_git_apply_on_the_tree_before_it() {
    if !git_available() {
        return;
    }
    let history = fixture_history();
    let series = String::from_utf8(render(&history, Format::Patch)).expect("utf-8");
    let messages: Vec<&str> = series.split("\nFrom memver_").collect();
    assert_eq!(messages.len(), history.versions().len());
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"], b"");
    for (i, message) in messages.iter().enumerate() {
        // The split took each message's final newline (every message but the last).
        let message = if i + 1 < messages.len() {
            format!("{message}\n")
        } else {
            message.to_string()
        };
        if message.contains("\ndiff --git ") {
            apply(dir.path(), message.as_bytes());
        }
        let id = history.versions()[i].id.clone();
        let expected =
            Snapshot::at(&history, &SnapshotPoint::Version(id.clone())).expect("snapshot");
        assert_eq!(read_tree(dir.path()), expected.memories, "after {id}");
    }
}

#[test]
fn history_since_a_time_applies_to_the_snapshot_just_before_it() {
    if !git_available() {
        return;
    }
    let mut history = fixture_history();
    let older = Snapshot::at(&history, &SnapshotPoint::Time(t(4))).expect("older");
    history.apply_filter(&VersionFilter {
        since: Some(t(5)),
        ..VersionFilter::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"], b"");
    write_tree(dir.path(), &older);
    commit_all(dir.path());
    git(
        dir.path(),
        &["am", "--empty=keep", "-q"],
        &render(&history, Format::Patch),
    );
    let newest = Snapshot::at(&history, &SnapshotPoint::Time(t(60))).expect("newest");
    assert_eq!(read_tree(dir.path()), newest.memories);
    assert_eq!(commit_count(dir.path()), 1 + history.shown().len());
}

#[test]
fn fast_import_makes_one_commit_per_version_with_the_actors_as_authors() {
    if !git_available() {
        return;
    }
    let history = fixture_history();
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"], b"");
    git(
        dir.path(),
        &["fast-import", "--quiet"],
        &render(&history, Format::GitFastImport),
    );

    let log = git(
        dir.path(),
        &[
            "log",
            "--reverse",
            "--format=%an <%ae>|%at|%s",
            "refs/heads/main",
        ],
        b"",
    );
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), history.versions().len(), "{log}");
    for (line, v) in lines.iter().zip(history.versions()) {
        let (who, rest) = line.split_once('|').expect("author");
        let (secs, subject) = rest.split_once('|').expect("date");
        let id = v.created_by.as_ref().map(|a| a.label()).unwrap_or_default();
        let email_local = id.rsplit(' ').next().unwrap_or_default();
        assert_eq!(who, format!("{id} <{email_local}@memory.invalid>"));
        assert_eq!(secs, v.created_at.timestamp().to_string());
        assert!(
            subject.starts_with(v.operation.as_str()) && subject.ends_with(&format!("({})", v.id)),
            "{subject}"
        );
    }
    assert!(log.contains("session sesn_visit2 <sesn_visit2@memory.invalid>"));

    // The final tree is the final snapshot.
    git(dir.path(), &["checkout", "-q", "main"], b"");
    let last = history.versions().last().expect("versions").id.clone();
    let newest = Snapshot::at(&history, &SnapshotPoint::Version(last)).expect("snapshot");
    assert_eq!(read_tree(dir.path()), newest.memories);

    // blame attributes the changed line to the session that changed it.
    let blame = git(
        dir.path(),
        &["blame", "--line-porcelain", "profile/preferences.md"],
        b"",
    );
    let size_line_author = blame
        .split("\nauthor ")
        .find(|chunk| chunk.contains("\tsize: large"))
        .and_then(|chunk| chunk.lines().next())
        .expect("blame entry");
    assert_eq!(size_line_author, "session sesn_visit2");
}

#[test]
fn a_path_reused_by_another_memory_and_swapped_paths_apply_cleanly() {
    if !git_available() {
        return;
    }
    use cma_client::types::Operation::*;
    use common::{session, version};
    let history = History::from_memory_versions(
        common::STORE,
        vec![
            version(
                "memver_a1",
                "mem_a",
                Created,
                0,
                "/x.md",
                Some("a\n"),
                session("sesn_1"),
            ),
            version(
                "memver_b1",
                "mem_b",
                Created,
                1,
                "/left.md",
                Some("left\n"),
                session("sesn_1"),
            ),
            version(
                "memver_c1",
                "mem_c",
                Created,
                2,
                "/right.md",
                Some("right\n"),
                session("sesn_1"),
            ),
            version(
                "memver_a2",
                "mem_a",
                Deleted,
                3,
                "/x.md",
                None,
                session("sesn_2"),
            ),
            version(
                "memver_d1",
                "mem_d",
                Created,
                4,
                "/x.md",
                Some("d\n"),
                session("sesn_2"),
            ),
            version(
                "memver_b2",
                "mem_b",
                Modified,
                5,
                "/tmp.md",
                Some("left\n"),
                session("sesn_2"),
            ),
            version(
                "memver_c2",
                "mem_c",
                Modified,
                6,
                "/left.md",
                Some("right\n"),
                session("sesn_2"),
            ),
            version(
                "memver_b3",
                "mem_b",
                Modified,
                7,
                "/right.md",
                Some("left\n"),
                session("sesn_2"),
            ),
        ],
    );
    let older = Snapshot::at(&history, &SnapshotPoint::Time(t(2))).expect("older");
    let newer = Snapshot::at(&history, &SnapshotPoint::Time(t(7))).expect("newer");
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"], b"");
    write_tree(dir.path(), &older);
    let mut patch = Vec::new();
    let diff = SnapshotDiff::new(older, newer.clone());
    render_snapshot_diff(&diff, Format::Patch, &RenderOptions::default(), &mut patch)
        .expect("render");
    apply(dir.path(), &patch);
    assert_eq!(read_tree(dir.path()), newer.memories);
    assert_eq!(newer.memories["/left.md"], "right\n");

    // The same history imported commit by commit ends at the same tree.
    let repo = tempfile::tempdir().expect("tempdir");
    git(repo.path(), &["init", "-q"], b"");
    git(
        repo.path(),
        &["fast-import", "--quiet"],
        &render(&history, Format::GitFastImport),
    );
    git(repo.path(), &["checkout", "-q", "main"], b"");
    assert_eq!(read_tree(repo.path()), newer.memories);
}
