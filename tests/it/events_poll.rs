//! Poll delivery of change events (RFC 8936) from the real server: `POST /events/{receiver}`
//! with `ack`, `setErrs`, `maxEvents` and `returnImmediately`, the long poll, redelivery of
//! what was not acknowledged, a restart resuming from the stored cursor, and tokens kept to
//! their side (a poll token reads no SCIM endpoint; a SCIM token cannot poll), polling going
//! on after a reload sets `[scim] enabled = false`, and a receiver that starts from the
//! beginning fed the existing resources first. Every SET is verified against the
//! published JWKS with an independent JOSE library.

use std::time::{Duration, Instant};

use reqwest::Method;
use scimd::store::{ReadQueries, Store, TokenScope};
use serde_json::{Value, json};

use crate::common::*;
use crate::event_receiver::verified;

const PROV: &str = "urn:ietf:params:scim:event:prov:";

/// Two poll receivers: `wiki` (users and groups, notice) and `vpn` (users only, full).
const RECEIVERS: &str = "[[events.receivers]]\nname = \"wiki\"\ndelivery = \"poll\"\n\
    payload = \"notice\"\n\n[[events.receivers]]\nname = \"vpn\"\ndelivery = \"poll\"\n\
    payload = \"full\"\nresource_types = [\"User\"]\n";

fn events_scope(receiver: &str) -> TokenScope {
    TokenScope::Events { receiver: receiver.to_string() }
}

/// POSTs a poll body (any JSON, or raw text) to `/events/{receiver}` with `token`.
async fn poll_raw(s: &TestServer, token: &str, receiver: &str, body: String) -> Reply {
    let url = format!("https://127.0.0.1:{}/events/{receiver}", s.port);
    send(
        s.client.post(url).bearer_auth(token).header("content-type", "application/json").body(body),
    )
    .await
}

/// A successful poll: the `(jti, SET)`s in answer order and `moreAvailable`.
async fn poll(
    s: &TestServer,
    token: &str,
    receiver: &str,
    body: Value,
) -> (Vec<(String, String)>, bool) {
    let reply = poll_raw(s, token, receiver, body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    assert_eq!(reply.content_type(), "application/json");
    let sets = reply.body["sets"].as_object().expect("sets is an object");
    let sets = sets
        .iter()
        .map(|(jti, set)| (jti.clone(), set.as_str().expect("a compact SET").to_string()))
        .collect();
    (sets, reply.body["moreAvailable"].as_bool().expect("moreAvailable"))
}

/// Polls without waiting.
async fn poll_now(s: &TestServer, token: &str, body: Value) -> (Vec<(String, String)>, bool) {
    let mut body = body;
    body["returnImmediately"] = json!(true);
    poll(s, token, "wiki", body).await
}

/// The user each SET is about, after verifying it names `receiver` as its audience and
/// carries its `jti` as the answer's key.
async fn subjects(s: &TestServer, receiver: &str, sets: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (jti, set) in sets {
        let claims = verified(s, set).await;
        assert_eq!(claims["aud"], receiver, "the audience of a polled SET is the receiver");
        assert_eq!(&claims["jti"], jti);
        assert_eq!(claims["iss"], format!("https://127.0.0.1:{}", s.port));
        let uri = claims["sub_id"]["uri"].as_str().expect("sub_id.uri");
        out.push(uri.trim_start_matches("/Users/").to_string());
    }
    out
}

fn jtis(sets: &[(String, String)]) -> Vec<String> {
    sets.iter().map(|(jti, _)| jti.clone()).collect()
}

#[tokio::test]
async fn polled_sets_verify_and_what_is_not_acknowledged_comes_again() {
    let s = TestServer::start_with(RECEIVERS).await;
    let token = s.issue_token("wiki-poll", events_scope("wiki"), None).await;
    let mut users = Vec::new();
    for i in 0..3 {
        users.push(s.create_user(&format!("poll{i}@example.org")).await);
    }
    let (sets, more) = poll_now(&s, &token, json!({})).await;
    assert!(!more);
    assert_eq!(subjects(&s, "wiki", &sets).await, users, "oldest first");
    let first = verified(&s, &sets[0].1).await;
    assert!(first["events"].get(format!("{PROV}create:notice")).is_some(), "{first}");
    assert_eq!(first["sub_id"]["format"], "scim");
    let offered = jtis(&sets);

    // Ack the first, report the second: only the third is offered again, with its jti.
    let body = json!({
        "ack": [offered[0]],
        "setErrs": {offered[1].as_str(): {"err": "invalid_request", "description": "cannot parse"}}
    });
    let (sets, more) = poll_now(&s, &token, body).await;
    assert_eq!((jtis(&sets), more), (vec![offered[2].clone()], false));
    assert_eq!(subjects(&s, "wiki", &sets).await, [users[2].clone()]);
    // Not acknowledged again: offered again, the same jti.
    let (sets, _) = poll_now(&s, &token, json!({})).await;
    assert_eq!(jtis(&sets), [offered[2].clone()]);

    // Repeated and unknown jtis are ignored; acknowledging the last leaves nothing.
    let body = json!({"ack": [offered[2], offered[0], "no-such-jti"],
        "setErrs": {offered[1].as_str(): {"err": "invalid_request"}}});
    let (sets, more) = poll_now(&s, &token, body).await;
    assert_eq!((sets.len(), more), (0, false));

    // vpn follows users only, as full events, with its own jtis.
    let vpn = s.issue_token("vpn-poll", events_scope("vpn"), None).await;
    s.create_group("Readers", &[&users[0]]).await;
    let (sets, more) =
        poll(&s, &vpn, "vpn", json!({"returnImmediately": true, "maxEvents": 10})).await;
    assert!(!more);
    assert_eq!(subjects(&s, "vpn", &sets).await, users, "the group is not vpn's");
    let full = verified(&s, &sets[0].1).await;
    assert_eq!(full["events"][format!("{PROV}create:full")]["data"]["id"], users[0]);
    assert!(jtis(&sets).iter().all(|j| !offered.contains(j)), "a jti per receiver");
    let (wiki, _) = poll_now(&s, &token, json!({})).await;
    assert_eq!(wiki.len(), 1, "wiki gets the group");

    let mut s = s;
    s.stop().await;
    let store = Store::open(&s.data_dir().join("scimd.redb")).expect("open");
    let r = store.read().expect("read");
    let cursor = r.event_cursor("wiki").expect("read").expect("a cursor");
    assert_eq!((cursor.acked, cursor.failed), (3, 1), "acknowledged up to the third user");
    let failures = r.event_failures("wiki", 10).expect("failures");
    assert_eq!(failures.len(), 1, "reported once: {failures:?}");
    assert_eq!(failures[0].seq, 2);
    assert_eq!(failures[0].error, "invalid_request: cannot parse");
}

#[tokio::test]
async fn max_events_bounds_an_answer_and_acks_beyond_a_gap_are_kept() {
    let s = TestServer::start_with(RECEIVERS).await;
    let token = s.issue_token("wiki-poll", events_scope("wiki"), None).await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(s.create_user(&format!("page{i}@example.org")).await);
    }
    let (a, more) = poll_now(&s, &token, json!({"maxEvents": 2})).await;
    assert!(more);
    assert_eq!(subjects(&s, "wiki", &a).await, users[..2]);
    // Ack the second only: the first comes again, the second never.
    let (b, more) = poll_now(&s, &token, json!({"ack": [a[1].0], "maxEvents": 2})).await;
    assert!(more);
    assert_eq!(subjects(&s, "wiki", &b).await, [users[0].clone(), users[2].clone()]);
    assert_eq!(b[0].0, a[0].0, "the same jti when offered again");
    let (c, more) = poll_now(&s, &token, json!({"ack": [b[0].0, b[1].0], "maxEvents": 2})).await;
    assert!(!more);
    assert_eq!(subjects(&s, "wiki", &c).await, users[3..]);
    // maxEvents 0 only acknowledges, and says whether more wait.
    let (d, more) = poll_now(&s, &token, json!({"ack": [c[0].0], "maxEvents": 0})).await;
    assert_eq!((d.len(), more), (0, true));
    let (e, more) = poll_now(&s, &token, json!({"ack": [c[0].0]})).await;
    assert_eq!((jtis(&e), more), (vec![c[1].0.clone()], false));
    let (f, more) = poll_now(&s, &token, json!({"ack": [e[0].0], "maxEvents": 0})).await;
    assert_eq!((f.len(), more), (0, false));

    // Bad bodies: 400 invalid_request naming the member.
    for (body, names) in [
        (r#"{"maxEvents": 1001}"#, "1000"),
        (r#"{"maxEvents": -1}"#, "maxEvents"),
        (r#"{"maxEvents": "10"}"#, "maxEvents"),
        (r#"{"ack": "abc"}"#, "ack"),
        (r#"{"ack": [1]}"#, "ack[0]"),
        (r#"{"setErrs": {"abc": {"description": "x"}}}"#, "setErrs[\"abc\"].err"),
        (r#"{"returnImmediately": 1}"#, "returnImmediately"),
        (r#"{"ack": ["#, "not valid JSON"),
        (r#"["ack"]"#, "JSON object"),
    ] {
        let reply = poll_raw(&s, &token, "wiki", body.to_string()).await;
        assert_eq!(reply.status.as_u16(), 400, "{body}: {}", reply.text);
        assert_eq!(reply.content_type(), "application/json");
        assert_eq!(reply.body["err"], "invalid_request", "{}", reply.text);
        let description = reply.body["description"].as_str().unwrap_or("");
        assert!(description.contains(names), "{body}: {description}");
    }
}

#[tokio::test]
async fn a_long_poll_answers_as_soon_as_an_event_is_committed() {
    let s = std::sync::Arc::new(TestServer::start_with(RECEIVERS).await);
    let token = s.issue_token("wiki-poll", events_scope("wiki"), None).await;
    // Nothing pending, returnImmediately: answered at once with nothing.
    let started = Instant::now();
    let (sets, more) = poll_now(&s, &token, json!({})).await;
    assert_eq!((sets.len(), more), (0, false));
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

    // A long poll is held until a user is created, then answers with its event.
    let waiting = {
        let (s, token) = (std::sync::Arc::clone(&s), token.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let got = poll(&s, &token, "wiki", json!({"maxEvents": 10})).await;
            (got, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "the long poll is held while nothing happens");
    let user = s.create_user("late@example.org").await;
    let ((sets, more), took) = waiting.await.expect("poll task");
    assert!(!more);
    assert_eq!(subjects(&s, "wiki", &sets).await, [user]);
    // Well before the 25 s hold (30 s request timeout less 5 s).
    assert!(took < Duration::from_secs(15), "the long poll took {took:?}");

    // A second poll that waits answers the first one at once (a receiver polling again after
    // giving up on a request is not left behind it); the second gets the next event.
    let body = json!({"ack": [sets[0].0]});
    let first = {
        let (s, token, body) = (std::sync::Arc::clone(&s), token.clone(), body.clone());
        tokio::spawn(async move { poll(&s, &token, "wiki", body).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!first.is_finished());
    let second = {
        let (s, token) = (std::sync::Arc::clone(&s), token.clone());
        tokio::spawn(async move { poll(&s, &token, "wiki", json!({})).await })
    };
    let (sets_first, more) = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("answered")
        .expect("task");
    assert_eq!((sets_first.len(), more), (0, false));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the newer poll is the one held");
    let next = s.create_user("later@example.org").await;
    let (sets, _) = second.await.expect("task");
    assert_eq!(subjects(&s, "wiki", &sets).await, [next], "the first user was acknowledged");
}

#[tokio::test]
async fn a_poll_token_reads_nothing_else_and_other_tokens_cannot_poll() {
    let s = TestServer::start_with(RECEIVERS).await;
    let wiki = s.issue_token("wiki-poll", events_scope("wiki"), None).await;
    let user = s.create_user("kept@example.org").await;
    for (method, path, body) in [
        (Method::GET, "/Users".to_string(), None),
        (Method::GET, format!("/Users/{user}"), None),
        (Method::POST, "/Users".to_string(), Some(user_body("new@example.org", Value::Null))),
        (Method::DELETE, format!("/Users/{user}"), None),
        (Method::GET, "/Groups".to_string(), None),
        (Method::POST, "/.search".to_string(), Some(json!({"filter": "userName pr"}))),
        (Method::POST, "/Users/.search".to_string(), Some(json!({}))),
        (Method::GET, "/ServiceProviderConfig".to_string(), None),
        (Method::GET, "/Schemas".to_string(), None),
        (Method::GET, "/ResourceTypes".to_string(), None),
    ] {
        let reply = s.call_as(&wiki, method.clone(), &path, body.as_ref()).await.expect(403);
        let detail = reply.body["detail"].as_str().unwrap_or("");
        assert!(detail.contains("may only poll change events"), "{method} {path}: {detail}");
    }
    s.get(&format!("/Users/{user}")).await.expect(200);

    // SCIM tokens (read-write, read-only) cannot poll; nor can wiki's token poll vpn.
    let read_only = s.issue_token("ro", TokenScope::ReadOnly, None).await;
    for token in [&s.token, &read_only] {
        let reply = poll_raw(&s, token, "wiki", "{}".into()).await.expect(403);
        let detail = reply.body["detail"].as_str().unwrap_or("");
        assert!(detail.contains("--events wiki"), "{detail}");
    }
    let reply = poll_raw(&s, &wiki, "vpn", "{}".into()).await.expect(403);
    assert!(reply.body["detail"].as_str().unwrap_or("").contains("only poll the events of"));
    poll_raw(&s, &wiki, "unknown", "{}".into()).await.expect(403);
    // No token: 401. A token for a receiver no longer configured: 404.
    let reply = send(s.client.post(format!("https://127.0.0.1:{}/events/wiki", s.port)).body("{}"))
        .await
        .expect(401);
    assert!(reply.headers.get("www-authenticate").is_some());
    let gone = s.issue_token("gone-poll", events_scope("gone"), None).await;
    let reply = poll_raw(&s, &gone, "gone", "{}".into()).await.expect(404);
    assert!(reply.body["detail"].as_str().unwrap_or("").contains("delivery = \"poll\""));
    // And the wiki token still polls.
    let (sets, _) = poll_now(&s, &wiki, json!({})).await;
    assert_eq!(sets.len(), 1);
}

#[tokio::test]
async fn a_restart_resumes_from_the_stored_cursor() {
    let s = TestServer::start_with(RECEIVERS).await;
    let token = s.issue_token("wiki-poll", events_scope("wiki"), None).await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(s.create_user(&format!("restart{i}@example.org")).await);
    }
    let (sets, _) = poll_now(&s, &token, json!({})).await;
    assert_eq!(sets.len(), 4);
    let offered = jtis(&sets);
    // Acknowledged: the first two, and the fourth (beyond the gap, kept in memory only).
    let body = json!({"ack": [offered[0], offered[1], offered[3]], "maxEvents": 0});
    poll_now(&s, &token, body).await;

    let s = s.restart().await;
    // The stored cursor is after the second; the fourth's ack was in memory, so it comes
    // again, with the jti it had.
    let (sets, more) = poll_now(&s, &token, json!({})).await;
    assert!(!more);
    assert_eq!(jtis(&sets), offered[2..]);
    assert_eq!(subjects(&s, "wiki", &sets).await, users[2..]);
    // An ack of jtis offered before a restart is matched through the outbox.
    let mut s = s.restart().await;
    let body = json!({"ack": [offered[2], offered[3]], "maxEvents": 0});
    let (none, more) = poll_now(&s, &token, body).await;
    assert_eq!((none.len(), more), (0, false));
    s.stop().await;
    let store = Store::open(&s.data_dir().join("scimd.redb")).expect("open");
    let cursor = store.read().expect("read").event_cursor("wiki").expect("read").expect("cursor");
    assert_eq!(cursor.acked, 4);
}

#[tokio::test]
async fn a_poll_token_is_made_by_the_cli_with_the_server_stopped() {
    let mut s = TestServer::start_with(RECEIVERS).await;
    s.stop().await;
    let config = s.write_config_file();
    let out =
        scimd_at(&config, &["token", "create", "--name", "wiki-poll", "--events", "wiki"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let token = out.stdout.lines().last().unwrap_or("").to_string();
    assert!(is_token(&token), "{out:?}");
    assert!(out.stderr.contains("events:wiki"), "{}", out.stderr);
    assert!(out.stderr.contains("/events/wiki"), "{}", out.stderr);
    let list = scimd_at(&config, &["token", "list"]).await;
    let row = list.stdout.lines().find(|l| l.contains("wiki-poll")).unwrap_or("");
    assert!(row.contains("events:wiki"), "{:?}", list.stdout);
    // Only a configured poll receiver, and not with --read-only.
    let out = scimd_at(&config, &["token", "create", "--name", "x", "--events", "hr"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("\"hr\"") && out.stderr.contains("delivery = \"poll\""), "{out:?}");
    let out =
        scimd_at(&config, &["token", "create", "--name", "x", "--events", "wiki", "--read-only"])
            .await;
    assert_ne!(out.code, Some(0), "{out:?}");

    let s = s.restart().await;
    let user = s.create_user("offline@example.org").await;
    let (sets, _) = poll_now(&s, &token, json!({})).await;
    assert_eq!(subjects(&s, "wiki", &sets).await, [user]);
}

/// The event URI of a SET (the first key of `events`), after verifying it.
async fn event_uri(s: &TestServer, set: &str) -> String {
    let claims = verified(s, set).await;
    claims["events"].as_object().expect("events").keys().next().expect("an event").clone()
}

#[tokio::test]
async fn a_poll_receiver_from_the_beginning_is_fed_the_existing_resources_first() {
    let s = TestServer::start().await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(s.create_user(&format!("fed{i}@example.org")).await);
    }
    let group = s.create_group("Readers", &[&users[0]]).await;
    users.sort_by_key(|id| uuid::Uuid::parse_str(id).expect("a UUID id"));
    // The admin adds a poll receiver that starts from the beginning.
    let from_beginning = "[[events.receivers]]\nname = \"wiki\"\ndelivery = \"poll\"\n\
                          start = \"beginning\"\n";
    let s = s.restart_with(from_beginning).await;
    let token = s.issue_token("wiki-poll", events_scope("wiki"), None).await;
    // A long poll waits for the feed to be taken if it is not yet.
    let (a, more) = poll(&s, &token, "wiki", json!({"maxEvents": 4})).await;
    assert!(more);
    assert_eq!(subjects(&s, "wiki", &a).await, users[..4], "the users, in id order");
    for (_, set) in &a {
        assert_eq!(event_uri(&s, set).await, "urn:ietf:params:scim:event:feed:add");
    }
    // A change after the snapshot is told after the feed.
    let live = s.create_user("after@example.org").await;
    let (b, more) = poll_now(&s, &token, json!({"ack": jtis(&a)})).await;
    assert!(!more);
    let want = [users[4].clone(), format!("/Groups/{group}"), live.clone()];
    assert_eq!(subjects(&s, "wiki", &b).await, want);
    assert_eq!(event_uri(&s, &b[1].1).await, "urn:ietf:params:scim:event:feed:add");
    assert_eq!(event_uri(&s, &b[2].1).await, format!("{PROV}create:notice"));
    // Acknowledged progress through the feed is durable; the rest comes again, same jtis.
    let s = s.restart().await;
    let (c, _) = poll_now(&s, &token, json!({"ack": [b[0].0]})).await;
    assert_eq!(jtis(&c), jtis(&b[1..]));
    let (d, more) = poll_now(&s, &token, json!({"ack": jtis(&c)})).await;
    assert_eq!((d.len(), more), (0, false));
    // Once every row is acknowledged the feed is gone from the data file.
    let mut s = s;
    s.stop().await;
    let store = Store::open(&s.data_dir().join("scimd.redb")).expect("open");
    let r = store.read().expect("read");
    assert_eq!(r.event_cursor("wiki").expect("read").expect("a cursor").feed, None);
    assert!(r.feed_after("wiki", 0, 10).expect("feed rows").is_empty());
}

#[tokio::test]
async fn a_feed_cut_short_is_taken_again_from_a_new_snapshot() {
    let s = TestServer::start().await;
    let user = s.create_user("only@example.org").await;
    let mut s = s;
    s.stop().await;
    // The state a crash while taking a feed leaves: a cursor whose feed is not ready, and
    // rows of a snapshot that is gone (here: made up, naming a user that does not exist).
    {
        let store = Store::open(&s.data_dir().join("scimd.redb")).expect("open");
        let r = store.read().expect("read");
        let (_, mut stale) = r.events_after(0, 1).expect("events").remove(0);
        drop(r);
        stale.change = scimd::domain::events::Change::FeedAdd;
        stale.id = scimd::domain::ResourceId(7);
        let rows = vec![stale; 3];
        store
            .write(|w| {
                let feed = scimd::store::FeedProgress { ready: false, total: 3, acked: 0 };
                let cursor = scimd::store::EventCursor { feed: Some(feed), ..Default::default() };
                w.set_event_cursor("wiki", &cursor)?;
                w.append_feed_rows("wiki", 1, &rows)
            })
            .expect("write");
    }
    let from_beginning = "[[events.receivers]]\nname = \"wiki\"\ndelivery = \"poll\"\n\
                          start = \"beginning\"\n";
    let s = s.restart_with(from_beginning).await;
    let token = s.issue_token("wiki-poll", events_scope("wiki"), None).await;
    let (sets, more) = poll(&s, &token, "wiki", json!({"maxEvents": 10})).await;
    assert!(!more);
    assert_eq!(subjects(&s, "wiki", &sets).await, [user], "the real directory, once");
    assert_eq!(event_uri(&s, &sets[0].1).await, "urn:ietf:params:scim:event:feed:add");
    let (rest, _) = poll_now(&s, &token, json!({"ack": jtis(&sets)})).await;
    assert!(rest.is_empty());
    // Nothing of the old snapshot is left behind.
    let mut s = s;
    s.stop().await;
    let store = Store::open(&s.data_dir().join("scimd.redb")).expect("open");
    assert!(store.read().expect("read").feed_after("wiki", 0, 10).expect("rows").is_empty());
}

/// `[scim] enabled = false` switches the SCIM API off, not event delivery: after a reload
/// that sets it, the IdP's token gets 401 while the application's poll token still drains
/// and acknowledges the events committed before (README: "Poll delivery").
#[tokio::test]
async fn provisioning_switched_off_by_a_reload_still_lets_a_receiver_poll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = |enabled: bool| {
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n{RECEIVERS}\n[scim]\nenabled = {enabled}\n",
            data.display().to_string()
        )
    };
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config(true)).expect("config");
    let entra = issue_token(&data, "entra", TokenScope::ReadWrite);
    let wiki = issue_token(&data, "wiki-poll", events_scope("wiki"));
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config_path).arg("serve");
    let mut process = ServeProcess::start(cmd).await;
    let client = client_trusting(&std::fs::read(data.join("tls/cert.pem")).expect("cert"));
    let origin = format!("https://127.0.0.1:{}", process.port);
    let body = user_body("before.off@example.org", Value::Null);
    let user = id_of(
        &send(client.post(format!("{origin}/scim/v2/Users")).bearer_auth(&entra).json(&body))
            .await
            .expect(201),
    );

    std::fs::write(&config_path, config(false)).expect("config");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &process.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    process.stderr_line("config reloaded");

    // The SCIM API is off, for every token.
    let users = format!("{origin}/scim/v2/Users");
    for token in [&entra, &wiki] {
        let reply = send(client.get(&users).bearer_auth(token)).await.expect(401);
        assert!(reply.body["detail"].as_str().unwrap_or("").contains("disabled"), "{}", reply.text);
    }
    // The receiver polls what was committed before, verifies it, and acknowledges it.
    let poll_url = format!("{origin}/events/wiki");
    let poll =
        |token: &str, body: Value| send(client.post(&poll_url).bearer_auth(token).json(&body));
    let reply = poll(&wiki, json!({"returnImmediately": true})).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    let sets = reply.body["sets"].as_object().expect("sets").clone();
    assert_eq!(sets.len(), 1, "{}", reply.text);
    let (jti, set) = sets.iter().next().expect("one SET");
    let jwks = send(client.get(format!("{origin}/.well-known/jwks.json"))).await.expect(200).body;
    let claims = crate::event_receiver::verify_with(&jwks, set.as_str().expect("a compact SET"));
    assert_eq!(claims["sub_id"]["uri"], format!("/Users/{user}"));
    assert_eq!(claims["aud"], "wiki");
    let reply = poll(&wiki, json!({"ack": [jti], "returnImmediately": true})).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    assert_eq!(reply.body["sets"], json!({}), "acknowledged: nothing left");
    // Polling stays for poll tokens only.
    let reply = poll(&entra, json!({"returnImmediately": true})).await.expect(403);
    assert!(reply.body["detail"].as_str().unwrap_or("").contains("--events wiki"));
    process.kill();
}

/// A receiver configured when the server starts is told every change from that start on:
/// its cursor exists once the server is open, before the first request can be served, not
/// once delivery gets round to it (under load, creates answered right after a start were
/// missed by a `start = "now"` receiver).
#[tokio::test]
async fn a_receiver_configured_at_start_has_its_cursor_before_any_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n[tls]\nmode = \"off\"\n{RECEIVERS}",
        data.display().to_string()
    );
    let config = scimd::config::Config::parse(&text, None).expect("config");
    let server = scimd::server::Server::open(config).expect("opens");
    for name in ["wiki", "vpn"] {
        let cursor = server.service().event_cursor(name).expect("read");
        assert_eq!(cursor.map(|c| c.acked), Some(0), "{name}");
    }
}
