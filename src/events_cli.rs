//! `scimd events …`: the change-event streams as an admin sees them (status), lifting a
//! receiver's hold once its configuration is fixed (retry), and rotating the signing key.
//! Each goes to the running server over the admin socket, or to the data file when stopped.

use anyhow::{Context, Result};
use clap::Subcommand;

use scimd::admin::AdminRequest;
use scimd::config::Config;
use scimd::domain::text::escape;
use scimd::service::ReceiverStatus;

use crate::admin_client::admin_request;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Each receiver: its state, the last event it acknowledged, how many it lacks and since
    /// when, its last error, and the events it refused as malformed
    Status,
    /// Resume a receiver that is held (after its authorization, key or endpoint is fixed)
    Retry {
        /// The receiver's name, as in [[events.receivers]]
        name: String,
    },
    /// Add a new signing key and sign new events with it; the new kid is printed on stdout.
    /// The old keys stay in /.well-known/jwks.json for `[events] keep_days` (default 7), so
    /// events already sent still verify
    RotateKey,
}

pub async fn run(config: &Config, command: EventsCommand) -> Result<()> {
    match command {
        EventsCommand::Status => status(config).await,
        EventsCommand::Retry { name } => retry(config, name).await,
        EventsCommand::RotateKey => rotate_key(config).await,
    }
}

/// `scimd events status`: one block per receiver, on stdout.
async fn status(config: &Config) -> Result<()> {
    let result = admin_request(config, AdminRequest::EventsStatus).await?;
    let receivers: Vec<ReceiverStatus> =
        serde_json::from_value(result).context("reading the receivers' status")?;
    if receivers.is_empty() {
        eprintln!("No event receiver has started yet ([[events.receivers]] in the config).");
        return Ok(());
    }
    for r in &receivers {
        let state = match (&r.cursor.stalled, &r.stream) {
            (Some(_), _) => "held".to_string(),
            (None, Some(s)) => s.state.to_string(),
            (None, None) => "not streaming (poll, or the server is stopped)".to_string(),
        };
        println!("{}: {state}", escape(&r.name));
        println!(
            "  acknowledged: event {} of {}; backlog {}{}",
            r.cursor.acked,
            r.newest_event,
            r.backlog,
            r.oldest_pending_secs.map(|s| format!(", oldest {s} s old")).unwrap_or_default()
        );
        match r.cursor.feed {
            Some(feed) if !feed.ready => {
                println!("  feed of existing resources: being taken ({} so far)", feed.total)
            }
            Some(feed) => println!(
                "  feed of existing resources: {} of {} acknowledged, then the events after \
                 event {}",
                feed.acked, feed.total, r.cursor.acked
            ),
            None => {}
        }
        if let Some(reason) = &r.cursor.stalled {
            println!("  held because: {}", escape(reason));
            println!("  fix it, then: scimd events retry {}", escape(&r.name));
        }
        if let Some(s) = &r.stream {
            println!("  delivered since start: {}", s.delivered);
            if let (Some(e), Some(at)) = (&s.last_error, &s.last_error_at) {
                println!("  last error: {at}: {}", escape(e));
            }
        }
        if r.cursor.failed > 0 {
            println!("  refused as malformed and skipped: {}", r.cursor.failed);
            for f in &r.recent_failures {
                let which = match f.feed {
                    Some(index) => format!("feed row {index}"),
                    None => format!("event {}", f.seq),
                };
                println!("    {which} at {}: {}", f.time, escape(&f.error));
            }
        }
    }
    Ok(())
}

/// `scimd events retry NAME`.
async fn retry(config: &Config, name: String) -> Result<()> {
    admin_request(config, AdminRequest::EventsRetry { name: name.clone() }).await?;
    eprintln!("Resumed event delivery to '{}'.", escape(&name));
    Ok(())
}

/// `scimd events rotate-key`: on the running server's ring (the JWKS lists the new key at
/// once), else on the key file of the stopped server.
async fn rotate_key(config: &Config) -> Result<()> {
    let result = admin_request(config, AdminRequest::EventsRotateKey).await?;
    let kid = result["kid"].as_str().context("reading the new key's kid")?;
    let published = result["kids"].as_array().map_or(0, Vec::len);
    eprintln!(
        "Added event signing key {kid}; new events are signed with it. {published} keys are \
         published at {}/.well-known/jwks.json; superseded keys stay there for {} days.",
        config.public_url, config.events.keep_days
    );
    println!("{kid}");
    Ok(())
}
