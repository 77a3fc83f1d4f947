//! Measures `apply_in_place` cost as a session grows (chat messages and
//! conference mute toggles, in order). `cargo run --release -p evo-core --example apply_cost`
use chrono::{Duration, TimeZone, Utc};
use evo_core::api::sessions::{FlowChannels, SessionMemberRoles};
use evo_core::event::*;
use evo_core::reducer::{apply_in_place, open};
use evo_core::session::SessionHeader;
use std::time::Instant;

fn main() {
    let start = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    for (name, chat) in [("chat messages", true), ("conference mute toggles", false)] {
        let header = SessionHeader {
            channel: if chat {
                FlowChannels::Chat
            } else {
                FlowChannels::Voice
            },
            call_sid: Some("CAroot".into()),
            origin: Some(Party {
                identity: "+15557770000".into(),
                endpoint_id: None,
                display_name: None,
                role: SessionMemberRoles::Caller,
            }),
            ..SessionHeader::default()
        };
        let mut session = open("s", header, start);
        let mut last = Instant::now();
        for n in 0..20_000u32 {
            let at = start + Duration::seconds(i64::from(n));
            let event = if chat {
                SessionEvent {
                    at,
                    clock: Clock::Server,
                    source: EventSource::Message {
                        message_sid: format!("SM{n}").into(),
                    },
                    kind: EventKind::MessageReceived {
                        from: "+1".into(),
                        body: format!("m{n}"),
                        media: vec![],
                    },
                }
            } else {
                SessionEvent {
                    at,
                    clock: Clock::Twilio,
                    source: EventSource::Conference {
                        conference_sid: "CF1".into(),
                        sequence: Some(n),
                    },
                    kind: EventKind::Participant {
                        conference_sid: "CF1".into(),
                        change: if n % 2 == 0 {
                            ParticipantChange::Mute
                        } else {
                            ParticipantChange::Unmute
                        },
                        call_sid: Some("CAagent".into()),
                        label: None,
                        party: None,
                        muted: Some(n % 2 == 0),
                        hold: Some(false),
                        coaching: None,
                    },
                }
            };
            apply_in_place(&mut session, &event);
            if (n + 1) % 5_000 == 0 {
                let per = last.elapsed() / 5_000;
                println!(
                    "{name}: events {}..{}: {per:?} per apply_in_place",
                    n + 1 - 5_000,
                    n + 1
                );
                last = Instant::now();
            }
        }
    }
}
