//! The `[limits]` that bound one request (operations per PATCH, values per multi-valued
//! attribute, members per request, bytes per string): each refused with a 4xx naming its key
//! and nothing stored, each accepted at the limit; and the deadline's promise: a request
//! answered 408 made no change, every 2xx is stored.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::common::{CORE_USER, Reply, TestServer, id_of, user_body};

/// Asserts a refusal naming `key`.
fn refused(r: Reply, status: u16, scim_type: &str, key: &str) {
    let r = r.expect(status);
    assert_eq!(r.scim_type(), scim_type, "{}", r.text);
    let detail = r.body["detail"].as_str().unwrap_or("");
    assert!(detail.contains(&format!("[limits] {key}")), "{detail}");
}

fn add_email(i: usize) -> Value {
    json!({"op": "add", "path": "emails", "value": [{"value": format!("e{i}@example.com"), "type": "other"}]})
}

#[tokio::test]
async fn operations_per_patch() {
    let s = TestServer::start_with("[limits]\nmax_operations_per_patch = 3").await;
    let id = s.create_user("ops@example.com").await;
    let four: Vec<Value> = (0..4)
        .map(|i| json!({"op": "replace", "path": "title", "value": format!("t{i}")}))
        .collect();
    refused(
        s.patch(&format!("/Users/{id}"), Value::Array(four.clone())).await,
        400,
        "tooMany",
        "max_operations_per_patch",
    );
    let user = s.get(&format!("/Users/{id}")).await.expect(200);
    assert!(user.body.get("title").is_none(), "{}", user.text);

    let r = s.patch(&format!("/Users/{id}"), Value::Array(four[..3].to_vec())).await.expect(200);
    assert_eq!(r.body["title"], "t2");
}

#[tokio::test]
async fn values_per_attribute_in_bodies_and_patch_results() {
    let s = TestServer::start_with("[limits]\nmax_values_per_attribute = 3").await;
    let emails = |n: usize| -> Value {
        (0..n).map(|i| json!({"value": format!("v{i}@example.com"), "type": "work"})).collect()
    };
    // POST with one too many: refused, nothing stored.
    let body = user_body("many@example.com", json!({"emails": emails(4)}));
    refused(s.post("/Users", &body).await, 400, "tooMany", "max_values_per_attribute");
    assert_eq!(s.users_named("many@example.com").await, 0);
    let phones: Value = (0..4).map(|i| json!({"value": format!("+1 555 000{i}")})).collect();
    let body = user_body("phones@example.com", json!({"phoneNumbers": phones}));
    refused(s.post("/Users", &body).await, 400, "tooMany", "max_values_per_attribute");

    // At the limit: accepted.
    let id = id_of(
        &s.post("/Users", &user_body("three@example.com", json!({"emails": emails(3)})))
            .await
            .expect(201),
    );
    // PUT with one too many: refused, the stored user unchanged.
    let body = user_body("three@example.com", json!({"emails": emails(4)}));
    refused(
        s.put(&format!("/Users/{id}"), &body).await,
        400,
        "tooMany",
        "max_values_per_attribute",
    );
    // A PATCH that grows the list past the limit, one value per operation: refused.
    refused(
        s.patch(&format!("/Users/{id}"), json!([add_email(1)])).await,
        400,
        "tooMany",
        "max_values_per_attribute",
    );
    let user = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(user.body["emails"].as_array().map(Vec::len), Some(3), "{}", user.text);

    // A PATCH that keeps it at the limit (replacing one, adding none) works.
    let other = s.create_user("one@example.com").await;
    let r =
        s.patch(&format!("/Users/{other}"), json!([add_email(1), add_email(2)])).await.expect(200);
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(3), "{}", r.text);
    refused(
        s.patch(&format!("/Users/{other}"), json!([add_email(3)])).await,
        400,
        "tooMany",
        "max_values_per_attribute",
    );
}

#[tokio::test]
async fn members_per_request_but_not_per_group() {
    let s = TestServer::start_with("[limits]\nmax_members_per_request = 2").await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(s.create_user(&format!("m{i}@example.com")).await);
    }
    let member = |id: &String| json!({"value": id});
    // A group body listing three: refused, not stored.
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                      "displayName": "three", "members": users[..3].iter().map(member).collect::<Vec<_>>()});
    refused(s.post("/Groups", &body).await, 400, "tooMany", "max_members_per_request");
    assert_eq!(s.total("/Groups").await, 0);

    let g = s.create_group("g", &[]).await;
    // Three members over two operations: refused, none added.
    let ops = json!([
        {"op": "add", "path": "members", "value": [member(&users[0]), member(&users[1])]},
        {"op": "add", "path": "members", "value": [member(&users[2])]}
    ]);
    refused(s.patch(&format!("/Groups/{g}"), ops).await, 400, "tooMany", "max_members_per_request");
    let group = s.get(&format!("/Groups/{g}")).await.expect(200);
    assert_eq!(group.body["members"].as_array().map_or(0, Vec::len), 0, "{}", group.text);

    // Two per request, as often as needed: the group grows past the per-request limit.
    for pair in users.chunks(2) {
        let ops = json!([{"op": "add", "path": "members",
                          "value": pair.iter().map(member).collect::<Vec<_>>()}]);
        s.patch(&format!("/Groups/{g}"), ops).await.expect(204);
    }
    let group = s.get(&format!("/Groups/{g}")).await.expect(200);
    assert_eq!(group.body["members"].as_array().map(Vec::len), Some(5), "{}", group.text);

    // Entra's removal by a value list counts the listed members.
    let ops = json!([{"op": "remove", "path": "members",
                      "value": users[..3].iter().map(member).collect::<Vec<_>>()}]);
    refused(s.patch(&format!("/Groups/{g}"), ops).await, 400, "tooMany", "max_members_per_request");
    let ops = json!([{"op": "remove", "path": "members",
                      "value": users[..2].iter().map(member).collect::<Vec<_>>()}]);
    s.patch(&format!("/Groups/{g}"), ops).await.expect(204);
    let group = s.get(&format!("/Groups/{g}")).await.expect(200);
    assert_eq!(group.body["members"].as_array().map(Vec::len), Some(3), "{}", group.text);

    // A removal by a filter other than ids reads every member row: one per PATCH.
    let by_filter = json!({"op": "remove", "path": "members[type eq \"User\"]"});
    let ops = json!([by_filter.clone(), by_filter.clone()]);
    refused(
        s.patch(&format!("/Groups/{g}"), ops).await,
        400,
        "tooMany",
        "max_member_filters_per_patch",
    );
    let group = s.get(&format!("/Groups/{g}")).await.expect(200);
    assert_eq!(group.body["members"].as_array().map(Vec::len), Some(3), "{}", group.text);
    s.patch(&format!("/Groups/{g}"), json!([by_filter])).await.expect(204);
    let group = s.get(&format!("/Groups/{g}")).await.expect(200);
    assert_eq!(group.body["members"].as_array().map_or(0, Vec::len), 0, "{}", group.text);
}

#[tokio::test]
async fn string_length() {
    let s = TestServer::start().await;
    // The 900 KB userName: refused by the default limit, not stored.
    let huge = format!("{}@example.com", "u".repeat(900 * 1024));
    let body = json!({"schemas": [CORE_USER], "userName": huge});
    refused(s.post("/Users", &body).await, 400, "invalidValue", "max_string_bytes");
    assert_eq!(s.total("/Users").await, 0);

    // At the default limit (16384 bytes): accepted; one byte more, in a PUT or a PATCH: not.
    let id = s.create_user("long@example.com").await;
    let at_limit = "t".repeat(16384);
    let r = s
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "title", "value": at_limit}]),
        )
        .await
        .expect(200);
    assert_eq!(r.body["title"].as_str().map(str::len), Some(16384));
    let over = "t".repeat(16385);
    refused(
        s.patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "title", "value": over}]),
        )
        .await,
        400,
        "invalidValue",
        "max_string_bytes",
    );
    let body = user_body("long@example.com", json!({"title": over}));
    refused(s.put(&format!("/Users/{id}"), &body).await, 400, "invalidValue", "max_string_bytes");
    let user = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(user.body["title"].as_str().map(str::len), Some(16384));
}

/// With a one-second deadline and the writer kept busy by a large (allowed) PATCH, small
/// writes queue behind it past their deadline. Whatever each request was answered must be
/// true: a 408 made no change, a 2xx is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timed_out_request_made_no_change() {
    // The PATCH must hold the writer past the 1 s deadline; on a faster machine it gets
    // more operations, so that some request always meets its deadline.
    for ops in [5_000, 20_000, 80_000] {
        if some_request_timed_out_and_none_lied(ops).await {
            return;
        }
    }
    panic!("no request met its deadline, even behind a PATCH of 80,000 operations");
}

/// Runs one PATCH of `ops` member scans on a 200-member group while eight clients make
/// small writes, and checks every answer against what is stored: a 408 made no change, a 2xx
/// is stored. Returns whether any request was answered 408.
async fn some_request_timed_out_and_none_lied(ops_count: usize) -> bool {
    let s = Arc::new(
        TestServer::start_with(
            "[limits]\nrequest_timeout_secs = 1\nmax_operations_per_patch = 1000000\n\
             max_members_per_request = 1000000\nmax_member_filters_per_patch = 1000000\n\
             max_body_bytes = 16777216",
        )
        .await,
    );
    // Cheap to send and parse, long for the writer: each operation reads every member row.
    let mut users = Vec::new();
    for i in 0..200 {
        users.push(json!({"value": s.create_user(&format!("m{i}@example.com")).await}));
    }
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                       "displayName": "big", "members": users});
    let big = id_of(&s.post("/Groups", &group).await.expect(201));
    // A rename (what shows whether the PATCH was made), then the scans, which remove nothing.
    let mut ops = vec![json!({"op": "replace", "path": "displayName", "value": "renamed"})];
    ops.extend(
        (0..ops_count).map(|_| json!({"op": "remove", "path": "members[type eq \"Group\"]"})),
    );
    let started = std::time::Instant::now();
    let patcher = {
        let s = Arc::clone(&s);
        let big = big.clone();
        tokio::spawn(async move { s.patch(&format!("/Groups/{big}"), Value::Array(ops)).await })
    };
    // Small writes from several clients, each one after another, while the PATCH runs.
    let mut writers = Vec::new();
    for w in 0..8 {
        let s = Arc::clone(&s);
        writers.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            for i in 0..12 {
                let name = format!("w{w}-{i}@example.com");
                let body = json!({"schemas": [CORE_USER], "userName": name});
                let r = s.post("/Users", &body).await;
                answered.push((name, r.status.as_u16()));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            answered
        }));
    }
    let patched = patcher.await.unwrap();
    let mut timed_out = 0;
    for writer in writers {
        for (name, status) in writer.await.unwrap() {
            match status {
                201 => assert_eq!(s.users_named(&name).await, 1, "{name} answered 201"),
                408 => {
                    timed_out += 1;
                    assert_eq!(s.users_named(&name).await, 0, "{name} answered 408 but stored");
                }
                429 => assert_eq!(s.users_named(&name).await, 0, "{name} answered 429"),
                other => panic!("{name}: unexpected {other}"),
            }
        }
    }
    eprintln!(
        "PATCH {} after {:?}; {timed_out} small writes timed out",
        patched.status,
        started.elapsed()
    );
    let stored = s.get(&format!("/Groups/{big}")).await.expect(200);
    assert_eq!(stored.body["members"].as_array().map_or(0, Vec::len), 200, "{}", stored.text);
    let name = &stored.body["displayName"];
    match patched.status.as_u16() {
        204 => assert_eq!(name, "renamed", "the PATCH answered 204"),
        408 => assert_eq!(name, "big", "the PATCH answered 408 but its change is stored"),
        other => panic!("PATCH: unexpected {other}: {}", patched.text),
    }
    // Not a timing assertion: without a request that waited past its deadline, this run
    // checked nothing, and the caller tries a longer PATCH.
    timed_out > 0 || patched.status.as_u16() == 408
}
