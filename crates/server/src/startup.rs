//! Building and running the application: open the store, rebuild the live
//! index, load the signing key, bind the listener.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use evo_store::Store;
use tokio::net::TcpListener;

use crate::app::config::Config;
use crate::app::state::AppState;

/// A built application, bound to its port but not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The embedded store's data-directory lock, held while serving (so
    /// `evo-voice restore` refuses to replace a database in use).
    _data_dir_lock: Option<evo_store::lock::DataDirLock>,
}

impl Application {
    /// Opens the store, rebuilds the index and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let lock = match &config.store {
            crate::app::config::StoreLocation::DataDir(dir) => Some(
                evo_store::lock::lock_data_dir(dir)
                    .context("is another server running on this data directory?")?,
            ),
            crate::app::config::StoreLocation::Postgres(_) => None,
        };
        let store = evo_store::open_store_with(&config.store.as_store_url(), config.store_pool())
            .await
            .context("opening the store failed")?;
        let mut app = Self::build_with_store(config, store).await?;
        app._data_dir_lock = lock;
        Ok(app)
    }

    /// As [`Application::build`] with an already opened store.
    pub async fn build_with_store(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        if config.public_url.is_none() {
            // Webhooks are verified only against the configured public URL
            // (never the Host header): without it every webhook is a 403.
            tracing::warn!(
                "EVO_PUBLIC_URL is not set: every Twilio webhook will be refused (403); \
                 set it to the public base URL Twilio calls, e.g. https://voice.example.com"
            );
        }
        let state = AppState::build(config, store).await?;
        let listener = TcpListener::bind(state.config.bind)
            .await
            .with_context(|| {
                format!(
                    "binding {} failed; is another server running there?",
                    state.config.bind
                )
            })?;
        Ok(Application {
            listener,
            state,
            _data_dir_lock: None,
        })
    }

    /// The bound address (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.config.bind)
    }

    /// The application state (for the demo driver and tests).
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until Ctrl+C or SIGTERM, reconciling stale sessions meanwhile.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let reconciler = tokio::spawn(crate::app::reconcile::run(
            self.state.clone(),
            self.state.config.reconcile.clone(),
        ));
        // Other nodes' commits: the change feed where the store has one,
        // else polling when configured (see app::propagate).
        let refresher = tokio::spawn(crate::app::propagate::run(
            self.state.clone(),
            self.state.config.index_refresh,
        ));
        let directory = {
            let state = self.state.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(state.config.directory_refresh).await;
                    if let Err(error) = state.directory.reload().await {
                        tracing::warn!(%error, "reloading the directory failed");
                    }
                }
            })
        };
        let extras = spawn_ops_tasks(&self.state).await?;
        let state = self.state.clone();
        let signals = tokio::spawn({
            let state = state.clone();
            async move {
                shutdown_signal().await;
                state.shutdown.trigger();
            }
        });
        let app = crate::http::app(self.state.clone());
        let served = serve_until_shutdown(&state, self.listener, app).await;
        signals.abort();
        for task in extras {
            task.abort();
        }
        reconciler.abort();
        directory.abort();
        refresher.abort();
        served
    }
}

/// The listener's limits (which `axum::serve` does not expose): at most
/// `max_connections` open connections (further clients wait in the kernel's
/// accept queue, so descriptors stay bounded), and a connection whose
/// request headers do not arrive within `header_read_timeout` is closed.
/// Hyper starts that timer whenever it waits for a request head, so it is
/// also the idle timeout of a kept-alive connection. HTTP/1.1, as before.
/// On `shutdown`, stops accepting and waits for open connections to finish.
/// Public so that `evo-voice bench`'s static-bytes server runs on this very
/// listener (the same HTTP stack as `serve`).
pub async fn serve_with_limits(
    listener: TcpListener,
    app: impl crate::http::Served,
    limits: &crate::app::config::Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or an aborted handshake: not fatal.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(remote));
                app.serve(request.map(axum::body::Body::new))
            },
        );
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(error) = connection.await {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves (with the listener's limits) until [`AppState::shutdown`] fires,
/// then stops accepting, lets
/// in-flight requests finish and drains the group committer, all within
/// the configured grace period.
async fn serve_until_shutdown(
    state: &AppState,
    listener: TcpListener,
    app: crate::http::App,
) -> anyhow::Result<()> {
    let grace = state.config.ops.shutdown_grace;
    let serving = serve_with_limits(listener, app, &state.config.limits, {
        let state = state.clone();
        async move { state.shutdown.wait().await }
    });
    let deadline = async {
        state.shutdown.wait().await;
        tokio::time::sleep(grace).await;
    };
    let started = tokio::select! {
        served = serving => {
            served.context("the HTTP server failed")?;
            None
        }
        () = deadline => Some(()),
    };
    if started.is_some() {
        tracing::warn!(?grace, "in-flight requests outlived the grace period");
    }
    // Acknowledged changes are durable already; this commits what requests
    // cut short by the grace period had queued.
    let pending = state
        .sessions
        .drain_commits(std::time::Duration::from_secs(1).min(grace))
        .await;
    if pending > 0 {
        tracing::warn!(pending, "commits still pending at exit");
    }
    // The committed changes' messages are written before the log is marked
    // cleanly stopped (otherwise the next start answers resumes with a
    // snapshot).
    state
        .events
        .stop(std::time::Duration::from_secs(2).min(grace))
        .await;
    tracing::info!("stopped");
    Ok(())
}

/// Background tasks of operations: the separate metrics listener and
/// retention of ended sessions.
async fn spawn_ops_tasks(state: &AppState) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    crate::http::observe::prometheus();
    // The exporter keeps every histogram sample until upkeep folds it into
    // the buckets: without it, memory grows with each request between
    // scrapes (and forever when nobody scrapes).
    crate::http::observe::start_upkeep();
    if let Some(address) = state.config.ops.metrics_bind {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding the metrics address {address} failed"))?;
        tracing::info!(%address, "metrics are served on their own address");
        let router = crate::http::metrics_router(state.clone());
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            let stopping = async move { state.shutdown.wait().await };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(stopping)
                .await
            {
                tracing::warn!(%error, "the metrics listener failed");
            }
        }));
    }
    // Cached access tokens are re-checked off the request path.
    tasks.push(tokio::spawn({
        let state = state.clone();
        async move {
            let stop = state.shutdown.clone();
            state
                .auth
                .run_token_refresh(async move { stop.wait().await })
                .await;
        }
    }));
    tasks.push(tokio::spawn(crate::app::ops::run_parked_expiry(
        state.clone(),
    )));
    if let Some(retain) = state.config.ops.retain_ended {
        tasks.push(tokio::spawn(crate::app::ops::run_retention(
            state.clone(),
            retain,
        )));
    }
    Ok(tasks)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
