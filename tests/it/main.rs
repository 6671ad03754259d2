//! scimd's integration tests: one test binary, each test with its own server and temporary
//! data directory, talking real HTTPS on 127.0.0.1.

mod common;
mod smoke;
