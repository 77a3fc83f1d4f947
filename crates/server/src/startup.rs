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
}

impl Application {
    /// Opens the store, rebuilds the index and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = evo_store::open_store(&config.store.as_store_url())
            .await
            .context("opening the store failed")?;
        Self::build_with_store(config, store).await
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
        Ok(Application { listener, state })
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
        let refresher = self.state.config.index_refresh.map(|interval| {
            let state = self.state.clone();
            tokio::spawn(async move {
                // Overlap each window so that a write committed late (after
                // a poll started) is still seen by the next one.
                let overlap = chrono::Duration::seconds(10);
                let mut since = chrono::Utc::now() - overlap;
                loop {
                    tokio::time::sleep(interval).await;
                    let started = chrono::Utc::now();
                    match state.sessions.refresh_from_store(since).await {
                        Ok(_) => since = started - overlap,
                        Err(error) => tracing::warn!(%error, "refreshing the live index failed"),
                    }
                }
            })
        });
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
        let app = crate::http::router(self.state.clone());
        let served = serve_with_limits(
            self.listener,
            app,
            &self.state.config.limits,
            shutdown_signal(),
        )
        .await
        .context("the HTTP server failed");
        reconciler.abort();
        directory.abort();
        if let Some(refresher) = refresher {
            refresher.abort();
        }
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
async fn serve_with_limits(
    listener: TcpListener,
    app: axum::Router,
    limits: &crate::app::config::Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

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
                app.clone().oneshot(request.map(axum::body::Body::new))
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
