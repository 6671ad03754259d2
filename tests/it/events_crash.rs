//! Change events survive `kill -9`: the real binary serves creates from one client and pushes
//! their events to a real HTTPS receiver; it is killed at a random moment, restarted, killed
//! again. At the end every acknowledged create has reached the receiver at least once, the
//! events arrived in commit order, and a resent event was the same event (same `jti`, same
//! subject and payload). Every SET is verified against the published JWKS.
//!
//! `SCIMD_EVENT_CRASH_CYCLES` sets the least number of cycles (4 by default); cycles go on
//! until 1,000 creates were answered.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{issue_token, serve_process, user_body, write_plain_config};
use crate::event_receiver::{Receiver, fetch_jwks, first_arrivals};
use scimd::store::TokenScope;

const METRICS: &str = "[metrics]\nlisten = \"127.0.0.1:0\"\n";

/// Creates users one after another until the server goes away; returns the ids it was told,
/// in order, and whether one was in flight when the server died.
async fn create_until_killed(port: u16, token: &str, prefix: &str) -> Vec<String> {
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let mut ids = Vec::new();
    for i in 0.. {
        let body = user_body(&format!("{prefix}-{i}@example.org"), json!(null));
        let sent = client
            .post(format!("http://127.0.0.1:{port}/scim/v2/Users"))
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await;
        let Ok(response) = sent else { return ids };
        let status = response.status().as_u16();
        let Ok(text) = response.text().await else { return ids };
        if status == 429 {
            continue;
        }
        assert_eq!(status, 201, "{text}");
        let created: Value = serde_json::from_str(&text).expect("json");
        ids.push(created["id"].as_str().expect("id").to_string());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_event_of_an_acknowledged_change_is_lost_to_kill_9() {
    let cycles: u32 =
        std::env::var("SCIMD_EVENT_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let token = issue_token(&data_dir, "crash", TokenScope::ReadWrite);
    let config = write_plain_config(
        dir.path(),
        &(METRICS.to_string() + &receiver.config(dir.path(), "wiki", "notice")),
    );
    let mut acknowledged: Vec<String> = Vec::new();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    // At least `cycles` kills, and on until 1,000 provisioning requests were answered.
    let mut ran = 0;
    for cycle in 0.. {
        if cycle >= cycles && (acknowledged.len() >= 1_000 || cycle >= 40) {
            break;
        }
        ran += 1;
        let mut process = serve_process(&config).await;
        let client = tokio::spawn({
            let token = token.clone();
            let port = process.port;
            async move { create_until_killed(port, &token, &format!("k{cycle}")).await }
        });
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        tokio::time::sleep(Duration::from_millis(300 + (seed >> 33) % 900)).await;
        process.kill();
        acknowledged.extend(client.await.expect("client"));
    }
    // Up again: the stream resumes from its stored cursor and catches up.
    let process = serve_process(&config).await;
    assert_eq!(delivery_nice(process.child.id()), Some(10), "deliveries yield the CPU to requests");
    let jwks = fetch_jwks(process.port).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    // A resend must be the same event (checked by first_arrivals); first arrivals follow
    // commit order, which for one client is the order its creates were answered (an
    // unanswered one may sit between them).
    let (firsts, resent) = loop {
        let (firsts, resent) = first_arrivals(&receiver, &jwks);
        let delivered: Vec<&str> =
            firsts.iter().map(|c| c["sub_id"]["id"].as_str().expect("id")).collect();
        let all = acknowledged.iter().all(|id| delivered.contains(&id.as_str()));
        if all || std::time::Instant::now() > deadline {
            break (firsts, resent);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let first_arrivals: Vec<String> =
        firsts.iter().map(|c| c["sub_id"]["id"].as_str().expect("id").to_string()).collect();
    let missing: Vec<&String> =
        acknowledged.iter().filter(|id| !first_arrivals.contains(id)).collect();
    assert!(missing.is_empty(), "{} acknowledged creates never told: {missing:?}", missing.len());
    let positions: Vec<usize> = acknowledged
        .iter()
        .map(|id| first_arrivals.iter().position(|d| d == id).expect("delivered"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "events out of commit order");
    eprintln!(
        "{ran} kill -9 cycles: {} acknowledged creates, {} SETs received ({resent} resent), \
         0 lost",
        acknowledged.len(),
        firsts.len() + resent
    );
    assert!(
        acknowledged.len() >= 1_000,
        "too few creates to mean anything: {}",
        acknowledged.len()
    );
    // The operator's view once caught up: nothing waiting, nothing held, a lag measured.
    let mut process = process;
    let line = process.stderr_line("serving /metrics");
    let port = line.split_once("127.0.0.1:").and_then(|(_, rest)| {
        rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u16>().ok()
    });
    // The cursor is stored after each run of deliveries, and a create that was committed but
    // never answered may still be on its way: wait for the backlog to reach 0.
    let url = format!("http://127.0.0.1:{}/metrics", port.expect("port"));
    let caught_up = std::time::Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let text = reqwest::get(&url).await.expect("metrics").text().await.expect("text");
        if text.contains("scimd_event_backlog{receiver=\"wiki\"} 0")
            || std::time::Instant::now() > caught_up
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for want in [
        "scimd_event_backlog{receiver=\"wiki\"} 0",
        "scimd_event_receiver_held{receiver=\"wiki\"} 0",
        "scimd_events_failed{receiver=\"wiki\"} 0",
        "scimd_event_delivery_lag_seconds{receiver=\"wiki\"}",
        "scimd_events_delivered{receiver=\"wiki\"}",
    ] {
        assert!(metrics.contains(want), "{want} in:\n{metrics}");
    }
    drop(process);
}

/// The nice value of the `scimd-delivery` thread of process `pid`, from `/proc`.
fn delivery_nice(pid: u32) -> Option<i64> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "scimd-delivery" {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // After the `(comm)` field: state is field 3, nice is field 19.
            let after = stat.rsplit_once(')')?.1;
            return after.split_whitespace().nth(16)?.parse().ok();
        }
    }
    None
}
