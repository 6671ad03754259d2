//! Change events across `scimd backup` and `scimd restore`, with the real binary serving, backing
//! up and restoring: a poll receiver that acknowledged part of the stream gets, from the
//! restored directory, exactly the events it had not acknowledged, in order, with the same
//! `jti`s, signed by a new key published in the JWKS (the key file is not in the backup; copied
//! alongside, the old key signs on). The next change continues the numbering, the header counts
//! the events, cursors and failures, and a backup missing an event record is refused. Every SET
//! is verified against the serving directory's JWKS with an independent JOSE library.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    ServeProcess, issue_token, scimd_at as scimd, scimd_command, user_body, write_plain_config,
};
use crate::event_receiver::verify_with;
use scimd::store::TokenScope;

const RECEIVER: &str =
    "[[events.receivers]]\nname = \"wiki\"\ndelivery = \"poll\"\npayload = \"notice\"\n";

/// A config serving `dir/data` over plain HTTP on a free port, with the poll receiver `wiki`.
fn config_for(dir: &Path) -> PathBuf {
    write_plain_config(dir, RECEIVER)
}

async fn serve(config: &Path) -> ServeProcess {
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(config).arg("serve");
    ServeProcess::start(cmd).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client")
}

async fn create_user(port: u16, token: &str, user_name: &str) -> String {
    let response = client()
        .post(format!("http://127.0.0.1:{port}/scim/v2/Users"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(user_body(user_name, json!(null)).to_string())
        .send()
        .await
        .expect("POST /Users");
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.expect("JSON");
    created["id"].as_str().expect("id").to_string()
}

async fn jwks(port: u16) -> Value {
    let response = client()
        .get(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
        .send()
        .await
        .expect("GET jwks");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("JWKS")
}

fn kids(jwks: &Value) -> Vec<String> {
    let keys = jwks["keys"].as_array().expect("keys");
    keys.iter().map(|k| k["kid"].as_str().expect("kid").to_string()).collect()
}

/// One SET as the receiver checked it: its `jti`, the user it is about, its `txn` and the
/// `kid` that signed it.
#[derive(Debug, Clone, PartialEq)]
struct Polled {
    jti: String,
    user: String,
    txn: String,
    kid: String,
}

/// Polls `wiki` without waiting; every SET is verified against the server's JWKS.
async fn poll(port: u16, token: &str, mut body: Value) -> Vec<Polled> {
    body["returnImmediately"] = json!(true);
    let response = client()
        .post(format!("http://127.0.0.1:{port}/events/wiki"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("poll");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.expect("poll answer");
    if body["maxEvents"] != 0 {
        assert_eq!(answer["moreAvailable"], false, "{answer}");
    }
    let keys = jwks(port).await;
    let mut out = Vec::new();
    for (jti, set) in answer["sets"].as_object().expect("sets") {
        let set = set.as_str().expect("a compact SET");
        let claims = verify_with(&keys, set);
        assert_eq!(claims["jti"], jti.as_str());
        assert_eq!(claims["aud"], "wiki");
        let uri = claims["sub_id"]["uri"].as_str().expect("sub_id.uri");
        out.push(Polled {
            jti: jti.clone(),
            user: uri.trim_start_matches("/Users/").to_string(),
            txn: claims["txn"].as_str().expect("txn").to_string(),
            kid: jsonwebtoken::decode_header(set).expect("header").kid.expect("kid"),
        });
    }
    out
}

fn jtis(sets: &[Polled]) -> Vec<String> {
    sets.iter().map(|s| s.jti.clone()).collect()
}

/// The backup's lines with this record tag (`event`, `cursor`, `event_failure`).
fn tagged<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    let start = format!("{{\"{tag}\":");
    text.lines().filter(|l| l.starts_with(&start)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_receiver_resumes_from_a_restored_backup_with_the_same_jtis() {
    let original = tempfile::tempdir().expect("tempdir");
    let data = original.path().join("data");
    let scim_token = issue_token(&data, "entra", TokenScope::ReadWrite);
    let poll_token =
        issue_token(&data, "wiki-poll", TokenScope::Events { receiver: "wiki".into() });
    let config = config_for(original.path());
    let mut server = serve(&config).await;

    let mut users = Vec::new();
    for i in 0..6 {
        users.push(create_user(server.port, &scim_token, &format!("b{i}@example.org")).await);
    }
    let before = poll(server.port, &poll_token, json!({"maxEvents": 10})).await;
    assert_eq!(before.iter().map(|s| s.user.clone()).collect::<Vec<_>>(), users);
    // The receiver stores the first two, cannot use the third, and has not got to the rest.
    let acknowledged = json!({
        "ack": [before[0].jti, before[1].jti],
        "setErrs": {before[2].jti.as_str(): {"err": "invalid_request", "description": "cannot parse"}},
        "maxEvents": 0
    });
    assert!(poll(server.port, &poll_token, acknowledged).await.is_empty());
    let pending = poll(server.port, &poll_token, json!({"maxEvents": 10})).await;
    assert_eq!(pending, before[3..]);

    // An online backup from the running server.
    let file = original.path().join("backup.jsonl");
    let out = scimd(&config, &["backup", file.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("from the running server"), "{}", out.stderr);
    let counted = "6 events, 1 receiver cursors, 1 event failures";
    assert!(out.stderr.contains(counted), "{}", out.stderr);
    let text = std::fs::read_to_string(&file).expect("backup");
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).expect("header");
    let counts = &header["counts"];
    assert_eq!(
        (&counts["events"], &counts["cursors"], &counts["event_failures"]),
        (&json!(6), &json!(1), &json!(1))
    );
    assert_eq!(tagged(&text, "event").len(), 6);
    let cursor: Value = serde_json::from_str(tagged(&text, "cursor")[0]).expect("cursor");
    assert_eq!(cursor, json!({"cursor": {"receiver": "wiki", "acked": 3, "failed": 1}}));
    let failure: Value = serde_json::from_str(tagged(&text, "event_failure")[0]).unwrap();
    assert_eq!(failure["event_failure"]["seq"], 3);
    assert_eq!(failure["event_failure"]["error"], "invalid_request: cannot parse");
    let old_kid = before[0].kid.clone();
    server.kill();

    // Restored into a fresh data directory: the key file does not travel.
    let fresh = tempfile::tempdir().expect("tempdir");
    let fresh_config = config_for(fresh.path());
    let out = scimd(&fresh_config, &["restore", file.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains(counted), "{}", out.stderr);
    let key_file = fresh.path().join("data/event-signing-keys.json");
    assert!(!key_file.exists(), "a restore writes no signing key");

    let restored = serve(&fresh_config).await;
    let published = jwks(restored.port).await;
    assert!(!kids(&published).contains(&old_kid), "a new key: {published}");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let resumed = poll(restored.port, &poll_token, json!({"maxEvents": 10})).await;
    assert_eq!(jtis(&resumed), jtis(&before[3..]), "exactly the unacknowledged, in order");
    for (after, was) in resumed.iter().zip(&before[3..]) {
        assert_eq!((&after.user, &after.txn), (&was.user, &was.txn));
        assert_ne!(after.kid, old_kid);
    }
    let status = scimd(&fresh_config, &["events", "status"]).await;
    assert!(status.stdout.contains("acknowledged: event 3 of 6; backlog 3"), "{status:?}");
    assert!(status.stdout.contains("event 3 at"), "{status:?}");
    assert!(status.stdout.contains("invalid_request: cannot parse"), "{status:?}");

    // The restored SCIM token writes; the change is event 7, after the restored ones.
    let newcomer = create_user(restored.port, &scim_token, "after-restore@example.org").await;
    let next = poll(restored.port, &poll_token, json!({"ack": jtis(&resumed)})).await;
    assert_eq!(next.iter().map(|s| s.user.clone()).collect::<Vec<_>>(), [newcomer]);
    assert!(
        poll(restored.port, &poll_token, json!({"ack": jtis(&next), "maxEvents": 0}))
            .await
            .is_empty()
    );
    let status = scimd(&fresh_config, &["events", "status"]).await;
    assert!(status.stdout.contains("acknowledged: event 7 of 7; backlog 0"), "{status:?}");
    drop(restored);

    // With the key file copied alongside, the old key signs on.
    let keyed = tempfile::tempdir().expect("tempdir");
    let keyed_config = config_for(keyed.path());
    assert_eq!(scimd(&keyed_config, &["restore", file.to_str().unwrap()]).await.code, Some(0));
    let copied = keyed.path().join("data/event-signing-keys.json");
    std::fs::copy(data.join("event-signing-keys.json"), &copied).expect("copy the key file");
    std::fs::set_permissions(&copied, std::fs::Permissions::from_mode(0o600)).unwrap();
    let restored = serve(&keyed_config).await;
    assert_eq!(kids(&jwks(restored.port).await), [old_kid.clone()]);
    let resumed = poll(restored.port, &poll_token, json!({"maxEvents": 10})).await;
    assert_eq!(resumed, before[3..], "the same SETs, signed by the same key");
}

#[tokio::test]
async fn a_backup_whose_event_records_do_not_add_up_is_refused() {
    let original = tempfile::tempdir().expect("tempdir");
    let data = original.path().join("data");
    let scim_token = issue_token(&data, "entra", TokenScope::ReadWrite);
    let config = config_for(original.path());
    let server = serve(&config).await;
    for i in 0..3 {
        create_user(server.port, &scim_token, &format!("c{i}@example.org")).await;
    }
    let file = original.path().join("backup.jsonl");
    assert_eq!(scimd(&config, &["backup", file.to_str().unwrap()]).await.code, Some(0));
    drop(server);
    let text = std::fs::read_to_string(&file).expect("backup");
    let event = tagged(&text, "event")[1];
    let header = text.lines().next().unwrap();
    let altered = [
        // An event line lost in the middle.
        text.lines().filter(|l| *l != event).collect::<Vec<_>>().join("\n"),
        // A header that counts one event fewer than the file holds.
        text.replacen(header, &header.replace("\"events\":3", "\"events\":2"), 1),
    ];
    assert_ne!(altered[1], text, "the header counts 3 events");
    for (i, bad) in altered.iter().enumerate() {
        let target = tempfile::tempdir().expect("tempdir");
        let bad_file = target.path().join("altered.jsonl");
        std::fs::write(&bad_file, bad).expect("write");
        let out = scimd(&config_for(target.path()), &["restore", bad_file.to_str().unwrap()]).await;
        assert_eq!(out.code, Some(1), "{i}: {out:?}");
        assert!(out.stderr.contains("incomplete or altered"), "{i}: {}", out.stderr);
        assert!(out.stderr.contains("events"), "{i}: {}", out.stderr);
        assert!(out.stderr.contains("unchanged"), "{i}: {}", out.stderr);
        assert!(!target.path().join("data/scimd.redb").exists(), "{i}: nothing restored");
    }
}
