//! Canonical call scenarios as event sequences, in the order they happen.
//!
//! The reducer tests, the property tests and the demo all use these, so the
//! demo shows exactly the transitions the tests prove.

use chrono::{DateTime, Duration, Utc};

use crate::api::sessions::{
    FlowChannels, SessionDirections, SessionHoldReasons, SessionMemberRoles,
};
use crate::domain::Crumb;
use crate::event::{
    CallProgress, Clock, EventKind, EventSource, ParticipantChange, Party, SessionEvent,
};
use crate::ids::{AccountId, CallSid, ConferenceSid, EndpointId, SessionId, UserId};
use crate::session::SessionHeader;

/// Who takes part in a scenario.
#[derive(Debug, Clone)]
pub struct Cast {
    pub account_id: AccountId,
    pub account_name: String,
    pub customer: Option<Crumb>,
    pub breadcrumb: Vec<Crumb>,
    /// The phone number endpoint (id, E.164 number, display name).
    pub number: (EndpointId, String, String),
    /// Agents as (user id, identity, display name).
    pub agents: Vec<(UserId, String, String)>,
    /// The external caller's number.
    pub caller: String,
}

/// A scenario: how the session opens and what then happens, in order.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub session_id: SessionId,
    pub opened_at: DateTime<Utc>,
    pub header: SessionHeader,
    pub events: Vec<SessionEvent>,
}

/// The kinds of call flow a scenario plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    InboundAnswered,
    InboundMissed,
    QueuedAnswered,
    BlindTransfer,
    WarmTransfer,
    HoldUnhold,
    Outbound,
    SmsChat,
}

/// Every scenario kind, for tests that cover them all.
pub const KINDS: &[Kind] = &[
    Kind::InboundAnswered,
    Kind::InboundMissed,
    Kind::QueuedAnswered,
    Kind::BlindTransfer,
    Kind::WarmTransfer,
    Kind::HoldUnhold,
    Kind::Outbound,
    Kind::SmsChat,
];

impl Kind {
    /// The kind's name (`hold-unhold`), as tests and the demo print it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::InboundAnswered => "inbound-answered",
            Kind::InboundMissed => "inbound-missed",
            Kind::QueuedAnswered => "queued-answered",
            Kind::BlindTransfer => "blind-transfer",
            Kind::WarmTransfer => "warm-transfer",
            Kind::HoldUnhold => "hold-unhold",
            Kind::Outbound => "outbound",
            Kind::SmsChat => "sms-chat",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no scenario kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario '{0}'")]
pub struct UnknownKind(pub String);

impl std::str::FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(name: &str) -> Result<Self, UnknownKind> {
        KINDS
            .iter()
            .copied()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownKind(name.to_string()))
    }
}

struct Builder {
    at: DateTime<Utc>,
    root: String,
    tag: String,
    events: Vec<SessionEvent>,
    sequences: std::collections::BTreeMap<String, u32>,
    internal: u32,
}

impl Builder {
    fn tick(&mut self, seconds: i64) -> DateTime<Utc> {
        self.at += Duration::seconds(seconds);
        self.at
    }

    fn call(&mut self, seconds: i64, call_sid: &str, status: CallProgress, party: Option<Party>) {
        let at = self.tick(seconds);
        let sequence = self.sequences.entry(call_sid.to_string()).or_insert(0);
        let source = EventSource::Call {
            call_sid: CallSid::new(call_sid),
            sequence: Some(*sequence),
        };
        *sequence += 1;
        self.events.push(SessionEvent {
            at,
            clock: Clock::Twilio,
            source,
            kind: EventKind::CallStatus {
                call_sid: CallSid::new(call_sid),
                status,
                party,
                duration: None,
                sip_response_code: None,
            },
        });
    }

    fn conference(&mut self, seconds: i64, conference_sid: &str, kind: EventKind) {
        let at = self.tick(seconds);
        let sequence = self
            .sequences
            .entry(conference_sid.to_string())
            .or_insert(0);
        let source = EventSource::Conference {
            conference_sid: ConferenceSid::new(conference_sid),
            sequence: Some(*sequence),
        };
        *sequence += 1;
        self.events.push(SessionEvent {
            at,
            clock: Clock::Twilio,
            source,
            kind,
        });
    }

    fn internal(&mut self, seconds: i64, kind: EventKind) {
        let at = self.tick(seconds);
        self.internal += 1;
        let id = format!("{}-{}", self.tag, self.internal);
        self.events.push(SessionEvent {
            at,
            clock: Clock::Server,
            source: EventSource::Internal { id },
            kind,
        });
    }

    fn leg(&self, n: u32) -> CallSid {
        CallSid::new(format!("{}L{n}", self.root))
    }
}

fn agent_party(agent: &(UserId, String, String), role: SessionMemberRoles) -> Party {
    Party {
        identity: format!("client:{}", agent.1),
        endpoint_id: Some(agent.0.clone().into()),
        display_name: Some(agent.2.clone()),
        role,
    }
}

/// Builds the scenario `kind` for `cast`, starting at `start`. `tag` makes
/// SIDs unique (e.g. a counter).
pub fn build(kind: Kind, cast: &Cast, tag: &str, start: DateTime<Utc>) -> Scenario {
    let root = CallSid::new(format!("CA{tag}"));
    let mut b = Builder {
        at: start,
        root: root.to_string(),
        tag: tag.to_string(),
        events: Vec::new(),
        sequences: Default::default(),
        internal: 0,
    };
    let agent = |i: usize| cast.agents[i % cast.agents.len()].clone();
    let outgoing = kind == Kind::Outbound;
    let chat = kind == Kind::SmsChat;
    let caller_party = Party {
        identity: cast.caller.clone(),
        endpoint_id: None,
        display_name: None,
        role: SessionMemberRoles::Caller,
    };
    let header = SessionHeader {
        account_id: cast.account_id.clone(),
        account_name: cast.account_name.clone(),
        customer_id: cast.customer.as_ref().map(|c| c.id.clone()),
        customer_name: cast.customer.as_ref().map(|c| c.name.clone()),
        customer_breadcrumb: cast.breadcrumb.clone(),
        endpoint_id: if outgoing {
            agent(0).0.into()
        } else {
            cast.number.0.clone()
        },
        endpoint_name: if outgoing {
            agent(0).2
        } else {
            cast.number.2.clone()
        },
        channel: if chat {
            FlowChannels::Chat
        } else {
            FlowChannels::Voice
        },
        direction: if outgoing {
            SessionDirections::Outgoing
        } else {
            SessionDirections::Incoming
        },
        call_sid: Some(root.clone()),
        from_address: Some(if outgoing {
            format!("client:{}", agent(0).1)
        } else {
            cast.caller.clone()
        }),
        from_name: if outgoing { Some(agent(0).2) } else { None },
        to_address: Some(if outgoing {
            cast.caller.clone()
        } else {
            cast.number.1.clone()
        }),
        destination: if outgoing {
            Some(cast.caller.clone())
        } else {
            None
        },
        from_phone_number: if chat {
            Some(cast.caller.clone())
        } else {
            None
        },
        callback_number: if outgoing {
            None
        } else {
            Some(cast.caller.clone())
        },
        display_name: Some(if outgoing {
            cast.caller.clone()
        } else {
            format!("{} → {}", cast.caller, cast.number.2)
        }),
        origin: Some(if outgoing {
            agent_party(&agent(0), SessionMemberRoles::Agent)
        } else {
            caller_party.clone()
        }),
    };
    let (a0, a1, a2) = (agent(0), agent(1), agent(2));
    match kind {
        Kind::InboundAnswered => {
            b.call(0, &root, CallProgress::Ringing, None);
            b.call(1, &root, CallProgress::InProgress, None);
            let (l1, l2) = (b.leg(1), b.leg(2));
            b.call(
                1,
                &l1,
                CallProgress::Ringing,
                Some(agent_party(&a0, SessionMemberRoles::Agent)),
            );
            b.call(
                0,
                &l2,
                CallProgress::Ringing,
                Some(agent_party(&a1, SessionMemberRoles::Agent)),
            );
            b.call(
                4,
                &l1,
                CallProgress::InProgress,
                Some(agent_party(&a0, SessionMemberRoles::Agent)),
            );
            b.call(
                0,
                &l2,
                CallProgress::Canceled,
                Some(agent_party(&a1, SessionMemberRoles::Agent)),
            );
            b.call(
                40,
                &l1,
                CallProgress::Completed,
                Some(agent_party(&a0, SessionMemberRoles::Agent)),
            );
            b.call(0, &root, CallProgress::Completed, None);
        }
        Kind::InboundMissed => {
            b.call(0, &root, CallProgress::Ringing, None);
            b.call(1, &root, CallProgress::InProgress, None);
            let l1 = b.leg(1);
            b.call(
                1,
                &l1,
                CallProgress::Ringing,
                Some(agent_party(&a0, SessionMemberRoles::Agent)),
            );
            b.call(
                20,
                &l1,
                CallProgress::NoAnswer,
                Some(agent_party(&a0, SessionMemberRoles::Agent)),
            );
            b.call(1, &root, CallProgress::Completed, None);
        }
        Kind::QueuedAnswered => {
            b.call(0, &root, CallProgress::Ringing, None);
            b.call(1, &root, CallProgress::InProgress, None);
            b.internal(
                0,
                EventKind::Enqueued {
                    queue_name: "support".into(),
                },
            );
            let l1 = b.leg(1);
            b.call(
                15,
                &l1,
                CallProgress::Ringing,
                Some(agent_party(&a1, SessionMemberRoles::Agent)),
            );
            b.call(
                3,
                &l1,
                CallProgress::InProgress,
                Some(agent_party(&a1, SessionMemberRoles::Agent)),
            );
            b.call(
                30,
                &l1,
                CallProgress::Completed,
                Some(agent_party(&a1, SessionMemberRoles::Agent)),
            );
            b.call(0, &root, CallProgress::Completed, None);
        }
        Kind::BlindTransfer => {
            b.call(0, &root, CallProgress::Ringing, None);
            b.call(1, &root, CallProgress::InProgress, None);
            let (l1, l2) = (b.leg(1), b.leg(2));
            b.call(
                1,
                &l1,
                CallProgress::Ringing,
                Some(agent_party(&a0, SessionMemberRoles::Agent)),
            );
            b.call(
                3,
                &l1,
                CallProgress::InProgress,
                Some(agent_party(&a0, SessionMemberRoles::Agent)),
            );
            b.internal(
                20,
                EventKind::TransferStarted {
                    by_user_id: Some(a0.0.clone()),
                    target: agent_party(&a2, SessionMemberRoles::Transfer),
                    blind: true,
                },
            );
            b.call(
                0,
                &l1,
                CallProgress::Completed,
                Some(agent_party(&a0, SessionMemberRoles::Agent)),
            );
            b.call(
                1,
                &l2,
                CallProgress::Ringing,
                Some(agent_party(&a2, SessionMemberRoles::Transfer)),
            );
            b.call(
                4,
                &l2,
                CallProgress::InProgress,
                Some(agent_party(&a2, SessionMemberRoles::Transfer)),
            );
            b.call(
                60,
                &l2,
                CallProgress::Completed,
                Some(agent_party(&a2, SessionMemberRoles::Transfer)),
            );
            b.call(0, &root, CallProgress::Completed, None);
        }
        Kind::WarmTransfer => {
            let conference = ConferenceSid::new(format!("CF{tag}"));
            let (l1, l2) = (b.leg(1), b.leg(2));
            b.call(0, &root, CallProgress::Ringing, None);
            b.call(1, &root, CallProgress::InProgress, None);
            b.conference(
                1,
                &conference,
                EventKind::Participant {
                    conference_sid: conference.clone(),
                    change: ParticipantChange::Join,
                    call_sid: Some(root.clone()),
                    label: None,
                    party: None,
                    muted: Some(false),
                    hold: Some(false),
                    coaching: None,
                },
            );
            b.conference(
                3,
                &conference,
                EventKind::Participant {
                    conference_sid: conference.clone(),
                    change: ParticipantChange::Join,
                    call_sid: Some(l1.clone()),
                    label: None,
                    party: Some(agent_party(&a0, SessionMemberRoles::Agent)),
                    muted: Some(false),
                    hold: Some(false),
                    coaching: None,
                },
            );
            b.internal(
                20,
                EventKind::TransferStarted {
                    by_user_id: Some(a0.0.clone()),
                    target: agent_party(&a1, SessionMemberRoles::Transfer),
                    blind: false,
                },
            );
            b.conference(
                0,
                &conference,
                EventKind::Participant {
                    conference_sid: conference.clone(),
                    change: ParticipantChange::Hold,
                    call_sid: Some(root.clone()),
                    label: None,
                    party: None,
                    muted: Some(false),
                    hold: Some(true),
                    coaching: None,
                },
            );
            b.conference(
                5,
                &conference,
                EventKind::Participant {
                    conference_sid: conference.clone(),
                    change: ParticipantChange::Join,
                    call_sid: Some(l2.clone()),
                    label: None,
                    party: Some(agent_party(&a1, SessionMemberRoles::Transfer)),
                    muted: Some(false),
                    hold: Some(false),
                    coaching: None,
                },
            );
            b.conference(
                10,
                &conference,
                EventKind::Participant {
                    conference_sid: conference.clone(),
                    change: ParticipantChange::Unhold,
                    call_sid: Some(root.clone()),
                    label: None,
                    party: None,
                    muted: Some(false),
                    hold: Some(false),
                    coaching: None,
                },
            );
            b.conference(
                5,
                &conference,
                EventKind::Participant {
                    conference_sid: conference.clone(),
                    change: ParticipantChange::Leave,
                    call_sid: Some(l1.clone()),
                    label: None,
                    party: None,
                    muted: Some(false),
                    hold: Some(false),
                    coaching: None,
                },
            );
            b.conference(
                60,
                &conference,
                EventKind::Participant {
                    conference_sid: conference.clone(),
                    change: ParticipantChange::Leave,
                    call_sid: Some(l2.clone()),
                    label: None,
                    party: None,
                    muted: Some(false),
                    hold: Some(false),
                    coaching: None,
                },
            );
            b.conference(
                0,
                &conference,
                EventKind::ConferenceEnded {
                    conference_sid: conference.clone(),
                    reason: Some("last-participant-left".into()),
                },
            );
            b.call(0, &root, CallProgress::Completed, None);
        }
        Kind::HoldUnhold => {
            b.call(0, &root, CallProgress::Ringing, None);
            b.call(1, &root, CallProgress::InProgress, None);
            let l1 = b.leg(1);
            b.call(
                1,
                &l1,
                CallProgress::Ringing,
                Some(agent_party(&a2, SessionMemberRoles::Agent)),
            );
            b.call(
                2,
                &l1,
                CallProgress::InProgress,
                Some(agent_party(&a2, SessionMemberRoles::Agent)),
            );
            b.internal(
                15,
                EventKind::HoldStarted {
                    call_sid: Some(root.clone()),
                    by_user_id: Some(a2.0.clone()),
                    reason: SessionHoldReasons::None,
                    queue_name: Some(format!("hold-{tag}")),
                },
            );
            b.internal(
                20,
                EventKind::HoldEnded {
                    call_sid: Some(root.clone()),
                },
            );
            b.call(
                30,
                &l1,
                CallProgress::Completed,
                Some(agent_party(&a2, SessionMemberRoles::Agent)),
            );
            b.call(0, &root, CallProgress::Completed, None);
        }
        Kind::Outbound => {
            b.call(0, &root, CallProgress::Initiated, None);
            b.call(0, &root, CallProgress::InProgress, None);
            let l1 = b.leg(1);
            b.call(1, &l1, CallProgress::Initiated, Some(caller_party.clone()));
            b.call(1, &l1, CallProgress::Ringing, Some(caller_party.clone()));
            b.call(6, &l1, CallProgress::InProgress, Some(caller_party.clone()));
            b.call(45, &l1, CallProgress::Completed, Some(caller_party.clone()));
            b.call(0, &root, CallProgress::Completed, None);
        }
        Kind::SmsChat => {
            for (n, body) in ["Hi, is my order shipped?", "It's order 1234", "Thanks!"]
                .iter()
                .enumerate()
            {
                let at = b.tick(if n == 0 { 0 } else { 30 });
                b.events.push(SessionEvent {
                    at,
                    clock: Clock::Server,
                    source: EventSource::Message {
                        message_sid: format!("SM{tag}{n}").into(),
                    },
                    kind: EventKind::MessageReceived {
                        from: cast.caller.clone(),
                        body: (*body).to_string(),
                        media: Vec::new(),
                    },
                });
            }
            b.internal(
                600,
                EventKind::Ended {
                    outcome: "completed".into(),
                    reason: "conversation closed".into(),
                },
            );
        }
    }
    Scenario {
        name: kind.name(),
        session_id: SessionId::new(format!("ses-{tag}")),
        opened_at: start,
        header,
        events: b.events,
    }
}
