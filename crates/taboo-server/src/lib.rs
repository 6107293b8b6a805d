//! taboo-server: taboo behind the OpenAI API, so that any OpenAI client gains exact word
//! bans by adding one field (`banned_words`) to its requests.
//!
//! ```text
//!  client ──HTTP──► axum handlers (http.rs): auth, JSON → api::Request, admission (503)
//!                        │ request bans ──► BanCompiler (bans.rs): LRU cache, compile on the blocking pool
//!                        ▼
//!                   decode thread (decode.rs): owns the model and a taboo_llm::Batch;
//!                   requests join and leave between decode steps; final text flows back
//!                        │
//!  client ◄─JSON or server-sent events── handler
//! ```
//!
//! [`Server::start`] loads the model on the decode thread and compiles the server-wide bans;
//! [`Server::serve`] answers on a listener until its shutdown future resolves, then
//! interrupts running requests and returns. `taboo serve` is the command-line front end;
//! docs/SERVER.md describes the API.

mod api;
mod bans;
mod decode;
mod error;
mod http;

use std::future::Future;
use std::sync::Arc;

use taboo::BanList;
use taboo_llm::{Backtrack, BatchEngine};

pub use api::{Endpoint, Limits, Request};
pub use bans::{entry_line, BanCompiler, BanKey, BanMode, RequestGuard};
pub use decode::{Counters, ModelInfo, Prompt};
pub use error::ApiError;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The name `GET /v1/models` lists and responses carry.
    pub model_name: String,
    /// Requests waiting for a slot beyond the running ones; more get 503.
    pub queue: usize,
    /// Bearer token required on `/v1/*`; `None`: no authentication.
    pub api_key: Option<String>,
    /// Bans applied to every request (as written: forms not yet expanded).
    pub server_bans: BanList,
    /// Mode of requests that name none.
    pub default_mode: BanMode,
    /// Backtracking settings of backtrack mode.
    pub backtrack: Backtrack,
    /// Most `banned_words` plus `ban_lists` entries in one request.
    pub max_ban_entries: usize,
    /// Compiled bans kept in the LRU cache.
    pub ban_cache: usize,
    /// Largest request body in bytes; larger ones get 413.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            model_name: "taboo".into(),
            queue: 64,
            api_key: None,
            server_bans: BanList::new(),
            default_mode: BanMode::Backtrack,
            backtrack: Backtrack::default(),
            max_ban_entries: 10_000,
            ban_cache: 32,
            max_body_bytes: 4 << 20,
        }
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The model did not load.
    Model(taboo_llm::Error),
    /// A server-wide ban entry is invalid.
    Ban(taboo::BanError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Model(e) => write!(f, "{e}"),
            StartError::Ban(e) => write!(f, "server-wide ban: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A loaded model with its decode thread, ready to serve.
pub struct Server {
    state: Arc<http::AppState>,
    handle: std::thread::JoinHandle<()>,
}

impl Server {
    /// Starts the decode thread, which loads the model with `load` (it must hold
    /// [`BatchEngine::sequences`] sequences: that many requests run at once), and compiles
    /// the server-wide bans.
    pub fn start<E, F>(load: F, config: ServerConfig) -> Result<Server, StartError>
    where
        E: BatchEngine + 'static,
        F: FnOnce() -> taboo_llm::Result<E> + Send + 'static,
    {
        let counters = Arc::new(Counters::default());
        let thread = decode::spawn(load, config.backtrack.clone(), Arc::clone(&counters))
            .map_err(StartError::Model)?;
        let compiler = match BanCompiler::new(
            &config.server_bans,
            Arc::clone(&thread.info.vocab),
            config.ban_cache,
        ) {
            Ok(c) => c,
            Err(e) => {
                let _ = thread.commands.send(decode::Command::Shutdown);
                let _ = thread.handle.join();
                return Err(StartError::Ban(e));
            }
        };
        let state = Arc::new(http::AppState::new(
            config,
            thread.info,
            thread.commands,
            counters,
            compiler,
        ));
        Ok(Server {
            state,
            handle: thread.handle,
        })
    }

    /// The loaded model.
    pub fn model(&self) -> &ModelInfo {
        &self.state.model
    }

    /// Answers HTTP on `listener` until `shutdown` resolves; then stops accepting,
    /// interrupts running requests (they end with the text they have) and refuses queued
    /// ones, and returns once the decode thread has stopped.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let result = http::serve(Arc::clone(&self.state), listener, shutdown).await;
        self.state.stop_decoding();
        let handle = self.handle;
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        result
    }
}

/// Why [`run`] stopped with an error.
#[derive(Debug)]
pub enum RunError {
    /// The address could not be bound or served.
    Io(std::io::Error),
    /// The server could not start (boxed: the model loader's error is large, and this
    /// one travels through every `?` of `run`).
    Start(Box<StartError>),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Io(e) => write!(f, "{e}"),
            RunError::Start(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The whole server as a blocking call, for the command line: binds `addr` (so a taken port
/// fails before the model loads), starts the server, calls `listening` with the bound
/// address, and serves until Ctrl-C or SIGTERM. Returns `Ok` after a clean shutdown.
pub fn run<E, F>(
    addr: &str,
    load: F,
    config: ServerConfig,
    listening: impl FnOnce(std::net::SocketAddr, &ModelInfo),
) -> Result<(), RunError>
where
    E: BatchEngine + 'static,
    F: FnOnce() -> taboo_llm::Result<E> + Send + 'static,
{
    // The decode thread does the heavy work; the runtime only moves bytes.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(RunError::Io)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| RunError::Io(std::io::Error::new(e.kind(), format!("{addr}: {e}"))))?;
        let server = Server::start(load, config).map_err(|e| RunError::Start(Box::new(e)))?;
        listening(listener.local_addr().map_err(RunError::Io)?, server.model());
        server.serve(listener, signal()).await.map_err(RunError::Io)
    })
}

/// Resolves at the first Ctrl-C or (on Unix) SIGTERM.
async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
