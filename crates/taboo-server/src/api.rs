//! The OpenAI request and response bodies: parsing a request's JSON into what the decode
//! thread needs, and writing responses and stream chunks.
//!
//! Fields are read one by one from the JSON object, so that a field of the wrong type is
//! reported by name (`param`), as OpenAI does; fields this server does not know are
//! ignored, as clients send many optional ones. The extension fields are `banned_words`,
//! `ban_lists`, `ban_mode` and `ban_penalty` in requests and `taboo` in responses.

use serde_json::{json, Map, Value};
use taboo::{EntryOptions, TokenId};
use taboo_llm::{BatchOutput, FinishReason, SamplingConfig};

use crate::bans::{entry_line, BanKey, BanMode};
use crate::decode::Prompt;
use crate::error::ApiError;

/// Limits and defaults that parsing needs from the server's configuration.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most entries in `banned_words` plus `ban_lists`.
    pub max_ban_entries: usize,
    /// Tokens in the vocabulary (`logit_bias` ids must be below).
    pub vocab_size: usize,
    /// Mode when a request names none.
    pub default_mode: BanMode,
    /// The server bans words on its own, so a request must not choose soft mode.
    pub server_bans: bool,
}

/// A parsed completion or chat-completion request.
#[derive(Clone, Debug)]
pub struct Request {
    /// Chat messages or a text prompt.
    pub prompt: Prompt,
    /// Most tokens to generate (`None`: up to the end of the context).
    pub max_tokens: Option<usize>,
    /// Sampling settings.
    pub sampling: SamplingConfig,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Answer as server-sent events.
    pub stream: bool,
    /// Send a usage chunk at the end of the stream.
    pub include_usage: bool,
    /// `logit_bias`, as (token, bias).
    pub logit_bias: Vec<(TokenId, f32)>,
    /// The request's own bans.
    pub bans: BanKey,
    /// How bans are enforced.
    pub mode: BanMode,
}

/// Which endpoint a request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completion,
}

/// Most stop strings, as OpenAI allows.
const MAX_STOP: usize = 4;

/// Parses a request body.
pub fn parse_request(
    body: &[u8],
    endpoint: Endpoint,
    limits: &Limits,
) -> Result<Request, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            None,
            format!("the body is not valid JSON ({e}); send one JSON object"),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(ApiError::invalid(None, "the body must be a JSON object"));
    };
    let prompt = match endpoint {
        Endpoint::Chat => Prompt::Chat(messages(&obj)?),
        Endpoint::Completion => Prompt::Text(text_prompt(&obj)?),
    };
    if let Some(n) = uint(&obj, "n")? {
        if n != 1 {
            return Err(ApiError::invalid(
                Some("n"),
                format!("n is {n}; this server generates one choice per request (n = 1)"),
            ));
        }
    }
    if let Some(v) = obj.get("logprobs").filter(|v| !v.is_null()) {
        if v != &Value::Bool(false) && v != &json!(0) {
            return Err(ApiError::invalid(
                Some("logprobs"),
                "logprobs are not supported by this server",
            ));
        }
    }
    let max_tokens = match endpoint {
        Endpoint::Chat => match uint(&obj, "max_completion_tokens")? {
            Some(m) => Some((m, "max_completion_tokens")),
            None => uint(&obj, "max_tokens")?.map(|m| (m, "max_tokens")),
        },
        // OpenAI's default for completions.
        Endpoint::Completion => Some((uint(&obj, "max_tokens")?.unwrap_or(16), "max_tokens")),
    };
    if let Some((0, name)) = max_tokens {
        return Err(ApiError::invalid(
            Some(name),
            format!("{name} must be at least 1"),
        ));
    }
    let temperature = number(&obj, "temperature")?.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::invalid(
            Some("temperature"),
            format!("temperature is {temperature}; it must be between 0 and 2"),
        ));
    }
    let top_p = number(&obj, "top_p")?.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(ApiError::invalid(
            Some("top_p"),
            format!("top_p is {top_p}; it must be greater than 0 and at most 1"),
        ));
    }
    let seed = match obj.get("seed").filter(|v| !v.is_null()) {
        None => random_seed(),
        Some(v) => match (v.as_u64(), v.as_i64()) {
            (Some(s), _) => s,
            // A negative seed is a seed too: its two's-complement bits.
            (None, Some(s)) => s as u64,
            _ => return Err(wrong_type("seed", "an integer")),
        },
    };
    let stop = match obj.get("stop").filter(|v| !v.is_null()) {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong_type("stop", "a string or an array of strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(wrong_type("stop", "a string or an array of strings")),
    };
    if stop.len() > MAX_STOP {
        return Err(ApiError::invalid(
            Some("stop"),
            format!(
                "{} stop strings; at most {MAX_STOP} are allowed",
                stop.len()
            ),
        ));
    }
    if stop.iter().any(String::is_empty) {
        return Err(ApiError::invalid(Some("stop"), "a stop string is empty"));
    }
    let stream = boolean(&obj, "stream")?.unwrap_or(false);
    let include_usage = match obj.get("stream_options").filter(|v| !v.is_null()) {
        None => false,
        Some(Value::Object(o)) => boolean(o, "include_usage")
            .map_err(|_| wrong_type("stream_options.include_usage", "a boolean"))?
            .unwrap_or(false),
        Some(_) => return Err(wrong_type("stream_options", "an object")),
    };
    let logit_bias = logit_bias(&obj, limits.vocab_size)?;
    let bans = bans(&obj, limits.max_ban_entries)?;
    let mode = ban_mode(&obj, limits)?;
    Ok(Request {
        prompt,
        max_tokens: max_tokens.map(|(m, _)| m),
        sampling: SamplingConfig::default()
            .with_temperature(temperature as f32)
            .with_top_p(top_p as f32)
            .with_seed(seed),
        stop,
        stream,
        include_usage,
        logit_bias,
        bans,
        mode,
    })
}

fn wrong_type(param: &str, expected: &str) -> ApiError {
    ApiError::invalid(Some(param), format!("{param} must be {expected}")).with_code("invalid_type")
}

/// A field that must be a non-negative integer, if present and not null.
fn uint(obj: &Map<String, Value>, name: &str) -> Result<Option<usize>, ApiError> {
    match obj.get(name).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n.min(usize::MAX as u64) as usize))
            .ok_or_else(|| wrong_type(name, "a non-negative integer")),
    }
}

fn number(obj: &Map<String, Value>, name: &str) -> Result<Option<f64>, ApiError> {
    match obj.get(name).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| wrong_type(name, "a number")),
    }
}

fn boolean(obj: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match obj.get(name).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| wrong_type(name, "a boolean")),
    }
}

/// A seed for a request that gives none: std's per-process random hasher keys, so no two
/// unseeded requests share one.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// The `messages` of a chat request: `(role, content)` with text content.
fn messages(obj: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(value) = obj.get("messages") else {
        return Err(ApiError::invalid(
            Some("messages"),
            "messages is required: an array of {\"role\", \"content\"} objects",
        ));
    };
    let Value::Array(items) = value else {
        return Err(wrong_type("messages", "an array of messages"));
    };
    if items.is_empty() {
        return Err(ApiError::invalid(Some("messages"), "messages is empty"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let param = format!("messages[{i}]");
            let Value::Object(m) = m else {
                return Err(wrong_type(&param, "an object with role and content"));
            };
            let role = m
                .get("role")
                .and_then(Value::as_str)
                .ok_or_else(|| wrong_type(&format!("{param}.role"), "a string"))?;
            let content =
                match m.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => {
                        let mut text = String::new();
                        for part in parts {
                            match (part.get("type").and_then(Value::as_str), part.get("text")) {
                                (Some("text"), Some(Value::String(t))) => text.push_str(t),
                                _ => return Err(ApiError::invalid(
                                    Some(&format!("{param}.content")),
                                    "only text content parts ({\"type\": \"text\", \"text\": …}) \
                                     are supported",
                                )),
                            }
                        }
                        text
                    }
                    Some(_) => {
                        return Err(wrong_type(
                            &format!("{param}.content"),
                            "a string or an array of text parts",
                        ))
                    }
                };
            Ok((role.to_string(), content))
        })
        .collect()
}

/// The `prompt` of a completion request: a string, or an array holding one string.
fn text_prompt(obj: &Map<String, Value>) -> Result<String, ApiError> {
    match obj.get("prompt") {
        None => Err(ApiError::invalid(
            Some("prompt"),
            "prompt is required: the text to continue",
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
            Ok(items[0].as_str().unwrap_or_default().to_string())
        }
        Some(Value::Array(_)) => Err(ApiError::invalid(
            Some("prompt"),
            "prompt must be one string (arrays of prompts and token ids are not supported)",
        )),
        Some(_) => Err(wrong_type("prompt", "a string")),
    }
}

/// `logit_bias`: `{"token id": bias}`, bias in −100..100.
fn logit_bias(
    obj: &Map<String, Value>,
    vocab_size: usize,
) -> Result<Vec<(TokenId, f32)>, ApiError> {
    let Some(value) = obj.get("logit_bias").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = value else {
        return Err(wrong_type(
            "logit_bias",
            "an object mapping token ids to biases",
        ));
    };
    let mut out = Vec::with_capacity(map.len());
    for (key, bias) in map {
        let token: usize = key.trim().parse().map_err(|_| {
            ApiError::invalid(
                Some("logit_bias"),
                format!("logit_bias key {key:?} is not a token id"),
            )
        })?;
        if token >= vocab_size {
            return Err(ApiError::invalid(
                Some("logit_bias"),
                format!("logit_bias token id {token} is out of range: the vocabulary has {vocab_size} tokens"),
            ));
        }
        let bias = bias
            .as_f64()
            .ok_or_else(|| wrong_type("logit_bias", "an object mapping token ids to numbers"))?;
        if !(-100.0..=100.0).contains(&bias) {
            return Err(ApiError::invalid(
                Some("logit_bias"),
                format!("logit_bias for token {token} is {bias}; biases go from -100 to 100"),
            ));
        }
        out.push((token as TokenId, bias as f32));
    }
    Ok(out)
}

/// Options an object entry of `banned_words` may carry, as in ban files.
const ENTRY_OPTIONS: [&str; 5] = ["regex", "case", "substring", "forms", "disguise"];

/// `banned_words` and `ban_lists`, as a normalised key.
fn bans(obj: &Map<String, Value>, max_entries: usize) -> Result<BanKey, ApiError> {
    let mut lines = Vec::new();
    if let Some(value) = obj.get("banned_words").filter(|v| !v.is_null()) {
        let Value::Array(items) = value else {
            return Err(wrong_type(
                "banned_words",
                "an array of words or {\"word\", options} objects",
            ));
        };
        for (i, item) in items.iter().enumerate() {
            let (word, options) = match item {
                Value::String(w) => (w.as_str(), EntryOptions::default()),
                Value::Object(o) => entry_object(o, i)?,
                _ => {
                    return Err(wrong_type(
                        &format!("banned_words[{i}]"),
                        "a string or a {\"word\", options} object",
                    ))
                }
            };
            if word.contains(['\n', '\r']) {
                return Err(ApiError::invalid(
                    Some("banned_words"),
                    format!(
                        "banned_words[{i}] {word:?} contains a line break; give one entry per item"
                    ),
                ));
            }
            if word.trim().is_empty() {
                return Err(ApiError::invalid(
                    Some("banned_words"),
                    format!("banned_words[{i}] is empty"),
                ));
            }
            lines.push(entry_line(word.trim(), options));
        }
    }
    let mut lists = Vec::new();
    if let Some(value) = obj.get("ban_lists").filter(|v| !v.is_null()) {
        let Value::Array(items) = value else {
            return Err(wrong_type("ban_lists", "an array of bundled list names"));
        };
        for item in items {
            let Some(name) = item.as_str() else {
                return Err(wrong_type("ban_lists", "an array of bundled list names"));
            };
            if taboo::lists::find(name).is_none() {
                return Err(ApiError::invalid(
                    Some("ban_lists"),
                    format!(
                        "no bundled list called {name:?}; the lists are: {}",
                        taboo::lists::names().join(", ")
                    ),
                ));
            }
            lists.push(name.to_string());
        }
    }
    if lines.len() + lists.len() > max_entries {
        return Err(ApiError::invalid(
            Some("banned_words"),
            format!(
                "{} ban entries; this server accepts at most {max_entries} per request \
                 (taboo serve --max-ban-entries)",
                lines.len() + lists.len()
            ),
        ));
    }
    Ok(BanKey::new(lines, lists))
}

fn entry_object(o: &Map<String, Value>, i: usize) -> Result<(&str, EntryOptions), ApiError> {
    let param = format!("banned_words[{i}]");
    let word = o
        .get("word")
        .and_then(Value::as_str)
        .ok_or_else(|| wrong_type(&format!("{param}.word"), "a string"))?;
    let mut options = EntryOptions::default();
    for (key, value) in o {
        if key == "word" {
            continue;
        }
        if !ENTRY_OPTIONS.contains(&key.as_str()) {
            return Err(ApiError::invalid(
                Some(&param),
                format!(
                    "{param} has an unknown option {key:?}; the options are: word, {}",
                    ENTRY_OPTIONS.join(", ")
                ),
            ));
        }
        let on = value
            .as_bool()
            .ok_or_else(|| wrong_type(&format!("{param}.{key}"), "a boolean"))?;
        match key.as_str() {
            "regex" => options.regex = on,
            "case" => options.case_sensitive = on,
            "substring" => options.whole_word = !on,
            "forms" => options.forms = on,
            _ => options.disguise = on,
        }
    }
    Ok((word, options))
}

fn ban_mode(obj: &Map<String, Value>, limits: &Limits) -> Result<BanMode, ApiError> {
    let penalty = number(obj, "ban_penalty")?;
    if let Some(p) = penalty {
        if !(p.is_finite() && p > 0.0) {
            return Err(ApiError::invalid(
                Some("ban_penalty"),
                format!("ban_penalty is {p}; it must be a positive number"),
            ));
        }
    }
    let mode = match obj.get("ban_mode").filter(|v| !v.is_null()) {
        None => limits.default_mode,
        Some(Value::String(s)) => match s.as_str() {
            "backtrack" => BanMode::Backtrack,
            "hard" => BanMode::Hard,
            "soft" => BanMode::Soft {
                penalty: match limits.default_mode {
                    BanMode::Soft { penalty } => penalty,
                    _ => 10.0,
                },
            },
            other => {
                return Err(ApiError::invalid(
                    Some("ban_mode"),
                    format!("ban_mode {other:?} is not one of backtrack, hard, soft"),
                ))
            }
        },
        Some(_) => return Err(wrong_type("ban_mode", "a string")),
    };
    let mode = match (mode, penalty) {
        (BanMode::Soft { .. }, Some(p)) => BanMode::Soft { penalty: p as f32 },
        (mode, _) => mode,
    };
    if matches!(mode, BanMode::Soft { .. })
        && limits.server_bans
        && !matches!(limits.default_mode, BanMode::Soft { .. })
    {
        return Err(ApiError::invalid(
            Some("ban_mode"),
            "this server bans words for every request, and soft mode would let them through; \
             use backtrack or hard",
        ));
    }
    Ok(mode)
}

/// What OpenAI's `finish_reason` says: `length` for the token limit, `stop` for every other
/// end. taboo's own reason (`eos`, `dead_end` …) is in the `taboo` extension.
pub fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Eos
        | FinishReason::Stop
        | FinishReason::DeadEnd
        | FinishReason::Interrupted => "stop",
    }
}

/// The `taboo` extension of a response: taboo's finish reason and what the ban did.
pub fn taboo_stats(out: &BatchOutput, mode: BanMode) -> Value {
    let g = &out.generation;
    let s = &g.stats;
    json!({
        "finish_reason": g.finish_reason.as_str(),
        "ban_mode": mode.as_str(),
        "masked_steps": s.masked_steps,
        "removed_mass": s.removed_mass,
        "backtracks": s.backtracks,
        "rewound_tokens": s.rewound_tokens,
        "violations": s.violations,
        "tokens": g.tokens,
    })
}

/// `usage`.
pub fn usage(prompt_tokens: usize, out: &BatchOutput) -> Value {
    let completion = out.generation.tokens.len();
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        // OpenAI's field: prompt tokens served from the cache, here a slot that still held
        // the same prompt (no prefill at all) or none.
        "prompt_tokens_details": {"cached_tokens": out.generation.stats.cached_prompt_tokens},
    })
}

/// What every response and chunk of one request shares.
#[derive(Clone, Debug)]
pub struct Meta {
    /// `chatcmpl-…` or `cmpl-…`.
    pub id: String,
    /// Unix time of the request.
    pub created: u64,
    /// The served model's name.
    pub model: String,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// How bans were enforced.
    pub mode: BanMode,
}

impl Meta {
    fn object(&self, chunk: bool) -> &'static str {
        match (self.endpoint, chunk) {
            (Endpoint::Chat, false) => "chat.completion",
            (Endpoint::Chat, true) => "chat.completion.chunk",
            (Endpoint::Completion, _) => "text_completion",
        }
    }

    /// The whole (non-streamed) response.
    pub fn response(&self, out: &BatchOutput) -> Value {
        let text = &out.generation.text;
        let reason = finish_reason(out.generation.finish_reason);
        let choice = match self.endpoint {
            Endpoint::Chat => json!({
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": reason,
            }),
            Endpoint::Completion => json!({
                "index": 0,
                "text": text,
                "logprobs": null,
                "finish_reason": reason,
            }),
        };
        json!({
            "id": self.id,
            "object": self.object(false),
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": usage(self.prompt_tokens, out),
            "taboo": taboo_stats(out, self.mode),
        })
    }

    /// A stream chunk carrying text (or, for the first chat chunk, the role).
    pub fn chunk(&self, text: &str, first: bool) -> Value {
        let choice = match self.endpoint {
            Endpoint::Chat if first => json!({
                "index": 0, "delta": {"role": "assistant", "content": text},
                "logprobs": null, "finish_reason": null,
            }),
            Endpoint::Chat => json!({
                "index": 0, "delta": {"content": text}, "logprobs": null, "finish_reason": null,
            }),
            Endpoint::Completion => json!({
                "index": 0, "text": text, "logprobs": null, "finish_reason": null,
            }),
        };
        self.wrap(vec![choice])
    }

    /// The last chunk with a choice: its finish reason and the `taboo` extension.
    pub fn final_chunk(&self, out: &BatchOutput) -> Value {
        let reason = finish_reason(out.generation.finish_reason);
        let choice = match self.endpoint {
            Endpoint::Chat => json!({
                "index": 0, "delta": {}, "logprobs": null, "finish_reason": reason,
            }),
            Endpoint::Completion => json!({
                "index": 0, "text": "", "logprobs": null, "finish_reason": reason,
            }),
        };
        let mut chunk = self.wrap(vec![choice]);
        chunk["taboo"] = taboo_stats(out, self.mode);
        chunk
    }

    /// The usage chunk (`stream_options.include_usage`): no choices.
    pub fn usage_chunk(&self, out: &BatchOutput) -> Value {
        let mut chunk = self.wrap(vec![]);
        chunk["usage"] = usage(self.prompt_tokens, out);
        chunk
    }

    fn wrap(&self, choices: Vec<Value>) -> Value {
        json!({
            "id": self.id,
            "object": self.object(true),
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_ban_entries: 4,
            vocab_size: 100,
            default_mode: BanMode::Backtrack,
            server_bans: false,
        }
    }

    fn parse(body: &str) -> Result<Request, ApiError> {
        parse_request(body.as_bytes(), Endpoint::Chat, &limits())
    }

    fn err(body: &str) -> ApiError {
        parse(body).expect_err(body)
    }

    const HI: &str = r#""messages": [{"role": "user", "content": "hi"}]"#;

    #[test]
    fn a_full_request_is_read() {
        let r = parse(&format!(
            r#"{{{HI}, "max_completion_tokens": 7, "max_tokens": 3, "temperature": 0.5,
               "top_p": 0.9, "seed": 42, "stop": ["\n", "END"], "stream": true,
               "stream_options": {{"include_usage": true}}, "logit_bias": {{"5": -100, "7": 2.5}},
               "banned_words": ["dog", {{"word": "colou?r", "regex": true}}, "dog"],
               "ban_lists": ["en-profanity"], "ban_mode": "hard", "n": 1, "model": "x"}}"#
        ))
        .unwrap();
        assert_eq!(r.max_tokens, Some(7));
        assert_eq!(r.sampling.temperature, 0.5);
        assert_eq!(r.sampling.seed, 42);
        assert_eq!(r.stop, vec!["\n", "END"]);
        assert!(r.stream && r.include_usage);
        assert_eq!(r.logit_bias, vec![(5, -100.0), (7, 2.5)]);
        assert_eq!(r.bans.lines, vec!["[regex] colou?r", "\\dog"]);
        assert_eq!(r.bans.lists, vec!["en-profanity"]);
        assert_eq!(r.mode, BanMode::Hard);
        match r.prompt {
            Prompt::Chat(m) => assert_eq!(m, vec![("user".to_string(), "hi".to_string())]),
            Prompt::Text(_) => panic!("a chat request"),
        }
    }

    #[test]
    fn defaults_follow_openai() {
        let r = parse(&format!("{{{HI}}}")).unwrap();
        assert_eq!(r.max_tokens, None);
        assert_eq!(r.sampling.temperature, 1.0);
        assert!(!r.stream);
        assert!(r.bans.is_empty());
        assert_eq!(r.mode, BanMode::Backtrack);
        let c = parse_request(br#"{"prompt": "Once"}"#, Endpoint::Completion, &limits()).unwrap();
        assert_eq!(c.max_tokens, Some(16));
    }

    #[test]
    fn wrong_types_name_the_field() {
        for (field, value) in [
            ("max_tokens", r#""ten""#),
            ("temperature", r#""hot""#),
            ("top_p", "[]"),
            ("seed", "1.5"),
            ("stop", "3"),
            ("stream", r#""yes""#),
            ("logit_bias", "[1]"),
            ("banned_words", r#""cat""#),
            ("ban_lists", r#""en-profanity""#),
            ("ban_mode", "1"),
            ("n", r#""1""#),
        ] {
            let e = err(&format!(r#"{{{HI}, "{field}": {value}}}"#));
            assert_eq!(e.status.as_u16(), 400, "{field}");
            assert_eq!(e.param.as_deref(), Some(field), "{field}: {e}");
            assert!(e.message.contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_reasons() {
        assert!(err("{").message.contains("not valid JSON"));
        assert!(err("[]").message.contains("JSON object"));
        assert_eq!(err("{}").param.as_deref(), Some("messages"));
        assert_eq!(
            err(&format!(r#"{{{HI}, "n": 2}}"#)).param.as_deref(),
            Some("n")
        );
        let e = err(&format!(r#"{{{HI}, "logit_bias": {{"100": 1}}}}"#));
        assert!(e.message.contains("out of range"), "{e}");
        let e = err(&format!(r#"{{{HI}, "logit_bias": {{"1": 101}}}}"#));
        assert!(e.message.contains("-100 to 100"), "{e}");
        let e = err(&format!(r#"{{{HI}, "temperature": 3}}"#));
        assert!(e.message.contains("between 0 and 2"), "{e}");
        let e = err(&format!(
            r#"{{{HI}, "banned_words": ["a", "b", "c", "d", "e"]}}"#
        ));
        assert!(e.message.contains("at most 4"), "{e}");
        let e = err(&format!(r#"{{{HI}, "ban_lists": ["nope"]}}"#));
        assert!(e.message.contains("en-profanity"), "{e}");
        let e = err(&format!(
            r#"{{{HI}, "banned_words": [{{"word": "x", "regx": true}}]}}"#
        ));
        assert!(e.message.contains("regx"), "{e}");
        let e = err(&format!(r#"{{{HI}, "banned_words": ["a\nb"]}}"#));
        assert!(e.message.contains("line break"), "{e}");
        let e = err(&format!(r#"{{{HI}, "max_tokens": 0}}"#));
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
    }

    #[test]
    fn soft_mode_cannot_weaken_server_bans() {
        let mut l = limits();
        let body = format!(r#"{{{HI}, "ban_mode": "soft", "ban_penalty": 4}}"#);
        let r = parse_request(body.as_bytes(), Endpoint::Chat, &l).unwrap();
        assert_eq!(r.mode, BanMode::Soft { penalty: 4.0 });
        l.server_bans = true;
        let e = parse_request(body.as_bytes(), Endpoint::Chat, &l).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("ban_mode"));
    }
}
