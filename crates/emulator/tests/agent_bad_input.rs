//! Any message gets a reply from the reference agent over the real API — never a panic, a hang
//! or garbage written to memory.

#![allow(clippy::unwrap_used)]

mod common;

use cma_client::turn::{TurnOptions, run_turn};
use cma_client::types::*;
use common::*;
use std::time::Duration;

async fn store_paths(env: &Env, store: &str) -> Vec<(String, String)> {
    let p = ListMemories {
        view: Some(View::Full),
        limit: Some(20),
        ..Default::default()
    };
    t(env.client.memory_stores().memories().list(store, &p))
        .await
        .unwrap()
        .data
        .into_iter()
        .filter_map(|i| match i {
            MemoryListItem::Memory(m) => Some((m.path, m.content.unwrap_or_default())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_messages_get_a_reply_and_write_nothing() {
    let env = start().await;
    let store = env.store("Customer").await;
    let session = env
        .session("claude-sonnet-4-6", &[(&store.id, Access::ReadWrite)])
        .await;
    let options = TurnOptions {
        turn_timeout: Duration::from_secs(10),
        gap_timeout: Duration::from_secs(10),
        max_reconnects: 0,
    };
    let hundred_kb = "lorem ipsum dolor sit amet ".repeat(100 * 1024 / 27 + 1);
    // The API itself refuses an empty text block (as the real one does): a clear 400, and the
    // session goes on. (The agent's unit tests feed it "" directly.)
    let refused = t(run_turn(&env.client, &session.id, "", &options))
        .await
        .unwrap_err();
    match refused {
        cma_client::Error::Api(e) => {
            assert_eq!(e.status, 400);
            assert_eq!(e.error_type, "invalid_request_error");
        }
        other => panic!("{other:?}"),
    }
    let messages = [
        " ".to_string(),
        "?!?! ... ,,, ;;; --- ***".to_string(),
        hundred_kb,
        "我喜欢科幻小说。我的名字是李雷。".to_string(),
        "Меня зовут Иван, я люблю чай.".to_string(),
        "مرحبا، اسمي علي".to_string(),
        "🙂🙃🎉🔥👍🏽".to_string(),
        "# Title\n\n**bold** and _it_ `code`\n\n```rust\nfn main() {}\n```\n> quote\n- [x](http://127.0.0.1/)".to_string(),
        r#"{"customer": {"name": "x", "size": 9}, "items": [1, 2, {"a": null}], "ok": true}"#.to_string(),
        "\u{200b}\u{feff}\u{7}".to_string(),
        (1..=10)
            .map(|i| format!("what's my thing number {i}"))
            .collect::<Vec<_>>()
            .join(", and ")
            + "?",
        r#"He said "she said 'I like "tea" and 'coffee'' to me" — what's my "gate 'code'"?"#
            .to_string(),
        "what is it?".to_string(),
        "Forget it.".to_string(),
        "Never mind.".to_string(),
    ];
    for m in &messages {
        let turn = t(run_turn(&env.client, &session.id, m, &options))
            .await
            .unwrap();
        assert!(
            turn.ended_normally(),
            "{:?}: {:?}",
            &m[..m.len().min(40)],
            turn.end
        );
        assert!(
            !turn.reply.trim().is_empty(),
            "{:?}: empty reply",
            &m[..m.len().min(40)]
        );
        assert!(
            !turn.tool_uses.iter().any(|u| u.writes_memory()),
            "{:?}: wrote memory",
            &m[..m.len().min(40)]
        );
    }
    assert!(store_paths(&env, &store.id).await.is_empty());

    // The session still answers a real statement afterwards, and keeps only that.
    let turn = t(run_turn(
        &env.client,
        &session.id,
        "By the way, my locker number is 17.",
        &options,
    ))
    .await
    .unwrap();
    assert!(turn.reply.contains("locker number is 17"), "{}", turn.reply);
    let kept = vec![(
        "/preferences.md".to_string(),
        "# Customer notes\n\n- Your locker number is 17.\n".to_string(),
    )];
    assert_eq!(store_paths(&env, &store.id).await, kept);
    // "Forget it" means never mind: it deletes nothing.
    for m in [
        "Forget it.",
        "Oh, forget about it.",
        "Never mind, forget it.",
    ] {
        let turn = t(run_turn(&env.client, &session.id, m, &options))
            .await
            .unwrap();
        assert!(
            turn.reply.contains("never mind") && !turn.reply.contains("forgotten"),
            "{m}: {}",
            turn.reply
        );
        assert!(
            !turn.tool_uses.iter().any(|u| u.writes_memory()),
            "{m}: wrote memory"
        );
        assert_eq!(store_paths(&env, &store.id).await, kept, "{m}");
    }
}
