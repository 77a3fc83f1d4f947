//! Bytes of the snapshot the store writes per commit as a chat grows (the
//! figure issue 12 asks to make flat). `cargo run -p evo-core --example snapshot_size`
use chrono::{Duration, TimeZone, Utc};
use evo_core::api::sessions::{FlowChannels, SessionMemberRoles};
use evo_core::event::{Clock, EventKind, EventSource, Party, SessionEvent};
use evo_core::reducer::{apply_in_place, open};
use evo_core::session::SessionHeader;

fn main() {
    let start = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    let header = SessionHeader {
        channel: FlowChannels::Chat,
        call_sid: Some("+15557770000:+15550001000".into()),
        origin: Some(Party {
            identity: "+15557770000".into(),
            endpoint_id: None,
            display_name: None,
            role: SessionMemberRoles::Caller,
        }),
        ..SessionHeader::default()
    };
    let mut session = open("ses-acc-chat", header, start);
    for n in 0..10_000usize {
        apply_in_place(
            &mut session,
            &SessionEvent {
                at: start + Duration::seconds(n as i64),
                clock: Clock::Server,
                source: EventSource::Message {
                    message_sid: format!("SM{n:032x}").into(),
                },
                kind: EventKind::MessageReceived {
                    from: "+15557770000".into(),
                    body: format!("message {n}: when can someone call me back?"),
                    media: Vec::new(),
                },
            },
        );
        if [10, 1_000, 10_000].contains(&(n + 1)) {
            let bytes = serde_json::to_vec(&session).unwrap().len();
            println!("{:>6} events: {bytes:>9} snapshot bytes per commit", n + 1);
        }
    }
}
