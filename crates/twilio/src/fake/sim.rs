//! Simulator mode: the fake behaves like Twilio for a running evo-voice (the
//! demo). Callbacks are signed and POSTed at once, in order, by one
//! delivery task; the TwiML evo-voice answers (voice webhook, `<Dial
//! action>`) or sends (a call update's `Twiml`) is executed: `<Dial>` rings
//! `<Client>`/`<Number>` legs (their status callbacks, then the `<Dial
//! action>` with the outcome), `<Dial><Conference>` joins the conference
//! (participant events), `<Enqueue>` waits, `<Hangup>` ends the call.
//! Redirecting a call ends its `<Dial>` legs and conference membership, as
//! Twilio does; a call's end ends its legs, and a participant with
//! `endConferenceOnExit` ends the conference.
//! <https://www.twilio.com/docs/voice/twiml/dial>,
//! <https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource>.
//!
//! Not simulated: TwiML fetched from a `Url`, `<Queue>` dequeues, media.
//!
//! `GET /sim/requests` (no Twilio endpoint: the simulator's own, Basic auth
//! as an account) lists the REST requests that account sent, as JSON, so
//! that a demo's user or test can see what Twilio was asked.

use axum::response::Response;
use chrono::{DateTime, Utc};

use super::script::{self, Element};
use super::{
    is_terminal, Dial, FakeCall, FakeConference, FakeParticipant, FakeTwilio, Inner, Outbox,
    Outgoing,
};
use crate::params::FormParams;

/// The simulator's inspection endpoint.
pub(super) const REQUESTS_PATH: &str = "/sim/requests";
/// Requests kept in simulator mode (the oldest half is dropped beyond).
pub(super) const MAX_RECORDED: usize = 10_000;

/// The REST requests the authenticated account sent, oldest first.
pub(super) fn recorded_requests(state: &Inner, auth: Option<&(String, String)>) -> Response {
    let authorized =
        auth.is_some_and(|(user, password)| state.accounts.get(user) == Some(password));
    let Some((account, _)) = auth.filter(|_| authorized) else {
        return super::error(401, 20003, "Authenticate");
    };
    let requests: Vec<serde_json::Value> = state
        .requests
        .iter()
        .filter(|r| r.basic_user.as_deref() == Some(account.as_str()))
        .map(|r| {
            serde_json::json!({
                "method": r.method,
                "path": r.path,
                "query": r.query,
                "form": r.form,
            })
        })
        .collect();
    super::ok(
        axum::http::StatusCode::OK,
        serde_json::json!({ "requests": requests }),
    )
}

/// How long a long-running simulator remembers ended calls and conferences.
const KEEP_ENDED_SECS: i64 = 3600;

impl Inner {
    /// Drops calls that ended before `cutoff`, and conferences every
    /// participant of which is such a call, so a simulator running for days
    /// stays small.
    fn forget_old(&mut self, cutoff: DateTime<Utc>) {
        self.calls.retain(|_, call| {
            !is_terminal(&call.status) || call.end_time.is_none_or(|end| end >= cutoff)
        });
        let calls = &self.calls;
        self.participants
            .retain(|(account, _, call), _| calls.contains_key(&(account.clone(), call.clone())));
        let participants = &self.participants;
        self.conferences.retain(|(account, sid), conference| {
            conference.status != "completed"
                || participants
                    .keys()
                    .any(|(a, c, _)| a == account && c == sid)
        });
        self.dials.retain(|key, _| calls.contains_key(key));
    }

    /// What follows the end of call `sid` (simulator mode).
    pub(super) fn after_end(&mut self, account: &str, sid: &str, now: DateTime<Utc>) {
        if let Some(dial) = self.dials.remove(&(account.to_string(), sid.to_string())) {
            for child in dial.children {
                self.hang_up(account, &child, now);
            }
        }
        self.leave_conferences(account, sid, now);
        self.dial_outcome(account, sid, now);
    }

    /// Ends a call from Twilio's side: a connected one completes, one still
    /// ringing is canceled.
    pub(super) fn hang_up(&mut self, account: &str, sid: &str, now: DateTime<Utc>) {
        let Some(call) = self.calls.get(&(account.to_string(), sid.to_string())) else {
            return;
        };
        let status = match call.status.as_str() {
            "in-progress" => "completed",
            status if is_terminal(status) => return,
            _ => "canceled",
        };
        self.progress(account, sid, status, now);
    }

    /// A leg of a `<Dial>` answered: the other legs stop ringing.
    pub(super) fn answer(&mut self, account: &str, sid: &str, now: DateTime<Utc>) {
        self.progress(account, sid, "in-progress", now);
        let Some(parent) = self
            .calls
            .get(&(account.to_string(), sid.to_string()))
            .and_then(|c| c.parent_call_sid.clone())
        else {
            return;
        };
        let others = match self.dials.get_mut(&(account.to_string(), parent)) {
            Some(dial) if dial.children.iter().any(|c| c == sid) => {
                dial.answered = Some(sid.to_string());
                dial.children.clone()
            }
            _ => return,
        };
        for other in others.iter().filter(|c| *c != sid) {
            self.hang_up(account, other, now);
        }
    }

    /// A `<Dial>` leg ended: when that ends the `<Dial>` (the answered leg
    /// hung up, or every leg failed), the `<Dial action>` is requested with
    /// the outcome, or the call ends when there is none.
    fn dial_outcome(&mut self, account: &str, child_sid: &str, now: DateTime<Utc>) {
        let Some(child) = self
            .calls
            .get(&(account.to_string(), child_sid.to_string()))
            .cloned()
        else {
            return;
        };
        let Some(parent_sid) = child.parent_call_sid.clone() else {
            return;
        };
        let key = (account.to_string(), parent_sid.clone());
        let Some(dial) = self.dials.get(&key) else {
            return;
        };
        if !dial.children.iter().any(|c| c == child_sid) {
            return;
        }
        let (status, bridged) = match dial.answered.as_deref() {
            Some(answered) if answered == child_sid => ("completed".to_string(), true),
            Some(_) => return,
            None => {
                let all_over = dial.children.iter().all(|c| {
                    self.calls
                        .get(&(account.to_string(), c.clone()))
                        .is_none_or(|call| is_terminal(&call.status))
                });
                if !all_over {
                    return;
                }
                (child.status.clone(), false)
            }
        };
        let Some(dial) = self.dials.remove(&key) else {
            return;
        };
        let Some(parent) = self.calls.get(&key).cloned() else {
            return;
        };
        let Some(action) = dial.action else {
            self.hang_up(account, &parent_sid, now);
            return;
        };
        let duration = match (child.start_time, child.end_time) {
            (Some(start), Some(end)) => (end - start).num_seconds().max(0),
            _ => 0,
        };
        let params = FormParams::from_pairs(vec![
            ("AccountSid".to_string(), account.to_string()),
            ("ApiVersion".into(), "2010-04-01".into()),
            ("CallSid".into(), parent.sid.clone()),
            ("CallStatus".into(), parent.status.clone()),
            ("Called".into(), parent.to.clone()),
            ("Caller".into(), parent.from.clone()),
            ("DialBridged".into(), bridged.to_string()),
            ("DialCallDuration".into(), duration.to_string()),
            ("DialCallSid".into(), child.sid.clone()),
            ("DialCallStatus".into(), status),
            ("Direction".into(), parent.direction.clone()),
            ("From".into(), parent.from.clone()),
            ("To".into(), parent.to.clone()),
        ]);
        self.sign_for(account, action, params, Some(parent_sid));
    }

    /// Executes TwiML on a call: what it was doing stops (its `<Dial>`
    /// legs end, it leaves its conference), then its verbs run.
    pub(super) fn execute(&mut self, account: &str, sid: &str, xml: &str, now: DateTime<Utc>) {
        let key = (account.to_string(), sid.to_string());
        let Some(verbs) = script::verbs(xml) else {
            return;
        };
        match self.calls.get(&key) {
            Some(call) if !is_terminal(&call.status) => {}
            _ => return,
        }
        if let Some(dial) = self.dials.remove(&key) {
            for child in dial.children {
                self.hang_up(account, &child, now);
            }
        }
        self.leave_conferences(account, sid, now);
        // Executing TwiML answers a call still ringing.
        if self
            .calls
            .get(&key)
            .is_some_and(|c| matches!(c.status.as_str(), "queued" | "initiated" | "ringing"))
        {
            self.progress(account, sid, "in-progress", now);
        }
        for verb in verbs {
            match verb.name.as_str() {
                "Hangup" | "Reject" => break,
                // Waits (hold music) until redirected again.
                "Enqueue" => return,
                "Dial" if self.dial(account, sid, &verb, now) => return,
                _ => {}
            }
        }
        // Nothing left to do: Twilio hangs up.
        self.progress(account, sid, "completed", now);
    }

    /// Starts a `<Dial>`; false when it dials nothing.
    fn dial(&mut self, account: &str, parent: &str, verb: &Element, now: DateTime<Utc>) -> bool {
        if let Some(room) = verb.children.iter().find(|n| n.name == "Conference") {
            self.join_conference(account, parent, room, now);
            return true;
        }
        let Some(parent_call) = self
            .calls
            .get(&(account.to_string(), parent.to_string()))
            .cloned()
        else {
            return false;
        };
        let mut children = Vec::new();
        for noun in &verb.children {
            let to = match noun.name.as_str() {
                "Client" => format!("client:{}", noun.text),
                "Number" => noun.text.clone(),
                _ => continue,
            };
            let sid = self.next_sid("CA");
            let mut call = FakeCall::new(sid.clone(), "queued");
            call.parent_call_sid = Some(parent.to_string());
            call.direction = "outbound-dial".into();
            call.to = to;
            call.from = verb
                .attribute("callerId")
                .unwrap_or(&parent_call.from)
                .to_string();
            call.start_time = None;
            call.status_callback = noun
                .attribute("statusCallback")
                .map(script::without_fragment);
            call.status_callback_events = noun
                .attribute("statusCallbackEvent")
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
            self.calls.insert((account.to_string(), sid.clone()), call);
            children.push(sid);
        }
        if children.is_empty() {
            return false;
        }
        self.dials.insert(
            (account.to_string(), parent.to_string()),
            Dial {
                action: verb.attribute("action").map(script::without_fragment),
                children: children.clone(),
                answered: None,
            },
        );
        for child in &children {
            self.progress(account, child, "initiated", now);
            self.progress(account, child, "ringing", now);
        }
        true
    }

    fn join_conference(
        &mut self,
        account: &str,
        call_sid: &str,
        room: &Element,
        now: DateTime<Utc>,
    ) {
        let existing = self
            .conferences
            .iter()
            .find(|((a, _), c)| {
                a == account && c.friendly_name == room.text && c.status != "completed"
            })
            .map(|(_, c)| c.sid.clone());
        let conference_sid = match existing {
            Some(sid) => sid,
            None => {
                let sid = self.next_sid("CF");
                let conference = FakeConference {
                    sid: sid.clone(),
                    friendly_name: room.text.clone(),
                    status: "in-progress".into(),
                    status_callback: room
                        .attribute("statusCallback")
                        .map(script::without_fragment),
                    status_callback_events: room
                        .attribute("statusCallbackEvent")
                        .unwrap_or("")
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                    callbacks_sent: 0,
                };
                self.conferences
                    .insert((account.to_string(), sid.clone()), conference);
                sid
            }
        };
        let mut participant = FakeParticipant::new(conference_sid.clone(), call_sid);
        participant.label = room.attribute("participantLabel").map(str::to_string);
        participant.end_conference_on_exit = room.attribute("endConferenceOnExit") == Some("true");
        participant.start_conference_on_enter =
            room.attribute("startConferenceOnEnter") != Some("false");
        self.participants.insert(
            (account.to_string(), conference_sid, call_sid.to_string()),
            participant.clone(),
        );
        self.conference_event(account, &participant, "participant-join", "join", now);
    }

    /// The call leaves every conference it is in.
    fn leave_conferences(&mut self, account: &str, call_sid: &str, now: DateTime<Utc>) {
        let keys: Vec<(String, String, String)> = self
            .participants
            .iter()
            .filter(|((a, _, c), p)| a == account && c == call_sid && p.status != "complete")
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            let Some(participant) = self.participants.get_mut(&key) else {
                continue;
            };
            participant.status = "complete".into();
            let participant = participant.clone();
            self.conference_event(account, &participant, "participant-leave", "leave", now);
            if participant.end_conference_on_exit {
                self.end_conference(account, &participant.conference_sid, call_sid, now);
            }
        }
    }

    /// Ends a conference: the others leave (their calls end), then
    /// `conference-end`.
    fn end_conference(
        &mut self,
        account: &str,
        conference_sid: &str,
        ended_by: &str,
        now: DateTime<Utc>,
    ) {
        let key = (account.to_string(), conference_sid.to_string());
        match self.conferences.get_mut(&key) {
            Some(conference) if conference.status != "completed" => {
                conference.status = "completed".into();
            }
            _ => return,
        }
        let others: Vec<String> = self
            .participants
            .iter()
            .filter(|((a, c, _), p)| a == account && c == conference_sid && p.status != "complete")
            .map(|((_, _, call), _)| call.clone())
            .collect();
        for call in &others {
            self.leave_conferences(account, call, now);
            self.hang_up(account, call, now);
        }
        let Some(conference) = self.conferences.get_mut(&key) else {
            return;
        };
        if !conference.status_callback_events.iter().any(|g| g == "end") {
            return;
        }
        let Some(url) = conference.status_callback.clone() else {
            return;
        };
        let params = FormParams::from_pairs(vec![
            ("AccountSid".to_string(), account.to_string()),
            ("CallSidEndingConference".into(), ended_by.to_string()),
            ("ConferenceSid".into(), conference.sid.clone()),
            ("FriendlyName".into(), conference.friendly_name.clone()),
            (
                "ReasonConferenceEnded".into(),
                "participant-with-end-conference-on-exit-left".into(),
            ),
            (
                "SequenceNumber".into(),
                conference.callbacks_sent.to_string(),
            ),
            ("StatusCallbackEvent".into(), "conference-end".into()),
            ("Timestamp".into(), now.to_rfc2822()),
        ]);
        conference.callbacks_sent += 1;
        self.sign(account, url, params);
    }
}

impl FakeTwilio {
    /// Simulator mode (for `evo-voice demo`): from now on callbacks are
    /// delivered at once, in order, with `http`, and TwiML is executed (see
    /// the module's documentation). Callbacks queued before stay queued.
    pub fn simulate(&self, http: reqwest::Client) {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Outgoing>();
        self.lock().sim = Some(Outbox { sender, queued: 0 });
        let inner = self.inner.clone();
        let delivered = self.delivered.clone();
        let task = tokio::spawn(async move {
            while let Some(outgoing) = receiver.recv().await {
                let callback = &outgoing.callback;
                let mut request = http.post(&callback.url).body(callback.body());
                for (name, value) in callback.headers() {
                    request = request.header(name, value);
                }
                let answer = match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        let body = response.text().await.unwrap_or_default();
                        if status.is_success() {
                            Some(body)
                        } else {
                            tracing::warn!(url = %callback.url, %status, "the simulated Twilio's callback was refused");
                            None
                        }
                    }
                    Err(error) => {
                        tracing::warn!(url = %callback.url, %error, "the simulated Twilio's callback failed");
                        None
                    }
                };
                if let (Some(call), Some(body)) = (&outgoing.execute_on, answer) {
                    let mut state = inner.lock().unwrap_or_else(|e| e.into_inner());
                    state.execute(&outgoing.account, call, &body, Utc::now());
                }
                delivered.send_modify(|n| *n += 1);
            }
        });
        if let Ok(mut slot) = self.delivery.lock() {
            if let Some(old) = slot.replace(task) {
                old.abort();
            }
        }
    }

    /// Waits until every callback sent so far (and those their answers
    /// caused) has been delivered. Simulator mode only; returns at once otherwise.
    pub async fn flush(&self) {
        let mut watcher = self.delivered.subscribe();
        loop {
            let queued = self.lock().sim.as_ref().map_or(0, |o| o.queued);
            if *watcher.borrow_and_update() >= queued {
                return;
            }
            if watcher.changed().await.is_err() {
                return;
            }
        }
    }

    /// An inbound call arrives: Twilio requests `voice_url` (signed) and
    /// executes the TwiML it answers (simulator mode).
    pub fn incoming_call(&self, account_sid: &str, call: FakeCall, voice_url: &str) {
        let mut state = self.lock();
        state.forget_old(Utc::now() - chrono::Duration::seconds(KEEP_ENDED_SECS));
        let params = FormParams::from_pairs(vec![
            ("AccountSid".to_string(), account_sid.to_string()),
            ("ApiVersion".into(), "2010-04-01".into()),
            ("CallSid".into(), call.sid.clone()),
            ("CallStatus".into(), call.status.clone()),
            ("Called".into(), call.to.clone()),
            ("Caller".into(), call.from.clone()),
            ("Direction".into(), call.direction.clone()),
            ("From".into(), call.from.clone()),
            ("To".into(), call.to.clone()),
        ]);
        let sid = call.sid.clone();
        state
            .calls
            .insert((account_sid.to_string(), sid.clone()), call);
        state.sign_for(account_sid, voice_url.to_string(), params, Some(sid));
    }

    /// The device a `<Dial>` leg rings answers (the other legs stop ringing).
    pub fn answer_call(&self, account_sid: &str, call_sid: &str) {
        self.lock().answer(account_sid, call_sid, Utc::now());
    }

    /// The far end hangs up (a ringing leg: `canceled`).
    pub fn hang_up(&self, account_sid: &str, call_sid: &str) {
        self.lock().hang_up(account_sid, call_sid, Utc::now());
    }

    /// A ringing leg is not answered (`no-answer`).
    pub fn ring_out(&self, account_sid: &str, call_sid: &str) {
        self.lock()
            .progress(account_sid, call_sid, "no-answer", Utc::now());
    }

    /// The legs a call dialled, oldest first.
    pub fn children(&self, account_sid: &str, parent_call_sid: &str) -> Vec<FakeCall> {
        let mut children: Vec<FakeCall> = self
            .lock()
            .calls
            .iter()
            .filter(|((a, _), c)| {
                a == account_sid && c.parent_call_sid.as_deref() == Some(parent_call_sid)
            })
            .map(|(_, c)| c.clone())
            .collect();
        // SIDs are issued in order.
        children.sort_by(|a, b| a.sid.cmp(&b.sid));
        children
    }

    /// Every call of the account, oldest first.
    pub fn calls(&self, account_sid: &str) -> Vec<FakeCall> {
        let mut calls: Vec<FakeCall> = self
            .lock()
            .calls
            .iter()
            .filter(|((a, _), _)| a == account_sid)
            .map(|(_, c)| c.clone())
            .collect();
        calls.sort_by(|a, b| a.date_created.cmp(&b.date_created).then(a.sid.cmp(&b.sid)));
        calls
    }

    /// The participants of a conference.
    pub fn participants(&self, account_sid: &str, conference_sid: &str) -> Vec<FakeParticipant> {
        self.lock()
            .participants
            .iter()
            .filter(|((a, c, _), _)| a == account_sid && c == conference_sid)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The latest conference named `friendly_name`.
    pub fn conference_named(
        &self,
        account_sid: &str,
        friendly_name: &str,
    ) -> Option<FakeConference> {
        self.lock()
            .conferences
            .iter()
            .filter(|((a, _), c)| a == account_sid && c.friendly_name == friendly_name)
            .map(|(_, c)| c.clone())
            .next_back()
    }
}
