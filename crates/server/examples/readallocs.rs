//! Heap allocations per authenticated `GET /sessions/active` (issue 12):
//! what `serve` serves called in process (`evo_server::http::App`; `router`
//! as a third argument: the router alone, with `oneshot`; no
//! network, no hyper), tokens rotating over every user, counted by DHAT's
//! allocator (`dhat`, a heap profiler; only in this example).
//!
//! ```sh
//! cargo run -p evo-server --release --example readallocs -- [users] [requests] [router]
//! ```
//!
//! Seeds `users` users (default 200), each with a phone number ringing
//! them and three answered calls, through `SessionService` (as
//! `readload` does); warms every user's token and view up; then counts
//! the allocations of `requests` (default 20,000) requests and prints
//! allocations and bytes per request. `dhat-heap.json` (written on exit,
//! read with DHAT's viewer or any JSON tool) names each allocation site.
//! Hyper's own allocations (request head, response encoding) are not in
//! the count: they are the same for the static-bytes server.

use std::net::SocketAddr;

use evo_core::reducer;
use evo_core::scenario::{self, Kind};
use evo_server::auth::tokens::access_claims;
use evo_server::http::Served;
use http_body_util::BodyExt;

// Each example uses part of it.
#[allow(dead_code)]
#[path = "support/load_users.rs"]
mod load_users;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() -> anyhow::Result<()> {
    let users = load_users::arg(1, 200) as usize;
    let requests = load_users::arg(2, 20_000) as usize;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    runtime.block_on(async {
        let (app, seeded) = load_users::seeded_app(dir.path(), users).await?;
        let state = app.state();
        let now = chrono::Utc::now().timestamp();
        let mut headers = Vec::new();
        for (n, (user, number, sid)) in seeded.iter().enumerate() {
            let token = state
                .auth
                .keys()
                .sign_access(&access_claims(user, sid, now, 7200));
            headers.push(axum::http::HeaderValue::from_str(&format!(
                "Bearer {token}"
            ))?);
            for k in 0..3 {
                let cast = load_users::cast(user, number, n, format!("+1666{n:05}{k:02}"));
                let plan = scenario::build(
                    Kind::InboundAnswered,
                    &cast,
                    &format!("L{n:06}{k}"),
                    chrono::Utc::now(),
                );
                let session = reducer::open(&plan.session_id, plan.header.clone(), plan.opened_at);
                let keys = plan.header.call_sid.iter().map(ToString::to_string);
                state.sessions.open(session, keys.collect()).await?;
                // All but the hang-up: the call stays answered and active.
                let keep = plan.events.len().saturating_sub(2);
                for event in plan.events.into_iter().take(keep) {
                    state
                        .sessions
                        .apply(&plan.session_id, event, Vec::new())
                        .await?;
                }
            }
        }
        // What `serve` serves (the read answered before the router), or,
        // with `router` as the third argument, the router alone (as
        // before session 8).
        let served = evo_server::http::app(state.clone());
        let router = evo_server::http::router(state.clone());
        let through_router = std::env::args().nth(3).as_deref() == Some("router");
        let peer: SocketAddr = "127.0.0.1:40000".parse()?;
        let mut body_len = 0;
        let request = |n: usize| {
            let mut request = axum::http::Request::get("/sessions/active")
                .header(axum::http::header::HOST, "127.0.0.1")
                .header(
                    axum::http::header::AUTHORIZATION,
                    headers[n % headers.len()].clone(),
                )
                .body(axum::body::Body::empty())
                .expect("request");
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            request
        };
        let send = |request| {
            use futures::future::Either;
            if through_router {
                Either::Right(Served::serve(&router, request))
            } else {
                Either::Left(served.serve(request))
            }
        };
        // Warm up: every token verified, every view rendered.
        for n in 0..headers.len() * 2 {
            let response = send(request(n)).await?;
            assert_eq!(response.status(), 200);
            body_len = response.into_body().collect().await?.to_bytes().len();
        }
        // The request itself is built outside the count (`serve` is
        // called inside it: `App` answers the read in `serve`).
        let mut prepared = Vec::with_capacity(requests);
        for n in 0..requests {
            prepared.push(request(n));
        }
        // `READALLOCS_COUNT_ONLY=1`: the requests without the heap
        // profiler (DHAT's allocator then passes through), for an
        // instruction count under `valgrind --tool=cachegrind` (two
        // request counts; the difference over the extra requests).
        if std::env::var_os("READALLOCS_COUNT_ONLY").is_some() {
            for request in prepared {
                let response = send(request).await?;
                assert_eq!(response.status(), 200);
                std::hint::black_box(response.into_body().collect().await?);
            }
            return anyhow::Ok(());
        }
        let profiler = dhat::Profiler::builder().build();
        let before = dhat::HeapStats::get();
        for request in prepared {
            let response = send(request).await?;
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await?;
            std::hint::black_box(body);
        }
        let after = dhat::HeapStats::get();
        println!(
            "{users} users x 3 sessions, {requests} requests, {body_len}-byte body: \
             {:.2} allocations and {:.0} bytes per request (in process: router, edge layer, \
             dispatcher, authentication, view)",
            (after.total_blocks - before.total_blocks) as f64 / requests as f64,
            (after.total_bytes - before.total_bytes) as f64 / requests as f64,
        );
        drop(profiler);
        anyhow::Ok(())
    })
}
