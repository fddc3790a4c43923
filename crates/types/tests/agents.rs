//! Agent fields whose request form is looser than the response form.

use cma_types::{AwsRoleIdentity, Effort, ExecutionIdentity, ModelConfig, ModelRef};
use serde_json::json;

#[test]
fn a_bare_effort_level_reads_as_the_object_form_and_writes_as_it() {
    let bare: ModelRef =
        serde_json::from_value(json!({"id": "claude-sonnet-4-6", "effort": "high"})).expect("bare");
    let object: ModelRef =
        serde_json::from_value(json!({"id": "claude-sonnet-4-6", "effort": {"type": "high"}}))
            .expect("object");
    assert_eq!(bare, object);
    let ModelRef::Config(ModelConfig { effort, .. }) = &bare else {
        panic!("a model object reads as a config: {bare:?}");
    };
    assert!(matches!(effort, Some(Effort::High(_))), "{effort:?}");
    assert_eq!(
        serde_json::to_value(&bare).expect("serializes"),
        json!({"id": "claude-sonnet-4-6", "effort": {"type": "high"}})
    );
}

#[test]
fn an_unknown_effort_level_is_kept_not_refused() {
    let m: ModelConfig =
        serde_json::from_value(json!({"id": "m", "effort": "ludicrous"})).expect("decodes");
    assert_eq!(m.effort.as_ref().map(Effort::type_name), Some("ludicrous"));
    assert!(matches!(m.effort, Some(Effort::Unknown(_))));
}

#[test]
fn execution_identities_round_trip() {
    let role = ExecutionIdentity::AwsRole(AwsRoleIdentity {
        role_arn: "arn:aws:iam::123456789012:role/agent".into(),
    });
    let wire = json!({"type": "aws_role", "role_arn": "arn:aws:iam::123456789012:role/agent"});
    assert_eq!(serde_json::to_value(&role).expect("serializes"), wire);
    assert_eq!(
        serde_json::from_value::<ExecutionIdentity>(wire).expect("decodes"),
        role
    );
}
