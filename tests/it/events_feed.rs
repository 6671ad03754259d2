//! `start = "beginning"`: a receiver added to a directory of 10,000 users (by a reload, while
//! provisioning goes on) is first told of every resource in one read snapshot (`feed:add`),
//! then of every change after that snapshot, with no gap and no overlap, and its progress
//! through the feed survives `kill -9`. The real binary pushes to a real HTTPS receiver; every
//! SET is verified against the published JWKS.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{ProcessClient as Client, issue_token, serve_process, write_plain_config};
use crate::event_receiver::{Receiver, fetch_jwks, first_arrivals};
use scimd::store::TokenScope;

const USERS: usize = 10_000;
const FEED_ADD: &str = "urn:ietf:params:scim:event:feed:add";
const PROV: &str = "urn:ietf:params:scim:event:prov:";

/// One acknowledged change made while the receiver was being fed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Create(String),
    Patch(String),
    Delete(String),
}

impl Op {
    fn id(&self) -> &str {
        match self {
            Op::Create(id) | Op::Patch(id) | Op::Delete(id) => id,
        }
    }
}

/// Provisioning as an IdP does it, one request at a time, `rounds` rounds of a create, a
/// patch of an existing user and a delete of another; returns the acknowledged changes in
/// order (commit order, one client).
async fn provision(client: Client, existing: Vec<String>, from: usize, rounds: usize) -> Vec<Op> {
    let mut done = Vec::new();
    for i in from..from + rounds {
        done.push(Op::Create(client.create(&format!("live-{i}@example.org")).await));
        let patched = existing[100 + i].clone();
        let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "displayName", "value": format!("Round {i}")}]});
        let (status, body) =
            client.send(reqwest::Method::PATCH, &format!("/Users/{patched}"), Some(ops)).await;
        assert_eq!(status, 200, "{body}");
        done.push(Op::Patch(patched));
        let deleted = existing[5_000 + i].clone();
        let (status, body) =
            client.send(reqwest::Method::DELETE, &format!("/Users/{deleted}"), None).await;
        assert_eq!(status, 204, "{body}");
        done.push(Op::Delete(deleted));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done
}

fn event_of(claims: &Value) -> (String, String) {
    let events = claims["events"].as_object().expect("events");
    let uri = events
        .keys()
        .find(|k| *k == FEED_ADD || k.starts_with(PROV) && !k.ends_with("activate"))
        .expect("an event URI")
        .clone();
    (uri, claims["sub_id"]["id"].as_str().expect("id").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_from_the_beginning_gets_a_feed_then_the_live_stream_with_no_gap_or_overlap() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = issue_token(&dir.path().join("data"), "idp", TokenScope::ReadWrite);
    let config = write_plain_config(dir.path(), "");
    let mut process = serve_process(&config).await;
    let client = Client::new(process.port, &token);

    // A directory of 10,000 users and a group of three of them, loaded by 16 clients.
    let loaded = Instant::now();
    let mut loaders = Vec::new();
    for worker in 0..16 {
        let client = client.clone();
        loaders.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (worker..USERS).step_by(16) {
                ids.push((i, client.create(&format!("user-{i:05}@example.org")).await));
            }
            ids
        }));
    }
    let mut existing = vec![String::new(); USERS];
    for loader in loaders {
        for (i, id) in loader.await.expect("loader") {
            existing[i] = id;
        }
    }
    let members: Vec<Value> = existing[..3].iter().map(|id| json!({"value": id})).collect();
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                       "displayName": "Wiki editors", "members": members});
    let (status, body) = client.send(reqwest::Method::POST, "/Groups", Some(group)).await;
    assert_eq!(status, 201, "{body}");
    eprintln!("loaded {USERS} users in {:.1} s", loaded.elapsed().as_secs_f64());

    // The receiver is added by a reload, while an IdP keeps provisioning.
    let receivers = receiver.config(dir.path(), "wiki", "notice") + "start = \"beginning\"\n";
    let config = write_plain_config(dir.path(), &receivers);
    let during = tokio::spawn(provision(client.clone(), existing.clone(), 0, 40));
    let status = std::process::Command::new("kill")
        .args(["-HUP", &process.child.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    let mut ops = during.await.expect("provisioning");

    // kill -9 part-way through the feed; the restarted server goes on from its cursor.
    let deadline = Instant::now() + Duration::from_secs(300);
    while receiver.received().len() < 4_000 {
        assert!(Instant::now() < deadline, "the feed did not start: {:?}", process.stderr);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    process.kill();
    let before_kill = receiver.received().len();
    let process = serve_process(&config).await;
    let client = Client::new(process.port, &token);
    ops.extend(provision(client.clone(), existing.clone(), 40, 20).await);

    // Everything arrives: the snapshot's resources, then every change after it.
    let jwks = fetch_jwks(process.port).await;
    let final_users = client.all_ids("/Users").await;
    let final_groups = client.all_ids("/Groups").await;
    let (firsts, resent) = loop {
        let (firsts, resent) = first_arrivals(&receiver, &jwks);
        let state = replay(&firsts);
        let done = state.as_ref().is_ok_and(|s| {
            s.len() == final_users.len() + final_groups.len()
                && firsts.last().is_some_and(|c| event_of(c).1 == ops.last().expect("ops").id())
        });
        if done || Instant::now() > deadline {
            break (firsts, resent);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let feed: Vec<&Value> = firsts.iter().take_while(|c| event_of(c).0 == FEED_ADD).collect();
    let live = &firsts[feed.len()..];
    assert!(
        live.iter().all(|c| event_of(c).0 != FEED_ADD),
        "every feed:add comes before every live event"
    );
    let fed: BTreeSet<String> = feed.iter().map(|c| event_of(c).1).collect();
    assert_eq!(fed.len(), feed.len(), "one feed:add per resource");
    let snapshot_txn = feed[0]["txn"].clone();
    assert!(feed.iter().all(|c| c["txn"] == snapshot_txn), "one snapshot");
    assert!(feed.iter().all(|c| c["events"][FEED_ADD] == json!({})), "feed:add carries {{}}");
    // The changes are a prefix (in the snapshot) and a suffix (told live): no gap, no overlap.
    let told: Vec<(String, String)> = live.iter().map(event_of).collect();
    let suffix = ops.len() - told.len();
    for (op, (uri, id)) in ops[suffix..].iter().zip(&told) {
        let want = match op {
            Op::Create(_) => "prov:create:notice",
            Op::Patch(_) => "prov:patch:notice",
            Op::Delete(_) => "prov:delete",
        };
        assert_eq!(
            (uri.trim_start_matches("urn:ietf:params:scim:event:"), id.as_str()),
            (want, op.id())
        );
    }
    for op in &ops[..suffix] {
        match op {
            Op::Create(id) => assert!(fed.contains(id), "a change before the snapshot is in it"),
            Op::Delete(id) => assert!(!fed.contains(id), "a delete before the snapshot is in it"),
            Op::Patch(_) => {}
        }
    }
    let in_snapshot_before: usize = ops[..suffix]
        .iter()
        .map(|op| match op {
            Op::Create(_) => 1isize,
            Op::Delete(_) => -1,
            Op::Patch(_) => 0,
        })
        .sum::<isize>()
        .try_into()
        .unwrap_or(0);
    assert_eq!(fed.len(), USERS + 1 + in_snapshot_before, "the snapshot's users and the group");
    let state = replay(&firsts).expect("a consistent stream");
    let want: BTreeSet<String> = final_users.union(&final_groups).cloned().collect();
    assert_eq!(state, want, "the receiver's picture is the directory");
    eprintln!(
        "feed of {} resources ({} changes before the snapshot, {} told live), {} SETs resent \
         after kill -9 at {before_kill} received",
        fed.len(),
        suffix,
        told.len(),
        resent
    );
    assert!(!told.is_empty(), "provisioning went on after the snapshot");
    assert!(resent < before_kill / 2, "the feed resumed from its stored progress: {resent} resent");
}

/// The set of resources a receiver following `firsts` believes exist; an error where the
/// stream contradicts itself (a create of what it has, a change to what it lacks).
fn replay(firsts: &[Value]) -> Result<BTreeSet<String>, String> {
    let mut state = BTreeSet::new();
    for claims in firsts {
        let (uri, id) = event_of(claims);
        let known = state.contains(&id);
        match uri.trim_start_matches("urn:ietf:params:scim:event:") {
            "feed:add" | "prov:create:notice" if known => {
                return Err(format!("{uri} of {id} twice"));
            }
            "feed:add" | "prov:create:notice" => {
                state.insert(id);
            }
            "prov:delete" if known => {
                state.remove(&id);
            }
            other if !known => return Err(format!("{other} of unknown {id}")),
            _ => {}
        }
    }
    Ok(state)
}
