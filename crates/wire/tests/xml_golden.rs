//! The XML of GetActiveSessions is exactly the DataContract XML of the spec:
//! element order, namespaces and generated prefixes.

use std::collections::BTreeMap;

use evo_core::api::sessions::*;
use evo_core::contract::{Contract, Field};
use evo_wire::xml::{from_xml, to_xml, value_to_xml};

fn spec_xml_sample() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/GetActiveSessions.txt"
    );
    let spec = std::fs::read_to_string(path).expect("the spec copy is in spec/");
    let start = spec
        .find("<GetActiveSessionsResponse")
        .expect("XML sample start");
    let end_tag = "</GetActiveSessionsResponse>";
    let end = spec.find(end_tag).expect("XML sample end") + end_tag.len();
    spec[start..end].to_string()
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// The spec's placeholder session: every string "String", enums at their
/// first member, booleans false, one item per list and dictionary.
fn placeholder_response() -> GetActiveSessionsResponse {
    let string = || s("String");
    GetActiveSessionsResponse {
        sessions: vec![SessionInfo {
            entity: EntityInfo {
                id: string(),
                date_created: string(),
                date_last_modified: string(),
                created_by: string(),
                last_modified_by: string(),
            },
            account_id: string(),
            account_name: string(),
            customer_id: string(),
            customer_breadcrumb: vec![CustomerBreadcrumb {
                id: string(),
                name: string(),
            }],
            customer_name: string(),
            endpoint_id: string(),
            endpoint_name: string(),
            date_completed: string(),
            destination: string(),
            to_address: string(),
            from_address: string(),
            from_name: string(),
            answered_by_name: string(),
            queue_member_id: string(),
            outcome: string(),
            call_sid: string(),
            console_data: string(),
            hold_queue_name: string(),
            held_by_user_id: string(),
            conference_sid: string(),
            display_name: string(),
            log: vec![SessionLogInfo {
                date: string(),
                message: string(),
            }],
            members: vec![SessionMemberInfo {
                identity: string(),
                endpoint_id: string(),
                display_name: string(),
                avatar_url: string(),
                application_data: BTreeMap::from([("String".to_string(), "String".to_string())]),
                call_sid: string(),
                ..Default::default()
            }],
            callback_number: string(),
            answered_by_id: string(),
            from_phone_number: string(),
            most_recent_participant_call_sid: string(),
            ring_queue_id: string(),
            ..Default::default()
        }],
    }
}

/// Every field set to a distinct non-default value.
fn populated_response() -> GetActiveSessionsResponse {
    let mut response = placeholder_response();
    let session = &mut response.sessions[0];
    session.entity.id = s("ses_1");
    session.dial_state = SessionDialState::Active;
    session.call_state = SessionCallState::Hold;
    session.queue_state = SessionQueueStates::Connected;
    session.channel = FlowChannels::Chat;
    session.ended = true;
    session.hold_reason = SessionHoldReasons::Transferring;
    session.direction = SessionDirections::Outgoing;
    session.was_missed = true;
    session.display_name = s("Caller <+1 555> & \"friends\"");
    session.customer_breadcrumb = vec![
        CustomerBreadcrumb {
            id: s("c1"),
            name: s("Acme"),
        },
        CustomerBreadcrumb {
            id: s("c2"),
            name: s("Acme West"),
        },
    ];
    session.log = vec![
        SessionLogInfo {
            date: s("2026-11-25T09:00:00.000Z"),
            message: s("Incoming call"),
        },
        SessionLogInfo {
            date: s("2026-11-25T09:00:05.000Z"),
            message: s("Alice answered"),
        },
    ];
    session.members = vec![
        SessionMemberInfo {
            identity: s("+15557770000"),
            is_original_member: true,
            call_state: SessionMemberCallState::Hold,
            role: SessionMemberRoles::Caller,
            call_sid: s("CA1"),
            ..Default::default()
        },
        SessionMemberInfo {
            identity: s("client:alice"),
            endpoint_id: s("u1"),
            display_name: s("Alice"),
            avatar_url: s("https://example.test/a.png"),
            application_data: BTreeMap::from([
                ("crm".to_string(), "42".to_string()),
                ("skill".to_string(), "billing".to_string()),
            ]),
            call_state: SessionMemberCallState::Connected,
            role: SessionMemberRoles::Agent,
            call_sid: s("CA2"),
            muted: true,
            is_original_member: false,
        },
    ];
    response
}

#[test]
fn the_placeholder_response_renders_exactly_as_the_spec_sample() {
    let value = placeholder_response().to_value();
    let rendered = value_to_xml(&value, GetActiveSessionsResponse::type_info(), true);
    let expected = spec_xml_sample();
    if rendered != expected {
        for (n, (a, b)) in rendered.lines().zip(expected.lines()).enumerate() {
            assert_eq!(a, b, "first difference at line {}", n + 1);
        }
        assert_eq!(rendered.lines().count(), expected.lines().count());
    }
}

#[test]
fn a_fully_populated_session_keeps_the_spec_order_namespaces_and_prefixes() {
    let value = populated_response().to_value();
    let rendered = value_to_xml(&value, GetActiveSessionsResponse::type_info(), true);
    let element_names = |xml: &str| -> Vec<String> {
        xml.lines()
            .map(str::trim)
            .filter(|line| line.starts_with('<') && !line.starts_with("</"))
            .map(|line| {
                line.trim_start_matches('<')
                    .split([' ', '>', '/'])
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    let expected = element_names(&spec_xml_sample());
    // The populated session has two breadcrumbs, two log entries and two
    // members (the second with two dictionary entries).
    let names = element_names(&rendered);
    assert_eq!(names.first(), expected.first());
    for name in [
        "d4p1:CustomerBreadcrumb",
        "d6p1:KeyValueOfstringstring",
        "SessionLogInfo",
        "SessionMemberInfo",
    ] {
        assert!(
            names.iter().filter(|n| *n == name).count() >= 2,
            "{name} repeated"
        );
    }
    assert!(rendered.contains(r#"<CustomerBreadcrumb xmlns:d4p1="http://schemas.datacontract.org/2004/07/Voice.Api.Customers">"#));
    assert!(rendered.contains(r#"<ApplicationData xmlns:d6p1="http://schemas.microsoft.com/2003/10/Serialization/Arrays">"#));
    assert!(rendered
        .contains(r#"<Id xmlns="http://schemas.datacontract.org/2004/07/Voice.Api">ses_1</Id>"#));
    assert!(rendered
        .contains("<DisplayName>Caller &lt;+1 555&gt; &amp; &quot;friends&quot;</DisplayName>"));
    assert!(rendered.contains("<Muted>true</Muted>"));
    assert!(rendered.contains("<HoldReason>Transferring</HoldReason>"));
    // With one item per list, the element sequence (names and prefixes)
    // is exactly the spec's.
    let mut single = populated_response();
    let session = &mut single.sessions[0];
    session.customer_breadcrumb.truncate(1);
    session.log.truncate(1);
    session.members.remove(0);
    session.members[0].application_data.remove("skill");
    let single_xml = value_to_xml(
        &single.to_value(),
        GetActiveSessionsResponse::type_info(),
        true,
    );
    assert_eq!(
        element_names(&single_xml),
        element_names(&spec_xml_sample())
    );
}

#[test]
fn the_xml_parses_back_to_the_same_session() {
    for response in [placeholder_response(), populated_response()] {
        let compact = to_xml(&response);
        assert!(compact
            .starts_with(b"<?xml version=\"1.0\" encoding=\"utf-8\"?><GetActiveSessionsResponse"));
        let parsed: GetActiveSessionsResponse = from_xml(&compact).unwrap();
        assert_eq!(parsed, response);
        let indented = value_to_xml(
            &response.to_value(),
            GetActiveSessionsResponse::type_info(),
            true,
        );
        let parsed: GetActiveSessionsResponse = from_xml(indented.as_bytes()).unwrap();
        assert_eq!(parsed, response);
    }
}

#[test]
fn nulls_are_nil_elements_and_round_trip() {
    let response = GetActiveSessionsResponse {
        sessions: vec![SessionInfo::default()],
    };
    let xml = String::from_utf8(to_xml(&response)).unwrap();
    assert!(xml.contains(r#"<AccountId i:nil="true" />"#));
    assert!(xml.contains(r#"<Log />"#));
    let parsed: GetActiveSessionsResponse = from_xml(xml.as_bytes()).unwrap();
    assert_eq!(parsed, response);
}

#[test]
fn malformed_xml_is_an_error_not_a_panic() {
    for bytes in [&b"<GetActiveSessionsResponse><Sessions>"[..], b"<<>>", b""] {
        assert!(from_xml::<GetActiveSessionsResponse>(bytes).is_err());
    }
    for bytes in [
        &b"\xff\xfe<a/>"[..],
        b"<GetActiveSessionsResponse><Sessions><SessionInfo><CallState>Dancing</CallState>",
    ] {
        // Whatever the bytes, reading returns (an error or a value); it never panics.
        let _ = from_xml::<GetActiveSessionsResponse>(bytes);
    }
}
