//! JSON round trips and ServiceStack conventions for the spec's DTOs.

use evo_core::api::sessions::*;
use evo_wire::json::{from_json, to_json};

fn sample_session() -> SessionInfo {
    SessionInfo {
        entity: EntityInfo {
            id: Some("s1".into()),
            date_created: Some("2026-11-25T10:00:00Z".into()),
            ..Default::default()
        },
        call_state: SessionCallState::Connected,
        account_id: Some("a1".into()),
        customer_breadcrumb: vec![CustomerBreadcrumb {
            id: Some("c1".into()),
            name: Some("Acme".into()),
        }],
        members: vec![SessionMemberInfo {
            identity: Some("alice".into()),
            application_data: [("k".to_string(), "v".to_string())].into_iter().collect(),
            role: SessionMemberRoles::Agent,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn own_members_come_before_inherited_ones_and_nulls_are_omitted() {
    let json = String::from_utf8(to_json(&sample_session())).unwrap();
    assert!(json.starts_with(r#"{"dialState":"None","callState":"Connected","queueState":"None","accountId":"a1","customerBreadcrumb":[{"id":"c1","name":"Acme"}]"#), "{json}");
    assert!(
        json.ends_with(r#""wasMissed":false,"id":"s1","dateCreated":"2026-11-25T10:00:00Z"}"#),
        "{json}"
    );
    assert!(!json.contains("null"));
    assert!(json.contains(r#""applicationData":{"k":"v"}"#));
}

#[test]
fn json_parses_back_to_the_same_dto_whatever_the_member_case() {
    let session = sample_session();
    let parsed: SessionInfo = from_json(&to_json(&session)).unwrap();
    assert_eq!(parsed, session);
    let pascal: SessionInfo =
        from_json(br#"{"CallState":"ringing","Id":"x","Ended":"true","Unknown":1}"#).unwrap();
    assert_eq!(pascal.call_state, SessionCallState::Ringing);
    assert_eq!(pascal.entity.id.as_deref(), Some("x"));
    assert!(pascal.ended);
}

#[test]
fn a_wrong_enum_member_is_an_error_naming_the_field() {
    let error = from_json::<SessionInfo>(br#"{"callState":"Dancing"}"#).unwrap_err();
    assert_eq!(error.field_name(), Some("CallState"));
    let error = from_json::<SessionInfo>(b"{not json").unwrap_err();
    assert!(error.to_string().starts_with("invalid JSON"));
}

#[test]
fn non_ascii_text_is_written_as_utf8_not_escaped() {
    // ServiceStack.Text writes non-ASCII characters as UTF-8: JsonUtils.cs:48-58
    // escapes them only when `JsConfig.EscapeUnicode` is set (off by default).
    let mut session = sample_session();
    session.customer_breadcrumb[0].name = Some("Zoë Ñandú ☎ 東京".into());
    let json = String::from_utf8(to_json(&session)).unwrap();
    assert!(json.contains("\"name\":\"Zoë Ñandú ☎ 東京\""), "{json}");
    assert!(!json.contains("\\u"), "{json}");
    let back: SessionInfo = from_json(json.as_bytes()).unwrap();
    assert_eq!(back, session);
}
