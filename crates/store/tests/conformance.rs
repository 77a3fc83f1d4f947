//! One conformance suite, run against the embedded SQLite store and a
//! throwaway PostgreSQL cluster: whatever the backend, the store behaves
//! the same.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use evo_core::domain::{Account, Crumb, Customer, Endpoint, EndpointKind, Role, User};
use evo_core::reducer::{apply, open};
use evo_core::scenario::{build, Cast, Kind};
use evo_store::group_commit::GroupCommitter;
use evo_store::testing::{one_connection, PostgresCluster};
use evo_store::{open_store, AuthSession, SessionChange, Store, StoreError};

fn cast() -> Cast {
    evo_store::testing::one_agent_cast()
}

async fn seed_directory(store: &dyn Store) {
    store
        .create_account(&Account {
            id: "acc1".into(),
            name: "Acme".into(),
            twilio_account_sid: Some("AC00000000000000000000000000000001".into()),
            twilio_auth_token: Some("token".into()),
        })
        .await
        .unwrap();
    for (id, parent, name) in [
        ("c1", None, "Root"),
        ("c2", Some("c1"), "Middle"),
        ("c3", Some("c2"), "Leaf"),
    ] {
        store
            .create_customer(&Customer {
                id: id.into(),
                account_id: "acc1".into(),
                parent_id: parent.map(Into::into),
                name: name.into(),
            })
            .await
            .unwrap();
    }
    let user = User {
        id: "usr1".into(),
        account_id: "acc1".into(),
        email: "Alice@Acme.test".into(),
        display_name: "Alice".into(),
        password_hash: "$argon2id$x".into(),
        roles: vec![Role::User],
    };
    let endpoint = Endpoint {
        id: "usr1".into(),
        account_id: "acc1".into(),
        customer_id: Some("c3".into()),
        kind: EndpointKind::User,
        display_name: "Alice".into(),
        address: "alice@acme.test".into(),
        ring_user_ids: vec![],
        queue_name: None,
    };
    store.create_user(&user, &endpoint).await.unwrap();
    store
        .create_endpoint(&Endpoint {
            id: "num1".into(),
            account_id: "acc1".into(),
            customer_id: None,
            kind: EndpointKind::PhoneNumber,
            display_name: "Main".into(),
            address: "+15550100".into(),
            ring_user_ids: vec!["usr1".into()],
            queue_name: Some("support".into()),
        })
        .await
        .unwrap();
}

/// Twilio auth token rotation: add the new token, both accepted, remove the
/// old one, the new one is the primary.
async fn token_rotation(store: &dyn Store) {
    let list = || async {
        store
            .account_auth_tokens(&"acc1".into())
            .await
            .unwrap()
            .iter()
            .map(|t| t.expose().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(list().await, ["token"]);
    let at = chrono::Utc::now();
    store
        .add_account_auth_token(&"acc1".into(), "token-2", at)
        .await
        .unwrap();
    assert_eq!(list().await, ["token", "token-2"]);
    assert!(matches!(
        store
            .add_account_auth_token(&"acc1".into(), "token-2", at)
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        store
            .add_account_auth_token(&"acc1".into(), "token", at)
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        store.add_account_auth_token(&"nope".into(), "x", at).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.account_auth_tokens(&"nope".into()).await,
        Err(StoreError::NotFound(_))
    ));
    // Removing the primary promotes the added token.
    store
        .remove_account_auth_token(&"acc1".into(), "token")
        .await
        .unwrap();
    assert_eq!(list().await, ["token-2"]);
    let account = store.account(&"acc1".into()).await.unwrap().unwrap();
    assert_eq!(
        account.twilio_auth_token.as_ref().map(|t| t.expose()),
        Some("token-2")
    );
    assert!(matches!(
        store
            .remove_account_auth_token(&"acc1".into(), "token")
            .await,
        Err(StoreError::NotFound(_))
    ));
    // Back to the seeded state: "token" primary, no others.
    store
        .add_account_auth_token(&"acc1".into(), "token", at)
        .await
        .unwrap();
    store
        .remove_account_auth_token(&"acc1".into(), "token-2")
        .await
        .unwrap();
    assert_eq!(list().await, ["token"]);
}

/// The batched reads the authenticator re-checks its cached tokens with:
/// only stored rows come back, from every chunk of a long id list.
async fn auth_batches(store: &dyn Store) {
    assert!(store.auth_sessions_by_ids(&[]).await.unwrap().is_empty());
    assert!(store.users_by_ids(&[]).await.unwrap().is_empty());
    let now = Utc::now();
    // 1,200 ids: more than two chunks of the IN list; the stored ones sit in
    // the first, second and third chunk.
    let mut ids: Vec<String> = (0..1_200).map(|i| format!("missing{i}")).collect();
    let generation = store.auth_generation().await.unwrap();
    for (position, id) in [(3, "b1"), (650, "b2"), (1_150, "b3")] {
        store
            .create_auth_session(&AuthSession {
                id: id.into(),
                user_id: "usr1".into(),
                created_at: now,
                expires_at: now + chrono::Duration::minutes(position),
            })
            .await
            .unwrap();
        ids[position as usize] = id.to_string();
    }
    let mut found = store.auth_sessions_by_ids(&ids).await.unwrap();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        found.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["b1", "b2", "b3"]
    );
    for session in &found {
        assert_eq!(
            session,
            &store.auth_session(&session.id).await.unwrap().unwrap()
        );
    }
    // New sessions invalidate no verified token: the generation stays.
    assert_eq!(store.auth_generation().await.unwrap(), generation);
    store.delete_auth_session("b2").await.unwrap();
    let moved = store.auth_generation().await.unwrap();
    assert!(moved > generation, "a sign-out moves the auth generation");
    let after: Vec<String> = store
        .auth_sessions_by_ids(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(after.len(), 2);
    assert!(
        !after.contains(&"b2".to_string()),
        "a deleted session is gone"
    );
    for id in ["b1", "b3"] {
        store.delete_auth_session(id).await.unwrap();
    }

    let mut user_ids: Vec<evo_core::ids::UserId> =
        (0..1_001).map(|i| format!("nobody{i}").into()).collect();
    user_ids[700] = "usr1".into();
    let users = store.users_by_ids(&user_ids).await.unwrap();
    assert_eq!(
        users,
        vec![store.user(&"usr1".into()).await.unwrap().unwrap()]
    );
}

async fn suite(store: Arc<dyn Store>) {
    seed_directory(store.as_ref()).await;
    token_rotation(store.as_ref()).await;
    assert_eq!(
        store.ring_assignments().await.unwrap(),
        vec![("num1".into(), "usr1".into())]
    );

    // Directory round trips.
    let account = store
        .account_by_twilio_sid(&"AC00000000000000000000000000000001".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.name, "Acme");
    let user = store
        .user_by_email("alice@ACME.test")
        .await
        .unwrap()
        .expect("case-insensitive e-mail");
    assert_eq!(user.roles, vec![Role::User]);
    let number = store
        .endpoint_by_address(&"acc1".into(), "+15550100")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(number.ring_user_ids, vec!["usr1".to_string()]);
    assert_eq!(number.queue_name.as_deref(), Some("support"));
    assert_eq!(
        store.endpoint_ids_of_user(&"usr1".into()).await.unwrap(),
        vec!["usr1".to_string(), "num1".to_string()]
    );
    let crumbs: Vec<String> = store
        .customer_breadcrumb(&"c3".into())
        .await
        .unwrap()
        .into_iter()
        .map(|c: Crumb| c.name)
        .collect();
    assert_eq!(crumbs, ["Root", "Middle", "Leaf"]);

    // A duplicate e-mail address, whatever its case, is refused.
    let mut twin = user.clone();
    twin.id = "usr2".into();
    twin.email = "ALICE@acme.test".into();
    let mut twin_endpoint = number.clone();
    twin_endpoint.id = "usr2".into();
    twin_endpoint.kind = EndpointKind::User;
    twin_endpoint.address = "ALICE@acme.test".into();
    assert!(matches!(
        store.create_user(&twin, &twin_endpoint).await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(
        store.user(&"usr2".into()).await.unwrap().is_none(),
        "nothing of a failed create remains"
    );

    // Settings keep their first value.
    assert_eq!(store.setting_or_init("k", "first").await.unwrap(), "first");
    assert_eq!(store.setting_or_init("k", "second").await.unwrap(), "first");

    // Sign-in sessions.
    let now = Utc::now();
    store
        .create_auth_session(&AuthSession {
            id: "s1".into(),
            user_id: "usr1".into(),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
        })
        .await
        .unwrap();
    assert_eq!(
        store.auth_session("s1").await.unwrap().unwrap().user_id,
        "usr1"
    );
    store.delete_auth_session("s1").await.unwrap();
    assert!(store.auth_session("s1").await.unwrap().is_none());
    auth_batches(store.as_ref()).await;

    // Sessions: open, events, reload equal; duplicates logged once.
    let start = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let plan = build(Kind::InboundAnswered, &cast(), "S1", start);
    let mut session = open(&plan.session_id, plan.header.clone(), plan.opened_at);
    store
        .commit(&[SessionChange {
            session: session.clone(),
            event: None,
            expected_version: None,
            keys: vec!["CAS1".into()],
        }])
        .await
        .unwrap();
    for event in &plan.events[..4] {
        let next = apply(&session, event);
        store
            .commit(&[SessionChange {
                session: next.clone(),
                event: Some(event.clone()),
                expected_version: Some(session.version()),
                keys: vec![],
            }])
            .await
            .unwrap();
        session = next;
    }
    assert_eq!(
        store.session(&plan.session_id).await.unwrap().unwrap(),
        session
    );
    let written = store
        .sessions_written_since(Utc::now() - chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        written,
        vec![session.clone()],
        "other nodes can see what was written"
    );
    assert!(store
        .sessions_written_since(Utc::now() + chrono::Duration::minutes(5))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.session_id_by_key("CAS1").await.unwrap().as_deref(),
        Some(plan.session_id.as_str())
    );
    assert_eq!(
        store.session_events(&plan.session_id).await.unwrap(),
        plan.events[..4].to_vec()
    );

    // A stale expected version conflicts and writes nothing of its batch.
    let next = apply(&session, &plan.events[4]);
    let stale = store
        .commit(&[SessionChange {
            session: next.clone(),
            event: Some(plan.events[4].clone()),
            expected_version: Some(session.version() - 1),
            keys: vec!["never".into()],
        }])
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))));
    assert_eq!(
        store.session_events(&plan.session_id).await.unwrap().len(),
        4
    );
    assert!(store.session_id_by_key("never").await.unwrap().is_none());

    // Active sessions exclude ended ones.
    assert_eq!(store.active_sessions().await.unwrap().len(), 1);
    let mut ended = session.clone();
    for event in &plan.events[4..] {
        ended = apply(&ended, event);
    }
    store
        .commit(&[SessionChange {
            session: ended.clone(),
            event: plan.events.last().cloned(),
            expected_version: Some(session.version()),
            keys: vec![],
        }])
        .await
        .unwrap();
    assert!(!ended.is_active());
    assert!(store.active_sessions().await.unwrap().is_empty());

    // Group commit: many concurrent writers, every change durable.
    let committer = GroupCommitter::new(store.clone());
    let mut tasks = Vec::new();
    for n in 0..50 {
        let committer = committer.clone();
        tasks.push(tokio::spawn(async move {
            let plan = build(Kind::HoldUnhold, &cast(), &format!("G{n}"), start);
            let mut session = open(&plan.session_id, plan.header.clone(), plan.opened_at);
            committer
                .submit(SessionChange {
                    session: session.clone(),
                    event: None,
                    expected_version: None,
                    keys: vec![],
                })
                .await
                .unwrap();
            for event in &plan.events[..3] {
                let next = apply(&session, event);
                committer
                    .submit(SessionChange {
                        session: next.clone(),
                        event: Some(event.clone()),
                        expected_version: Some(session.version()),
                        keys: vec![],
                    })
                    .await
                    .unwrap();
                session = next;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.active_sessions().await.unwrap().len(), 50);

    // Callbacks parked before their session: per account, per key, each
    // redelivery once, until dropped.
    let parking = build(Kind::InboundAnswered, &cast(), "PARK", start);
    let keys = vec!["CAPARK".to_string(), "CAPARKCHILD".to_string()];
    for event in [&parking.events[1], &parking.events[2], &parking.events[1]] {
        store
            .park_callback(&"acc1".into(), &keys, event)
            .await
            .unwrap();
    }
    let parked = store.parked_callbacks(&"acc1".into(), &keys).await.unwrap();
    assert_eq!(parked.len(), 2, "a redelivery is kept once");
    assert!(parked.contains(&parking.events[1]) && parked.contains(&parking.events[2]));
    assert!(
        store
            .parked_callbacks(&"acc2".into(), &keys)
            .await
            .unwrap()
            .is_empty(),
        "another account's key leads nowhere"
    );
    // Opening a new session reads the same in one statement; a session
    // stored already reads `None` (whatever is parked).
    assert_eq!(
        store
            .parked_unless_stored(&parking.session_id, &"acc1".into(), &keys)
            .await
            .unwrap(),
        Some(parked.clone())
    );
    assert_eq!(
        store
            .parked_unless_stored(&parking.session_id, &"acc1".into(), &keys[1..])
            .await
            .unwrap(),
        Some(parked.clone()),
        "parked under each key, read once"
    );
    assert_eq!(
        store
            .parked_unless_stored(&parking.session_id, &"acc2".into(), &keys)
            .await
            .unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        store
            .parked_unless_stored(&parking.session_id, &"acc1".into(), &[])
            .await
            .unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        store
            .parked_unless_stored(&plan.session_id, &"acc1".into(), &keys)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .parked_unless_stored(&plan.session_id, &"acc1".into(), &[])
            .await
            .unwrap(),
        None
    );
    store
        .drop_parked_callbacks(&"acc1".into(), &keys)
        .await
        .unwrap();
    assert!(store
        .parked_callbacks(&"acc1".into(), &keys)
        .await
        .unwrap()
        .is_empty());
    // Unclaimed callbacks expire: none is younger than an hour ago, all of
    // them are older than an hour from now.
    store
        .park_callback(&"acc1".into(), &keys, &parking.events[1])
        .await
        .unwrap();
    let an_hour = chrono::Duration::hours(1);
    assert_eq!(
        store
            .expire_parked_callbacks(chrono::Utc::now() - an_hour)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .parked_callbacks(&"acc1".into(), &keys)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .expire_parked_callbacks(chrono::Utc::now() + an_hour)
            .await
            .unwrap(),
        2,
        "one row per key it was parked under"
    );
    assert!(store
        .parked_callbacks(&"acc1".into(), &keys)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(committer.drain(std::time::Duration::from_secs(5)).await, 0);

    // Operations: ready, and retention of ended sessions only.
    store.check_ready().await.unwrap();
    let last = ended.last_activity();
    assert_eq!(
        store.prune_ended_sessions(last, 500).await.unwrap(),
        0,
        "a session last active at the cutoff is kept"
    );
    assert!(store.session(&plan.session_id).await.unwrap().is_some());
    // Every active session here is older than the cutoff: none goes.
    let cutoff = Utc::now() + chrono::Duration::days(1);
    assert_eq!(store.prune_ended_sessions(cutoff, 500).await.unwrap(), 1);
    assert!(store.session(&plan.session_id).await.unwrap().is_none());
    assert!(store
        .session_events(&plan.session_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store.session_id_by_key("CAS1").await.unwrap().is_none());
    assert_eq!(store.active_sessions().await.unwrap().len(), 50);
    assert_eq!(store.prune_ended_sessions(cutoff, 500).await.unwrap(), 0);
}

/// Ends `count` fresh sessions (prefix `prefix`) and leaves one active.
async fn end_sessions(store: &dyn Store, prefix: &str, count: usize) {
    let start = Utc.with_ymd_and_hms(2026, 1, 2, 9, 0, 0).unwrap();
    for n in 0..=count {
        let plan = build(
            Kind::InboundAnswered,
            &cast(),
            &format!("{prefix}{n}"),
            start,
        );
        let mut session = open(&plan.session_id, plan.header.clone(), plan.opened_at);
        let mut changes = vec![SessionChange {
            session: session.clone(),
            event: None,
            expected_version: None,
            keys: vec![format!("CA{prefix}{n}")],
        }];
        let events = if n == count {
            &plan.events[..1]
        } else {
            &plan.events[..]
        };
        for event in events {
            let next = apply(&session, event);
            changes.push(SessionChange {
                session: next.clone(),
                event: Some(event.clone()),
                expected_version: Some(session.version()),
                keys: vec![],
            });
            session = next;
        }
        for change in changes {
            store.commit(&[change]).await.unwrap();
        }
    }
}

/// Retention goes in bounded batches and never takes an active session.
async fn retention_in_batches(store: Arc<dyn Store>) {
    end_sessions(store.as_ref(), "R", 7).await;
    let active_before = store.active_sessions().await.unwrap().len();
    let cutoff = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    assert_eq!(store.prune_ended_sessions(cutoff, 3).await.unwrap(), 3);
    assert_eq!(store.prune_ended_sessions(cutoff, 3).await.unwrap(), 3);
    assert_eq!(store.prune_ended_sessions(cutoff, 3).await.unwrap(), 1);
    assert_eq!(store.prune_ended_sessions(cutoff, 3).await.unwrap(), 0);
    assert_eq!(store.active_sessions().await.unwrap().len(), active_before);
    assert!(store.session(&"ses-R7".into()).await.unwrap().is_some());
    assert!(store.session(&"ses-R0".into()).await.unwrap().is_none());
}

/// The Server Events log (migration 0010): ids per user from the database,
/// a second write of the same message gets the first's id, floors rise
/// with pruning, unfollowing and an unclean stop.
async fn event_log(store: Arc<dyn Store>) {
    use evo_store::events::{EventFeed, FeedPosition, NewEventMessage};
    let now = Utc::now();
    let later = now + chrono::Duration::minutes(10);
    let feed = EventFeed {
        user_id: "ev-u1".into(),
        account_id: "acc1".into(),
        manager: false,
    };
    let message = |dedupe: &str| NewEventMessage {
        user_id: "ev-u1".into(),
        dedupe: dedupe.into(),
        selector: "cmd.SessionInfoChanged".into(),
        account_only: false,
        body: format!("{{\"id\":\"{dedupe}\"}}"),
        session: None,
        shared: None,
    };
    // Not followed before: nothing below the floor can be replayed.
    let first = store.follow_event_feed(&feed, now, later).await.unwrap();
    assert_eq!(
        first,
        FeedPosition {
            floor: 1,
            last_id: 1
        }
    );
    // Followed already: no change.
    assert_eq!(
        store.follow_event_feed(&feed, now, later).await.unwrap(),
        first
    );
    let ids = store
        .append_event_messages(&[message("a"), message("b"), message("c")], now)
        .await
        .unwrap();
    assert_eq!(ids, vec![Some(2), Some(3), Some(4)]);
    // Written already (another node): the same id, and no id is lost.
    let ids = store
        .append_event_messages(&[message("b"), message("d")], now)
        .await
        .unwrap();
    assert_eq!(ids, vec![Some(3), Some(5)]);
    let replay = store
        .event_messages_after(&"ev-u1".into(), 2, 10)
        .await
        .unwrap();
    assert_eq!(
        replay.position,
        FeedPosition {
            floor: 1,
            last_id: 5
        }
    );
    let got: Vec<(u64, &str)> = replay
        .messages
        .iter()
        .map(|m| (m.id, m.body.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "{\"id\":\"b\"}"),
            (4, "{\"id\":\"c\"}"),
            (5, "{\"id\":\"d\"}")
        ]
    );
    assert_eq!(
        store
            .event_messages_after(&"ev-u1".into(), 3, 1)
            .await
            .unwrap()
            .messages
            .len(),
        1
    );
    assert_eq!(
        store.followed_event_feeds(now).await.unwrap(),
        vec![feed.clone()]
    );
    // A message for a user never followed is refused, not numbered.
    let stranger = NewEventMessage {
        user_id: "ev-nobody".into(),
        ..message("x")
    };
    assert!(store.append_event_messages(&[stranger], now).await.is_err());
    // Keep the last two: the floor rises to what went.
    assert_eq!(
        store
            .prune_event_messages(2, now - chrono::Duration::hours(1))
            .await
            .unwrap(),
        2
    );
    let replay = store
        .event_messages_after(&"ev-u1".into(), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        replay.position,
        FeedPosition {
            floor: 3,
            last_id: 5
        }
    );
    assert_eq!(
        replay.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![4, 5]
    );
    // And by age.
    assert_eq!(store.prune_event_messages(10, later).await.unwrap(), 2);
    let replay = store
        .event_messages_after(&"ev-u1".into(), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        replay.position,
        FeedPosition {
            floor: 5,
            last_id: 5
        }
    );
    // A clean stop leaves the floors alone; a writer that did not stop
    // (not seen since `stale_before`) raises them past every id given out.
    assert!(!store.event_writer_start("node-a", now, now).await.unwrap());
    store.event_writer_seen("node-a", now).await.unwrap();
    store.event_writer_stop("node-a").await.unwrap();
    assert!(!store.event_writer_start("node-b", now, now).await.unwrap());
    assert!(store
        .event_writer_start("node-c", later, later)
        .await
        .unwrap());
    // Past every id a power cut could have lost.
    let raised = 5 + evo_store::events::UNCLEAN_MARGIN as u64;
    let replay = store
        .event_messages_after(&"ev-u1".into(), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        replay.position,
        FeedPosition {
            floor: raised,
            last_id: raised
        }
    );
    store.event_writer_stop("node-c").await.unwrap();
    // Unfollowed: the floor rises again, and it is no longer listed.
    store.unfollow_event_feeds(&["ev-u1".into()]).await.unwrap();
    assert!(store.followed_event_feeds(now).await.unwrap().is_empty());
    let position = store.follow_event_feed(&feed, now, later).await.unwrap();
    assert_eq!(
        position,
        FeedPosition {
            floor: raised + 2,
            last_id: raised + 2
        }
    );
    // Extending a followed user keeps it listed later on.
    store
        .extend_event_feeds(&["ev-u1".into()], later + chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(store.followed_event_feeds(later).await.unwrap().len(), 1);

    // Two nodes may write a session's versions out of order: a message of
    // an older version than one already told is left out (no id used), so
    // a stream never shows a call ringing again after it ended.
    let base = raised + 2;
    let told = |dedupe: &str, version: u64| NewEventMessage {
        session: Some(("ses-1".to_string(), version)),
        ..message(dedupe)
    };
    let ids = store
        .append_event_messages(&[told("v2", 2), told("v1", 1), told("v3", 3)], later)
        .await
        .unwrap();
    assert_eq!(ids, vec![Some(base + 1), None, Some(base + 2)]);
    let replay = store
        .event_messages_after(&"ev-u1".into(), base, 10)
        .await
        .unwrap();
    assert_eq!(replay.position.last_id, base + 2);
    assert_eq!(
        replay
            .messages
            .iter()
            .map(|m| m.body.as_str())
            .collect::<Vec<_>>(),
        vec!["{\"id\":\"v2\"}", "{\"id\":\"v3\"}"]
    );

    // A batch naming a user with no feed is refused whole: nothing of it is
    // written, not even the messages of the user who has one.
    let unfollowed = NewEventMessage {
        user_id: "ev-nobody".into(),
        ..message("n1")
    };
    let refused = store
        .append_event_messages(&[message("n0"), unfollowed], later)
        .await;
    assert!(
        matches!(refused, Err(evo_store::StoreError::NotFound(_))),
        "{refused:?}"
    );
    let after_refusal = store
        .event_messages_after(&"ev-u1".into(), base, 10)
        .await
        .unwrap();
    assert_eq!(after_refusal.position.last_id, base + 2);

    // Two nodes' hubs write the same messages at once (each plans every
    // change it learns of): each message gets one id, both writers are
    // told the same ids, and the ids follow on without a gap.
    let batch: Vec<NewEventMessage> = (0..40).map(|i| message(&format!("both-{i}"))).collect();
    let (one, other) = tokio::join!(
        store.append_event_messages(&batch, later),
        store.append_event_messages(&batch, later)
    );
    let (one, other) = (one.unwrap(), other.unwrap());
    assert_eq!(one, other);
    assert_eq!(one, (base + 3..=base + 42).map(Some).collect::<Vec<_>>());

    // A node restarted under its own name (`--node-id`) without a clean
    // stop is known at once, on PostgreSQL as on SQLite.
    assert!(!store
        .event_writer_start("node-d", later, now)
        .await
        .unwrap());
    assert!(store
        .event_writer_start("node-d", later, now)
        .await
        .unwrap());
    store.event_writer_stop("node-d").await.unwrap();
    assert!(!store
        .event_writer_start("node-d", later, now)
        .await
        .unwrap());
}

/// Bodies shared by several messages (migration 0018): a session's JSON
/// is stored once for its `SessionInfoChanged`, the call-state message
/// beside it, every user's copy and each `ActiveSessionsChanged` list
/// holding it; every replay gives back each message's body byte for byte,
/// also after a second write of the same messages (another node), a prune
/// that keeps them, and a later write of the same parts after a prune
/// that took them. `raw` reads the tables directly (how many parts).
async fn shared_bodies(store: Arc<dyn Store>, raw: sqlx::AnyPool) {
    use bytes::Bytes;
    use evo_store::events::{EventFeed, NewEventMessage, SharedParts};
    let now = Utc::now();
    let until = now + chrono::Duration::hours(1);
    for user in ["sb-u1", "sb-u2"] {
        let feed = EventFeed {
            user_id: user.into(),
            account_id: "sb-acc".into(),
            manager: user == "sb-u2",
        };
        store.follow_event_feed(&feed, now, until).await.unwrap();
    }
    let ringing = Bytes::from_static(
        br#"{"id":"ses-sb-1","callState":"Ringing","note":"\u0001 caf\u00e9 \u00e9"}"#,
    );
    let other = Bytes::from_static(br#"{"id":"ses-sb-0","callState":"Connected"}"#);
    let message =
        |user: &str, dedupe: &str, selector: &str, body: &str, shared: Option<SharedParts>| {
            NewEventMessage {
                user_id: user.into(),
                dedupe: dedupe.into(),
                selector: selector.into(),
                account_only: user == "sb-u2",
                body: body.into(),
                session: Some(("ses-sb-1".to_string(), 1)),
                shared,
            }
        };
    let session = |part: &Bytes| {
        Some(SharedParts {
            at: 0,
            parts: vec![part.clone()],
        })
    };
    let list = Some(SharedParts {
        at: "{\"sessions\":[".len(),
        parts: vec![other.clone(), ringing.clone()],
    });
    let batch = vec![
        message(
            "sb-u1",
            "1:info",
            "cmd.SessionInfoChanged",
            "",
            session(&ringing),
        ),
        message(
            "sb-u1",
            "1:invite",
            "cmd.SessionInvite",
            "",
            session(&ringing),
        ),
        message(
            "sb-u1",
            "1:list",
            "cmd.ActiveSessionsChanged",
            "{\"sessions\":[]}",
            list.clone(),
        ),
        message(
            "sb-u2",
            "1:info",
            "account:sb-acc@cmd.SessionInfoChanged",
            "",
            session(&ringing),
        ),
        // Not shareable (the text around holds the mark): stored whole.
        message(
            "sb-u2",
            "1:odd",
            "cmd.Odd",
            "[\u{1}]",
            Some(SharedParts {
                at: 1,
                parts: vec![other.clone()],
            }),
        ),
        message("sb-u2", "1:plain", "cmd.Plain", "{\"plain\":true}", None),
    ];
    let expected: Vec<(&str, String)> = batch
        .iter()
        .map(|m| (m.user_id.as_str(), m.full_body()))
        .collect();
    assert_eq!(
        expected[2].1,
        format!(
            "{{\"sessions\":[{},{}]}}",
            std::str::from_utf8(&other).unwrap(),
            std::str::from_utf8(&ringing).unwrap()
        )
    );
    let replayed = |user: &'static str| {
        let store = store.clone();
        async move {
            store
                .event_messages_after(&user.into(), 0, 100)
                .await
                .unwrap()
                .messages
                .into_iter()
                .map(|m| m.body)
                .collect::<Vec<String>>()
        }
    };
    let bodies_of = |user: &str| -> Vec<String> {
        expected
            .iter()
            .filter(|(u, _)| *u == user)
            .map(|(_, body)| body.clone())
            .collect()
    };
    let ids = store.append_event_messages(&batch, now).await.unwrap();
    assert!(ids.iter().all(Option::is_some));
    assert_eq!(replayed("sb-u1").await, bodies_of("sb-u1"));
    assert_eq!(replayed("sb-u2").await, bodies_of("sb-u2"));
    // Each shared part once, however many messages carry it.
    let parts: i64 = sqlx::query_scalar("select count(*) from event_body")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(parts, 2);
    // Written again (another node): the same ids, nothing stored twice.
    assert_eq!(store.append_event_messages(&batch, now).await.unwrap(), ids);
    let again: i64 = sqlx::query_scalar("select count(*) from event_body")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(again, 2);
    // A batch whose first carrier of a new part was written already: the
    // part still reaches the message that is new.
    let ended = Bytes::from_static(br#"{"id":"ses-sb-1","callState":"Disconnected"}"#);
    let mut repeat = message(
        "sb-u1",
        "1:info",
        "cmd.SessionInfoChanged",
        "",
        session(&ended),
    );
    repeat.session = Some(("ses-sb-1".to_string(), 2));
    let mut fresh = message(
        "sb-u1",
        "2:info",
        "cmd.SessionInfoChanged",
        "",
        session(&ended),
    );
    fresh.session = Some(("ses-sb-1".to_string(), 2));
    let ids = store
        .append_event_messages(&[repeat, fresh], now)
        .await
        .unwrap();
    let mut u1 = bodies_of("sb-u1");
    u1.push(std::str::from_utf8(&ended).unwrap().to_string());
    assert_eq!(ids.len(), 2);
    assert_eq!(replayed("sb-u1").await, u1);
    // A prune that keeps the messages keeps their parts.
    store
        .prune_event_messages(100, now - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(replayed("sb-u1").await, u1);
    assert_eq!(replayed("sb-u2").await, bodies_of("sb-u2"));
    // A prune past them takes messages and parts; the same part written
    // later is stored again (under its new minute) and replays.
    let later = now + chrono::Duration::minutes(30);
    store.prune_event_messages(100, later).await.unwrap();
    assert!(replayed("sb-u1").await.is_empty());
    let left: i64 = sqlx::query_scalar("select count(*) from event_body")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let mut info = message(
        "sb-u1",
        "3:info",
        "cmd.SessionInfoChanged",
        "",
        session(&ringing),
    );
    info.session = Some(("ses-sb-1".to_string(), 3));
    store.append_event_messages(&[info], later).await.unwrap();
    assert_eq!(
        replayed("sb-u1").await,
        vec![std::str::from_utf8(&ringing).unwrap().to_string()]
    );
}

/// Writers hold a lease they renew: one not renewed since `stale_before`
/// is expired by the next renewal of another, which raises every floor (a
/// crash is found within the lease even when no node starts).
async fn writer_lease(store: Arc<dyn Store>) {
    use evo_store::events::{EventFeed, FeedPosition};
    let t0 = chrono::Utc::now();
    let t1 = t0 + chrono::Duration::seconds(30);
    let feed = EventFeed {
        user_id: "lease-u1".into(),
        account_id: "acc-1".into(),
        manager: false,
    };
    store
        .follow_event_feed(&feed, t0, t1 + chrono::Duration::hours(1))
        .await
        .unwrap();
    // Whatever earlier writers left is expired by the first renewal.
    store
        .event_writer_renew("lease-b", t0, t0 + chrono::Duration::seconds(1))
        .await
        .unwrap();
    store
        .event_writer_start("lease-a", t0, t0 - chrono::Duration::hours(1))
        .await
        .unwrap();
    // Both renewed within the lease: nobody is expired.
    assert!(!store
        .event_writer_renew("lease-b", t0, t0 - chrono::Duration::seconds(20))
        .await
        .unwrap());
    let before = store
        .event_messages_after(&"lease-u1".into(), 0, 1)
        .await
        .unwrap()
        .position;
    // lease-a is not renewed for 30 s: lease-b's renewal expires it.
    assert!(store
        .event_writer_renew("lease-b", t1, t1 - chrono::Duration::seconds(20))
        .await
        .unwrap());
    let raised = before.last_id + evo_store::events::UNCLEAN_MARGIN as u64;
    assert_eq!(
        store
            .event_messages_after(&"lease-u1".into(), 0, 1)
            .await
            .unwrap()
            .position,
        FeedPosition {
            floor: raised,
            last_id: raised
        }
    );
    // Once: a renewal does not expire itself, and nothing else is stale.
    assert!(!store
        .event_writer_renew("lease-b", t1, t1 - chrono::Duration::seconds(20))
        .await
        .unwrap());
    // lease-a, alive after all, takes its lease again.
    assert!(!store
        .event_writer_renew("lease-a", t1, t1 - chrono::Duration::seconds(20))
        .await
        .unwrap());
    store.event_writer_stop("lease-a").await.unwrap();
    store.event_writer_stop("lease-b").await.unwrap();
}

/// Changes submitted together commit in one transaction (an opened session
/// and its first events: several versions of one session), or not at all.
async fn commits_together(store: Arc<dyn Store>) {
    seed_directory(store.as_ref()).await;
    let committer = GroupCommitter::new(store.clone());
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let versions = |plan: &evo_core::scenario::Scenario, count: usize| {
        evo_store::testing::consecutive_versions(plan, count, format!("CA{}", plan.session_id))
    };
    let plan = build(Kind::HoldUnhold, &cast(), "T1", start);
    let changes = versions(&plan, 2);
    let last = changes.last().unwrap().session.clone();
    // Beside a single change of another session, in the same batch or not.
    let other = build(Kind::HoldUnhold, &cast(), "T2", start);
    let single = versions(&other, 0).remove(0);
    let sent: Vec<u64> = changes.iter().map(|c| c.session.version()).collect();
    let (together, alone) = tokio::join!(committer.submit_all(changes), committer.submit(single));
    // Each caller gets its own changes back, in order (they are moved into
    // the batch, not copied).
    let returned: Vec<u64> = together
        .unwrap()
        .iter()
        .map(|c| c.session.version())
        .collect();
    assert_eq!(returned, sent);
    assert_eq!(alone.unwrap().session.id(), &other.session_id);
    let stored = store.session(&plan.session_id).await.unwrap().unwrap();
    assert_eq!(stored.version(), last.version());
    assert_eq!(stored.state(), last.state());
    assert_eq!(
        store.session_events(&plan.session_id).await.unwrap(),
        plan.events[..2].to_vec()
    );
    assert_eq!(
        store
            .session_id_by_key(&format!("CA{}", plan.session_id))
            .await
            .unwrap(),
        Some(plan.session_id.clone())
    );
    assert!(store.session(&other.session_id).await.unwrap().is_some());

    // A stale change among them: none of them is written.
    let refused = build(Kind::HoldUnhold, &cast(), "T3", start);
    let mut changes = versions(&refused, 2);
    changes[2].expected_version = Some(changes[2].session.version() + 7);
    assert!(matches!(
        committer.submit_all(changes).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.session(&refused.session_id).await.unwrap().is_none());
    assert!(store
        .session_events(&refused.session_id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_sqlite_store_conforms_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().display().to_string();
    suite(open_store(&location).await.unwrap()).await;
    retention_in_batches(open_store(&location).await.unwrap()).await;
    event_log(open_store(&location).await.unwrap()).await;
    shared_bodies(
        open_store(&location).await.unwrap(),
        one_connection(&evo_store::sql::sqlite_url(dir.path())).await,
    )
    .await;
    writer_lease(open_store(&location).await.unwrap()).await;
    let reopened = open_store(&location).await.unwrap();
    assert_eq!(reopened.active_sessions().await.unwrap().len(), 51);
    assert_eq!(
        reopened.setting_or_init("k", "other").await.unwrap(),
        "first"
    );
    // An online backup is a store of its own with the same sessions.
    let backup_dir = tempfile::tempdir().unwrap();
    let file = evo_store::sql::sqlite_file(backup_dir.path());
    reopened.backup_into(&file).await.unwrap();
    assert!(
        reopened.backup_into(&file).await.is_err(),
        "never overwrites"
    );
    let copy = open_store(&backup_dir.path().display().to_string())
        .await
        .unwrap();
    assert_eq!(copy.active_sessions().await.unwrap().len(), 51);

    let dir = tempfile::tempdir().unwrap();
    commits_together(open_store(&dir.path().display().to_string()).await.unwrap()).await;
}

#[tokio::test]
async fn the_postgres_store_conforms() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_conformance");
    suite(open_store(&url).await.unwrap()).await;
    retention_in_batches(open_store(&url).await.unwrap()).await;
    event_log(open_store(&url).await.unwrap()).await;
    shared_bodies(open_store(&url).await.unwrap(), one_connection(&url).await).await;
    writer_lease(open_store(&url).await.unwrap()).await;
    let reconnected = open_store(&url).await.unwrap();
    assert_eq!(reconnected.active_sessions().await.unwrap().len(), 51);
    assert!(
        reconnected
            .backup_into(std::path::Path::new("/nonexistent/backup.db"))
            .await
            .is_err(),
        "PostgreSQL is backed up with pg_dump"
    );
    let url = cluster.create_database("evo_together");
    commits_together(open_store(&url).await.unwrap()).await;
}

// --- the ring generation (migration 0016) -----------------------------------

/// `ring_generation` moves with every insert, update and delete of a ring
/// assignment, made through the store or by plain SQL on another
/// connection, in the changing transaction (a rolled-back change leaves
/// it), and stays when nothing the directory reads changed.
async fn ring_generation_moves(store: Arc<dyn Store>, url: &str) {
    sqlx::any::install_default_drivers();
    let sql = sqlx::AnyPool::connect(url).await.unwrap();
    let execute = |statement: &'static str| {
        let sql = sql.clone();
        async move {
            sqlx::query(statement)
                .execute(&sql)
                .await
                .unwrap_or_else(|error| panic!("{statement}: {error}"));
        }
    };
    seed_directory(store.as_ref()).await;
    let mut last = store.ring_generation().await.unwrap();
    let moved = |last: &mut i64, now: i64, what: &str| {
        assert!(now > *last, "{what} moves the ring generation");
        *last = now;
    };
    // Other directory changes leave it: nothing the directory holds moved.
    execute("update app_user set display_name = 'Alice B'").await;
    execute("update endpoint set display_name = 'Main line' where endpoint_id = 'num1'").await;
    store
        .create_auth_session(&AuthSession {
            id: "s-rings".into(),
            user_id: "usr1".into(),
            created_at: Utc::now(),
            expires_at: Utc::now() + chrono::Duration::minutes(5),
        })
        .await
        .unwrap();
    assert_eq!(store.ring_generation().await.unwrap(), last);

    execute("insert into endpoint_ring_user (endpoint_id, user_id, position) values ('num1', 'usr9', 1)")
        .await;
    moved(
        &mut last,
        store.ring_generation().await.unwrap(),
        "an insert by plain SQL",
    );
    assert_eq!(store.ring_assignments().await.unwrap().len(), 2);
    execute("update endpoint_ring_user set position = 7 where user_id = 'usr9'").await;
    moved(
        &mut last,
        store.ring_generation().await.unwrap(),
        "an update by plain SQL",
    );
    execute("delete from endpoint_ring_user where user_id = 'usr9'").await;
    moved(
        &mut last,
        store.ring_generation().await.unwrap(),
        "a delete by plain SQL",
    );
    store
        .create_endpoint(&Endpoint {
            id: "num2".into(),
            account_id: "acc1".into(),
            customer_id: None,
            kind: EndpointKind::PhoneNumber,
            display_name: "Second".into(),
            address: "+15550102".into(),
            ring_user_ids: vec!["usr1".into()],
            queue_name: None,
        })
        .await
        .unwrap();
    moved(
        &mut last,
        store.ring_generation().await.unwrap(),
        "a number added through the store",
    );

    // In the changing transaction: rolled back, neither moved.
    let mut tx = sql.begin().await.unwrap();
    sqlx::query("delete from endpoint_ring_user")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.ring_generation().await.unwrap(), last);
    assert_eq!(store.ring_assignments().await.unwrap().len(), 2);
    // Every row at once (PostgreSQL: `truncate`, which fires no row trigger).
    if url.starts_with("postgres") {
        execute("truncate endpoint_ring_user").await;
    } else {
        execute("delete from endpoint_ring_user").await;
    }
    moved(
        &mut last,
        store.ring_generation().await.unwrap(),
        "removing every row",
    );
    assert!(store.ring_assignments().await.unwrap().is_empty());
    sql.close().await;
}

#[tokio::test]
async fn the_sqlite_ring_generation_moves_with_every_ring_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().display().to_string()).await.unwrap();
    let url = evo_store::sql::sqlite_url(dir.path());
    ring_generation_moves(store, &url).await;
}

#[tokio::test]
async fn the_postgres_ring_generation_moves_with_every_ring_change() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_rings");
    ring_generation_moves(open_store(&url).await.unwrap(), &url).await;
}

// --- the twilio generation (migration 0020) ---------------------------------

/// The accounts with an AccountSid and their tokens, as
/// `Store::twilio_accounts` reads them: (account id, tokens).
async fn twilio_accounts_of(store: &dyn Store) -> (i64, Vec<(String, Vec<String>)>) {
    let read = store.twilio_accounts().await.unwrap();
    let accounts = read
        .accounts
        .iter()
        .map(|held| {
            (
                held.account.id.to_string(),
                held.auth_tokens
                    .iter()
                    .map(|t| t.expose().to_string())
                    .collect(),
            )
        })
        .collect();
    (read.generation, accounts)
}

/// `twilio_generation` moves with every insert, update and delete of an
/// account or an auth token, made through the store or by plain SQL on
/// another connection, in the changing transaction (a rolled-back change
/// leaves it), and stays when nothing the webhook verifier holds changed;
/// `twilio_accounts` returns every account with an AccountSid, its tokens
/// primary first, with the generation it reflects.
async fn twilio_generation_moves(store: Arc<dyn Store>, url: &str) {
    sqlx::any::install_default_drivers();
    let sql = sqlx::AnyPool::connect(url).await.unwrap();
    let execute = |statement: &'static str| {
        let sql = sql.clone();
        async move {
            sqlx::query(statement)
                .execute(&sql)
                .await
                .unwrap_or_else(|error| panic!("{statement}: {error}"));
        }
    };
    let (empty_generation, empty) = twilio_accounts_of(store.as_ref()).await;
    assert!(empty.is_empty(), "no account yet");
    assert_eq!(empty_generation, store.twilio_generation().await.unwrap());
    seed_directory(store.as_ref()).await;
    let mut last = store.twilio_generation().await.unwrap();
    assert!(last > empty_generation, "an account added moves it");
    let moved = |last: &mut i64, now: i64, what: &str| {
        assert!(now > *last, "{what} moves the twilio generation");
        *last = now;
    };
    // Other directory changes leave it.
    execute("update app_user set display_name = 'Alice B'").await;
    execute("insert into endpoint_ring_user (endpoint_id, user_id, position) values ('num1', 'usr9', 1)")
        .await;
    assert_eq!(store.twilio_generation().await.unwrap(), last);
    assert_eq!(
        twilio_accounts_of(store.as_ref()).await,
        (last, vec![("acc1".to_string(), vec!["token".to_string()])])
    );

    store
        .add_account_auth_token(&"acc1".into(), "token-2", Utc::now())
        .await
        .unwrap();
    moved(
        &mut last,
        store.twilio_generation().await.unwrap(),
        "a token added through the store",
    );
    execute("insert into account (account_id, name) values ('acc2', 'No Twilio')").await;
    moved(
        &mut last,
        store.twilio_generation().await.unwrap(),
        "an account inserted by plain SQL",
    );
    execute(
        "insert into account (account_id, name, twilio_account_sid, twilio_auth_token) \
         values ('acc3', 'Other', 'AC00000000000000000000000000000003', 'token-3')",
    )
    .await;
    execute(
        "insert into account_auth_token (account_id, token, added_at) \
         values ('acc1', 'token-1b', '2026-01-01T00:00:00.000000Z')",
    )
    .await;
    moved(
        &mut last,
        store.twilio_generation().await.unwrap(),
        "a token inserted by plain SQL",
    );
    // The added tokens oldest first, each with its own account only; an
    // account without an AccountSid left out.
    assert_eq!(
        twilio_accounts_of(store.as_ref()).await,
        (
            last,
            vec![
                (
                    "acc1".to_string(),
                    vec!["token".into(), "token-1b".into(), "token-2".into()]
                ),
                ("acc3".to_string(), vec!["token-3".to_string()]),
            ]
        )
    );
    execute("update account set name = 'Acme Inc' where account_id = 'acc1'").await;
    moved(
        &mut last,
        store.twilio_generation().await.unwrap(),
        "an account updated by plain SQL",
    );
    execute("update account_auth_token set added_at = '2027-01-01T00:00:00.000000Z' where token = 'token-1b'")
        .await;
    moved(
        &mut last,
        store.twilio_generation().await.unwrap(),
        "a token updated by plain SQL",
    );
    store
        .remove_account_auth_token(&"acc1".into(), "token")
        .await
        .unwrap();
    moved(
        &mut last,
        store.twilio_generation().await.unwrap(),
        "the primary removed through the store",
    );
    assert_eq!(
        twilio_accounts_of(store.as_ref()).await.1[0],
        (
            "acc1".to_string(),
            vec!["token-1b".to_string(), "token-2".to_string()]
        ),
        "the newest added token promoted"
    );

    // In the changing transaction: rolled back, it stays.
    let mut tx = sql.begin().await.unwrap();
    sqlx::query("delete from account_auth_token")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("update account set twilio_auth_token = null")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.twilio_generation().await.unwrap(), last);
    // Every token at once (PostgreSQL: `truncate`, which fires no row trigger).
    if url.starts_with("postgres") {
        execute("truncate account_auth_token").await;
    } else {
        execute("delete from account_auth_token").await;
    }
    moved(
        &mut last,
        store.twilio_generation().await.unwrap(),
        "removing every token",
    );
    execute("delete from account where account_id = 'acc3'").await;
    moved(
        &mut last,
        store.twilio_generation().await.unwrap(),
        "an account deleted by plain SQL",
    );
    assert_eq!(
        twilio_accounts_of(store.as_ref()).await,
        (
            last,
            vec![("acc1".to_string(), vec!["token-1b".to_string()])]
        )
    );
    sql.close().await;
}

#[tokio::test]
async fn the_sqlite_twilio_generation_moves_with_every_account_or_token_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().display().to_string()).await.unwrap();
    let url = evo_store::sql::sqlite_url(dir.path());
    twilio_generation_moves(store, &url).await;
}

#[tokio::test]
async fn the_postgres_twilio_generation_moves_with_every_account_or_token_change() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_twilio_generation");
    twilio_generation_moves(open_store(&url).await.unwrap(), &url).await;
}

// --- bulk loading (`Store::load_ended_sessions`) ---------------------------

/// `text` with `prefix` (the tag of a set's ids) replaced by `#` and the
/// value of `seen` (hashes of dedupe keys, which hold the ids) left out.
fn same(text: &str, prefix: &str) -> String {
    let text = text.replace(prefix, "#");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("seen") {
        out.push_str(&rest[..at + 4]);
        rest = &rest[at + 4..];
        let value = rest
            .find(|c: char| !matches!(c, '\\' | '"' | ':'))
            .unwrap_or(rest.len());
        out.push_str(&rest[..value]);
        rest = &rest[value..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
            .unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out + rest
}

/// Ended sessions of every scenario kind, tagged `{prefix}{n}` (so two sets
/// differ only in their ids), each with its whole event log (one event
/// sent twice, as Twilio retries) and keys; the last two share a key.
fn ended_sessions(prefix: &str) -> Vec<evo_store::EndedSession> {
    let start = Utc.with_ymd_and_hms(2026, 3, 4, 9, 0, 0).unwrap();
    evo_core::scenario::KINDS
        .iter()
        .enumerate()
        .map(|(n, kind)| {
            let plan = build(*kind, &cast(), &format!("{prefix}{n}"), start);
            let mut session = open(&plan.session_id, plan.header.clone(), plan.opened_at);
            for event in &plan.events {
                session = apply(&session, event);
            }
            session.compact();
            let mut events = plan.events.clone();
            events.insert(1, plan.events[0].clone());
            let shared = if n + 2 >= evo_core::scenario::KINDS.len() {
                vec![format!("shared-{prefix}")]
            } else {
                vec![]
            };
            evo_store::EndedSession {
                session,
                events,
                keys: [vec![format!("CA{prefix}{n}")], shared].concat(),
            }
        })
        .collect()
}

/// Every stored row of session `id` (`session_search`'s too on SQLite),
/// as JSON text without commit times, with `prefix` replaced by `#`.
async fn raw_rows(url: &str, id: &str, prefix: &str) -> Vec<String> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let postgres = url.starts_with("postgres");
    let mut queries = Vec::new();
    if postgres {
        let tables = sqlx::query(
            "select table_name::text as t from information_schema.columns
             where column_name = 'session_id' and table_schema = current_schema()",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for table in tables {
            let table: String = table.get("t");
            queries.push(format!(
                "select '{table} ' || (to_jsonb(t) - 'written_at' - 'committed_at')::text as r
                 from {table} t where session_id = $1"
            ));
        }
    } else {
        let tables = sqlx::query("select name from sqlite_master where type = 'table'")
            .fetch_all(&pool)
            .await
            .unwrap();
        for table in tables {
            let table: String = table.get("name");
            let columns: Vec<String> =
                sqlx::query(&format!("select name from pragma_table_info('{table}')"))
                    .fetch_all(&pool)
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.get::<String, _>("name"))
                    .collect();
            if !columns.iter().any(|c| c == "session_id") {
                continue;
            }
            let kept: Vec<String> = columns
                .iter()
                .filter(|c| !["written_at", "committed_at"].contains(&c.as_str()))
                .map(|c| format!("'{c}', {c}"))
                .collect();
            queries.push(format!(
                "select '{table} ' || json_object({}) as r from {table} where session_id = $1",
                kept.join(", ")
            ));
        }
        // The search row as a search reads it: indexed, or queued for the
        // indexer (migration 0025) with the session row's From and To.
        queries.push(
            "select 'session_search ' || json_array(from_address, to_address, log_text) as r
             from session_search where rowid = (select rowid from session where session_id = $1)
             union all
             select 'session_search ' || json_array(s.from_address, s.to_address, '') as r
             from session_search_pending p join session s on s.rowid = p.row_id
             where s.session_id = $1"
                .to_string(),
        );
    }
    let mut rows = Vec::new();
    for query in queries {
        for row in sqlx::query(&query).bind(id).fetch_all(&pool).await.unwrap() {
            rows.push(same(&row.get::<String, _>("r"), prefix));
        }
    }
    rows.sort();
    pool.close().await;
    rows
}

/// `load_ended_sessions` leaves the rows its reference (the same sessions
/// through `commit`, `bulk_changes`) leaves, seen through every read and
/// row by row; a session stored already is a conflict that writes nothing.
async fn bulk_loads_as_commit_would(store: Arc<dyn Store>, url: &str) {
    let reference = ended_sessions("REF");
    let bulk = ended_sessions("BLK");
    store
        .commit(&evo_store::bulk_changes(&reference))
        .await
        .unwrap();
    store.load_ended_sessions(&bulk).await.unwrap();
    for (a, b) in reference.iter().zip(&bulk) {
        let (a_id, b_id) = (a.session.id(), b.session.id());
        let a_stored = store.session(a_id).await.unwrap().unwrap();
        let b_stored = store.session(b_id).await.unwrap().unwrap();
        assert_eq!(b_stored, b.session);
        assert_eq!(
            same(&serde_json::to_string(&b_stored).unwrap(), "BLK"),
            same(&serde_json::to_string(&a_stored).unwrap(), "REF")
        );
        let events = |list: Vec<evo_core::event::SessionEvent>, prefix: &str| {
            same(&serde_json::to_string(&list).unwrap(), prefix)
        };
        assert_eq!(
            events(store.session_events(b_id).await.unwrap(), "BLK"),
            events(store.session_events(a_id).await.unwrap(), "REF")
        );
        let a_info = store.session_info(a_id).await.unwrap().unwrap();
        let b_info = store.session_info(b_id).await.unwrap().unwrap();
        assert_eq!(b_info.endpoint_ids, a_info.endpoint_ids);
        assert_eq!(
            same(&b_info.info_json, "BLK"),
            same(&a_info.info_json, "REF")
        );
        assert_eq!(
            store.session_id_by_key(&b.keys[0]).await.unwrap().as_ref(),
            Some(b_id)
        );
        let rows = raw_rows(url, b_id.as_str(), "BLK").await;
        for table in [
            "session ",
            "session_event ",
            "session_endpoint ",
            "session_key ",
        ] {
            assert!(rows.iter().any(|row| row.starts_with(table)), "{rows:#?}");
        }
        assert_eq!(
            rows,
            raw_rows(url, a_id.as_str(), "REF").await,
            "the rows of {b_id} and {a_id}"
        );
    }
    // The last session claiming a shared key has it.
    for (set, prefix) in [(&reference, "REF"), (&bulk, "BLK")] {
        assert_eq!(
            store
                .session_id_by_key(&format!("shared-{prefix}"))
                .await
                .unwrap()
                .as_ref(),
            Some(set[set.len() - 1].session.id())
        );
    }
    // History queries (scope, search over the log, order) find both alike.
    let page = |prefix: &'static str| {
        let store = store.clone();
        async move {
            let mut query = evo_store::SessionQuery::new(evo_store::SessionScope::Endpoints {
                account_id: "acc1".into(),
                endpoint_ids: vec!["num1".into(), "usr1".into()],
            });
            query.session_ids = evo_core::scenario::KINDS
                .iter()
                .enumerate()
                .map(|(n, _)| evo_core::ids::SessionId::new(format!("ses-{prefix}{n}")))
                .collect();
            query.ended = Some(true);
            query.count_total = true;
            let all = store.list_session_infos(&query).await.unwrap();
            query.log_contains = Some("answer".into());
            let searched = store.list_session_infos(&query).await.unwrap();
            [all, searched].map(|page| {
                (
                    page.total,
                    page.items
                        .into_iter()
                        .map(|item| same(&item.info_json, prefix))
                        .collect::<Vec<_>>(),
                )
            })
        }
    };
    let (a_pages, b_pages) = (page("REF").await, page("BLK").await);
    assert!(a_pages[0].0.unwrap() > 0 && a_pages[1].0.unwrap() > 0);
    assert_eq!(b_pages, a_pages);

    // Loading a stored session again is refused as a whole.
    let again = vec![ended_sessions("NEW").remove(0), bulk[0].clone()];
    assert!(matches!(
        store.load_ended_sessions(&again).await,
        Err(StoreError::Conflict(id)) if id == bulk[0].session.id().as_str()
    ));
    assert!(store
        .session(again[0].session.id())
        .await
        .unwrap()
        .is_none());
    let twice = vec![again[0].clone(), again[0].clone()];
    assert!(matches!(
        store.load_ended_sessions(&twice).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store
        .session(again[0].session.id())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn the_sqlite_store_bulk_loads_as_commit_would() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().display().to_string()).await.unwrap();
    seed_directory(store.as_ref()).await;
    let url = evo_store::sql::sqlite_url(dir.path());
    bulk_loads_as_commit_would(store, &url).await;
}

#[tokio::test]
async fn the_postgres_store_bulk_loads_as_commit_would() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_bulk");
    let store = open_store(&url).await.unwrap();
    seed_directory(store.as_ref()).await;
    bulk_loads_as_commit_would(store, &url).await;
}

// --- one change per session per commit (migration 0019) ---------------------

/// The changes a voice webhook hands to one commit: the opened session
/// (with `keys`), then one version per event of `events`, each computed
/// from the one before; compact, as the server stores them.
fn chain(
    opened: &evo_core::session::Session,
    expected: Option<u64>,
    events: &[evo_core::event::SessionEvent],
    keys: Vec<String>,
) -> Vec<SessionChange> {
    let mut changes = Vec::new();
    let mut session = opened.clone();
    let mut expected_version = expected;
    if expected.is_none() {
        let mut first = opened.clone();
        first.compact();
        changes.push(SessionChange {
            session: first,
            event: None,
            expected_version: None,
            keys: keys.clone(),
        });
        expected_version = Some(opened.version());
    }
    for event in events {
        let next = apply(&session, event);
        let mut stored = next.clone();
        stored.compact();
        changes.push(SessionChange {
            session: stored,
            event: Some(event.clone()),
            expected_version,
            keys: if changes.is_empty() {
                keys.clone()
            } else {
                vec![]
            },
        });
        expected_version = Some(next.version());
        session = next;
    }
    changes
}

/// A session's consecutive versions committed together (a voice webhook's
/// open and its events) are written as one change: the rows they leave are
/// those of the same versions committed one per transaction, row by row,
/// also when the chain starts from a stored version and holds an event
/// twice; a retried chain, a stale first version and a stale version in
/// the middle are conflicts that write nothing.
async fn versions_commit_as_one_change(store: Arc<dyn Store>, url: &str) {
    let start = Utc.with_ymd_and_hms(2026, 3, 5, 9, 0, 0).unwrap();
    for (n, kind) in [Kind::InboundAnswered, Kind::HoldUnhold, Kind::WarmTransfer]
        .into_iter()
        .enumerate()
    {
        let one = build(kind, &cast(), &format!("JNT{n}"), start);
        let seq = build(kind, &cast(), &format!("SEP{n}"), start);
        let opened = |plan: &evo_core::scenario::Scenario| {
            open(&plan.session_id, plan.header.clone(), plan.opened_at)
        };
        // The open and the first two events (one of them sent twice, as
        // Twilio retries) together; the rest together, from the stored
        // version.
        let mut head: Vec<_> = one.events[..2].to_vec();
        head.insert(1, one.events[0].clone());
        let first = chain(&opened(&one), None, &head, vec![format!("CA-JNT{n}")]);
        let stored_version = first.last().unwrap().session.version();
        store.commit(&first).await.unwrap();
        let mut session = opened(&one);
        for event in &head {
            session = apply(&session, event);
        }
        let rest = chain(
            &session,
            Some(stored_version),
            &one.events[2..],
            vec![format!("CF-JNT{n}")],
        );
        store.commit(&rest).await.unwrap();

        // The reference: each version alone.
        let mut head: Vec<_> = seq.events[..2].to_vec();
        head.insert(1, seq.events[0].clone());
        let mut changes = chain(&opened(&seq), None, &head, vec![format!("CA-SEP{n}")]);
        let mut session = opened(&seq);
        for event in &head {
            session = apply(&session, event);
        }
        changes.extend(chain(
            &session,
            Some(changes.last().unwrap().session.version()),
            &seq.events[2..],
            vec![format!("CF-SEP{n}")],
        ));
        for change in changes {
            store.commit(&[change]).await.unwrap();
        }

        let a = store.session(&seq.session_id).await.unwrap().unwrap();
        let b = store.session(&one.session_id).await.unwrap().unwrap();
        assert_eq!(
            same(&serde_json::to_string(&b).unwrap(), "JNT"),
            same(&serde_json::to_string(&a).unwrap(), "SEP")
        );
        assert_eq!(
            store.session_events(&one.session_id).await.unwrap().len(),
            one.events.len()
        );
        let rows = raw_rows(url, one.session_id.as_str(), "JNT").await;
        assert!(
            rows.iter()
                .filter(|row| row.starts_with("session_event "))
                .count()
                == one.events.len()
        );
        assert_eq!(
            rows,
            raw_rows(url, seq.session_id.as_str(), "SEP").await,
            "the rows of {} and {}",
            one.session_id,
            seq.session_id
        );
        for key in [format!("CA-JNT{n}"), format!("CF-JNT{n}")] {
            assert_eq!(
                store.session_id_by_key(&key).await.unwrap().as_ref(),
                Some(&one.session_id)
            );
        }

        // A retried webhook's chain: the session exists.
        let before = raw_rows(url, one.session_id.as_str(), "JNT").await;
        assert!(matches!(
            store.commit(&first).await,
            Err(StoreError::Conflict(id)) if id == one.session_id.as_str()
        ));
        // A chain from a stale version.
        assert!(matches!(
            store.commit(&rest).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(raw_rows(url, one.session_id.as_str(), "JNT").await, before);
    }

    // A stale version in the middle of a new session's chain: nothing of
    // it is written, nor the other session's change beside it.
    let plan = build(Kind::HoldUnhold, &cast(), "MID", start);
    let other = build(Kind::HoldUnhold, &cast(), "BESIDE", start);
    let mut changes = chain(
        &open(&other.session_id, other.header.clone(), other.opened_at),
        None,
        &other.events[..1],
        vec![],
    );
    let mut broken = chain(
        &open(&plan.session_id, plan.header.clone(), plan.opened_at),
        None,
        &plan.events[..3],
        vec!["CA-MID".into()],
    );
    broken[2].expected_version = Some(broken[1].session.version() + 7);
    changes.extend(broken);
    assert!(matches!(
        store.commit(&changes).await,
        Err(StoreError::Conflict(id)) if id == plan.session_id.as_str()
    ));
    for id in [&plan.session_id, &other.session_id] {
        assert!(store.session(id).await.unwrap().is_none());
        assert!(store.session_events(id).await.unwrap().is_empty());
        assert!(raw_rows(url, id.as_str(), "MID").await.is_empty());
    }
    assert_eq!(store.session_id_by_key("CA-MID").await.unwrap(), None);
}

#[tokio::test]
async fn the_sqlite_store_commits_versions_as_one_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().display().to_string()).await.unwrap();
    seed_directory(store.as_ref()).await;
    let url = evo_store::sql::sqlite_url(dir.path());
    versions_commit_as_one_change(store, &url).await;
}

#[tokio::test]
async fn the_postgres_store_commits_versions_as_one_change() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_one_change");
    let store = open_store(&url).await.unwrap();
    seed_directory(store.as_ref()).await;
    versions_commit_as_one_change(store, &url).await;
}
