//! The REST client against the fake Twilio (feature `testing`): requests
//! carry Basic auth and exactly the documented form fields; every error
//! kind comes back typed; state changes show in later fetches; the fake's
//! callbacks are signed as Twilio signs them.

use std::time::Duration;

use axum::http::Method;
use evo_twilio::fake::{FakeCall, FakeConference, FakeNumber, FakeParticipant, FakeTwilio, Fault};
use evo_twilio::rest::{
    ClientConfig, CreateCall, CreateParticipant, Credentials, EndCall, Instructions, RestError,
    TwilioClient, UpdateCall, UpdateIncomingPhoneNumber, UpdateParticipant,
};
use evo_twilio::signature::validate;
use evo_twilio::status::{
    CallProgressEvent, CallStatus, ConferenceEventGroup, ConferenceStatus, Direction,
    ParticipantStatus,
};
use evo_twilio::webhook::{ConferenceEvent, StatusCallback};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const CALL: &str = "CA0123456789abcdef0123456789abcdef";

async fn setup() -> (FakeTwilio, TwilioClient) {
    let fake = FakeTwilio::start().await.expect("the fake starts");
    fake.add_account(ACCOUNT, TOKEN);
    let config = ClientConfig {
        base_url: fake.base_url().to_string(),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
    };
    let client = TwilioClient::new(Credentials::new(ACCOUNT, TOKEN), &config).unwrap();
    (fake, client)
}

#[tokio::test]
async fn fetch_call_reads_the_documented_shape_with_basic_auth() {
    let (fake, client) = setup().await;
    let mut call = FakeCall::new(CALL, "in-progress");
    call.parent_call_sid = Some("CAfedcba9876543210fedcba9876543210".into());
    fake.insert_call(ACCOUNT, call);

    let fetched = client.fetch_call(&CALL.into()).await.unwrap();
    assert_eq!(fetched.sid, CALL);
    assert_eq!(fetched.account_sid, ACCOUNT);
    assert_eq!(fetched.status, CallStatus::InProgress);
    assert_eq!(fetched.direction, Some(Direction::Inbound));
    assert_eq!(
        fetched.parent_call_sid.as_deref(),
        Some("CAfedcba9876543210fedcba9876543210")
    );
    assert!(fetched.start_time().is_some());
    assert_eq!(fetched.end_time, None);
    assert_eq!(fetched.duration, None);

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json")
    );
    assert_eq!(requests[0].basic_user.as_deref(), Some(ACCOUNT));
}

#[tokio::test]
async fn the_documented_example_body_deserialises() {
    // The fetch example of https://www.twilio.com/docs/voice/api/call-resource
    // (as in twilio-python tests/integration/api/v2010/account/test_call.py).
    let body = r#"{
        "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "annotation": null,
        "answered_by": null, "api_version": "2010-04-01", "caller_name": null,
        "date_created": "Tue, 31 Aug 2010 20:36:28 +0000",
        "date_updated": "Tue, 31 Aug 2010 20:36:44 +0000", "direction": "inbound",
        "duration": "15", "end_time": "Tue, 31 Aug 2010 20:36:44 +0000",
        "forwarded_from": "+141586753093", "from": "+14158675308",
        "from_formatted": "(415) 867-5308", "group_sid": null, "parent_call_sid": null,
        "phone_number_sid": "PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "price": "-0.03000",
        "price_unit": "USD", "sid": "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "start_time": "Tue, 31 Aug 2010 20:36:29 +0000", "status": "completed",
        "subresource_uris": {"notifications": "/x", "recordings": "/y"},
        "to": "+14158675309", "to_formatted": "(415) 867-5309",
        "uri": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"
    }"#;
    let call: evo_twilio::rest::CallResource = serde_json::from_str(body).unwrap();
    assert_eq!(call.status, CallStatus::Completed);
    assert_eq!(call.duration_seconds(), Some(15));
    assert_eq!(
        (call.end_time().unwrap() - call.start_time().unwrap()).num_seconds(),
        15
    );
}

#[tokio::test]
async fn each_error_kind_is_typed() {
    let (fake, client) = setup().await;

    // Unknown call: 404 with Twilio's code.
    match client.fetch_call(&"CAmissing".into()).await {
        Err(RestError::NotFound { code, message }) => {
            assert_eq!(code, Some(20404));
            assert!(message.contains("CAmissing"), "{message}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }

    // Wrong token: 401.
    let wrong = client.for_account(Credentials::new(ACCOUNT, "not-the-token"));
    assert!(matches!(
        wrong.fetch_call(&CALL.into()).await,
        Err(RestError::Unauthorized)
    ));
    assert_eq!(
        fake.requests().last().unwrap().basic_user.as_deref(),
        Some(ACCOUNT)
    );

    // 429 with Retry-After, then 503, then a Twilio 400, each once.
    fake.insert_call(ACCOUNT, FakeCall::new(CALL, "in-progress"));
    let path = format!("/Calls/{CALL}.json");
    fake.fail(
        Method::GET,
        &path,
        Fault::RateLimited {
            retry_after: Some("7".into()),
        },
        Some(1),
    );
    match client.fetch_call(&CALL.into()).await {
        Err(RestError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    fake.fail(
        Method::GET,
        &path,
        Fault::RateLimited { retry_after: None },
        Some(1),
    );
    assert!(matches!(
        client.fetch_call(&CALL.into()).await,
        Err(RestError::RateLimited { retry_after: None })
    ));
    fake.fail(
        Method::GET,
        &path,
        Fault::Status {
            status: 503,
            code: 20503,
        },
        Some(1),
    );
    let error = client.fetch_call(&CALL.into()).await.unwrap_err();
    assert!(matches!(error, RestError::Server { status: 503 }));
    assert!(error.is_transient());
    fake.fail(
        Method::GET,
        &path,
        Fault::Status {
            status: 403,
            code: 20403,
        },
        Some(1),
    );
    assert!(matches!(
        client.fetch_call(&CALL.into()).await,
        Err(RestError::Forbidden)
    ));
    fake.fail(Method::GET, &path, Fault::NotFound, Some(1));
    fake.fail(Method::GET, &path, Fault::NotFound, Some(0));
    assert!(matches!(
        client.fetch_call(&CALL.into()).await,
        Err(RestError::NotFound {
            code: Some(20404),
            ..
        })
    ));
    // The programmed faults are used up: the call is back.
    assert_eq!(
        client.fetch_call(&CALL.into()).await.unwrap().status,
        CallStatus::InProgress
    );

    // Updating an ended call is Twilio's 400/21220 with its more_info link.
    fake.progress_call(ACCOUNT, CALL, "completed");
    match client
        .update_call(&CALL.into(), &UpdateCall::end(EndCall::Completed))
        .await
    {
        Err(RestError::Twilio {
            status,
            code,
            more_info,
            ..
        }) => {
            assert_eq!((status, code), (400, Some(21220)));
            assert_eq!(
                more_info.as_deref(),
                Some("https://www.twilio.com/docs/errors/21220")
            );
        }
        other => panic!("expected a Twilio error, got {other:?}"),
    }

    // Nobody listening: a transport error, transient.
    let closed = TwilioClient::new(
        Credentials::new(ACCOUNT, TOKEN),
        &ClientConfig {
            base_url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
        },
    )
    .unwrap();
    let error = closed.fetch_call(&CALL.into()).await.unwrap_err();
    assert!(
        matches!(error, RestError::Transport(_)) && error.is_transient(),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains(TOKEN));
}

#[tokio::test]
async fn ending_a_call_sends_exact_fields_and_a_signed_status_callback() {
    let (fake, client) = setup().await;
    let mut call = FakeCall::new(CALL, "in-progress");
    call.status_callback = Some("https://evo.example.com/twilio/status?session=s1".into());
    fake.insert_call(ACCOUNT, call);

    let ended = client
        .update_call(&CALL.into(), &UpdateCall::end(EndCall::Completed))
        .await
        .unwrap();
    assert_eq!(ended.status, CallStatus::Completed);
    assert!(ended.end_time().is_some());
    let request = fake.requests().pop().unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.form,
        vec![("Status".to_string(), "completed".to_string())]
    );
    // Later fetches see the change.
    assert_eq!(
        client.fetch_call(&CALL.into()).await.unwrap().status,
        CallStatus::Completed
    );

    let callbacks = fake.take_callbacks();
    assert_eq!(callbacks.len(), 1, "no events subscribed: completed only");
    let callback = &callbacks[0];
    assert_eq!(
        callback.url,
        "https://evo.example.com/twilio/status?session=s1"
    );
    validate(
        &[TOKEN],
        &callback.url,
        &callback.params,
        callback.body().as_bytes(),
        Some(&callback.signature),
    )
    .expect("signed with the account's token");
    let parsed = StatusCallback::parse(&callback.params).unwrap();
    assert_eq!(parsed.call.call_sid, CALL);
    assert_eq!(parsed.call.call_status, CallStatus::Completed);
    assert_eq!(parsed.sequence_number, Some(0));
    assert_eq!(
        parsed.callback_source.as_deref(),
        Some("call-progress-events")
    );
    assert!(parsed.call_duration.is_some() && parsed.timestamp.is_some());
}

#[tokio::test]
async fn redirect_sends_twiml_or_url_and_method() {
    let (fake, client) = setup().await;
    fake.insert_call(ACCOUNT, FakeCall::new(CALL, "in-progress"));
    let twiml = "<Response><Say>Bye</Say></Response>";
    client
        .update_call(
            &CALL.into(),
            &UpdateCall::redirect(Instructions::Twiml(twiml.into())),
        )
        .await
        .unwrap();
    client
        .update_call(
            &CALL.into(),
            &UpdateCall::redirect(Instructions::Url {
                url: "https://evo.example.com/twilio/voice?x=1&y=2".into(),
                method: Some("GET".into()),
            }),
        )
        .await
        .unwrap();
    let requests = fake.requests();
    assert_eq!(requests[0].form, vec![("Twiml".into(), twiml.to_string())]);
    assert_eq!(
        requests[1].form,
        vec![
            (
                "Url".to_string(),
                "https://evo.example.com/twilio/voice?x=1&y=2".to_string()
            ),
            ("Method".to_string(), "GET".to_string())
        ]
    );
    let stored = fake.call(ACCOUNT, CALL).unwrap();
    assert_eq!(stored.twiml.as_deref(), Some(twiml));
    assert!(
        fake.callbacks().is_empty(),
        "a redirect sends no status callback"
    );
}

#[tokio::test]
async fn create_call_repeats_status_callback_event_and_lists_in_progress() {
    let (fake, client) = setup().await;
    let mut create = CreateCall::new(
        "+14158675309",
        "+14158675308",
        Instructions::Url {
            url: "https://evo.example.com/twilio/voice".into(),
            method: None,
        },
    );
    create.status_callback = Some("https://evo.example.com/twilio/status".into());
    create.status_callback_events = vec![
        CallProgressEvent::Initiated,
        CallProgressEvent::Ringing,
        CallProgressEvent::Answered,
        CallProgressEvent::Completed,
    ];
    let created = client.create_call(&create).await.unwrap();
    assert_eq!(created.status, CallStatus::Queued);
    assert_eq!(created.direction, Some(Direction::OutboundApi));
    let request = fake.requests().pop().unwrap();
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json")
    );
    assert_eq!(request.field("To"), Some("+14158675309"));
    assert_eq!(request.field("From"), Some("+14158675308"));
    assert_eq!(
        request.field("Url"),
        Some("https://evo.example.com/twilio/voice")
    );
    assert_eq!(
        request.fields("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );

    // The call rings and is answered: two callbacks with rising sequence numbers.
    fake.progress_call(ACCOUNT, &created.sid, "ringing");
    fake.progress_call(ACCOUNT, &created.sid, "in-progress");
    let statuses: Vec<(CallStatus, Option<u64>)> = fake
        .take_callbacks()
        .iter()
        .map(|c| {
            let parsed = StatusCallback::parse(&c.params).unwrap();
            (parsed.call.call_status, parsed.sequence_number)
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (CallStatus::Ringing, Some(0)),
            (CallStatus::InProgress, Some(1))
        ]
    );

    fake.insert_call(ACCOUNT, FakeCall::new(CALL, "completed"));
    let live = client.calls_in_progress(5).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].sid, created.sid);
    let list = fake.requests().pop().unwrap();
    assert_eq!(
        list.query,
        [
            ("Status".to_string(), "in-progress".to_string()),
            ("PageSize".to_string(), "1000".to_string())
        ]
    );
}

#[tokio::test]
async fn list_calls_follows_next_page_uri() {
    let (fake, client) = setup().await;
    for n in 0..5 {
        fake.insert_call(ACCOUNT, FakeCall::new(format!("CA{n:032x}"), "in-progress"));
    }
    let first = client
        .list_calls(Some(&CallStatus::InProgress), Some(2))
        .await
        .unwrap();
    assert_eq!(first.calls.len(), 2);
    assert_eq!((first.paging.page, first.paging.page_size), (0, 2));
    let second = client.next_calls_page(&first).await.unwrap().unwrap();
    let third = client.next_calls_page(&second).await.unwrap().unwrap();
    assert_eq!(third.calls.len(), 1);
    assert!(client.next_calls_page(&third).await.unwrap().is_none());
}

#[tokio::test]
async fn conference_participants_are_held_and_added() {
    let (fake, client) = setup().await;
    let conference = "CFbbe46ff1274e283f7e3ac1df0072ab39";
    fake.insert_conference(
        ACCOUNT,
        FakeConference {
            sid: conference.into(),
            friendly_name: "room-1".into(),
            status: "in-progress".into(),
            status_callback: Some("https://evo.example.com/twilio/conference".into()),
            status_callback_events: vec!["join".into(), "leave".into(), "hold".into()],
            callbacks_sent: 0,
        },
    );
    let mut participant = FakeParticipant::new(conference, CALL);
    participant.label = Some("customer".into());
    fake.insert_participant(ACCOUNT, participant);

    let update = UpdateParticipant {
        hold: Some(true),
        hold_url: Some("https://evo.example.com/hold-music".into()),
        muted: Some(true),
        ..UpdateParticipant::default()
    };
    let held = client
        .update_participant(&conference.into(), &CALL.into(), &update)
        .await
        .unwrap();
    assert_eq!((held.hold, held.muted), (Some(true), Some(true)));
    assert_eq!(held.label.as_deref(), Some("customer"));
    let request = fake.requests().pop().unwrap();
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Conferences/{conference}/Participants/{CALL}.json")
    );
    assert_eq!(
        request.form,
        [
            ("Hold".to_string(), "true".to_string()),
            (
                "HoldUrl".to_string(),
                "https://evo.example.com/hold-music".to_string()
            ),
            ("Muted".to_string(), "true".to_string()),
        ]
    );
    assert!(fake.participant(ACCOUNT, conference, CALL).unwrap().hold);
    // Only the subscribed group (hold) produces an event, signed.
    let callbacks = fake.take_callbacks();
    assert_eq!(callbacks.len(), 1);
    let event = ConferenceEvent::parse(&callbacks[0].params).unwrap();
    assert_eq!(
        event.event,
        evo_twilio::status::StatusCallbackEvent::ParticipantHold
    );
    assert_eq!(event.hold, Some(true));
    assert_eq!(event.participant_label.as_deref(), Some("customer"));
    validate(
        &[TOKEN],
        &callbacks[0].url,
        &callbacks[0].params,
        b"",
        Some(&callbacks[0].signature),
    )
    .unwrap();

    // The room name finds the live conference.
    let found = client
        .list_conferences(Some("room-1"), Some(&ConferenceStatus::InProgress))
        .await
        .unwrap();
    assert_eq!(found.conferences.len(), 1);
    assert_eq!(found.conferences[0].sid, conference);
    assert_eq!(
        fake.requests().pop().unwrap().query,
        [
            ("FriendlyName".to_string(), "room-1".to_string()),
            ("Status".to_string(), "in-progress".to_string())
        ]
    );
    assert_eq!(
        client
            .fetch_conference(&conference.into())
            .await
            .unwrap()
            .friendly_name
            .as_deref(),
        Some("room-1")
    );
    assert!(client
        .list_conferences(Some("room-2"), None)
        .await
        .unwrap()
        .conferences
        .is_empty());

    // Adding by friendly name reuses the conference.
    let create = CreateParticipant {
        from: "+14158675308".into(),
        to: "client:agent-7".into(),
        label: Some("agent".into()),
        conference_status_callback_events: vec![ConferenceEventGroup::Join],
        status_callback_events: vec![CallProgressEvent::Answered, CallProgressEvent::Completed],
        ..CreateParticipant::default()
    };
    let added = client.create_participant("room-1", &create).await.unwrap();
    assert_eq!(added.conference_sid, conference);
    assert_eq!(added.status, Some(ParticipantStatus::Queued));
    let request = fake.requests().pop().unwrap();
    assert!(request
        .path
        .ends_with("/Conferences/room-1/Participants.json"));
    assert_eq!(
        request.fields("StatusCallbackEvent"),
        ["answered", "completed"]
    );
    assert_eq!(request.fields("ConferenceStatusCallbackEvent"), ["join"]);
    assert_eq!(request.field("Label"), Some("agent"));
    assert!(fake.call(ACCOUNT, &added.call_sid).is_some());

    // The agent answers: the leg's `answered` callback (no URL given, so
    // none) and the conference's participant-join, signed.
    assert!(fake.join_participant(ACCOUNT, conference, &added.call_sid));
    let callbacks = fake.take_callbacks();
    assert_eq!(callbacks.len(), 1);
    let join = ConferenceEvent::parse(&callbacks[0].params).unwrap();
    assert_eq!(
        join.event,
        evo_twilio::status::StatusCallbackEvent::ParticipantJoin
    );
    assert_eq!(join.call_sid.as_deref(), Some(added.call_sid.as_str()));
    assert_eq!(join.participant_label.as_deref(), Some("agent"));
    assert_eq!(join.sequence_number, Some(1));
    assert_eq!(
        client.fetch_call(&added.call_sid).await.unwrap().status,
        CallStatus::InProgress
    );
    assert!(fake.leave_participant(ACCOUNT, conference, &added.call_sid));
    let leave = ConferenceEvent::parse(&fake.take_callbacks()[0].params).unwrap();
    assert_eq!(
        leave.event,
        evo_twilio::status::StatusCallbackEvent::ParticipantLeave
    );
    assert_eq!(leave.sequence_number, Some(2));

    // Unknown participant: NotFound.
    assert!(matches!(
        client
            .update_participant(&conference.into(), &"CAnobody".into(), &update)
            .await,
        Err(RestError::NotFound { .. })
    ));
}

#[tokio::test]
async fn incoming_numbers_are_found_and_pointed_at_evo() {
    let (fake, client) = setup().await;
    let sid = "PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    fake.insert_number(ACCOUNT, FakeNumber::new(sid, "+18089255327"));
    fake.insert_number(
        ACCOUNT,
        FakeNumber::new("PNbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "+18005550000"),
    );

    let page = client
        .list_incoming_phone_numbers(Some("+18089255327"))
        .await
        .unwrap();
    assert_eq!(page.incoming_phone_numbers.len(), 1);
    assert_eq!(page.incoming_phone_numbers[0].sid, sid);
    assert_eq!(page.incoming_phone_numbers[0].voice_url, None);
    assert_eq!(
        fake.requests().pop().unwrap().query,
        [("PhoneNumber".to_string(), "+18089255327".to_string())]
    );

    let update = UpdateIncomingPhoneNumber {
        voice_url: Some("https://evo.example.com/twilio/voice".into()),
        voice_method: Some("POST".into()),
        status_callback: Some("https://evo.example.com/twilio/status".into()),
        status_callback_method: Some("POST".into()),
        sms_url: Some("https://evo.example.com/twilio/sms".into()),
        ..UpdateIncomingPhoneNumber::default()
    };
    let updated = client
        .update_incoming_phone_number(sid, &update)
        .await
        .unwrap();
    assert_eq!(
        updated.voice_url.as_deref(),
        Some("https://evo.example.com/twilio/voice")
    );
    assert_eq!(
        updated.sms_url.as_deref(),
        Some("https://evo.example.com/twilio/sms")
    );
    let names: Vec<String> = fake
        .requests()
        .pop()
        .unwrap()
        .form
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        names,
        [
            "VoiceUrl",
            "VoiceMethod",
            "StatusCallback",
            "StatusCallbackMethod",
            "SmsUrl"
        ]
    );
    assert_eq!(
        fake.number(ACCOUNT, sid).unwrap().status_callback,
        "https://evo.example.com/twilio/status"
    );
}

#[tokio::test]
async fn a_call_cancelled_while_queued_sends_no_callback() {
    // twilio.md §1.3: "If a queued call is cancelled, no status callback fires at all."
    let (fake, client) = setup().await;
    let mut call = FakeCall::new(CALL, "queued");
    call.status_callback = Some("https://evo.example.com/twilio/status".into());
    fake.insert_call(ACCOUNT, call);
    let canceled = client
        .update_call(&CALL.into(), &UpdateCall::end(EndCall::Canceled))
        .await
        .unwrap();
    assert_eq!(canceled.status, CallStatus::Canceled);
    assert!(fake.callbacks().is_empty());
}

#[tokio::test]
async fn callbacks_are_delivered_and_redelivered_identically() {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    // A receiver standing in for evo-voice's webhook endpoint.
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = seen.clone();
    let app = axum::Router::new().route(
        "/twilio/status",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let token = evo_twilio::webhook::idempotency_token(&headers)
                    .unwrap_or_default()
                    .to_string();
                sink.lock().unwrap().push((token, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (fake, client) = setup().await;
    let mut call = FakeCall::new(CALL, "in-progress");
    call.status_callback = Some(format!("http://{address}/twilio/status"));
    fake.insert_call(ACCOUNT, call);
    client
        .update_call(&CALL.into(), &UpdateCall::end(EndCall::Completed))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let delivered = fake.deliver_callbacks(&http).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].1, Ok(204));
    // A Twilio retry: same body, same token.
    assert_eq!(delivered[0].0.deliver(&http).await.unwrap(), 204);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1]);
    assert!(!seen[0].0.is_empty());
    assert!(seen[0].1.contains("CallStatus=completed"));
}
