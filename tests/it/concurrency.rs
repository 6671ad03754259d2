//! Concurrent writes through the writer thread (group commit): every request gets its own
//! answer, a refused change fails alone, and what was acknowledged is stored.

use std::collections::BTreeMap;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn concurrent_creates_commit_together_and_duplicates_fail_alone() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    // 48 creates at once: 40 distinct users, 4 names sent twice, 4 groups of which 2 name a
    // member that does not exist (they fail after writing their group row).
    let mut requests = Vec::new();
    for i in 0..40 {
        requests.push(("/Users", user_body(&format!("u{i}@example.org"), json!({}))));
    }
    for i in 0..4 {
        requests.push(("/Users", user_body(&format!("U{i}@EXAMPLE.org"), json!({}))));
    }
    requests.push(("/Groups", group_body("g-ok-1", &[&ada])));
    requests
        .push(("/Groups", group_body("g-bad-1", &[&ada, "00000000-0000-0000-0000-000000000001"])));
    requests.push(("/Groups", group_body("g-ok-2", &[])));
    requests.push(("/Groups", group_body("g-bad-2", &["not-an-id"])));
    let replies = futures_join(&s, &requests).await;

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for r in &replies {
        *by_status.entry(r.status.as_u16()).or_default() += 1;
    }
    // 40 users + 2 groups created; 4 duplicates 409; 2 bad groups 400.
    assert_eq!(by_status, BTreeMap::from([(201, 42), (400, 2), (409, 4)]), "{replies:#?}");
    for r in replies.iter().filter(|r| r.status.as_u16() == 201) {
        s.get(r.headers["location"].to_str().unwrap().trim_start_matches(&s.base))
            .await
            .expect(200);
    }
    assert_eq!(s.total("/Users").await, 41);
    assert_eq!(s.total("/Groups").await, 2);
    for bad in ["g-bad-1", "g-bad-2"] {
        let filter = entra_encode(&format!("displayName eq \"{bad}\""));
        assert_eq!(s.total(&format!("/Groups?filter={filter}")).await, 0, "{bad}");
    }
    // Each refusal has its log row.
    let log = s.provisioning_log(100).await;
    assert_eq!(log.iter().filter(|e| e["status"] == 409).count(), 4);
    assert_eq!(log.iter().filter(|e| e["status"] == 400).count(), 2);
    assert_eq!(log.iter().filter(|e| e["status"] == 201).count(), 43);
}

/// Sends every request at once and returns the replies in order.
async fn futures_join(s: &TestServer, requests: &[(&str, serde_json::Value)]) -> Vec<Reply> {
    let mut handles = Vec::new();
    for (path, body) in requests {
        let req = s
            .client
            .post(s.url(path))
            .bearer_auth(&s.token)
            .header("content-type", SCIM_JSON)
            .body(serde_json::to_vec(body).unwrap());
        handles.push(tokio::spawn(send(req)));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
