//! Rebuilding the whole store as of a time or a version id, and diffing two such snapshots.

mod common;

use cma_history::{ChangeKind, Snapshot, SnapshotDiff, SnapshotError, SnapshotPoint};
use common::{fixture_history, t};

fn at(point: SnapshotPoint) -> Snapshot {
    Snapshot::at(&fixture_history(), &point).expect("snapshot")
}

fn paths(s: &Snapshot) -> Vec<&str> {
    s.memories.keys().map(String::as_str).collect()
}

#[test]
fn a_time_between_versions_sees_the_latest_version_of_each_memory() {
    let s = at(SnapshotPoint::Time(t(2) + chrono::Duration::seconds(30)));
    assert_eq!(paths(&s), ["/notes/café ☕.md", "/preferences.md"]);
    assert_eq!(
        s.memories["/preferences.md"],
        "# Shopper\nsize: large\nbudget: under $200\n"
    );
    assert_eq!(s.sources["/preferences.md"].version_id, "memver_03");
    assert_eq!(s.sources["/preferences.md"].memory_id, "mem_prefs");
}

#[test]
fn a_time_equal_to_a_version_includes_it() {
    let s = at(SnapshotPoint::Time(t(2)));
    assert_eq!(s.sources["/preferences.md"].version_id, "memver_03");
}

#[test]
fn a_version_point_includes_that_version_and_nothing_after() {
    let s = at(SnapshotPoint::Version("memver_05".into()));
    assert_eq!(
        paths(&s),
        ["/empty.md", "/notes/café ☕.md", "/profile/preferences.md"]
    );
    assert_eq!(s.as_of, t(4));
    assert_eq!(s.memories["/empty.md"], "");
}

#[test]
fn deleted_memories_are_gone_and_redacted_ones_are_listed_as_unknown() {
    let s = at(SnapshotPoint::Time(t(11)));
    assert!(!s.memories.contains_key("/no-newline.txt"));
    let unknown: Vec<_> = s
        .unknown
        .iter()
        .map(|u| (u.memory_id.as_str(), u.version_id.as_str(), u.redacted))
        .collect();
    assert_eq!(unknown, [("mem_tmp", "memver_12", true)]);
    // After the deletion that follows the redaction, the memory is simply gone.
    assert!(at(SnapshotPoint::Time(t(12))).unknown.is_empty());
}

#[test]
fn before_the_first_version_the_store_is_empty() {
    let s = at(SnapshotPoint::Time(t(-5)));
    assert!(s.memories.is_empty() && s.unknown.is_empty());
}

#[test]
fn a_time_before_the_store_existed_is_refused_clearly() {
    let err = Snapshot::at(&fixture_history(), &SnapshotPoint::Time(t(-60)))
        .expect_err("before the store");
    assert!(matches!(err, SnapshotError::BeforeStore { .. }));
    assert_eq!(
        err.to_string(),
        "2026-05-01T09:00:00Z is before memory store memstore_fixture existed (it was created at 2026-05-01T09:50:00Z)"
    );
}

#[test]
fn an_unknown_version_is_refused() {
    let err = Snapshot::at(
        &fixture_history(),
        &SnapshotPoint::Version("memver_nope".into()),
    )
    .expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "version memver_nope is not in the history of memory store memstore_fixture"
    );
    assert!(matches!(err, SnapshotError::UnknownVersion { .. }));
}

#[test]
fn points_parse_from_times_dates_and_version_ids() {
    assert_eq!(
        "memver_05".parse::<SnapshotPoint>().expect("id"),
        SnapshotPoint::Version("memver_05".into())
    );
    assert_eq!(
        "2026-05-01T10:02:00Z"
            .parse::<SnapshotPoint>()
            .expect("time"),
        SnapshotPoint::Time(t(2))
    );
    assert_eq!(
        "2026-05-01T12:02:00+02:00"
            .parse::<SnapshotPoint>()
            .expect("offset"),
        SnapshotPoint::Time(t(2))
    );
    let err = "last tuesday"
        .parse::<SnapshotPoint>()
        .expect_err("garbage");
    assert!(err.to_string().contains("memver_"), "{err}");
}

#[test]
fn snapshot_diffs_follow_memories_across_renames() {
    let diff = SnapshotDiff::new(
        at(SnapshotPoint::Time(t(1))),
        at(SnapshotPoint::Time(t(60))),
    );
    let kinds: Vec<_> = diff
        .entries()
        .iter()
        .map(|e| (e.change.memory_id, e.change.kind()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("mem_empty", ChangeKind::Created),
            ("mem_cafe", ChangeKind::RenamedModified),
            ("mem_prefs", ChangeKind::RenamedModified),
        ]
    );
}

#[test]
fn identical_snapshots_have_no_entries() {
    let diff = SnapshotDiff::new(
        at(SnapshotPoint::Time(t(60))),
        at(SnapshotPoint::Version("memver_13".into())),
    );
    assert!(diff.entries().is_empty());
}
