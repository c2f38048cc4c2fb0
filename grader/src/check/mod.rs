//! Judging a run: transcripts, the wire, the end state.

pub mod transcript;
pub mod wire;
