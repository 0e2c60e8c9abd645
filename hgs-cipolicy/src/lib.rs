//! hgs-cipolicy (under construction in this session).
#![forbid(unsafe_code)]
