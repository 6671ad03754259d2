//! Push delivery of change events (RFC 8935) to a real HTTPS receiver on loopback, started in
//! the test with its own CA: every SET it gets is verified against scimd's published JWKS with
//! an independent JOSE library, and its claims checked.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::event_receiver::{HANG, Receiver, scimd_with, verified};

const PROV: &str = "urn:ietf:params:scim:event:prov:";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The event URIs of each SET, in order, after verifying every one.
async fn event_uris(s: &TestServer, received: &[(String, String, String)]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (set, _, _) in received {
        let claims = verified(s, set).await;
        let mut uris: Vec<String> =
            claims["events"].as_object().expect("events").keys().cloned().collect();
        uris.sort();
        out.push(uris.iter().map(|u| u.trim_start_matches(PROV).to_string()).collect());
    }
    out
}

#[tokio::test]
async fn an_entra_lifecycle_reaches_the_receiver_signed_in_order() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = scimd_with(&receiver.config(dir.path(), "wiki", "notice")).await;
    let boss = s.create_user("boss@example.org").await;
    let user = id_of(&s.post("/Users", &crate::payloads::ms_tut_create_user()).await.expect(201));
    let path = upath(&user);
    s.patch(&path, json!([{"op": "Replace", "path": "displayName", "value": "Pvlo"}]))
        .await
        .expect(200);
    // Entra's manager mapping: the enterprise extension's manager, by id.
    s.patch(&path, json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss}]))
        .await
        .expect(200);
    s.entra_set_active(&path, false).await;
    s.entra_set_active(&path, true).await;
    let group = id_of(&s.post("/Groups", &crate::payloads::entra_group()).await.expect(201));
    let members = json!([{"value": user}, {"value": boss}]);
    s.patch(&gpath(&group), json!([{"op": "Add", "path": "members", "value": members}]))
        .await
        .expect(204);
    let boss_left = format!("members[value eq \"{boss}\"]");
    s.patch(&gpath(&group), json!([{"op": "Remove", "path": boss_left}])).await.expect(204);
    // Refused: no event.
    s.post("/Users", &crate::payloads::ms_tut_create_user()).await.expect(409);
    s.delete(&path).await.expect(204);

    let got = receiver.wait_for(11, Duration::from_secs(20)).await;
    let uris = event_uris(&s, &got).await;
    let want: Vec<Vec<&str>> = vec![
        vec!["create:notice"],
        vec!["create:notice"],
        vec!["patch:notice"],
        vec!["patch:notice"],
        vec!["deactivate", "patch:notice"],
        vec!["activate", "patch:notice"],
        vec!["create:notice"],
        vec!["patch:notice"],
        vec!["patch:notice"],
        vec!["delete"],
        vec!["patch:notice"],
    ];
    assert_eq!(uris, want);
    let manager = verified(&s, &got[3].0).await;
    let changed = &manager["events"][format!("{PROV}patch:notice")]["attributes"];
    assert_eq!(changed, &json!([format!("{ENTERPRISE}:manager")]), "the manager change");
    for (i, subject) in [(7, &group), (8, &group)] {
        let claims = verified(&s, &got[i].0).await;
        assert_eq!(claims["sub_id"]["uri"], format!("/Groups/{subject}"));
        assert_eq!(
            claims["events"][format!("{PROV}patch:notice")]["attributes"],
            json!(["members"])
        );
    }
    // The envelope: issuer, audience, subject, stable fields; RFC 8935 request headers.
    let first = verified(&s, &got[1].0).await;
    assert_eq!(first["iss"], format!("https://127.0.0.1:{}", s.port));
    assert_eq!(first["aud"], receiver.endpoint);
    assert_eq!(first["sub_id"]["format"], "scim");
    assert_eq!(first["sub_id"]["uri"], format!("/Users/{user}"));
    assert_eq!(first["sub_id"]["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert!(first.get("sub").is_none() && first.get("exp").is_none());
    assert!(first["txn"].is_string() && first["jti"].is_string() && first["toe"].is_i64());
    let created = &first["events"][format!("{PROV}create:notice")];
    assert!(created["attributes"].as_array().expect("attributes").contains(&json!("userName")));
    assert_eq!(got[0].1, "application/secevent+jwt");
    assert_eq!(got[0].2, "Bearer receiver-secret");
    let deleted = verified(&s, &got[9].0).await;
    assert_eq!(deleted["sub_id"]["uri"], format!("/Users/{user}"));
    let left = verified(&s, &got[10].0).await;
    assert_eq!(left["sub_id"]["uri"], format!("/Groups/{group}"));
    assert_eq!(left["txn"], deleted["txn"], "one delete, one txn");
    let jtis: std::collections::HashSet<String> =
        got.iter().map(|(set, _, _)| set.clone()).collect();
    assert_eq!(jtis.len(), got.len());
    s.stop().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_backlog_in_order_once_it_is_up() {
    let receiver = Receiver::start().await;
    // Down for three attempts (503, then throttled with Retry-After, then 500).
    receiver.script(&[(503, None, ""), (429, Some("1"), ""), (500, None, "")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = scimd_with(&receiver.config(dir.path(), "vpn", "full")).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(s.create_user(&format!("u{i}@example.org")).await);
    }
    let got = receiver.wait_for(8, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 8, "3 refused attempts, then 5 SETs");
    // The first SET was retried as it was (same jti), then the rest followed in commit order.
    let claims: Vec<Value> = {
        let mut v = Vec::new();
        for (set, _, _) in &got {
            v.push(verified(&s, set).await);
        }
        v
    };
    assert!(claims[..4].iter().all(|c| c["jti"] == claims[0]["jti"]));
    let order: Vec<String> = claims[3..]
        .iter()
        .map(|c| {
            c["events"][format!("{PROV}create:full")]["data"]["id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    assert_eq!(order, ids);
    s.stop().await;
}

#[tokio::test]
async fn a_poison_set_is_skipped_and_recorded_and_an_auth_failure_holds_the_stream() {
    let receiver = Receiver::start().await;
    receiver.script(&[
        (202, None, ""),
        (400, None, r#"{"err":"invalid_request","description":"cannot parse"}"#),
        (202, None, ""),
        (400, None, r#"{"err":"authentication_failed","description":"bad token"}"#),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = scimd_with(&receiver.config(dir.path(), "hr", "notice")).await;
    for i in 0..5 {
        s.create_user(&format!("p{i}@example.org")).await;
    }
    // Four answered; the fourth holds the stream, so the fifth is not sent.
    let got = receiver.wait_for(5, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 4, "the stream is held after authentication_failed");
    // `scimd events status` says so, and why.
    // (The receiver answers the fourth a moment before scimd records the hold.)
    let mut status = s.admin(scimd::admin::AdminRequest::EventsStatus).await;
    for _ in 0..50 {
        if status[0]["stream"]["state"] == "held" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = s.admin(scimd::admin::AdminRequest::EventsStatus).await;
    }
    let hr = &status[0];
    assert_eq!(hr["name"], "hr");
    assert_eq!((hr["cursor"]["acked"].as_u64(), hr["backlog"].as_u64()), (Some(3), Some(2)));
    assert_eq!(hr["stream"]["state"], "held");
    assert!(hr["cursor"]["stalled"].as_str().unwrap_or("").contains("bad token"), "{status}");
    assert_eq!(hr["recent_failures"][0]["seq"], 2);
    // Fixed on the receiver's side; `scimd events retry hr` resends the held SET, then the rest.
    s.admin(scimd::admin::AdminRequest::EventsRetry { name: "hr".into() }).await;
    let again = receiver.wait_for(6, Duration::from_secs(10)).await;
    assert_eq!(again.len(), 6, "the held SET again, then the fifth");
    let (held, resent) = (verified(&s, &again[3].0).await, verified(&s, &again[4].0).await);
    assert_eq!(resent["jti"], held["jti"], "the held event is resent with its jti");
    // The receiver has the SET a moment before scimd stores that it was taken.
    let mut done = s.admin(scimd::admin::AdminRequest::EventsStatus).await;
    for _ in 0..50 {
        if done[0]["cursor"]["acked"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        done = s.admin(scimd::admin::AdminRequest::EventsStatus).await;
    }
    assert_eq!(done[0]["cursor"]["acked"], 5, "{done}");
    assert!(done[0]["cursor"]["stalled"].is_null(), "{done}");
    s.stop().await;
    let store = scimd::store::Store::open(&s.data_dir().join("scimd.redb")).expect("open");
    let r = store.read().expect("read");
    use scimd::store::ReadQueries;
    let cursor = r.event_cursor("hr").expect("read").expect("a cursor");
    assert_eq!((cursor.acked, cursor.failed, cursor.stalled), (5, 1, None));
    let failures = r.event_failures("hr", 10).expect("failures");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].seq, 2);
    assert!(failures[0].error.contains("invalid_request: cannot parse"), "{failures:?}");
}

#[tokio::test]
async fn a_hung_or_dead_receiver_delays_neither_another_receiver_nor_the_idp() {
    let (wiki, hung) = (Receiver::start().await, Receiver::start().await);
    hung.script(&[(HANG, None, "")]);
    // A third receiver whose endpoint has nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = wiki
        .config(dir.path(), "dead", "notice")
        .replace(&wiki.endpoint, &format!("https://127.0.0.1:{dead_port}/scim-events"));
    let receivers = format!(
        "{}{}{dead}",
        wiki.config(dir.path(), "wiki", "notice"),
        hung.config(dir.path(), "vpn", "notice")
    );
    let mut s = scimd_with(&receivers).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(s.create_user(&format!("busy{i}@example.org")).await);
    }
    let got = wiki.wait_for(20, Duration::from_secs(30)).await;
    let mut told = Vec::new();
    for (set, _, _) in &got {
        told.push(verified(&s, set).await["sub_id"]["id"].as_str().expect("id").to_string());
    }
    assert_eq!(told, ids, "wiki has every change, in order");
    // Meanwhile vpn still holds its first SET unanswered, and dead is being retried.
    assert_eq!(hung.received().len(), 1, "vpn's first SET is still unanswered");
    let status = s.admin(scimd::admin::AdminRequest::EventsStatus).await;
    let of = |name: &str| {
        status
            .as_array()
            .expect("receivers")
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .expect(name)
    };
    assert_eq!(of("vpn")["backlog"], 20, "{status}");
    assert_eq!(of("dead")["stream"]["state"], "retrying", "{status}");
    assert!(
        of("dead")["stream"]["last_error"].as_str().unwrap_or("").contains("onnect"),
        "{status}"
    );
    assert_eq!(of("wiki")["backlog"], 0, "{status}");
    s.stop().await;
}
