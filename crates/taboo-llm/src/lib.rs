//! llama.cpp runtime (placeholder until the runtime lands).
