//! The HTTP layer: routes, API-key check, admission, ban compilation off the decode thread,
//! and the two ways of answering — one JSON body, or server-sent events as text becomes
//! final.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::api::{self, Endpoint, Limits, Meta};
use crate::bans::{BanCompiler, BanMode};
use crate::decode::{Command, Counters, Event, Job, ModelInfo, Ticket};
use crate::error::ApiError;
use crate::ServerConfig;

/// How long a shutdown waits for open connections before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything the handlers share.
pub(crate) struct AppState {
    pub(crate) config: ServerConfig,
    pub(crate) model: ModelInfo,
    commands: Sender<Command>,
    counters: Arc<Counters>,
    compiler: Arc<BanCompiler>,
    limits: Limits,
    started: u64,
    next_id: AtomicU64,
}

impl AppState {
    pub(crate) fn new(
        config: ServerConfig,
        model: ModelInfo,
        commands: Sender<Command>,
        counters: Arc<Counters>,
        compiler: BanCompiler,
    ) -> AppState {
        let limits = Limits {
            max_ban_entries: config.max_ban_entries,
            vocab_size: model.vocab.len(),
            default_mode: config.default_mode,
            server_bans: compiler.has_server_bans(),
        };
        AppState {
            config,
            model,
            commands,
            counters,
            compiler: Arc::new(compiler),
            limits,
            started: unix_now(),
            next_id: AtomicU64::new(0),
        }
    }

    /// Tells the decode thread to stop (idempotent).
    pub(crate) fn stop_decoding(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }

    async fn complete(
        self: Arc<Self>,
        endpoint: Endpoint,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Response, ApiError> {
        let body = body.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(self.config.max_body_bytes)
            } else {
                ApiError::invalid(None, format!("cannot read the body: {}", r.body_text()))
            }
        })?;
        let request = api::parse_request(&body, endpoint, &self.limits)?;
        let limit = self.model.slots + self.config.queue;
        let Some(ticket) = Ticket::take(&self.counters, limit) else {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::unavailable(
                format!(
                    "the server is busy: {} requests run and {} wait, which is all it takes \
                     (taboo serve --parallel, --queue); retry shortly",
                    self.model.slots, self.config.queue
                ),
                Some(1),
            ));
        };
        let table = match self.compiler.cached(&request.bans) {
            Some(table) => table,
            None => {
                let compiler = Arc::clone(&self.compiler);
                let key = request.bans.clone();
                tokio::task::spawn_blocking(move || compiler.compile(&key))
                    .await
                    .map_err(|e| ApiError::internal(format!("compiling the ban failed: {e}")))?
                    .map_err(|e| {
                        let param = if request.bans.lines.is_empty() {
                            "ban_lists"
                        } else {
                            "banned_words"
                        };
                        ApiError::invalid(Some(param), format!("banned_words: {e}"))
                    })?
            }
        };
        let (events, mut rx) = unbounded_channel();
        let job = Job {
            prompt: request.prompt,
            max_tokens: request.max_tokens,
            sampling: request.sampling,
            stop: request.stop,
            table,
            mode: request.mode,
            logit_bias: request.logit_bias,
            events,
            ticket,
        };
        let stopping = || ApiError::unavailable("the server is shutting down", None);
        self.commands
            .send(Command::Submit(Box::new(job)))
            .map_err(|_| stopping())?;
        let prompt_tokens = match rx.recv().await {
            Some(Event::Accepted { prompt_tokens }) => prompt_tokens,
            Some(Event::Failed(e)) => return Err(e),
            _ => return Err(stopping()),
        };
        let created = unix_now();
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let prefix = match endpoint {
            Endpoint::Chat => "chatcmpl",
            Endpoint::Completion => "cmpl",
        };
        let meta = Meta {
            id: format!("{prefix}-{:x}{n:06x}", self.started),
            created,
            model: self.config.model_name.clone(),
            endpoint,
            prompt_tokens,
            mode: request.mode,
        };
        if request.stream {
            return Ok(stream(meta, rx, request.include_usage));
        }
        loop {
            match rx.recv().await {
                Some(Event::Done(out)) => return Ok(json_response(meta.response(&out))),
                Some(Event::Failed(e)) => return Err(e),
                Some(Event::Text(_) | Event::Accepted { .. }) => {}
                None => return Err(ApiError::internal("the decode thread stopped")),
            }
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn json_response(value: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// What a stream still has to send.
struct StreamState {
    rx: UnboundedReceiver<Event>,
    meta: Meta,
    include_usage: bool,
    pending: VecDeque<SseEvent>,
    done: bool,
}

fn data(value: &Value) -> SseEvent {
    SseEvent::default().data(value.to_string())
}

/// Server-sent events: a chunk per piece of final text, then the chunk with the finish
/// reason, the usage chunk if asked for, and `data: [DONE]`. When the client goes, the
/// stream and its receiver are dropped, which the decode thread sees at its next step.
fn stream(meta: Meta, rx: UnboundedReceiver<Event>, include_usage: bool) -> Response {
    let mut pending = VecDeque::new();
    if meta.endpoint == Endpoint::Chat {
        pending.push_back(data(&meta.chunk("", true)));
    }
    let state = StreamState {
        rx,
        meta,
        include_usage,
        pending,
        done: false,
    };
    let events = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.pending.pop_front() {
                return Some((Ok::<_, Infallible>(event), st));
            }
            if st.done {
                return None;
            }
            match st.rx.recv().await {
                Some(Event::Text(text)) => st.pending.push_back(data(&st.meta.chunk(&text, false))),
                Some(Event::Done(out)) => {
                    st.pending.push_back(data(&st.meta.final_chunk(&out)));
                    if st.include_usage {
                        st.pending.push_back(data(&st.meta.usage_chunk(&out)));
                    }
                    st.pending.push_back(SseEvent::default().data("[DONE]"));
                    st.done = true;
                }
                Some(Event::Failed(e)) => {
                    st.pending.push_back(data(&e.body()));
                    st.done = true;
                }
                Some(Event::Accepted { .. }) => {}
                None => {
                    st.pending.push_back(data(
                        &ApiError::internal("the decode thread stopped").body(),
                    ));
                    st.done = true;
                }
            }
        }
    });
    Sse::new(events).into_response()
}

async fn chat(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    state
        .complete(Endpoint::Chat, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn completions(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    state
        .complete(Endpoint::Completion, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn models(State(state): State<Arc<AppState>>) -> Response {
    json_response(json!({
        "object": "list",
        "data": [{
            "id": state.config.model_name,
            "object": "model",
            "created": state.started,
            "owned_by": "taboo",
        }],
    }))
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let c = &state.counters;
    let mode = match state.config.default_mode {
        BanMode::Soft { penalty } => json!({"mode": "soft", "penalty": penalty}),
        m => json!({"mode": m.as_str()}),
    };
    json_response(json!({
        "status": "ok",
        "model": state.config.model_name,
        "slots": state.model.slots,
        "context_size": state.model.context_size,
        "queue": state.config.queue,
        "running": c.running.load(Ordering::Relaxed),
        "queued": c.queued.load(Ordering::Relaxed),
        "in_flight": c.in_flight.load(Ordering::Acquire),
        "completed": c.completed.load(Ordering::Relaxed),
        "disconnected": c.disconnected.load(Ordering::Relaxed),
        "refused": c.refused.load(Ordering::Relaxed),
        "cached_bans": state.compiler.cached_count(),
        "server_bans": state.config.server_bans.len(),
        "default_ban_mode": mode,
    }))
}

const ROUTES: &str = "POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health";

async fn not_found(method: Method, uri: Uri) -> Response {
    ApiError::not_found(format!(
        "no route {method} {}; the routes are {ROUTES}",
        uri.path()
    ))
    .into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::method_not_allowed(format!(
        "{method} is not allowed on {}; the routes are {ROUTES}",
        uri.path()
    ))
    .into_response()
}

/// Checks `Authorization: Bearer <key>` when the server has a key. The comparison takes the
/// same time whatever the bytes (it differs only with the length).
async fn auth(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if let Some(key) = &state.config.api_key {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            None => {
                return ApiError::unauthorized(
                    "no API key: send the header Authorization: Bearer <key>",
                )
                .into_response()
            }
            Some(given) if !bool::from(given.as_bytes().ct_eq(key.as_bytes())) => {
                return ApiError::unauthorized("incorrect API key").into_response()
            }
            Some(_) => {}
        }
    }
    next.run(request).await
}

fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), auth));
    Router::new()
        .merge(v1)
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and asks the decode thread to
/// end running requests; open connections get [`SHUTDOWN_GRACE`] to finish.
pub(crate) async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let on_signal = {
        let state = Arc::clone(&state);
        async move {
            shutdown.await;
            state.stop_decoding();
            let _ = stopping_tx.send(true);
        }
    };
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(on_signal);
    let deadline = async move {
        let _ = stopping_rx.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => Ok(()),
    }
}
