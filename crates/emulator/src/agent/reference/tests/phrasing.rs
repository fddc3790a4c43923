//! Questions and statements as people phrase them (issue 22): several questions in one message,
//! open requests in other words, abstention against a partial overlap, a fact found by a word
//! outside the question's subject, fragments of preference, and odd input.

use super::*;

const POLICY: &str = "/mnt/memory/club/hours.md";

fn club() -> (Sandbox, [Mount; 2]) {
    let mut sb = Sandbox::default();
    sb.files.insert(
        POLICY.into(),
        "# Club\n## Opening hours\n- Sundays: 8am to 2pm\n## Services\n- The locksmith list is at the front desk\n".into(),
    );
    (sb, [rw("me"), ro("club")])
}

#[test]
fn every_question_of_a_message_is_answered() {
    let agent = ReferenceAgent::default();
    let (mut sb, mounts) = club();
    visit(&agent, &mut sb, &mounts, "I rent locker 42.");
    for asked in [
        "What time do you open on Sundays, and do I still have my locker?",
        "What time do you open on Sundays and do I still have my locker?",
        "Do I still have my locker? When do you open on Sundays?",
    ] {
        let reply = visit(&agent, &mut sb, &mounts, asked);
        assert!(reply.contains("8am to 2pm"), "{asked}: {reply}");
        assert!(reply.contains("locker 42"), "{asked}: {reply}");
        assert!(!reply.contains("don't have"), "{asked}: {reply}");
    }
    // One answered, one not: the unanswered one is named.
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "When do you open on Sundays, and what's my gate code?",
    );
    assert!(reply.contains("8am to 2pm"), "{reply}");
    assert!(
        reply.contains("I don't have that noted: what's your gate code?"),
        "{reply}"
    );
    // Two questions joined by "and" without a comma are two questions.
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "Which locker is mine and which locksmith did I use?",
    );
    assert!(reply.contains("locker 42"), "{reply}");
    assert!(
        reply.contains("I don't have that noted: which locksmith did you use?"),
        "{reply}"
    );
}

#[test]
fn open_requests_are_recognised_by_their_form() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I'm Ana. My membership number is M-7781 and I always want the early class.",
    );
    for open in [
        "What do you know about us?",
        "Remind me what I've told you.",
        "What have you got on file for me?",
        "What's on record for us?",
        "Tell me everything you remember.",
    ] {
        let reply = visit(&agent, &mut sb, &mounts, open);
        for v in ["Ana", "M-7781", "early class"] {
            assert!(reply.contains(v), "{open}: {v} missing: {reply}");
        }
        assert!(!reply.contains("don't have"), "{open}: {reply}");
    }
    // A question naming something is not open.
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "Remind me of my membership number.",
    );
    assert!(
        reply.contains("M-7781") && !reply.contains("Ana"),
        "{reply}"
    );
}

#[test]
fn a_subject_with_no_fact_is_not_noted_whatever_else_matches() {
    let agent = ReferenceAgent::default();
    let (mut sb, mounts) = club();
    visit(&agent, &mut sb, &mounts, "I use the side gate.");
    for asked in [
        "Which locksmith did I use last time?",
        "What locksmith did I use?",
        "Which locksmith do I normally use?",
    ] {
        let reply = visit(&agent, &mut sb, &mounts, asked);
        assert!(
            reply.contains("I don't have that noted."),
            "{asked}: {reply}"
        );
        // A light verb alone matches nothing.
        assert!(!reply.contains("side gate"), "{asked}: {reply}");
    }
    // A question that is only light words still finds what it names.
    let reply = visit(&agent, &mut sb, &mounts, "What do I use?");
    assert!(reply.contains("side gate"), "{reply}");
}

#[test]
fn a_fact_sharing_another_word_of_the_question_is_quoted() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I love the hills in Richmond Park.",
    );
    visit(&agent, &mut sb, &mounts, "My dog's name is Rex.");
    for asked in [
        "Should my run on Saturday have hills?",
        "Any hills for my run on Saturday?",
        "How hilly should my Saturday run be, with hills or flat?",
    ] {
        let reply = visit(&agent, &mut sb, &mounts, asked);
        assert!(reply.contains("Richmond Park"), "{asked}: {reply}");
    }
    // A possessor of the subject is not another word: the dog's name is not its birthday.
    let reply = visit(&agent, &mut sb, &mounts, "When is my dog's birthday?");
    assert!(
        reply.contains("I don't have that noted.") && !reply.contains("Rex"),
        "{reply}"
    );
}

#[test]
fn fragments_and_imperatives_of_preference_are_learned_as_said() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I never want paper statements. Email only, please.",
    );
    visit(&agent, &mut sb, &mounts, "No calls after 8pm.");
    visit(&agent, &mut sb, &mounts, "Weekends only.");
    visit(&agent, &mut sb, &mounts, "Don't text before 9am.");
    let n = notes(&sb);
    for v in [
        "- You never want paper statements.\n",
        "- Email only.\n",
        "- No calls after 8pm.\n",
        "- Weekends only.\n",
        "- Don't text before 9am.\n",
    ] {
        assert!(n.contains(v), "{v:?} missing: {n}");
    }
    let reply = visit(&agent, &mut sb, &mounts, "Can you call me at 9pm?");
    assert!(reply.contains("No calls after 8pm."), "{reply}");
    // Idioms that open the same way are conversation.
    let before = notes(&sb);
    for idiom in [
        "No problem.",
        "Never mind.",
        "No, thanks.",
        "Don't worry.",
        "No, that's all.",
        "Only joking.",
    ] {
        sb.take_calls();
        visit(&agent, &mut sb, &mounts, idiom);
        assert!(sb.writes().is_empty(), "{idiom}: {:?}", sb.writes());
    }
    assert_eq!(notes(&sb), before);
}

#[test]
fn odd_questions_get_a_reply_and_leave_memory_alone() {
    let agent = ReferenceAgent::default();
    let (mut sb, mounts) = club();
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I rent locker 42. My gate code is 1234.",
    );
    let before = notes(&sb);
    let ten = (1..=10)
        .map(|i| format!("what's my thing number {i}"))
        .collect::<Vec<_>>()
        .join(", and ")
        + ", and do I still have my locker?";
    let nested =
        r#"He said "she said 'I like "tea" and 'coffee'' to me" — what's my "gate 'code'"?"#;
    for (message, expect) in [
        (ten.as_str(), "locker 42"),
        (nested, "1234"),
        ("what is it?", "I don't have that noted."),
        ("Forget it.", "never mind"),
        ("Forget about it.", "never mind"),
        ("Never mind.", "never mind"),
        ("\"'\"''\"\"'", "How can I help?"),
    ] {
        sb.take_calls();
        let reply = visit(&agent, &mut sb, &mounts, message);
        assert!(reply.contains(expect), "{message}: {reply}");
        assert!(sb.writes().is_empty(), "{message}: {:?}", sb.writes());
        assert!(
            !sb.calls
                .iter()
                .any(|(n, i)| n == "bash"
                    && i["command"].as_str().is_some_and(|c| c.starts_with("rm"))),
            "{message}: {:?}",
            sb.calls
        );
    }
    assert_eq!(notes(&sb), before);
    // A ten-clause question names at most a bounded number of its parts.
    let reply = visit(&agent, &mut sb, &mounts, &ten);
    assert!(reply.lines().count() < 40, "{reply}");
}

/// What `scenarios/README.md` says the agent still cannot do, so the page stays true.
#[test]
fn the_documented_limits_hold() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    sb.files.insert(
        "/mnt/memory/desk/billing.md".into(),
        "## Billing\n- Bills are issued on the 1st of each month.\n## Engineers\n- The list of approved engineers is on our website.\n".into(),
    );
    let mounts = [rw("me"), ro("desk")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I'm training for a half marathon in October.",
    );
    // No synonyms: the race is not found through "race", and is said not to be noted.
    let reply = visit(&agent, &mut sb, &mounts, "What race am I training for?");
    assert!(
        reply.contains("half marathon") && reply.contains("I don't have that noted."),
        "{reply}"
    );
    // Without a first-person word a question is not about the customer.
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "Which engineer came out last time?",
    );
    assert!(
        reply.contains("approved engineers") && !reply.contains("don't have"),
        "{reply}"
    );
    // "My bill" that only a reference file answers: quoted and said not to be noted.
    let reply = visit(&agent, &mut sb, &mounts, "When do I get my bill?");
    assert!(
        reply.contains("1st of each month") && reply.contains("I don't have that noted."),
        "{reply}"
    );
}
