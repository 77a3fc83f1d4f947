//! Auth token rotation: while an account has two tokens, webhooks signed
//! with either are accepted; once the old one is removed, its signature is
//! refused (403). Twilio signs with the account's primary token
//! (https://www.twilio.com/docs/usage/security#validating-requests); during
//! a rotation the primary changes at a moment evo-voice does not see.

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
    // A status callback (the parameter set of
    // https://www.twilio.com/docs/voice/twiml#request-parameters plus
    // CallStatus) for a call evo-voice does not track.
    let pairs: Vec<(String, String)> = [
        ("AccountSid", sid),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA77777777777777777777777777777777"),
        ("CallStatus", "completed"),
        ("Direction", "inbound"),
        ("From", "+14158675308"),
        ("To", "+14158675309"),
        ("CallDuration", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let params = FormParams::from_pairs(pairs);
    let url = app.url("/twilio/status");
    let send = |token: &'static str| {
        let signature = compute_signature(token, &url, &params);
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
