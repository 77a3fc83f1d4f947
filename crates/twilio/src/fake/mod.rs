//! A fake Twilio REST API for tests (feature `testing`) and the demo's
//! simulated Twilio (feature `sim`, [`FakeTwilio::simulate`]): an axum server on
//! `127.0.0.1:0` that
//!
//! - answers the 2010-04-01 endpoints the [`crate::rest`] client uses, with
//!   the documented JSON field sets (rendered here with `json!`, not from the
//!   client's structs, so the client's parsing is really exercised; field
//!   sets from twilio-python's generated integration tests
//!   `tests/integration/api/v2010/account/test_call.py`,
//!   `conference/test_participant.py`, `test_incoming_phone_number.py`,
//!   which mirror the examples on <https://www.twilio.com/docs/voice/api/call-resource>);
//! - checks HTTP Basic auth against the accounts it was given (401, code
//!   20003, otherwise);
//! - can be told to fail matching requests: 404 (20404), 429 with
//!   `Retry-After`, any other status;
//! - records every request (method, path, query, form fields in order,
//!   Basic user);
//! - keeps calls, conferences, participants and numbers, so updates show in
//!   later fetches;
//! - queues the signed callbacks real Twilio would send after an action
//!   (call status callbacks, conference hold/mute events) as
//!   [`OutgoingCallback`]s that a test delivers (or re-delivers, as a
//!   Twilio retry would) when it chooses.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::params::FormParams;
use crate::signature::compute_signature;

mod script;
mod sim;

/// A call the fake knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    pub sid: String,
    pub parent_call_sid: Option<String>,
    /// A `CallStatus` word.
    pub status: String,
    /// `inbound`, `outbound-api`, `outbound-dial`.
    pub direction: String,
    pub from: String,
    pub to: String,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
    pub phone_number_sid: Option<String>,
    pub date_created: DateTime<Utc>,
    /// Where status callbacks go, with the subscribed events
    /// (`initiated ringing answered completed`; none means `completed` only).
    pub status_callback: Option<String>,
    pub status_callback_events: Vec<String>,
    /// The last TwiML or URL the call was given (create or update).
    pub twiml: Option<String>,
    pub url: Option<String>,
    /// Callbacks sent so far for this call (the next `SequenceNumber`).
    pub callbacks_sent: u64,
}

impl FakeCall {
    /// An inbound call from `+14158675308` to `+14158675309` (the docs' numbers).
    pub fn new(sid: impl Into<String>, status: impl Into<String>) -> Self {
        let now = Utc::now();
        FakeCall {
            sid: sid.into(),
            parent_call_sid: None,
            status: status.into(),
            direction: "inbound".into(),
            from: "+14158675308".into(),
            to: "+14158675309".into(),
            start_time: Some(now),
            end_time: None,
            answered_by: None,
            phone_number_sid: None,
            date_created: now,
            status_callback: None,
            status_callback_events: Vec::new(),
            twiml: None,
            url: None,
            callbacks_sent: 0,
        }
    }
}

/// A conference the fake knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeConference {
    pub sid: String,
    pub friendly_name: String,
    /// `init`, `in-progress` or `completed`.
    pub status: String,
    /// Fixed by the first participant (as Twilio does).
    pub status_callback: Option<String>,
    /// Subscribed groups: `start end join leave mute hold modify speaker announcement`.
    pub status_callback_events: Vec<String>,
    pub callbacks_sent: u64,
}

/// A conference participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeParticipant {
    pub conference_sid: String,
    pub call_sid: String,
    pub label: Option<String>,
    pub muted: bool,
    pub hold: bool,
    pub coaching: bool,
    pub hold_url: Option<String>,
    pub end_conference_on_exit: bool,
    pub start_conference_on_enter: bool,
    /// `queued connecting ringing connected complete failed`.
    pub status: String,
}

impl FakeParticipant {
    pub fn new(conference_sid: impl Into<String>, call_sid: impl Into<String>) -> Self {
        FakeParticipant {
            conference_sid: conference_sid.into(),
            call_sid: call_sid.into(),
            label: None,
            muted: false,
            hold: false,
            coaching: false,
            hold_url: None,
            end_conference_on_exit: false,
            start_conference_on_enter: true,
            status: "connected".into(),
        }
    }
}

/// A number the account owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeNumber {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub voice_url: Option<String>,
    pub voice_method: String,
    pub voice_fallback_url: Option<String>,
    pub status_callback: String,
    pub status_callback_method: String,
    pub sms_url: String,
    pub sms_method: String,
}

impl FakeNumber {
    pub fn new(sid: impl Into<String>, phone_number: impl Into<String>) -> Self {
        let phone_number = phone_number.into();
        FakeNumber {
            sid: sid.into(),
            friendly_name: phone_number.clone(),
            phone_number,
            voice_method: "POST".into(),
            status_callback_method: "POST".into(),
            sms_method: "POST".into(),
            ..FakeNumber::default()
        }
    }
}

/// How a programmed request fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 404, code 20404.
    NotFound,
    /// 429, code 20429, with this `Retry-After` header value if any.
    RateLimited { retry_after: Option<String> },
    /// Any status with Twilio's error body and this code.
    Status { status: u16, code: u32 },
}

struct Rule {
    method: Method,
    path_suffix: String,
    fault: Fault,
    remaining: Option<usize>,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Form fields in the order sent (repeated names kept).
    pub form: Vec<(String, String)>,
    /// The Basic auth user name, if any.
    pub basic_user: Option<String>,
}

impl RecordedRequest {
    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a form field, in order.
    pub fn fields(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A callback real Twilio would send, signed with the account's auth token
/// over `url` and `params` (`X-Twilio-Signature`). Deliver it with
/// [`OutgoingCallback::deliver`], or build the request yourself from
/// `url`, [`OutgoingCallback::body`] and [`OutgoingCallback::headers`] (for
/// an in-process router). Delivering the same value twice is a Twilio
/// retry: same body, same signature, same idempotency token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingCallback {
    pub url: String,
    pub params: FormParams,
    pub signature: String,
    pub idempotency_token: String,
}

impl OutgoingCallback {
    /// The form body.
    pub fn body(&self) -> String {
        self.params.encode()
    }

    /// The headers Twilio sends with it.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "Content-Type",
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("X-Twilio-Signature", self.signature.clone()),
            (
                crate::webhook::IDEMPOTENCY_TOKEN_HEADER,
                self.idempotency_token.clone(),
            ),
            ("User-Agent", "TwilioProxy/1.1".to_string()),
        ]
    }

    /// POSTs it to `url`; returns the HTTP status.
    pub async fn deliver(&self, http: &reqwest::Client) -> Result<u16, reqwest::Error> {
        let mut request = http.post(&self.url).body(self.body());
        for (name, value) in self.headers() {
            request = request.header(name, value);
        }
        Ok(request.send().await?.status().as_u16())
    }
}

#[derive(Default)]
struct Inner {
    accounts: BTreeMap<String, String>,
    calls: BTreeMap<(String, String), FakeCall>,
    conferences: BTreeMap<(String, String), FakeConference>,
    participants: BTreeMap<(String, String, String), FakeParticipant>,
    numbers: BTreeMap<(String, String), FakeNumber>,
    rules: Vec<Rule>,
    requests: Vec<RecordedRequest>,
    callbacks: Vec<OutgoingCallback>,
    counter: u64,
    /// Simulator mode ([`FakeTwilio::simulate`]): callbacks go out at once.
    sim: Option<Outbox>,
    /// The `<Dial>` each call is executing (simulator mode).
    dials: BTreeMap<(String, String), Dial>,
}

/// Where the simulator's callbacks wait for the delivery task.
struct Outbox {
    sender: tokio::sync::mpsc::UnboundedSender<Outgoing>,
    queued: u64,
}

/// A callback on its way; the answer to one with `execute_on` is TwiML
/// for that call (the voice webhook, a `<Dial action>`).
struct Outgoing {
    callback: OutgoingCallback,
    account: String,
    execute_on: Option<String>,
}

/// A `<Dial>` in progress: its legs, the one answered, where the outcome goes.
struct Dial {
    action: Option<String>,
    children: Vec<String>,
    answered: Option<String>,
}

fn is_terminal(status: &str) -> bool {
    matches!(
        status,
        "completed" | "busy" | "failed" | "no-answer" | "canceled"
    )
}

impl Inner {
    fn next_sid(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{:032x}", self.counter)
    }

    fn sign(&mut self, account: &str, url: String, params: FormParams) {
        self.sign_for(account, url, params, None);
    }

    /// Signs a callback; in simulator mode sends it to the delivery task
    /// (the answer executed on `execute_on`), otherwise queues it for the test.
    fn sign_for(
        &mut self,
        account: &str,
        url: String,
        params: FormParams,
        execute_on: Option<String>,
    ) {
        let url = script::without_fragment(&url);
        let token = self.accounts.get(account).cloned().unwrap_or_default();
        let signature = compute_signature(&token, &url, &params);
        self.counter += 1;
        let idempotency_token = format!("{:08x}-{account}", self.counter);
        let callback = OutgoingCallback {
            url,
            params,
            signature,
            idempotency_token,
        };
        match &mut self.sim {
            Some(outbox) => {
                outbox.queued += 1;
                // The receiver lives as long as the fake.
                let _ = outbox.sender.send(Outgoing {
                    callback,
                    account: account.to_string(),
                    execute_on,
                });
            }
            None => self.callbacks.push(callback),
        }
    }

    /// Moves a call to `status`, queueing the status callback Twilio would
    /// send for it; in simulator mode, a call's end also ends its `<Dial>`,
    /// its conference membership, and reports to its parent's `<Dial>`.
    fn progress(&mut self, account: &str, sid: &str, status: &str, now: DateTime<Utc>) {
        let key = (account.to_string(), sid.to_string());
        let Some(was_terminal) = self.calls.get(&key).map(|c| is_terminal(&c.status)) else {
            return;
        };
        self.status_change(account, sid, status, now);
        if self.sim.is_some() && is_terminal(status) && !was_terminal {
            self.after_end(account, sid, now);
        }
    }

    fn status_change(&mut self, account: &str, sid: &str, status: &str, now: DateTime<Utc>) {
        let key = (account.to_string(), sid.to_string());
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let was_queued = call.status == "queued";
        call.status = status.to_string();
        let terminal = matches!(
            status,
            "completed" | "busy" | "failed" | "no-answer" | "canceled"
        );
        if status == "in-progress" && call.start_time.is_none() {
            call.start_time = Some(now);
        }
        if terminal {
            call.end_time = Some(now);
        }
        let event = match status {
            "initiated" => "initiated",
            "ringing" => "ringing",
            "in-progress" => "answered",
            _ if terminal => "completed",
            _ => return,
        };
        let subscribed = if call.status_callback_events.is_empty() {
            event == "completed"
        } else {
            call.status_callback_events.iter().any(|e| e == event)
        };
        // A call cancelled while queued sends no callback (twilio.md §1.3).
        let silent = status == "canceled" && was_queued;
        let Some(url) = call
            .status_callback
            .clone()
            .filter(|_| subscribed && !silent)
        else {
            return;
        };
        let mut pairs: Vec<(String, String)> = vec![
            ("AccountSid".into(), account.to_string()),
            ("ApiVersion".into(), "2010-04-01".into()),
            ("CallSid".into(), call.sid.clone()),
            ("CallStatus".into(), status.to_string()),
            ("Called".into(), call.to.clone()),
            ("Caller".into(), call.from.clone()),
            ("CallbackSource".into(), "call-progress-events".into()),
            ("Direction".into(), call.direction.clone()),
            ("From".into(), call.from.clone()),
            ("SequenceNumber".into(), call.callbacks_sent.to_string()),
            ("Timestamp".into(), now.to_rfc2822()),
            ("To".into(), call.to.clone()),
        ];
        if let Some(parent) = &call.parent_call_sid {
            pairs.push(("ParentCallSid".into(), parent.clone()));
        }
        if event == "completed" {
            let seconds = match (call.start_time, status) {
                (Some(start), "completed") => (now - start).num_seconds().max(0) as u64,
                _ => 0,
            };
            pairs.push(("CallDuration".into(), seconds.to_string()));
            pairs.push(("Duration".into(), seconds.div_ceil(60).to_string()));
        }
        call.callbacks_sent += 1;
        self.sign(account, url, FormParams::from_pairs(pairs));
    }

    /// Queues a conference participant event if the conference subscribed
    /// to its group.
    fn conference_event(
        &mut self,
        account: &str,
        participant: &FakeParticipant,
        event: &str,
        group: &str,
        now: DateTime<Utc>,
    ) {
        let key = (account.to_string(), participant.conference_sid.clone());
        let Some(conference) = self.conferences.get_mut(&key) else {
            return;
        };
        if !conference.status_callback_events.iter().any(|g| g == group) {
            return;
        }
        let Some(url) = conference.status_callback.clone() else {
            return;
        };
        let mut pairs: Vec<(String, String)> = vec![
            ("AccountSid".into(), account.to_string()),
            ("CallSid".into(), participant.call_sid.clone()),
            ("Coaching".into(), participant.coaching.to_string()),
            ("ConferenceSid".into(), conference.sid.clone()),
            (
                "EndConferenceOnExit".into(),
                participant.end_conference_on_exit.to_string(),
            ),
            ("FriendlyName".into(), conference.friendly_name.clone()),
            ("Hold".into(), participant.hold.to_string()),
            ("Muted".into(), participant.muted.to_string()),
            (
                "SequenceNumber".into(),
                conference.callbacks_sent.to_string(),
            ),
            (
                "StartConferenceOnEnter".into(),
                participant.start_conference_on_enter.to_string(),
            ),
            ("StatusCallbackEvent".into(), event.to_string()),
            ("Timestamp".into(), now.to_rfc2822()),
        ];
        if let Some(label) = &participant.label {
            pairs.push(("ParticipantLabel".into(), label.clone()));
        }
        conference.callbacks_sent += 1;
        self.sign(account, url, FormParams::from_pairs(pairs));
    }
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake; stops when dropped.
pub struct FakeTwilio {
    base_url: String,
    inner: Shared,
    task: tokio::task::JoinHandle<()>,
    /// Simulator mode's delivery task.
    delivery: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Callbacks the delivery task has sent (answered or failed).
    delivered: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(delivery) = self.delivery.lock().ok().and_then(|mut d| d.take()) {
            delivery.abort();
        }
    }
}

impl FakeTwilio {
    /// Starts a fake on an ephemeral local port.
    pub async fn start() -> std::io::Result<FakeTwilio> {
        let inner: Shared = Arc::default();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // Ends only when aborted; an I/O error here ends the fake.
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeTwilio {
            base_url: format!("http://{address}"),
            inner,
            task,
            delivery: Mutex::new(None),
            delivered: Arc::new(tokio::sync::watch::channel(0).0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock poisons it; the state
        // is still the best evidence, so keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `http://127.0.0.1:{port}`, the client's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Accepts Basic auth `account_sid:auth_token` (the token also signs callbacks).
    pub fn add_account(&self, account_sid: &str, auth_token: &str) {
        self.lock()
            .accounts
            .insert(account_sid.to_string(), auth_token.to_string());
    }

    pub fn insert_call(&self, account_sid: &str, call: FakeCall) {
        self.lock()
            .calls
            .insert((account_sid.to_string(), call.sid.clone()), call);
    }

    pub fn call(&self, account_sid: &str, call_sid: &str) -> Option<FakeCall> {
        self.lock()
            .calls
            .get(&(account_sid.to_string(), call_sid.to_string()))
            .cloned()
    }

    /// Moves a call to a new status as Twilio would (start/end times), and
    /// queues its status callback if subscribed.
    pub fn progress_call(&self, account_sid: &str, call_sid: &str, status: &str) {
        self.lock()
            .progress(account_sid, call_sid, status, Utc::now());
    }

    pub fn insert_conference(&self, account_sid: &str, conference: FakeConference) {
        self.lock().conferences.insert(
            (account_sid.to_string(), conference.sid.clone()),
            conference,
        );
    }

    pub fn conference(&self, account_sid: &str, sid: &str) -> Option<FakeConference> {
        self.lock()
            .conferences
            .get(&(account_sid.to_string(), sid.to_string()))
            .cloned()
    }

    pub fn insert_participant(&self, account_sid: &str, participant: FakeParticipant) {
        self.lock().participants.insert(
            (
                account_sid.to_string(),
                participant.conference_sid.clone(),
                participant.call_sid.clone(),
            ),
            participant,
        );
    }

    pub fn participant(
        &self,
        account_sid: &str,
        conference_sid: &str,
        call_sid: &str,
    ) -> Option<FakeParticipant> {
        self.lock()
            .participants
            .get(&(
                account_sid.to_string(),
                conference_sid.to_string(),
                call_sid.to_string(),
            ))
            .cloned()
    }

    /// A participant's call is answered and joins: its call goes
    /// `in-progress` (status callback if subscribed), the participant
    /// `connected`, and the conference queues `participant-join` (group
    /// `join`). Returns false when the participant is unknown.
    pub fn join_participant(
        &self,
        account_sid: &str,
        conference_sid: &str,
        call_sid: &str,
    ) -> bool {
        self.participant_moves(account_sid, conference_sid, call_sid, "connected")
    }

    /// A participant hangs up: its call `completed`, the participant
    /// `complete`, and `participant-leave` (group `leave`).
    pub fn leave_participant(
        &self,
        account_sid: &str,
        conference_sid: &str,
        call_sid: &str,
    ) -> bool {
        self.participant_moves(account_sid, conference_sid, call_sid, "complete")
    }

    fn participant_moves(&self, account: &str, conference: &str, call: &str, to: &str) -> bool {
        let now = Utc::now();
        let mut state = self.lock();
        let key = (
            account.to_string(),
            conference.to_string(),
            call.to_string(),
        );
        let Some(participant) = state.participants.get_mut(&key) else {
            return false;
        };
        participant.status = to.to_string();
        let participant = participant.clone();
        let (call_status, event, group) = if to == "connected" {
            ("in-progress", "participant-join", "join")
        } else {
            ("completed", "participant-leave", "leave")
        };
        state.progress(account, call, call_status, now);
        state.conference_event(account, &participant, event, group, now);
        true
    }

    pub fn insert_number(&self, account_sid: &str, number: FakeNumber) {
        self.lock()
            .numbers
            .insert((account_sid.to_string(), number.sid.clone()), number);
    }

    pub fn number(&self, account_sid: &str, sid: &str) -> Option<FakeNumber> {
        self.lock()
            .numbers
            .get(&(account_sid.to_string(), sid.to_string()))
            .cloned()
    }

    /// Fails requests with this method whose path ends with `path_suffix`
    /// (e.g. `"/Calls/CA1.json"`), `times` times (`None`: always).
    pub fn fail(&self, method: Method, path_suffix: &str, fault: Fault, times: Option<usize>) {
        self.lock().rules.push(Rule {
            method,
            path_suffix: path_suffix.to_string(),
            fault,
            remaining: times,
        });
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Callbacks queued so far (not removed).
    pub fn callbacks(&self) -> Vec<OutgoingCallback> {
        self.lock().callbacks.clone()
    }

    /// Removes and returns the queued callbacks.
    pub fn take_callbacks(&self) -> Vec<OutgoingCallback> {
        std::mem::take(&mut self.lock().callbacks)
    }

    /// Delivers and removes the queued callbacks, in order; returns each
    /// with the status it got (or the transport error).
    pub async fn deliver_callbacks(
        &self,
        http: &reqwest::Client,
    ) -> Vec<(OutgoingCallback, Result<u16, String>)> {
        let callbacks = self.take_callbacks();
        let mut results = Vec::new();
        for callback in callbacks {
            let result = callback.deliver(http).await.map_err(|e| e.to_string());
            results.push((callback, result));
        }
        results
    }
}

fn error(status: u16, code: u32, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })
        .to_string(),
    )
        .into_response()
}

fn not_found(path: &str) -> Response {
    error(
        404,
        20404,
        &format!("The requested resource {path} was not found"),
    )
}

fn ok(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn rfc2822(time: Option<DateTime<Utc>>) -> Value {
    time.map_or(Value::Null, |t| Value::String(t.to_rfc2822()))
}

fn call_json(account: &str, call: &FakeCall) -> Value {
    let uri = format!("/2010-04-01/Accounts/{account}/Calls/{}", call.sid);
    let duration = match (call.start_time, call.end_time) {
        (Some(start), Some(end)) if call.status == "completed" => {
            Value::String((end - start).num_seconds().max(0).to_string())
        }
        (_, Some(_)) => Value::String("0".into()),
        _ => Value::Null,
    };
    json!({
        "account_sid": account,
        "annotation": null,
        "answered_by": call.answered_by,
        "api_version": "2010-04-01",
        "caller_name": null,
        "date_created": call.date_created.to_rfc2822(),
        "date_updated": Utc::now().to_rfc2822(),
        "direction": call.direction,
        "duration": duration,
        "end_time": rfc2822(call.end_time),
        "forwarded_from": null,
        "from": call.from,
        "from_formatted": call.from,
        "group_sid": null,
        "parent_call_sid": call.parent_call_sid,
        "phone_number_sid": call.phone_number_sid,
        "price": null,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": rfc2822(call.start_time),
        "status": call.status,
        "subresource_uris": {
            "notifications": format!("{uri}/Notifications.json"),
            "recordings": format!("{uri}/Recordings.json"),
        },
        "to": call.to,
        "to_formatted": call.to,
        "trunk_sid": null,
        "uri": format!("{uri}.json"),
    })
}

fn participant_json(account: &str, p: &FakeParticipant) -> Value {
    json!({
        "account_sid": account,
        "call_sid": p.call_sid,
        "label": p.label,
        "call_sid_to_coach": null,
        "coaching": p.coaching,
        "conference_sid": p.conference_sid,
        "date_created": Utc::now().to_rfc2822(),
        "date_updated": Utc::now().to_rfc2822(),
        "end_conference_on_exit": p.end_conference_on_exit,
        "muted": p.muted,
        "hold": p.hold,
        "status": p.status,
        "start_conference_on_enter": p.start_conference_on_enter,
        "queue_time": null,
        "uri": format!(
            "/2010-04-01/Accounts/{account}/Conferences/{}/Participants/{}.json",
            p.conference_sid, p.call_sid
        ),
    })
}

fn conference_json(account: &str, c: &FakeConference) -> Value {
    let uri = format!("/2010-04-01/Accounts/{account}/Conferences/{}", c.sid);
    json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "date_created": Utc::now().to_rfc2822(),
        "date_updated": Utc::now().to_rfc2822(),
        "friendly_name": c.friendly_name,
        "region": "us1",
        "sid": c.sid,
        "status": c.status,
        "subresource_uris": { "participants": format!("{uri}/Participants.json") },
        "uri": format!("{uri}.json"),
    })
}

fn number_json(account: &str, n: &FakeNumber) -> Value {
    json!({
        "account_sid": account,
        "address_requirements": "none",
        "address_sid": null,
        "api_version": "2010-04-01",
        "beta": false,
        "capabilities": { "mms": true, "sms": true, "voice": true },
        "date_created": "Thu, 30 Jul 2015 23:19:04 +0000",
        "date_updated": Utc::now().to_rfc2822(),
        "emergency_status": "Inactive",
        "emergency_address_sid": null,
        "friendly_name": n.friendly_name,
        "identity_sid": null,
        "origin": "twilio",
        "phone_number": n.phone_number,
        "sid": n.sid,
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": n.sms_method,
        "sms_url": n.sms_url,
        "status_callback": n.status_callback,
        "status_callback_method": n.status_callback_method,
        "trunk_sid": null,
        "uri": format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{}.json", n.sid),
        "voice_application_sid": "",
        "voice_caller_id_lookup": false,
        "voice_fallback_method": "POST",
        "voice_fallback_url": n.voice_fallback_url,
        "voice_method": n.voice_method,
        "voice_url": n.voice_url,
        "bundle_sid": null,
    })
}

fn page_json(
    key: &str,
    items: Vec<Value>,
    path: &str,
    page: usize,
    page_size: usize,
    extra_query: &str,
) -> Value {
    let total = items.len();
    let start = page * page_size;
    let slice: Vec<Value> = items.into_iter().skip(start).take(page_size).collect();
    let link = |p: usize| format!("{path}?{extra_query}PageSize={page_size}&Page={p}");
    let has_next = start + page_size < total;
    let mut body = json!({
        "end": (start + slice.len()).saturating_sub(1),
        "first_page_uri": link(0),
        "next_page_uri": if has_next { Value::String(link(page + 1)) } else { Value::Null },
        "page": page,
        "page_size": page_size,
        "previous_page_uri": if page > 0 { Value::String(link(page - 1)) } else { Value::Null },
        "start": start,
        "uri": link(page),
    });
    body[key] = Value::Array(slice);
    body
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn flag(form: &FormParams, name: &str) -> Option<bool> {
    form.get_nonempty(name)
        .map(|v| v.eq_ignore_ascii_case("true"))
}

async fn handle(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = Utc::now();
    let path = uri.path().to_string();
    let query = FormParams::parse(uri.query().unwrap_or("").as_bytes());
    let form = if method == Method::POST {
        FormParams::parse(&body)
    } else {
        FormParams::default()
    };
    let auth = basic_auth(&headers);
    let mut state = inner.lock().unwrap_or_else(|e| e.into_inner());
    if path == sim::REQUESTS_PATH {
        return sim::recorded_requests(&state, auth.as_ref());
    }
    // A long-running simulator keeps only the latest requests.
    if state.sim.is_some() && state.requests.len() >= sim::MAX_RECORDED {
        state.requests.drain(..sim::MAX_RECORDED / 2);
    }
    state.requests.push(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.pairs().to_vec(),
        form: form.pairs().to_vec(),
        basic_user: auth.as_ref().map(|(user, _)| user.clone()),
    });

    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (account, rest) = match segments.as_slice() {
        ["2010-04-01", "Accounts", account, rest @ ..] if !rest.is_empty() => {
            (account.trim_end_matches(".json").to_string(), rest.to_vec())
        }
        _ => return not_found(&path),
    };
    let authorized = auth.as_ref().is_some_and(|(user, password)| {
        user == &account && state.accounts.get(user) == Some(password)
    });
    if !authorized {
        return error(401, 20003, "Authenticate");
    }

    // A rule given `Some(0)` times never fires.
    state.rules.retain(|r| r.remaining != Some(0));
    if let Some(index) = state
        .rules
        .iter()
        .position(|r| r.method == method && path.ends_with(&r.path_suffix))
    {
        let rule = &mut state.rules[index];
        let fault = rule.fault.clone();
        if let Some(remaining) = &mut rule.remaining {
            *remaining -= 1;
        }
        return match fault {
            Fault::NotFound => not_found(&path),
            Fault::RateLimited { retry_after } => {
                let mut response = error(429, 20429, "Too Many Requests");
                if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Fault::Status { status, code } => error(status, code, "Programmed failure"),
        };
    }

    let key = |sid: &str| (account.clone(), sid.trim_end_matches(".json").to_string());
    match (method.as_str(), rest.as_slice()) {
        ("GET", ["Calls.json"]) => {
            let status = query.get_nonempty("Status");
            let page_size: usize = query
                .get_nonempty("PageSize")
                .and_then(|s| s.parse().ok())
                .unwrap_or(50)
                .clamp(1, 1000);
            let page: usize = query
                .get_nonempty("Page")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let calls: Vec<Value> = state
                .calls
                .iter()
                .filter(|((a, _), c)| a == &account && status.is_none_or(|s| c.status == s))
                .map(|(_, c)| call_json(&account, c))
                .collect();
            let extra = status.map_or(String::new(), |s| format!("Status={s}&"));
            let list_path = format!("/2010-04-01/Accounts/{account}/Calls.json");
            ok(
                StatusCode::OK,
                page_json("calls", calls, &list_path, page, page_size, &extra),
            )
        }
        ("GET", ["Calls", sid]) => match state.calls.get(&key(sid)) {
            Some(call) => ok(StatusCode::OK, call_json(&account, call)),
            None => not_found(&path),
        },
        ("POST", ["Calls", sid]) => {
            let key = key(sid);
            let Some(call) = state.calls.get(&key) else {
                return not_found(&path);
            };
            let terminal = matches!(
                call.status.as_str(),
                "completed" | "busy" | "failed" | "no-answer" | "canceled"
            );
            let current = call.status.clone();
            if terminal {
                return error(400, 21220, "Call is not in-progress. Cannot redirect.");
            }
            {
                let call = state.calls.get_mut(&key).expect("checked above");
                if let Some(twiml) = form.get_nonempty("Twiml") {
                    call.twiml = Some(twiml.to_string());
                }
                if let Some(url) = form.get_nonempty("Url") {
                    call.url = Some(url.to_string());
                }
                if let Some(callback) = form.get_nonempty("StatusCallback") {
                    call.status_callback = Some(callback.to_string());
                }
            }
            if state.sim.is_some() {
                if let Some(twiml) = form.get_nonempty("Twiml") {
                    state.execute(&account, &key.1, twiml, now);
                }
            }
            match form.get_nonempty("Status") {
                Some("completed") => state.progress(&account, &key.1, "completed", now),
                Some("canceled") if matches!(current.as_str(), "queued" | "ringing") => {
                    state.progress(&account, &key.1, "canceled", now)
                }
                _ => {}
            }
            let call = state.calls.get(&key).expect("checked above");
            ok(StatusCode::OK, call_json(&account, call))
        }
        ("POST", ["Calls.json"]) => {
            let (Some(to), Some(from)) = (form.get_nonempty("To"), form.get_nonempty("From"))
            else {
                return error(400, 21201, "No 'To' or 'From' number is specified");
            };
            if form.get_nonempty("Url").is_none() && form.get_nonempty("Twiml").is_none() {
                return error(400, 21205, "Url parameter is required");
            }
            let sid = state.next_sid("CA");
            let mut call = FakeCall::new(sid.clone(), "queued");
            call.direction = "outbound-api".into();
            call.to = to.to_string();
            call.from = from.to_string();
            call.start_time = None;
            call.twiml = form.get_nonempty("Twiml").map(str::to_string);
            call.url = form.get_nonempty("Url").map(str::to_string);
            call.status_callback = form.get_nonempty("StatusCallback").map(str::to_string);
            call.status_callback_events = form
                .get_all("StatusCallbackEvent")
                .flat_map(str::split_whitespace)
                .map(str::to_string)
                .collect();
            let body = call_json(&account, &call);
            state.calls.insert((account.clone(), sid), call);
            ok(StatusCode::CREATED, body)
        }
        ("GET", ["Conferences.json"]) => {
            let name = query.get_nonempty("FriendlyName");
            let status = query.get_nonempty("Status");
            let conferences: Vec<Value> = state
                .conferences
                .iter()
                .filter(|((a, _), c)| {
                    a == &account
                        && name.is_none_or(|n| c.friendly_name == n)
                        && status.is_none_or(|s| c.status == s)
                })
                .map(|(_, c)| conference_json(&account, c))
                .collect();
            let list_path = format!("/2010-04-01/Accounts/{account}/Conferences.json");
            ok(
                StatusCode::OK,
                page_json("conferences", conferences, &list_path, 0, 50, ""),
            )
        }
        ("GET", ["Conferences", sid]) => match state.conferences.get(&key(sid)) {
            Some(conference) => ok(StatusCode::OK, conference_json(&account, conference)),
            None => not_found(&path),
        },
        ("POST", ["Conferences", conference, "Participants", call_sid]) => {
            let pkey = (
                account.clone(),
                conference.to_string(),
                call_sid.trim_end_matches(".json").to_string(),
            );
            let Some(mut participant) = state.participants.get(&pkey).cloned() else {
                return not_found(&path);
            };
            let mut events = Vec::new();
            if let Some(hold) = flag(&form, "Hold") {
                if hold != participant.hold {
                    let event = if hold {
                        "participant-hold"
                    } else {
                        "participant-unhold"
                    };
                    events.push((event, "hold"));
                }
                participant.hold = hold;
            }
            if let Some(url) = form.get_nonempty("HoldUrl") {
                participant.hold_url = Some(url.to_string());
            }
            if let Some(muted) = flag(&form, "Muted") {
                if muted != participant.muted {
                    let event = if muted {
                        "participant-mute"
                    } else {
                        "participant-unmute"
                    };
                    events.push((event, "mute"));
                }
                participant.muted = muted;
            }
            if let Some(coaching) = flag(&form, "Coaching") {
                if coaching != participant.coaching {
                    events.push(("participant-modify", "modify"));
                }
                participant.coaching = coaching;
            }
            state.participants.insert(pkey, participant.clone());
            for (event, group) in events {
                state.conference_event(&account, &participant, event, group, now);
            }
            ok(StatusCode::OK, participant_json(&account, &participant))
        }
        ("POST", ["Conferences", conference, "Participants.json"]) => {
            let (Some(to), Some(from)) = (form.get_nonempty("To"), form.get_nonempty("From"))
            else {
                return error(400, 21201, "No 'To' or 'From' number is specified");
            };
            // The path names the conference by SID or by friendly name.
            let existing = state
                .conferences
                .iter()
                .find(|((a, sid), c)| {
                    a == &account && (sid == conference || c.friendly_name == *conference)
                })
                .map(|(_, c)| c.sid.clone());
            let conference_sid = match existing {
                Some(sid) => sid,
                None => {
                    let sid = state.next_sid("CF");
                    let created = FakeConference {
                        sid: sid.clone(),
                        friendly_name: conference.to_string(),
                        status: "init".into(),
                        status_callback: form
                            .get_nonempty("ConferenceStatusCallback")
                            .map(str::to_string),
                        status_callback_events: form
                            .get_all("ConferenceStatusCallbackEvent")
                            .flat_map(str::split_whitespace)
                            .map(str::to_string)
                            .collect(),
                        callbacks_sent: 0,
                    };
                    state
                        .conferences
                        .insert((account.clone(), sid.clone()), created);
                    sid
                }
            };
            let call_sid = state.next_sid("CA");
            let mut call = FakeCall::new(call_sid.clone(), "queued");
            call.direction = "outbound-api".into();
            call.to = to.to_string();
            call.from = from.to_string();
            call.start_time = None;
            call.status_callback = form.get_nonempty("StatusCallback").map(str::to_string);
            call.status_callback_events = form
                .get_all("StatusCallbackEvent")
                .flat_map(str::split_whitespace)
                .map(str::to_string)
                .collect();
            state
                .calls
                .insert((account.clone(), call_sid.clone()), call);
            let mut participant = FakeParticipant::new(conference_sid.clone(), call_sid.clone());
            participant.status = "queued".into();
            participant.label = form.get_nonempty("Label").map(str::to_string);
            participant.muted = flag(&form, "Muted").unwrap_or(false);
            participant.hold = flag(&form, "Hold").unwrap_or(false);
            participant.coaching = flag(&form, "Coaching").unwrap_or(false);
            participant.end_conference_on_exit =
                flag(&form, "EndConferenceOnExit").unwrap_or(false);
            participant.start_conference_on_enter =
                flag(&form, "StartConferenceOnEnter").unwrap_or(true);
            let body = participant_json(&account, &participant);
            state
                .participants
                .insert((account.clone(), conference_sid, call_sid), participant);
            ok(StatusCode::CREATED, body)
        }
        ("GET", ["IncomingPhoneNumbers.json"]) => {
            let wanted = query.get_nonempty("PhoneNumber");
            let numbers: Vec<Value> = state
                .numbers
                .iter()
                .filter(|((a, _), n)| a == &account && wanted.is_none_or(|w| n.phone_number == w))
                .map(|(_, n)| number_json(&account, n))
                .collect();
            let list_path = format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json");
            ok(
                StatusCode::OK,
                page_json("incoming_phone_numbers", numbers, &list_path, 0, 50, ""),
            )
        }
        ("POST", ["IncomingPhoneNumbers", sid]) => {
            let Some(number) = state.numbers.get_mut(&key(sid)) else {
                return not_found(&path);
            };
            let set = |target: &mut String, name: &str| {
                if let Some(value) = form.get(name) {
                    *target = value.to_string();
                }
            };
            if let Some(url) = form.get("VoiceUrl") {
                number.voice_url = Some(url.to_string());
            }
            if let Some(url) = form.get("VoiceFallbackUrl") {
                number.voice_fallback_url = Some(url.to_string());
            }
            set(&mut number.voice_method, "VoiceMethod");
            set(&mut number.status_callback, "StatusCallback");
            set(&mut number.status_callback_method, "StatusCallbackMethod");
            set(&mut number.sms_url, "SmsUrl");
            set(&mut number.sms_method, "SmsMethod");
            let number = number.clone();
            ok(StatusCode::OK, number_json(&account, &number))
        }
        _ => not_found(&path),
    }
}
