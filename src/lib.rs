//! scimd: a self-hosted SCIM 2.0 service provider in one binary and one redb file.
#![forbid(unsafe_code)]

pub mod admin;
pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod scim;
pub mod server;
pub mod service;
pub mod store;
