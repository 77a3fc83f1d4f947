//! An async client for the Twilio REST calls evo-voice makes (API version
//! 2010-04-01): fetch/list/update/create Call, update/create conference
//! Participant, list/update IncomingPhoneNumber.
//!
//! Requests are form-encoded POSTs or GETs with HTTP Basic auth
//! (`AccountSid:AuthToken`); answers are JSON. Resource shapes follow the
//! documented example bodies (twilio-python's generated integration tests
//! `tests/integration/api/v2010/account/test_call.py`,
//! `conference/test_participant.py`, `test_incoming_phone_number.py`, and
//! <https://www.twilio.com/docs/voice/api/call-resource>). Unknown JSON
//! fields are ignored; dates stay RFC 2822 strings with parsing helpers.
//! Errors follow Twilio's error body
//! `{"code":20404,"message":"…","more_info":"https://www.twilio.com/docs/errors/20404","status":404}`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use evo_core::ids::{CallSid, ConferenceSid, TwilioAccountSid};
use serde::{Deserialize, Serialize};

use crate::status::{
    AnsweredBy, CallProgressEvent, CallStatus, ConferenceStatus, Direction, ParticipantStatus,
};
use crate::webhook::parse_timestamp;

/// Twilio's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// An account's REST credentials. The auth token never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub account_sid: TwilioAccountSid,
    auth_token: String,
}

impl Credentials {
    pub fn new(account_sid: impl Into<TwilioAccountSid>, auth_token: impl Into<String>) -> Self {
        Credentials {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
        }
    }

    /// The secret, for signing and Basic auth only.
    pub fn auth_token(&self) -> &str {
        &self.auth_token
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .finish()
    }
}

/// A REST failure.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// 404 (Twilio code 20404 for an unknown resource).
    #[error("not found (Twilio error {code:?}): {message}")]
    NotFound { code: Option<u32>, message: String },
    /// 401: wrong account SID or auth token (code 20003).
    #[error("Twilio refused the credentials")]
    Unauthorized,
    /// 403.
    #[error("Twilio forbade the request")]
    Forbidden,
    /// 429 (code 20429); `retry_after` from the `Retry-After` header.
    #[error("rate limited by Twilio (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// A 5xx.
    #[error("Twilio server error {status}")]
    Server { status: u16 },
    /// Any other non-2xx, with Twilio's error body (e.g. 400 code 21220
    /// "call is not in-progress" on an update).
    #[error("Twilio error {code:?} (HTTP {status}): {message}")]
    Twilio {
        status: u16,
        code: Option<u32>,
        message: String,
        more_info: Option<String>,
    },
    /// The request could not be made or the answer not read (connect,
    /// timeout, TLS, unreadable JSON).
    #[error("Twilio could not be reached: {0}")]
    Transport(String),
    /// A path identifier that cannot be a Twilio SID or name.
    #[error("invalid identifier {0:?}")]
    InvalidIdentifier(String),
}

impl RestError {
    /// Worth retrying later (rate limit, server error, transport).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RestError::RateLimited { .. } | RestError::Server { .. } | RestError::Transport(_)
        )
    }
}

/// Twilio's error body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwilioErrorBody {
    #[serde(default)]
    pub code: Option<u32>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub more_info: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
}

/// Paging fields of a list answer (2010 API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub page: u32,
    #[serde(default)]
    pub page_size: u32,
    #[serde(default)]
    pub start: u32,
    #[serde(default)]
    pub end: u32,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default)]
    pub first_page_uri: Option<String>,
    /// Path and query of the next page (relative to the base URL), if any.
    #[serde(default)]
    pub next_page_uri: Option<String>,
    #[serde(default)]
    pub previous_page_uri: Option<String>,
}

/// The Call resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallResource {
    pub sid: CallSid,
    pub account_sid: TwilioAccountSid,
    #[serde(default)]
    pub parent_call_sid: Option<CallSid>,
    pub status: CallStatus,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub from_formatted: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub to_formatted: Option<String>,
    /// RFC 2822, e.g. `Tue, 31 Aug 2010 20:36:29 +0000`; null until started.
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    /// Seconds, as a string; null until the call ends.
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub answered_by: Option<AnsweredBy>,
    #[serde(default)]
    pub forwarded_from: Option<String>,
    #[serde(default)]
    pub caller_name: Option<String>,
    #[serde(default)]
    pub phone_number_sid: Option<String>,
    #[serde(default)]
    pub group_sid: Option<String>,
    #[serde(default)]
    pub queue_time: Option<String>,
    #[serde(default)]
    pub trunk_sid: Option<String>,
    #[serde(default)]
    pub annotation: Option<String>,
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub price_unit: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

impl CallResource {
    pub fn start_time(&self) -> Option<DateTime<Utc>> {
        self.start_time.as_deref().and_then(parse_timestamp)
    }

    pub fn end_time(&self) -> Option<DateTime<Utc>> {
        self.end_time.as_deref().and_then(parse_timestamp)
    }

    /// `duration` in seconds, when set and numeric.
    pub fn duration_seconds(&self) -> Option<u64> {
        self.duration.as_deref().and_then(|d| d.trim().parse().ok())
    }
}

/// A page of calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPage {
    pub calls: Vec<CallResource>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// A conference participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantResource {
    pub account_sid: TwilioAccountSid,
    pub call_sid: CallSid,
    pub conference_sid: ConferenceSid,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub call_sid_to_coach: Option<CallSid>,
    #[serde(default)]
    pub coaching: Option<bool>,
    #[serde(default)]
    pub muted: Option<bool>,
    #[serde(default)]
    pub hold: Option<bool>,
    #[serde(default)]
    pub end_conference_on_exit: Option<bool>,
    #[serde(default)]
    pub start_conference_on_enter: Option<bool>,
    #[serde(default)]
    pub status: Option<ParticipantStatus>,
    #[serde(default)]
    pub queue_time: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// A conference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceResource {
    pub sid: ConferenceSid,
    pub account_sid: TwilioAccountSid,
    /// The room name; null on some conferences in the docs' examples.
    #[serde(default)]
    pub friendly_name: Option<String>,
    pub status: ConferenceStatus,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// A page of conferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferencePage {
    pub conferences: Vec<ConferenceResource>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// What a number can do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub voice: Option<bool>,
    #[serde(default)]
    pub sms: Option<bool>,
    #[serde(default)]
    pub mms: Option<bool>,
    #[serde(default)]
    pub fax: Option<bool>,
}

/// An IncomingPhoneNumber (a number the account owns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingPhoneNumber {
    pub sid: String,
    pub account_sid: TwilioAccountSid,
    pub phone_number: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub voice_url: Option<String>,
    #[serde(default)]
    pub voice_method: Option<String>,
    #[serde(default)]
    pub voice_fallback_url: Option<String>,
    #[serde(default)]
    pub voice_fallback_method: Option<String>,
    #[serde(default)]
    pub voice_application_sid: Option<String>,
    #[serde(default)]
    pub voice_caller_id_lookup: Option<bool>,
    #[serde(default)]
    pub status_callback: Option<String>,
    #[serde(default)]
    pub status_callback_method: Option<String>,
    #[serde(default)]
    pub sms_url: Option<String>,
    #[serde(default)]
    pub sms_method: Option<String>,
    #[serde(default)]
    pub sms_fallback_url: Option<String>,
    #[serde(default)]
    pub sms_fallback_method: Option<String>,
    #[serde(default)]
    pub sms_application_sid: Option<String>,
    #[serde(default)]
    pub trunk_sid: Option<String>,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// A page of numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingPhoneNumberPage {
    pub incoming_phone_numbers: Vec<IncomingPhoneNumber>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// Form fields, in order, repeated keys allowed.
type Form = Vec<(String, String)>;

fn push(form: &mut Form, name: &str, value: Option<impl ToString>) {
    if let Some(value) = value {
        form.push((name.to_string(), value.to_string()));
    }
}

/// The TwiML a call should run next: inline or fetched from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instructions {
    /// `Twiml=<Response>…</Response>`.
    Twiml(String),
    /// `Url=…` and `Method` (`POST` when `None`, Twilio's default).
    Url { url: String, method: Option<String> },
}

impl Instructions {
    fn push(&self, form: &mut Form) {
        match self {
            Instructions::Twiml(twiml) => push(form, "Twiml", Some(twiml)),
            Instructions::Url { url, method } => {
                push(form, "Url", Some(url));
                push(form, "Method", method.as_ref());
            }
        }
    }
}

/// How to end a call through `POST /Calls/{Sid}` (`Status=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCall {
    /// Hang up a call in progress.
    Completed,
    /// Cancel a queued or ringing call.
    Canceled,
}

/// `POST /Calls/{Sid}.json`: redirect the call or end it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateCall {
    pub instructions: Option<Instructions>,
    pub status: Option<EndCall>,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
    /// Further fields, sent as given.
    pub extra: Vec<(String, String)>,
}

impl UpdateCall {
    /// Redirect to new TwiML.
    pub fn redirect(instructions: Instructions) -> Self {
        UpdateCall {
            instructions: Some(instructions),
            ..UpdateCall::default()
        }
    }

    /// End the call.
    pub fn end(how: EndCall) -> Self {
        UpdateCall {
            status: Some(how),
            ..UpdateCall::default()
        }
    }

    pub fn form(&self) -> Form {
        let mut form = Form::new();
        if let Some(instructions) = &self.instructions {
            instructions.push(&mut form);
        }
        push(
            &mut form,
            "Status",
            self.status.map(|s| match s {
                EndCall::Completed => "completed",
                EndCall::Canceled => "canceled",
            }),
        );
        push(&mut form, "StatusCallback", self.status_callback.as_ref());
        push(
            &mut form,
            "StatusCallbackMethod",
            self.status_callback_method.as_ref(),
        );
        form.extend(self.extra.iter().cloned());
        form
    }
}

/// `POST /Calls.json`: place a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCall {
    pub to: String,
    pub from: String,
    pub instructions: Instructions,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
    /// Sent as repeated `StatusCallbackEvent` fields.
    pub status_callback_events: Vec<CallProgressEvent>,
    /// Ring timeout in seconds.
    pub timeout: Option<u32>,
    pub caller_id: Option<String>,
    /// `Enable` or `DetectMessageEnd`.
    pub machine_detection: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl CreateCall {
    pub fn new(to: impl Into<String>, from: impl Into<String>, instructions: Instructions) -> Self {
        CreateCall {
            to: to.into(),
            from: from.into(),
            instructions,
            status_callback: None,
            status_callback_method: None,
            status_callback_events: Vec::new(),
            timeout: None,
            caller_id: None,
            machine_detection: None,
            extra: Vec::new(),
        }
    }

    pub fn form(&self) -> Form {
        let mut form = Form::new();
        push(&mut form, "To", Some(&self.to));
        push(&mut form, "From", Some(&self.from));
        self.instructions.push(&mut form);
        push(&mut form, "StatusCallback", self.status_callback.as_ref());
        push(
            &mut form,
            "StatusCallbackMethod",
            self.status_callback_method.as_ref(),
        );
        for event in &self.status_callback_events {
            push(&mut form, "StatusCallbackEvent", Some(event));
        }
        push(&mut form, "Timeout", self.timeout);
        push(&mut form, "CallerId", self.caller_id.as_ref());
        push(
            &mut form,
            "MachineDetection",
            self.machine_detection.as_ref(),
        );
        form.extend(self.extra.iter().cloned());
        form
    }
}

/// `POST /Conferences/{Sid}/Participants/{CallSid}.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateParticipant {
    pub hold: Option<bool>,
    pub hold_url: Option<String>,
    pub hold_method: Option<String>,
    pub muted: Option<bool>,
    pub coaching: Option<bool>,
    pub call_sid_to_coach: Option<CallSid>,
    pub announce_url: Option<String>,
    pub end_conference_on_exit: Option<bool>,
    pub extra: Vec<(String, String)>,
}

impl UpdateParticipant {
    pub fn form(&self) -> Form {
        let mut form = Form::new();
        push(&mut form, "Hold", self.hold);
        push(&mut form, "HoldUrl", self.hold_url.as_ref());
        push(&mut form, "HoldMethod", self.hold_method.as_ref());
        push(&mut form, "Muted", self.muted);
        push(&mut form, "Coaching", self.coaching);
        push(&mut form, "CallSidToCoach", self.call_sid_to_coach.as_ref());
        push(&mut form, "AnnounceUrl", self.announce_url.as_ref());
        push(
            &mut form,
            "EndConferenceOnExit",
            self.end_conference_on_exit,
        );
        form.extend(self.extra.iter().cloned());
        form
    }
}

/// `POST /Conferences/{Sid or FriendlyName}/Participants.json`: dial a
/// participant into a conference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateParticipant {
    pub from: String,
    pub to: String,
    pub label: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
    /// Call progress events, as repeated `StatusCallbackEvent` fields.
    pub status_callback_events: Vec<CallProgressEvent>,
    /// The conference's own callback; only the first participant's counts.
    pub conference_status_callback: Option<String>,
    pub conference_status_callback_method: Option<String>,
    /// Event groups (`start end join leave mute hold modify speaker announcement`),
    /// as repeated `ConferenceStatusCallbackEvent` fields.
    pub conference_status_callback_events: Vec<crate::status::ConferenceEventGroup>,
    pub muted: Option<bool>,
    pub hold: Option<bool>,
    pub coaching: Option<bool>,
    pub call_sid_to_coach: Option<CallSid>,
    pub start_conference_on_enter: Option<bool>,
    pub end_conference_on_exit: Option<bool>,
    pub early_media: Option<bool>,
    pub beep: Option<String>,
    pub timeout: Option<u32>,
    pub wait_url: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl CreateParticipant {
    pub fn form(&self) -> Form {
        let mut form = Form::new();
        push(&mut form, "From", Some(&self.from));
        push(&mut form, "To", Some(&self.to));
        push(&mut form, "Label", self.label.as_ref());
        push(&mut form, "StatusCallback", self.status_callback.as_ref());
        push(
            &mut form,
            "StatusCallbackMethod",
            self.status_callback_method.as_ref(),
        );
        for event in &self.status_callback_events {
            push(&mut form, "StatusCallbackEvent", Some(event));
        }
        push(
            &mut form,
            "ConferenceStatusCallback",
            self.conference_status_callback.as_ref(),
        );
        push(
            &mut form,
            "ConferenceStatusCallbackMethod",
            self.conference_status_callback_method.as_ref(),
        );
        for event in &self.conference_status_callback_events {
            push(&mut form, "ConferenceStatusCallbackEvent", Some(event));
        }
        push(&mut form, "Muted", self.muted);
        push(&mut form, "Hold", self.hold);
        push(&mut form, "Coaching", self.coaching);
        push(&mut form, "CallSidToCoach", self.call_sid_to_coach.as_ref());
        push(
            &mut form,
            "StartConferenceOnEnter",
            self.start_conference_on_enter,
        );
        push(
            &mut form,
            "EndConferenceOnExit",
            self.end_conference_on_exit,
        );
        push(&mut form, "EarlyMedia", self.early_media);
        push(&mut form, "Beep", self.beep.as_ref());
        push(&mut form, "Timeout", self.timeout);
        push(&mut form, "WaitUrl", self.wait_url.as_ref());
        form.extend(self.extra.iter().cloned());
        form
    }
}

/// `POST /IncomingPhoneNumbers/{Sid}.json`: point a number at evo-voice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateIncomingPhoneNumber {
    pub voice_url: Option<String>,
    pub voice_method: Option<String>,
    pub voice_fallback_url: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
    pub sms_url: Option<String>,
    pub sms_method: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl UpdateIncomingPhoneNumber {
    pub fn form(&self) -> Form {
        let mut form = Form::new();
        push(&mut form, "VoiceUrl", self.voice_url.as_ref());
        push(&mut form, "VoiceMethod", self.voice_method.as_ref());
        push(
            &mut form,
            "VoiceFallbackUrl",
            self.voice_fallback_url.as_ref(),
        );
        push(&mut form, "StatusCallback", self.status_callback.as_ref());
        push(
            &mut form,
            "StatusCallbackMethod",
            self.status_callback_method.as_ref(),
        );
        push(&mut form, "SmsUrl", self.sms_url.as_ref());
        push(&mut form, "SmsMethod", self.sms_method.as_ref());
        form.extend(self.extra.iter().cloned());
        form
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://api.twilio.com`, or a fake in tests.
    pub base_url: String,
    /// Whole-request limit.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A Twilio REST client for one account. Cheap to clone; share the
/// underlying connection pool across accounts with [`TwilioClient::for_account`].
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// A path segment: SIDs and conference names, percent-encoded.
fn segment(value: &str) -> Result<String, RestError> {
    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        return Err(RestError::InvalidIdentifier(value.to_string()));
    }
    Ok(form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20"))
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

impl TwilioClient {
    /// A client with its own connection pool.
    pub fn new(credentials: Credentials, config: &ClientConfig) -> Result<Self, RestError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| RestError::Transport(e.to_string()))?;
        Ok(Self::with_http(http, &config.base_url, credentials))
    }

    /// A client over an existing `reqwest::Client` (its timeouts apply).
    pub fn with_http(http: reqwest::Client, base_url: &str, credentials: Credentials) -> Self {
        TwilioClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            credentials,
        }
    }

    /// The same pool and base URL, another account.
    pub fn for_account(&self, credentials: Credentials) -> Self {
        TwilioClient {
            http: self.http.clone(),
            base_url: self.base_url.clone(),
            credentials,
        }
    }

    pub fn account_sid(&self) -> &TwilioAccountSid {
        &self.credentials.account_sid
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn account_url(&self, rest: &str) -> Result<String, RestError> {
        Ok(format!(
            "{}/2010-04-01/Accounts/{}/{rest}",
            self.base_url,
            segment(&self.credentials.account_sid)?
        ))
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, RestError> {
        let response = request
            .basic_auth(
                &self.credentials.account_sid,
                Some(self.credentials.auth_token()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| RestError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map_err(|e| RestError::Transport(format!("unreadable answer: {e}")));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body: TwilioErrorBody = response.json().await.unwrap_or_default();
        Err(match status.as_u16() {
            401 => RestError::Unauthorized,
            403 => RestError::Forbidden,
            404 => RestError::NotFound {
                code: body.code,
                message: body.message.unwrap_or_default(),
            },
            429 => RestError::RateLimited { retry_after },
            code @ 500..=599 => RestError::Server { status: code },
            code => RestError::Twilio {
                status: code,
                code: body.code,
                message: body.message.unwrap_or_default(),
                more_info: body.more_info,
            },
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        query: &[(&str, &str)],
    ) -> Result<T, RestError> {
        self.send(self.http.get(url).query(query)).await
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        form: &Form,
    ) -> Result<T, RestError> {
        // Finished before the await: the serializer is not `Send`, and a
        // future holding it could not run on a multi-threaded runtime.
        let body = {
            let mut body = form_urlencoded::Serializer::new(String::new());
            for (name, value) in form {
                body.append_pair(name, value);
            }
            body.finish()
        };
        self.send(
            self.http
                .post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body),
        )
        .await
    }

    /// `GET /Calls/{CallSid}.json`.
    pub async fn fetch_call(&self, call_sid: &CallSid) -> Result<CallResource, RestError> {
        let url = self.account_url(&format!("Calls/{}.json", segment(call_sid)?))?;
        self.get(url, &[]).await
    }

    /// `GET /Calls.json?Status=…&PageSize=…`: one page of calls.
    pub async fn list_calls(
        &self,
        status: Option<&CallStatus>,
        page_size: Option<u32>,
    ) -> Result<CallPage, RestError> {
        let url = self.account_url("Calls.json")?;
        let size = page_size.map(|s| s.to_string());
        let mut query = Vec::new();
        if let Some(status) = status {
            query.push(("Status", status.as_str()));
        }
        if let Some(size) = &size {
            query.push(("PageSize", size.as_str()));
        }
        self.get(url, &query).await
    }

    /// The page after `page`, if any (follows `next_page_uri`).
    pub async fn next_calls_page(&self, page: &CallPage) -> Result<Option<CallPage>, RestError> {
        match &page.paging.next_page_uri {
            None => Ok(None),
            Some(next) => self.get_relative(next).await.map(Some),
        }
    }

    /// Every call in progress, following pages (at most `max_pages`).
    pub async fn calls_in_progress(
        &self,
        max_pages: usize,
    ) -> Result<Vec<CallResource>, RestError> {
        let mut page = self
            .list_calls(Some(&CallStatus::InProgress), Some(1000))
            .await?;
        let mut calls = std::mem::take(&mut page.calls);
        let mut pages = 1;
        while pages < max_pages {
            match self.next_calls_page(&page).await? {
                Some(mut next) => {
                    calls.append(&mut next.calls);
                    page = next;
                    pages += 1;
                }
                None => break,
            }
        }
        Ok(calls)
    }

    async fn get_relative<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, RestError> {
        // Only follow links within this account's API, never elsewhere.
        let prefix = format!("/2010-04-01/Accounts/{}/", self.credentials.account_sid);
        if !path_and_query.starts_with(&prefix) {
            return Err(RestError::InvalidIdentifier(path_and_query.to_string()));
        }
        self.send(self.http.get(format!("{}{path_and_query}", self.base_url)))
            .await
    }

    /// `POST /Calls/{CallSid}.json`: redirect (`Twiml`/`Url`) or end
    /// (`Status=completed|canceled`).
    pub async fn update_call(
        &self,
        call_sid: &CallSid,
        update: &UpdateCall,
    ) -> Result<CallResource, RestError> {
        let url = self.account_url(&format!("Calls/{}.json", segment(call_sid)?))?;
        self.post(url, &update.form()).await
    }

    /// `POST /Calls.json`.
    pub async fn create_call(&self, create: &CreateCall) -> Result<CallResource, RestError> {
        let url = self.account_url("Calls.json")?;
        self.post(url, &create.form()).await
    }

    /// `GET /Conferences/{ConferenceSid}.json`.
    pub async fn fetch_conference(
        &self,
        conference_sid: &ConferenceSid,
    ) -> Result<ConferenceResource, RestError> {
        let url = self.account_url(&format!("Conferences/{}.json", segment(conference_sid)?))?;
        self.get(url, &[]).await
    }

    /// `GET /Conferences.json?FriendlyName=…&Status=…`: finds the live
    /// `CF…` of a room name (one name can be reused by later conferences).
    pub async fn list_conferences(
        &self,
        friendly_name: Option<&str>,
        status: Option<&ConferenceStatus>,
    ) -> Result<ConferencePage, RestError> {
        let url = self.account_url("Conferences.json")?;
        let mut query = Vec::new();
        if let Some(name) = friendly_name {
            query.push(("FriendlyName", name));
        }
        if let Some(status) = status {
            query.push(("Status", status.as_str()));
        }
        self.get(url, &query).await
    }

    /// `POST /Conferences/{ConferenceSid}/Participants/{CallSid}.json`.
    pub async fn update_participant(
        &self,
        conference_sid: &ConferenceSid,
        call_sid: &CallSid,
        update: &UpdateParticipant,
    ) -> Result<ParticipantResource, RestError> {
        let url = self.account_url(&format!(
            "Conferences/{}/Participants/{}.json",
            segment(conference_sid)?,
            segment(call_sid)?
        ))?;
        self.post(url, &update.form()).await
    }

    /// `POST /Conferences/{ConferenceSid or FriendlyName}/Participants.json`.
    pub async fn create_participant(
        &self,
        conference: &str,
        create: &CreateParticipant,
    ) -> Result<ParticipantResource, RestError> {
        let url = self.account_url(&format!(
            "Conferences/{}/Participants.json",
            segment(conference)?
        ))?;
        self.post(url, &create.form()).await
    }

    /// `GET /IncomingPhoneNumbers.json[?PhoneNumber=…]`.
    pub async fn list_incoming_phone_numbers(
        &self,
        phone_number: Option<&str>,
    ) -> Result<IncomingPhoneNumberPage, RestError> {
        let url = self.account_url("IncomingPhoneNumbers.json")?;
        let query: Vec<(&str, &str)> = phone_number
            .map(|number| vec![("PhoneNumber", number)])
            .unwrap_or_default();
        self.get(url, &query).await
    }

    /// `POST /IncomingPhoneNumbers/{Sid}.json`.
    pub async fn update_incoming_phone_number(
        &self,
        sid: &str,
        update: &UpdateIncomingPhoneNumber,
    ) -> Result<IncomingPhoneNumber, RestError> {
        let url = self.account_url(&format!("IncomingPhoneNumbers/{}.json", segment(sid)?))?;
        self.post(url, &update.form()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_token_never_shows_in_debug() {
        let credentials = Credentials::new("AC123", "s3cr3t-token");
        let client =
            TwilioClient::with_http(reqwest::Client::new(), "http://x", credentials.clone());
        for text in [format!("{credentials:?}"), format!("{client:?}")] {
            assert!(!text.contains("s3cr3t-token"), "{text}");
            assert!(text.contains("AC123"));
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("CA123").unwrap(), "CA123");
        assert_eq!(segment("room a/b").unwrap(), "room%20a%2Fb");
        assert!(segment("").is_err());
        assert!(segment("a\nb").is_err());
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
