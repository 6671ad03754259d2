//! Replay tests: one whole provisioning lifecycle per client dialect (Entra default, Entra with
//! aadOptscim062020, the Microsoft SCIM Validator, Okta OIN, Okta AIW), asserting stored state
//! after every step. This file holds the client harness the dialects share; each dialect's
//! scenario has a file of its own.
//!
//! Payload shapes are the literal ones the vendors document or were seen sending (sources and
//! `§` numbers: `payloads.rs`); expected behaviour follows the PATCH contract. Every write is
//! followed by a GET, and the stored user is compared as a whole (everything but `meta`) with
//! the state the dialect expects, so a PATCH that also touches something it should not is
//! caught as well.

mod entra_default;
mod entra_flag;
mod okta;
mod validator;

use serde_json::{Value, json};

use crate::common::{
    CORE_USER, ENTERPRISE, GROUP, LIST, PATCH_OP, Reply, TestServer, derived, empty_list,
    entra_encode, group_ids, ids, manager_ref, member_ids, resources, set, user_member,
};
use crate::payloads::{entra_group, ms_tut_create_user};

const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
const EMPLOYEE_NUMBER: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";
const DEPARTMENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";

// ---------------------------------------------------------------------------------------------
// The client side: requests as a dialect sends them, each checked against a follow-up GET.
// ---------------------------------------------------------------------------------------------

/// One IdP talking to one server. With `flag`, every request URL carries it as a bare query
/// parameter, the way an admin types `…/scim/v2?aadOptscim062020` as the Tenant URL. Bodies go
/// with the IdP's own `Content-Type` (§1.0, §2.0).
struct Idp<'a> {
    s: &'a TestServer,
    flag: &'static str,
    content_type: &'static str,
}

impl<'a> Idp<'a> {
    /// Entra's provisioning engine: `application/scim+json`.
    fn entra(s: &'a TestServer) -> Self {
        Idp { s, flag: "", content_type: "application/scim+json" }
    }

    fn entra_flagged(s: &'a TestServer) -> Self {
        Idp { flag: "aadOptscim062020", ..Idp::entra(s) }
    }

    /// The SCIM Validator and Okta: `application/scim+json; charset=utf-8`.
    fn with_charset(s: &'a TestServer) -> Self {
        Idp { s, flag: "", content_type: "application/scim+json; charset=utf-8" }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> Reply {
        let bytes = serde_json::to_vec(body).expect("json");
        self.s.raw(method, &self.at(path), self.content_type, bytes).await
    }

    /// A PatchOp with `ops`, as the IdP sends it.
    async fn patch(&self, path: &str, ops: Value) -> Reply {
        let body = json!({"schemas": [PATCH_OP], "Operations": ops});
        self.send(reqwest::Method::PATCH, path, &body).await
    }

    fn at(&self, path: &str) -> String {
        match (self.flag, path.contains('?')) {
            ("", _) => path.to_string(),
            (flag, true) => format!("{path}&{flag}"),
            (flag, false) => format!("{path}?{flag}"),
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.s.get(&self.at(path)).await
    }
    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, body).await
    }
    async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::PUT, path, body).await
    }
    async fn delete(&self, path: &str) -> Reply {
        self.s.delete(&self.at(path)).await
    }

    async fn user(&self, id: &str) -> Value {
        self.get(&format!("/Users/{id}")).await.expect(200).body
    }
    async fn group(&self, id: &str) -> Value {
        self.get(&format!("/Groups/{id}")).await.expect(200).body
    }

    /// POSTs and returns the new id and the 201 body.
    async fn create(&self, endpoint: &str, body: &Value) -> (String, Value) {
        let r = self.post(endpoint, body).await.expect(201);
        let id = r.body["id"].as_str().expect("id").to_string();
        assert_eq!(r.headers["location"], self.s.url(&format!("{endpoint}/{id}")).as_str());
        (id, r.body)
    }

    /// The ids a filter finds (`+`-encoded, as Entra sends it).
    async fn find(&self, endpoint: &str, filter: &str) -> Vec<String> {
        ids(&self.get(&format!("{endpoint}?filter={}", entra_encode(filter))).await.expect(200))
    }

    /// PATCHes a user: 200 with the full user, which is what a GET returns afterwards.
    async fn patch_user(&self, id: &str, ops: Value) -> Value {
        let path = format!("/Users/{id}");
        let before = self.user(id).await;
        let r = self.patch(&path, ops.clone()).await.expect(200);
        let after = self.user(id).await;
        assert_eq!(r.body, after, "PATCH {path} {ops}: the response is not the stored user");
        assert_eq!(r.headers["etag"], after["meta"]["version"].as_str().expect("version"));
        bumped_if_changed(&before, &after);
        after
    }

    /// PATCHes a group: 204 with no body; returns the group as a GET sees it afterwards.
    async fn patch_group(&self, id: &str, ops: Value) -> Value {
        let path = format!("/Groups/{id}");
        let before = self.group(id).await;
        let r = self.patch(&path, ops.clone()).await.expect(204);
        assert!(r.text.is_empty(), "PATCH {path} {ops}: 204 with a body: {}", r.text);
        let after = self.group(id).await;
        bumped_if_changed(&before, &after);
        after
    }

    /// A PATCH of the `kind` ("User" or "Group") with `id` that must be refused with `status`
    /// and `scim_type`: the resource reads back unchanged, and the newest log row records the
    /// refusal. Returns that row.
    async fn refused_patch(
        &self,
        kind: &str,
        id: &str,
        ops: Value,
        status: u16,
        scim_type: &str,
    ) -> Value {
        let path = format!("/{kind}s/{id}");
        let before = self.get(&path).await.expect(200).body;
        let r = self.patch(&path, ops.clone()).await;
        assert_eq!(r.status.as_u16(), status, "PATCH {path} {ops}: {}", r.text);
        let r = r.expect(status);
        assert_eq!(r.scim_type(), scim_type, "PATCH {path} {ops}: {}", r.text);
        let after = self.get(&path).await.expect(200).body;
        assert_eq!(after, before, "PATCH {path} {ops}: a refused PATCH changed the {kind}");
        let row = self.s.provisioning_log(1).await.remove(0);
        assert_log(&row, "patch", kind, Some(id), status);
        assert_eq!(row["scim_type"], scim_type, "{row}");
        row
    }

    /// Entra's Test Connection (§1.1): a filter on a random GUID, `+`-encoded; 200 with an
    /// empty list, never 404.
    async fn test_connection(&self) {
        let probe = "/Users?filter=userName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22";
        assert_eq!(self.get(probe).await.expect(200).body, empty_list());
    }

    /// Entra's group provisioning (§1.7): the lookup by `displayName` finds nothing, the
    /// create (ADSCIM URN, `meta`) answers and stores a group without members, and the lookup
    /// then finds it, without a `members` key. Returns the id and the stored state to expect.
    async fn entra_group_created(&self) -> (String, Value) {
        assert_eq!(self.get(&group_lookup("displayName")).await.expect(200).body, empty_list());
        let (gid, created) = self.create("/Groups", &entra_group()).await;
        assert!(created.get("members").is_none_or(|m| m == &json!([])), "{created}");
        let want_group = json!({"schemas": [GROUP], "id": gid, "displayName": "displayName",
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "members": []});
        assert_state(&self.group(&gid).await, &want_group, "group created");
        let r = self.get(&group_lookup("displayName")).await.expect(200);
        assert_eq!(ids(&r), [gid.clone()]);
        assert!(resources(&r)[0].get("members").is_none(), "{}", r.text);
        (gid, want_group)
    }

    /// DELETEs `path` (204); a GET of it is then 404.
    async fn delete_gone(&self, path: &str) {
        self.delete(path).await.expect(204);
        self.get(path).await.expect(404);
    }
}

/// `meta.created` never moves; a change of content means a new `meta.version`.
#[track_caller]
fn bumped_if_changed(before: &Value, after: &Value) {
    assert_eq!(before["meta"]["created"], after["meta"]["created"]);
    if strip_meta(before) != strip_meta(after) {
        assert_ne!(before["meta"]["version"], after["meta"]["version"], "changed, same version");
    }
}

fn strip_meta(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("meta");
    }
    v
}

/// Asserts the stored resource is exactly `want`, apart from the server-maintained `meta`.
#[track_caller]
fn assert_state(got: &Value, want: &Value, step: &str) {
    assert_eq!(strip_meta(got), strip_meta(want), "{step}:\n got: {got:#}\nwant: {want:#}");
}

fn enterprise(u: &Value) -> &Value {
    &u[ENTERPRISE]
}

fn remove_key(v: &mut Value, key: &str) {
    assert!(v.is_object(), "not an object: {v}");
    v.as_object_mut().map(|o| o.remove(key));
}

/// A group's `members`, sorted by id, for exact comparison.
fn members_sorted(group: &Value) -> Vec<Value> {
    let mut m = group["members"].as_array().unwrap_or_else(|| panic!("members: {group}")).clone();
    m.sort_by_key(|x| x["value"].as_str().unwrap_or("").to_string());
    m
}

/// Exact expected `members`, sorted like [`members_sorted`].
fn want_members(mut m: Vec<Value>) -> Vec<Value> {
    m.sort_by_key(|x| x["value"].as_str().unwrap_or("").to_string());
    m
}

/// A user's `groups` element for a direct membership.
fn membership(s: &TestServer, group: &str, name: &str) -> Value {
    json!({"value": group, "$ref": s.url(&format!("/Groups/{group}")), "type": "direct", "display": name})
}

fn detail(row: &Value) -> String {
    row["detail"].as_str().unwrap_or("").to_lowercase()
}

/// Checks one provisioning-log row: operation, resource, status and scimType.
#[track_caller]
fn assert_log(row: &Value, operation: &str, resource: &str, id: Option<&str>, status: u16) {
    assert_eq!(row["operation"], operation, "{row}");
    assert_eq!(row["resource_type"], resource, "{row}");
    assert_eq!(row["status"], status, "{row}");
    assert_eq!(row["token"], "test", "{row}");
    if let Some(id) = id {
        assert_eq!(row["resource_id"], id, "{row}");
    }
    if status < 400 {
        assert!(row.get("scim_type").is_none(), "{row}");
    }
}

/// Asserts the newest log row records a deactivation of `id`.
async fn assert_logged_deactivation(s: &TestServer, operation: &str, id: &str) {
    let row = &s.provisioning_log(1).await[0];
    assert_log(row, operation, "User", Some(id), 200);
    if operation == "patch" {
        let d = detail(row);
        assert!(d.contains("active") || d.contains("deactivat"), "detail must say so: {row}");
    }
}

/// Asserts the newest log row is a refused duplicate create of `name`.
async fn assert_logged_duplicate(s: &TestServer, resource: &str, name: &str) {
    let row = &s.provisioning_log(1).await[0];
    assert_log(row, "create", resource, None, 409);
    assert_eq!(row["scim_type"], "uniqueness", "{row}");
    assert_eq!(row["name"], name, "{row}");
}

// ---------------------------------------------------------------------------------------------
// Requests more than one Entra dialect sends.
// ---------------------------------------------------------------------------------------------

/// MS-TUT's first "Create User" example for another Entra user.
fn entra_user(user_name: &str, external_id: &str) -> Value {
    let mut u = ms_tut_create_user();
    u["userName"] = json!(user_name);
    u["externalId"] = json!(external_id);
    u["emails"][0]["value"] = json!(user_name);
    u
}

/// Entra's group lookup: by `displayName`, without members.
fn group_lookup(name: &str) -> String {
    format!(
        "/Groups?excludedAttributes=members&filter={}",
        entra_encode(&format!("displayName eq \"{name}\""))
    )
}
