//! Auth token rotation: while an account has two tokens, webhooks signed
//! with either are accepted; once the old one is removed, its signature is
//! refused (403). Twilio signs with the account's primary token
//! (https://www.twilio.com/docs/usage/security#validating-requests); during
//! a rotation the primary changes at a moment evo-voice does not see.
//! Also: callback URLs carry connection overrides, which are not signed.

use evo_twilio::params::FormParams;
use evo_twilio::signature::compute_signature;

use crate::helpers::shared;

const OLD: &str = "rotation-old-token";
const NEW: &str = "rotation-new-token";

#[tokio::test]
async fn webhooks_signed_with_any_current_token_are_accepted_and_removed_ones_refused() {
    let app = shared();
    let sid = "AC0123456789abcdef0123456789abc777";
    let account = app
        .state
        .directory
        .add_account("Rotating Co", Some(sid), Some(OLD))
        .await
        .unwrap();
    // A status callback for a call evo-voice does not track.
    let pairs = crate::helpers::completed_call_callback(sid, "CA0123456789abcdef0123456789ab7777");
    let params = FormParams::from_pairs(pairs);
    // Twilio signs over the public URL (EVO_PUBLIC_URL): the test server's
    // own address.
    let signed_url = app.url("/twilio/status");
    let url = app.url("/twilio/status");
    let send = |token: &'static str| {
        let signature = compute_signature(token, &signed_url, &params);
        reqwest::Client::new()
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(params.encode())
            .send()
    };
    let status = |response: reqwest::Response| response.status().as_u16();

    assert_eq!(status(send(OLD).await.unwrap()), 204);
    assert_eq!(status(send(NEW).await.unwrap()), 403, "not added yet");

    app.state
        .directory
        .add_auth_token(&account.id, NEW)
        .await
        .unwrap();
    assert_eq!(
        status(send(OLD).await.unwrap()),
        204,
        "old, both configured"
    );
    assert_eq!(
        status(send(NEW).await.unwrap()),
        204,
        "new, both configured"
    );

    app.state
        .directory
        .remove_auth_token(&account.id, OLD)
        .await
        .unwrap();
    assert_eq!(status(send(OLD).await.unwrap()), 403, "old, removed");
    assert_eq!(
        status(send(NEW).await.unwrap()),
        204,
        "new, now the primary"
    );
    let account = app
        .state
        .directory
        .account(&account.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        account.twilio_auth_token.as_ref().map(|t| t.expose()),
        Some(NEW),
        "REST requests use the remaining token"
    );

    // The last token stays: removing it would refuse every webhook.
    let error = app
        .state
        .directory
        .remove_auth_token(&account.id, NEW)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("only token"), "{error}");
}

/// The status callbacks evo-voice hands Twilio in TwiML carry connection
/// overrides asking for retries (they are deduplicated); the callback Twilio
/// then sends (to the URL without its fragment, signed without it) verifies.
#[tokio::test]
async fn status_callbacks_in_twiml_ask_for_retries_and_still_verify() {
    use evo_server::app::directory::{NewNumber, NewUser};
    let app = shared();
    let sid = "AC0123456789abcdef0123456789abc778";
    let account = app
        .state
        .directory
        .add_account("Overrides Co", Some(sid), Some(OLD))
        .await
        .unwrap();
    let user = app
        .state
        .directory
        .add_user(NewUser {
            account_id: &account.id,
            email: "olga@overrides.test",
            password: crate::helpers::PASSWORD,
            display_name: None,
            roles: &["User".to_string()],
            customer_id: None,
        })
        .await
        .unwrap();
    app.state
        .directory
        .add_number(NewNumber {
            account_id: &account.id,
            number: "+15558887777",
            ring_user_ids: std::slice::from_ref(&user.id),
            queue_name: None,
            display_name: None,
            customer_id: None,
        })
        .await
        .unwrap();
    let call = "CA78787878787878787878787878787878";
    // The voice webhook's parameters (https://www.twilio.com/docs/voice/twiml#request-parameters).
    let voice = FormParams::from_pairs(
        [
            ("AccountSid", sid),
            ("CallSid", call),
            ("From", "+15551237777"),
            ("To", "+15558887777"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let http = reqwest::Client::new();
    let public = app.url("");
    // `url` is public (under EVO_PUBLIC_URL); Twilio requests it without
    // its fragment, which reaches the test server at its own address.
    let post = |url: String, params: &FormParams| {
        let signature = compute_signature(OLD, &url, params);
        let path = url
            .split('#')
            .next()
            .unwrap()
            .strip_prefix(public.as_str())
            .unwrap()
            .to_string();
        http.post(app.url(&path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(params.encode())
            .send()
    };
    let twiml = post(format!("{public}/twilio/voice"), &voice)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = twiml.find("statusCallback=\"").expect("a status callback") + 16;
    let end = start + twiml[start..].find('"').unwrap();
    let callback = twiml[start..end].replace("&amp;", "&");
    assert!(callback.ends_with("#rc=2&rp=ct,rt,5xx"), "{twiml}");

    // Twilio calls it: signed over the URL without the fragment.
    let status = FormParams::from_pairs(
        [
            ("AccountSid", sid),
            ("CallSid", "CA78787878787878787878787878787879"),
            ("ParentCallSid", call),
            ("CallStatus", "ringing"),
            ("SequenceNumber", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let answer = post(callback, &status).await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}
