//! PATCH (RFC 7644 §3.5.2) against a real server, each case asserting what a later GET shows:
//! the RFC semantics, the responses, the errors, every IdP quirk with its literal payload (the
//! numbered list in `payloads.rs`), membership, lifecycle, what later requests see, and the
//! provisioning log. This file holds the helpers the concerns below share.

mod errors;
mod idp_quirks;
mod indexes_and_durability;
mod lifecycle;
mod members;
mod provisioning_log;
mod responses;
mod rfc_semantics;

use reqwest::Method;
use scimd::store::TokenScope;
use serde_json::{Value, json};

use crate::common::{
    CORE_USER, ENTERPRISE, PATCH_OP, Reply, SCIM_JSON, TestServer, derived, entra_encode, gpath,
    group_ids, id_of, ids, manager_ref, member_ids, member_shape, set, upath, user_body,
    user_member,
};

/// A PatchOp body around `ops`, for literal IdP requests.
fn patch_op(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Creates `user_body(user_name)` plus `extra` and returns the id.
async fn create_with(s: &TestServer, user_name: &str, extra: Value) -> String {
    id_of(&s.post("/Users", &user_body(user_name, extra)).await.expect(201))
}

/// Creates a user holding nothing but `userName` and returns the id.
async fn create_bare(s: &TestServer, user_name: &str) -> String {
    id_of(
        &s.post("/Users", &json!({"schemas": [CORE_USER], "userName": user_name}))
            .await
            .expect(201),
    )
}

/// A server of its own holding one user: what most user-PATCH tests start from. The methods
/// are the free helpers below, aimed at that user.
struct ServerWithUser {
    s: TestServer,
    id: String,
}

impl ServerWithUser {
    /// A server with `s.create_user(user_name)`.
    async fn new(user_name: &str) -> Self {
        Self::on(TestServer::start().await, user_name).await
    }

    /// `s` (started with a configuration of the test's own) with `s.create_user(user_name)`.
    async fn on(s: TestServer, user_name: &str) -> Self {
        let id = s.create_user(user_name).await;
        ServerWithUser { s, id }
    }

    /// A server with `user_body(user_name)` plus `extra` (see [`create_with`]).
    async fn with(user_name: &str, extra: Value) -> Self {
        let s = TestServer::start().await;
        let id = create_with(&s, user_name, extra).await;
        ServerWithUser { s, id }
    }

    /// A server with a user holding nothing but `userName` (see [`create_bare`]).
    async fn bare(user_name: &str) -> Self {
        let s = TestServer::start().await;
        let id = create_bare(&s, user_name).await;
        ServerWithUser { s, id }
    }

    /// The user as a GET shows it.
    async fn read(&self) -> Value {
        self.s.read_user(&self.id).await
    }

    /// [`patch_user`] of this user.
    async fn patch(&self, ops: Value) -> Value {
        patch_user(&self.s, &self.id, ops).await
    }

    /// [`patch_user_raw`] of this user.
    async fn patch_raw(&self, body: &Value) -> Value {
        patch_user_raw(&self.s, &self.id, body).await
    }

    /// [`refused`] for a PatchOp of `ops` on this user.
    async fn refused(&self, ops: Value, scim_type: &str) -> Reply {
        refused(&self.s, &upath(&self.id), ops, scim_type).await
    }
}

/// Checks an accepted user PATCH: 200, SCIM content type, the full resource with an `ETag`
/// equal to `meta.version`; returns what a later GET shows, which must equal the reply.
async fn accepted_user(s: &TestServer, id: &str, r: Reply) -> Value {
    let r = r.expect(200);
    assert!(r.content_type().starts_with(SCIM_JSON), "{}", r.content_type());
    assert_eq!(r.body["id"], id, "{}", r.text);
    let version = r.body["meta"]["version"]
        .as_str()
        .unwrap_or_else(|| panic!("no meta.version in the PATCH reply: {}", r.text));
    let etag = r.headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(etag, version, "ETag differs from meta.version");
    let got = s.read_user(id).await;
    assert_eq!(got, r.body, "a later GET differs from the PATCH reply");
    got
}

/// PATCHes a user with `ops`, expects 200, and returns the user a later GET shows.
async fn patch_user(s: &TestServer, id: &str, ops: Value) -> Value {
    let r = s.patch(&upath(id), ops).await;
    accepted_user(s, id, r).await
}

/// PATCHes a user with a literal body, expects 200, and returns the user a later GET shows.
async fn patch_user_raw(s: &TestServer, id: &str, body: &Value) -> Value {
    let r = s.patch_raw(&upath(id), body).await;
    accepted_user(s, id, r).await
}

/// Checks an accepted group PATCH (204, no body) and returns what a later GET shows.
async fn accepted_group(s: &TestServer, id: &str, r: Reply) -> Value {
    let r = r.expect(204);
    assert!(r.text.is_empty(), "a group PATCH without projection has no body: {}", r.text);
    s.read_group(id).await
}

/// PATCHes a group with `ops`, expects 204, and returns the group a later GET shows.
async fn patch_group(s: &TestServer, id: &str, ops: Value) -> Value {
    let r = s.patch(&gpath(id), ops).await;
    accepted_group(s, id, r).await
}

/// PATCHes a group with a literal body, expects 204, and returns the group a later GET shows.
async fn patch_group_raw(s: &TestServer, id: &str, body: &Value) -> Value {
    let r = s.patch_raw(&gpath(id), body).await;
    accepted_group(s, id, r).await
}

/// Sends a literal PATCH body to `path` that must be refused with `status` and `scim_type`
/// ("" = don't check), and checks the resource reads back exactly as before: same
/// `meta.version`, same values. Every failure names the request.
async fn refused_raw(
    s: &TestServer,
    path: &str,
    body: &Value,
    status: u16,
    scim_type: &str,
) -> Reply {
    let before = s.get(path).await.expect(200).body;
    let r = s.patch_raw(path, body).await;
    assert_eq!(r.status.as_u16(), status, "PATCH {path} {body}: {}", r.text);
    let r = r.expect(status);
    if !scim_type.is_empty() {
        assert_eq!(r.scim_type(), scim_type, "PATCH {path} {body}: {}", r.text);
    }
    let detail = r.body["detail"].as_str().unwrap_or("");
    assert!(!detail.is_empty(), "PATCH {path} {body}: no detail: {}", r.text);
    let after = s.get(path).await.expect(200).body;
    assert_eq!(after, before, "PATCH {path} {body}: a refused PATCH changed the stored resource");
    r
}

/// `refused_raw` with a 400 for a PatchOp of `ops`.
async fn refused(s: &TestServer, path: &str, ops: Value, scim_type: &str) -> Reply {
    refused_raw(s, path, &patch_op(ops), 400, scim_type).await
}

/// A PATCH of `ops` sent with `token` and extra `headers`.
async fn patch_as(
    s: &TestServer,
    token: &str,
    path: &str,
    ops: Value,
    headers: &[(&str, &str)],
) -> Reply {
    s.call_with_headers(token, Method::PATCH, path, Some(&patch_op(ops)), headers).await
}

/// The user a table case starts from.
enum Start {
    /// `user_body("ada@example.org")` plus these attributes.
    With(Value),
    /// `{"userName": "ada@example.org"}` and nothing else.
    Bare,
}

/// One user PATCH case: what it shows, the user it starts from, its operations, and what the
/// user reads back at JSON pointers afterwards (`None`: absent).
struct Case {
    what: &'static str,
    start: Start,
    ops: Value,
    want: Vec<(String, Option<Value>)>,
}

/// `(pointer, Some(value))`: the user shows `value` at `pointer`.
fn at(pointer: &str, value: Value) -> (String, Option<Value>) {
    (pointer.to_string(), Some(value))
}

/// `(pointer, None)`: the user has nothing at `pointer`.
fn absent(pointer: &str) -> (String, Option<Value>) {
    (pointer.to_string(), None)
}

/// The JSON pointer of an enterprise-extension attribute (`""` for the extension object).
fn ent(attr: &str) -> String {
    if attr.is_empty() { format!("/{ENTERPRISE}") } else { format!("/{ENTERPRISE}/{attr}") }
}

/// Runs each case on a server of its own: creates ada@example.org, sends the case's PATCH,
/// checks it is accepted like [`patch_user`], and checks every wanted value. Each failure
/// names the case and its operations.
async fn check_cases(cases: Vec<Case>) {
    for Case { what, start, ops, want } in cases {
        let s = TestServer::start().await;
        let id = match start {
            Start::With(extra) => create_with(&s, "ada@example.org", extra).await,
            Start::Bare => create_bare(&s, "ada@example.org").await,
        };
        let r = s.patch(&upath(&id), ops.clone()).await;
        assert_eq!(r.status.as_u16(), 200, "{what}: PATCH {ops}: {}", r.text);
        let got = accepted_user(&s, &id, r).await;
        for (pointer, value) in &want {
            assert_eq!(
                got.pointer(pointer),
                value.as_ref(),
                "{what}: PATCH {ops}: {pointer}\n{got}"
            );
        }
    }
}

/// PATCH operations built around an id created by the test (a member, a manager).
type OpsFor = fn(&str) -> Value;

/// The member element for `id` in a group body.
fn member<'a>(group: &'a Value, id: &str) -> &'a Value {
    group["members"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["value"] == id))
        .unwrap_or_else(|| panic!("{id} not a member of {group}"))
}

/// The manager attribute of a user (Null when absent).
fn manager(user: &Value) -> &Value {
    &user[ENTERPRISE]["manager"]
}

/// The roles of a user not marked derived, i.e. the IdP's.
fn idp_roles(user: &Value) -> Vec<Value> {
    user.get("roles")
        .and_then(Value::as_array)
        .map(|rs| rs.iter().filter(|r| r["type"] != "derived").cloned().collect())
        .unwrap_or_default()
}

/// How many elements of a multi-valued attribute say `"primary": true`.
fn primaries(list: &Value) -> usize {
    list.as_array().map(|l| l.iter().filter(|e| e["primary"] == true).count()).unwrap_or(0)
}

/// A user with many attributes, for tests that check what a PATCH keeps.
fn rich_extra(boss: &str) -> Value {
    json!({
        "displayName": "Ada Lovelace",
        "nickName": "Ada",
        "title": "Analyst",
        "externalId": "ext-ada",
        "userType": "operations",
        "locale": "en-GB",
        "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
        "addresses": [{"type": "work", "streetAddress": "1 Analytical Way", "locality": "London",
                       "postalCode": "N1 9GU", "country": "GB"}],
        ENTERPRISE: {"department": "Engines", "employeeNumber": "1815", "manager": {"value": boss}}
    })
}

/// `v` without the top-level `keys`.
fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}
