//! Replay tests: one whole provisioning lifecycle per client dialect (Entra default, Entra with
//! aadOptscim062020, the Microsoft SCIM Validator, Okta OIN, Okta AIW), asserting stored state
//! after every step.
//!
//! Payload shapes are the literal ones from /work/shared/reference/idp-behaviour.md (§1 Entra,
//! §2 Okta, §3 quirks, §4.1 the validator, §7 the dialects); expected behaviour follows the PATCH
//! contract. Every write is followed by a GET, and the stored user is compared as a whole
//! (everything but `meta`) with the state the dialect expects, so a PATCH that also touches
//! something it should not is caught as well.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{
    CORE_USER, ENTERPRISE, GROUP, LIST, PATCH_OP, Reply, TestServer, derived, empty_list,
    entra_encode, group_ids, ids, manager_ref, member_ids, ms_tut_create_user, okta_create_user,
    resources, set, user_member,
};

const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
const EMPLOYEE_NUMBER: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";
const DEPARTMENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
const VALIDATOR_CONFIG: &str =
    "[roles]\nunknown_user_type = \"default\"\nunknown_role = \"accept\"\n";

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
// Literal payloads.
// ---------------------------------------------------------------------------------------------

/// The same shape for another Entra user.
fn entra_user(user_name: &str, external_id: &str) -> Value {
    let mut u = ms_tut_create_user();
    u["userName"] = json!(user_name);
    u["externalId"] = json!(external_id);
    u["emails"][0]["value"] = json!(user_name);
    u
}

/// §1.2, MS-TUT's second example: explicit nulls, `meta`, and the typo'd extension URN.
fn ms_tut_jyoung() -> Value {
    serde_json::from_str(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
 "externalId":"jyoung","userName":"jyoung@testuser.com","active":true,"addresses":null,"displayName":"Joy Young",
 "emails":[{"type":"work","value":"jyoung@Contoso.com","primary":true}],"meta":{"resourceType":"User"},
 "name":{"familyName":"Young","givenName":"Joy"},"phoneNumbers":null,"preferredLanguage":null,"title":null,
 "department":null,"manager":null}"#)
    .expect("literal payload")
}

/// §1.7, Entra's group create with the Microsoft schema URN and `meta`.
fn entra_group() -> Value {
    json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group",
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
     "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
     "displayName":"displayName",
     "meta":{"resourceType":"Group"}})
}

/// §4.1, the validator's POST /Users body (abridged values filled in).
fn validator_user() -> Value {
    json!({"userName":"julien.vonrueden@ondricka.us","active":true,"displayName":"NDSQQTECVAAC","title":"CJSGUNOAAMMQ",
     "emails":[{"type":"work","value":"thaddeus@hammes.info","primary":true}],"preferredLanguage":"hi",
     "name":{"givenName":"Elfrieda","familyName":"Urban","formatted":"Myah","middleName":"Cindy",
             "honorificPrefix":"Minerva","honorificSuffix":"Micaela"},
     "addresses":[{"type":"work","formatted":"25928 Katlyn Row","streetAddress":"25928 Katlyn Row","locality":"Freetown","region":"Western Area",
                   "postalCode":"cx47 4mz","primary":true,"country":"Sierra Leone"}],
     "phoneNumbers":[{"type":"work","value":"10-040-1308","primary":true},{"type":"mobile","value":"10-040-1308"},
                     {"type":"fax","value":"10-040-1308"}],
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"QTRMFZZDHXZQ","department":"JXWJCFPTUEUS",
       "costCenter":"VYVTNGWOXRRA","organization":"OCYUAPBTQHXJ","division":"GZQVGQWWZQSV","manager":{"value":"XYMKVVRYDIOO"}},
     "roles":[{"primary":"True","display":"MRONYWGFFHXQ","value":"WDEIISGWWQBE","type":"XVTUOHMYUFRL"}],
     "userType":"CGKBHJQMWSIT","nickName":"NEVUQKWHRQUO","locale":"RJWNTUNNOHNZ","timezone":"America/Guayaquil","profileUrl":"OQCVJKLFMNGK",
     "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]})
}

/// What scimd stores for [`okta_create_user`]: no password, no groups, the default role.
fn okta_stored_user(id: &str, user_name: &str, external_id: &str) -> Value {
    json!({"schemas": [CORE_USER], "id": id,
     "userName": user_name,
     "name": {"givenName": "Test", "familyName": "User"},
     "emails": [{"primary": true, "value": user_name, "type": "work"}],
     "displayName": "Test User", "locale": "en-US",
     "externalId": external_id,
     "active": true,
     "roles": derived(&["member"])})
}

/// Entra's group lookup: by `displayName`, without members.
fn group_lookup(name: &str) -> String {
    format!(
        "/Groups?excludedAttributes=members&filter={}",
        entra_encode(&format!("displayName eq \"{name}\""))
    )
}

fn okta_check_user(user_name: &str) -> String {
    format!(
        "/Users?filter=userName%20eq%20%22{}%22&startIndex=1&count=100",
        user_name.replace('@', "%40")
    )
}

fn okta_check_group(name: &str) -> String {
    format!(
        "/Groups?filter=displayName%20eq%20%22{}%22&startIndex=1&count=100",
        name.replace(' ', "%20")
    )
}

// ---------------------------------------------------------------------------------------------
// Entra ID, default ([CUR]) dialect.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn entra_default() {
    let s = TestServer::start().await;
    let idp = Idp::entra(&s);

    // §1.1 Test Connection: a random GUID, `+`-encoded; 200 with an empty list, never 404.
    let probe = "/Users?filter=userName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22";
    assert_eq!(idp.get(probe).await.expect(200).body, empty_list());
    let group_probe = "/Groups?excludedAttributes=members&filter=displayName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22";
    assert_eq!(idp.get(group_probe).await.expect(200).body, empty_list());

    // §1.2 The manager-to-be: lookup by userName and externalId, then MS-TUT's first example.
    let mgr_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
    let by_mgr_name = format!("userName eq \"{mgr_name}\"");
    let by_mgr_ext = "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"";
    assert!(idp.find("/Users", &by_mgr_name).await.is_empty());
    assert!(idp.find("/Users", by_mgr_ext).await.is_empty());
    let (mgr, _) = idp.create("/Users", &ms_tut_create_user()).await;
    let want_mgr = json!({"schemas": [CORE_USER], "id": mgr, "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": mgr_name, "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": derived(&["member"])});
    assert_state(&idp.user(&mgr).await, &want_mgr, "manager created");
    assert_eq!(idp.find("/Users", &by_mgr_name).await, [mgr.clone()]);
    assert_eq!(idp.find("/Users", by_mgr_ext).await, [mgr.clone()]);

    // The user: MS-TUT's second example (nulls, meta, the typo'd URN).
    assert!(idp.find("/Users", "userName eq \"jyoung@testuser.com\"").await.is_empty());
    assert!(idp.find("/Users", "externalId eq \"jyoung\"").await.is_empty());
    let (id, created) = idp.create("/Users", &ms_tut_jyoung()).await;
    let mut want = json!({"schemas": [CORE_USER], "id": id, "externalId": "jyoung",
        "userName": "jyoung@testuser.com", "active": true, "displayName": "Joy Young",
        "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
        "name": {"familyName": "Young", "givenName": "Joy"},
        "roles": derived(&["member"])});
    assert_state(&created, &want, "POST response");
    assert_state(&idp.user(&id).await, &want, "created");
    assert_eq!(idp.find("/Users", "userName eq \"jyoung@testuser.com\"").await, [id.clone()]);
    assert_eq!(idp.find("/Users", "externalId eq \"jyoung\"").await, [id.clone()]);
    assert_log(&s.provisioning_log(1).await[0], "create", "User", Some(&id), 201);

    // A second manager, for the change of manager later.
    let mgr2_name = "Test_User_22cc22cc-dd33-ee44-ff55-66aa66aa66aa@testuser.com";
    let (mgr2, _) =
        idp.create("/Users", &entra_user(mgr2_name, "1b32e1e3-9e3b-4f9f-8a09-8474d5bfe5f0")).await;

    // §1.3 Update profile, [CUR]: one Replace per changed attribute, capitalised op.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"Replace","path":"displayName","value":"Pvlo"},
                {"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
                {"op":"Replace","path":"name.givenName","value":"Gtfd"},
                {"op":"Replace","path":"name.familyName","value":"Pkqf"},
                {"op":"Replace","path":"externalId","value":"Eqpj"},
                {"op":"Replace","path":EMPLOYEE_NUMBER,"value":"Eqpj"}
            ]),
        )
        .await;
    want["displayName"] = json!("Pvlo");
    want["emails"] =
        json!([{"type": "work", "value": "TestBcwqnm@test.microsoft.com", "primary": true}]);
    want["name"] = json!({"familyName": "Pkqf", "givenName": "Gtfd"});
    want["externalId"] = json!("Eqpj");
    want[ENTERPRISE] = json!({"employeeNumber": "Eqpj"});
    want["schemas"] = json!([CORE_USER, ENTERPRISE]);
    assert_state(&got, &want, "profile replace");
    assert_eq!(idp.find("/Users", "externalId eq \"Eqpj\"").await, [id.clone()]);
    // The email as a matching attribute (MS-TUT /Users rules).
    let by_mail = "emails[type eq \"work\"].value eq \"TestBcwqnm@test.microsoft.com\"";
    assert_eq!(idp.find("/Users", by_mail).await, [id.clone()]);
    assert!(idp.find("/Users", "externalId eq \"jyoung\"").await.is_empty());
    let row = &s.provisioning_log(1).await[0];
    assert_log(row, "patch", "User", Some(&id), 200);
    assert!(!detail(row).is_empty(), "an accepted PATCH summarises the change: {row}");

    // Adds of absent attributes, the default mapping's capitalised sub-attributes, and a
    // Replace of an attribute that is not there yet.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"Add","path":"nickName","value":"Babs"},
                {"op":"Add","path":"emails[type eq \"other\"].Value","value":"jyoung@contoso.onmicrosoft.com"},
                {"op":"Add","path":"addresses[type eq \"other\"].Formatted","value":"Building 4, Room 1012"},
                {"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 (425) 555-0100"},
                {"op":"Replace","path":"title","value":"Program Manager"},
                {"op":"Add","path":DEPARTMENT,"value":"Sales"}
            ]),
        )
        .await;
    want["nickName"] = json!("Babs");
    want["emails"] = json!([
        {"type": "work", "value": "TestBcwqnm@test.microsoft.com", "primary": true},
        {"type": "other", "value": "jyoung@contoso.onmicrosoft.com"}
    ]);
    want["addresses"] = json!([{"type": "other", "formatted": "Building 4, Room 1012"}]);
    want["phoneNumbers"] = json!([{"type": "mobile", "value": "+1 (425) 555-0100"}]);
    want["title"] = json!("Program Manager");
    want[ENTERPRISE]["department"] = json!("Sales");
    assert_state(&got, &want, "adds");

    // Rename (MS-TUT).
    let new_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";
    let got =
        idp.patch_user(&id, json!([{"op":"Replace","path":"userName","value":new_name}])).await;
    want["userName"] = json!(new_name);
    assert_state(&got, &want, "rename");
    assert!(idp.find("/Users", "userName eq \"jyoung@testuser.com\"").await.is_empty());
    assert_eq!(idp.find("/Users", &format!("userName eq \"{new_name}\"")).await, [id.clone()]);
    // A rename onto another user's userName (any case) is 409 and changes nothing.
    let taken = mgr2_name.to_uppercase();
    let ops = json!([{"op":"Replace","path":"userName","value":taken}]);
    idp.refused_patch("User", &id, ops, 409, "uniqueness").await;

    // §1.11 Manager, set the MS-TUT way: path `manager`, an array with Entra's own `$ref`.
    let entra_ref = format!("http://entra.example/scim/Users/{mgr}");
    let got = idp
        .patch_user(
            &id,
            json!([{"op":"Add","path":"manager","value":[{"$ref":entra_ref,"value":mgr}]}]),
        )
        .await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &mgr);
    assert_state(&got, &want, "manager set");
    // Changed as a bare string on the URN path.
    let got = idp.patch_user(&id, json!([{"op":"Replace","path":MANAGER,"value":mgr2}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &mgr2);
    assert_state(&got, &want, "manager changed");
    // Cleared: absent afterwards, the rest of the extension kept.
    let got = idp.patch_user(&id, json!([{"op":"Remove","path":MANAGER}])).await;
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&got, &want, "manager cleared");
    assert!(enterprise(&got).get("manager").is_none(), "{got}");
    // Set again (the manager is deleted at the end).
    let got = idp
        .patch_user(
            &id,
            json!([{"op":"Add","path":"manager","value":[{"$ref":entra_ref,"value":mgr}]}]),
        )
        .await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &mgr);
    assert_state(&got, &want, "manager set again");
    // [LEGACY] current-value check: `id eq … and manager eq …` with `attributes=id`.
    let legacy =
        |manager: &str| format!("/Users?filter=id+eq+{id}+and+manager+eq+{manager}&attributes=id");
    let r = idp.get(&legacy(&mgr)).await.expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    assert!(resources(&r)[0].get("userName").is_none(), "{}", r.text);
    assert!(ids(&idp.get(&legacy(&mgr2)).await.expect(200)).is_empty());

    // §1.4 Deactivate with the string "False"; read back as a JSON boolean, all data kept,
    // still found by GET and by both matching filters.
    let got = idp.patch_user(&id, json!([{"op":"Replace","path":"active","value":"False"}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "deactivated");
    assert_logged_deactivation(&s, "patch", &id).await;
    let r = idp.get(&format!("/Users?filter={}", entra_encode("externalId eq \"Eqpj\""))).await;
    assert_eq!(resources(&r.expect(200)), [got.clone()]);
    assert_eq!(idp.find("/Users", &format!("userName eq \"{new_name}\"")).await, [id.clone()]);
    // §1.5 Reactivate with "True".
    let got = idp.patch_user(&id, json!([{"op":"Replace","path":"active","value":"True"}])).await;
    want["active"] = json!(true);
    assert_state(&got, &want, "reactivated");
    // §1.4/§3.3 `Add` used as replace: deprovisioning with op "Add", then back.
    let got = idp.patch_user(&id, json!([{"op":"Add","path":"active","value":"False"}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "deactivated by Add");
    assert_logged_deactivation(&s, "patch", &id).await;
    let got = idp.patch_user(&id, json!([{"op":"Add","path":"active","value":"True"}])).await;
    want["active"] = json!(true);
    assert_state(&got, &want, "reactivated by Add");

    // An attribute mapped to userType (README, Roles): the derived roles follow it.
    let got = idp.patch_user(&id, json!([{"op":"Add","path":"userType","value":"Manager"}])).await;
    want["userType"] = json!("Manager");
    want["roles"] =
        json!([{"value": "member", "type": "derived"}, {"value": "manager", "type": "derived"}]);
    assert_state(&got, &want, "userType set");
    // An unmapped userType is refused as a whole (the title op with it is not applied).
    let ops = json!([{"op":"Replace","path":"title","value":"Contractor"},
                     {"op":"Replace","path":"userType","value":"contractor"}]);
    let row = idp.refused_patch("User", &id, ops, 400, "invalidValue").await;
    assert!(detail(&row).contains("contractor"), "{row}");
    // `Add` on a filtered path whose element exists changes that element, never a second one.
    let got = idp
        .patch_user(
            &id,
            json!([{"op":"Add","path":"addresses[type eq \"other\"].Formatted","value":"Building 5, Room 7"}]),
        )
        .await;
    want["addresses"] = json!([{"type": "other", "formatted": "Building 5, Room 7"}]);
    assert_state(&got, &want, "Add on an existing element");

    // §1.7 Groups: lookup (no members key), create with the ADSCIM URN and `meta`.
    assert_eq!(idp.get(&group_lookup("displayName")).await.expect(200).body, empty_list());
    let (gid, created) = idp.create("/Groups", &entra_group()).await;
    assert!(created.get("members").is_none_or(|m| m == &json!([])), "{created}");
    let mut want_group = json!({"schemas": [GROUP], "id": gid, "displayName": "displayName",
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "members": []});
    assert_state(&idp.group(&gid).await, &want_group, "group created");
    let r = idp.get(&group_lookup("displayName")).await.expect(200);
    assert_eq!(ids(&r), [gid.clone()]);
    assert!(resources(&r)[0].get("members").is_none(), "{}", r.text);
    let r = idp.get(&format!("/Groups/{gid}?excludedAttributes=members")).await.expect(200);
    assert!(r.body.get("members").is_none(), "{}", r.text);

    // §1.8 Rename: 204.
    let renamed = "1879db59-3c5f-4b8b-9d6e-2b0f1e3c7a11updatedDisplayName";
    let got =
        idp.patch_group(&gid, json!([{"op":"Replace","path":"displayName","value":renamed}])).await;
    want_group["displayName"] = json!(renamed);
    assert_state(&got, &want_group, "group renamed");
    assert!(resources(&idp.get(&group_lookup("displayName")).await.expect(200)).is_empty());
    assert_eq!(ids(&idp.get(&group_lookup(renamed)).await.expect(200)), [gid.clone()]);

    // §1.9 Add members: several in one op, each with `"$ref": null`.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"Add","path":"members","value":[
                {"$ref":null,"value":id},{"$ref":null,"value":mgr},{"$ref":null,"value":mgr2}]}]),
        )
        .await;
    let all_three =
        want_members(vec![user_member(&s, &id), user_member(&s, &mgr), user_member(&s, &mgr2)]);
    assert_eq!(members_sorted(&got), all_three);
    let row = &s.provisioning_log(1).await[0];
    assert_log(row, "patch", "Group", Some(&gid), 204);
    assert!(detail(row).contains("member"), "{row}");
    for u in [&id, &mgr, &mgr2] {
        assert_eq!(idp.user(u).await["groups"], json!([membership(&s, &gid, renamed)]));
    }
    want["groups"] = json!([membership(&s, &gid, renamed)]);
    assert_state(&idp.user(&id).await, &want, "user in the group");
    // The same add in the next cycle is a no-op: no duplicates.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":mgr}]}]),
        )
        .await;
    assert_eq!(members_sorted(&got), all_three);

    // Remove with a `value` array: only the listed member goes.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"Remove","path":"members","value":[{"$ref":null,"value":mgr2}]}]),
        )
        .await;
    assert_eq!(
        members_sorted(&got),
        want_members(vec![user_member(&s, &id), user_member(&s, &mgr)])
    );
    assert!(idp.user(&mgr2).await.get("groups").is_none());
    want_group["members"] = json!(want_members(vec![user_member(&s, &id), user_member(&s, &mgr)]));
    assert_state(&got, &want_group, "member removed");

    // §1.6 Hard delete of the manager: 404 afterwards, gone from the group, and no longer
    // anyone's manager.
    idp.delete(&format!("/Users/{mgr}")).await.expect(204);
    assert_log(&s.provisioning_log(1).await[0], "delete", "User", Some(&mgr), 204);
    idp.get(&format!("/Users/{mgr}")).await.expect(404);
    idp.delete(&format!("/Users/{mgr}")).await.expect(404);
    assert!(idp.find("/Users", &by_mgr_name).await.is_empty());
    want_group["members"] = json!([user_member(&s, &id)]);
    assert_state(&idp.group(&gid).await, &want_group, "deleted user left the group");
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&idp.user(&id).await, &want, "deleted manager cleared");
    // A stale id in a member add (next to a good one): 400 invalidValue, nothing changed.
    let ops = json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":mgr2},{"$ref":null,"value":mgr}]}]);
    idp.refused_patch("Group", &gid, ops, 400, "invalidValue").await;
    assert!(idp.user(&mgr2).await.get("groups").is_none());
    // A PATCH of the deleted user (Entra's cached id) is a 404, and logged.
    let gone = format!("/Users/{mgr}");
    idp.patch(&gone, json!([{"op":"Replace","path":"active","value":"False"}])).await.expect(404);
    assert_log(&s.provisioning_log(1).await[0], "patch", "User", Some(&mgr), 404);

    // §1.10 Group delete.
    idp.delete_gone(&format!("/Groups/{gid}")).await;
    assert!(resources(&idp.get(&group_lookup(renamed)).await.expect(200)).is_empty());
    remove_key(&mut want, "groups");
    assert_state(&idp.user(&id).await, &want, "group deleted");

    // And the users.
    for u in [&id, &mgr2] {
        idp.delete_gone(&format!("/Users/{u}")).await;
    }
    assert!(idp.find("/Users", &format!("userName eq \"{new_name}\"")).await.is_empty());
    assert_eq!(s.total("/Users").await, 0);
}

// ---------------------------------------------------------------------------------------------
// Entra ID with ?aadOptscim062020 ([FLAG]).
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn entra_flag() {
    let s = TestServer::start().await;
    let idp = Idp::entra_flagged(&s);

    // Test Connection, with the flag after the filter.
    let probe = "/Users?filter=userName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22";
    assert_eq!(idp.get(probe).await.expect(200).body, empty_list());
    // And before it (the Tenant URL's own query comes first).
    let r = s.get(
        "/Users?aadOptscim062020&filter=userName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22",
    );
    assert_eq!(r.await.expect(200).body, empty_list());

    // Create the user and two managers-to-be.
    let user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
    let by_name = format!("userName eq \"{user_name}\"");
    assert!(idp.find("/Users", &by_name).await.is_empty());
    let (id, created) = idp.create("/Users", &ms_tut_create_user()).await;
    let mut want = json!({"schemas": [CORE_USER], "id": id, "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name, "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": derived(&["member"])});
    assert_state(&created, &want, "POST response");
    assert_state(&idp.user(&id).await, &want, "created");
    assert_eq!(idp.find("/Users", &by_name).await, [id.clone()]);
    assert_eq!(
        idp.find("/Users", "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"").await,
        [id.clone()]
    );
    let boss_name = "boss@testuser.com";
    let (boss, _) = idp.create("/Users", &entra_user(boss_name, "boss-object-id")).await;
    let boss2_name = "boss2@testuser.com";
    let (boss2, _) = idp.create("/Users", &entra_user(boss2_name, "boss2-object-id")).await;

    // §1.3 [FLAG]: the filtered email, then ONE pathless replace with dotted and URN keys.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"replace","path":"emails[type eq \"work\"].value","value":"TestMhvaes@test.microsoft.com"},
                {"op":"replace","value":{
                    "displayName":"Bjfe",
                    "name.givenName":"Kkom",
                    "name.familyName":"Unua",
                    EMPLOYEE_NUMBER:"Aklq"}}
            ]),
        )
        .await;
    want["emails"] =
        json!([{"primary": true, "type": "work", "value": "TestMhvaes@test.microsoft.com"}]);
    want["displayName"] = json!("Bjfe");
    want["name"] =
        json!({"formatted": "givenName familyName", "familyName": "Unua", "givenName": "Kkom"});
    want[ENTERPRISE] = json!({"employeeNumber": "Aklq"});
    want["schemas"] = json!([CORE_USER, ENTERPRISE]);
    assert_state(&got, &want, "pathless replace");

    // `op: add` pathless with dotted keys, and a single-valued add with a path.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"add","value":{"displayName":"Foo Bar","title":"Bar Foo","name.givenName":"Foo",
                                     "name.familyName":"Bar","name.formatted":"Foo Bar"}},
                {"op":"add","path":"nickName","value":"Babs"}
            ]),
        )
        .await;
    want["displayName"] = json!("Foo Bar");
    want["title"] = json!("Bar Foo");
    want["name"] = json!({"formatted": "Foo Bar", "familyName": "Bar", "givenName": "Foo"});
    want["nickName"] = json!("Babs");
    assert_state(&got, &want, "pathless add");
    // The extension URN as a key with an object: merged, employeeNumber kept.
    let got = idp
        .patch_user(
            &id,
            json!([{"op":"add","value":{ENTERPRISE:{"department":"Tour Operations"}}}]),
        )
        .await;
    want[ENTERPRISE]["department"] = json!("Tour Operations");
    assert_state(&got, &want, "pathless add of the extension object");

    // §1.11 Manager on the URN path as a bare string; changed the same way; cleared with the
    // `manager[value eq "…"]` form; set again.
    let got = idp.patch_user(&id, json!([{"op":"add","path":MANAGER,"value":boss}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &boss);
    assert_state(&got, &want, "manager set");
    let got = idp.patch_user(&id, json!([{"op":"replace","path":MANAGER,"value":boss2}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &boss2);
    assert_state(&got, &want, "manager changed");
    let clear = format!("manager[value eq \"{boss2}\"]");
    let got = idp.patch_user(&id, json!([{"op":"remove","path":clear}])).await;
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&got, &want, "manager cleared");
    let got = idp.patch_user(&id, json!([{"op":"add","path":MANAGER,"value":boss}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &boss);
    assert_state(&got, &want, "manager set again");

    // §1.4/§1.5 Deactivate and reactivate with JSON booleans.
    let got = idp.patch_user(&id, json!([{"op":"replace","path":"active","value":false}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "deactivated");
    assert_logged_deactivation(&s, "patch", &id).await;
    let r = idp.get(&format!("/Users?filter={}", entra_encode(&by_name))).await.expect(200);
    assert_eq!(resources(&r), [got.clone()]);
    let got = idp.patch_user(&id, json!([{"op":"replace","path":"active","value":true}])).await;
    want["active"] = json!(true);
    assert_state(&got, &want, "reactivated");

    // Groups.
    assert_eq!(idp.get(&group_lookup("displayName")).await.expect(200).body, empty_list());
    let (gid, _) = idp.create("/Groups", &entra_group()).await;
    let mut want_group = json!({"schemas": [GROUP], "id": gid, "displayName": "displayName",
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "members": []});
    assert_state(&idp.group(&gid).await, &want_group, "group created");
    let r = idp.get(&group_lookup("displayName")).await.expect(200);
    assert_eq!(ids(&r), [gid.clone()]);
    assert!(resources(&r)[0].get("members").is_none(), "{}", r.text);

    let got = idp
        .patch_group(&gid, json!([{"op":"replace","path":"displayName","value":"Flagged Team"}]))
        .await;
    want_group["displayName"] = json!("Flagged Team");
    assert_state(&got, &want_group, "group renamed");

    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"add","path":"members","value":[{"value":id},{"value":boss},{"value":boss2}]}]),
        )
        .await;
    want_group["members"] = json!(want_members(vec![
        user_member(&s, &id),
        user_member(&s, &boss),
        user_member(&s, &boss2),
    ]));
    assert_eq!(json!(members_sorted(&got)), want_group["members"]);
    want["groups"] = json!([membership(&s, &gid, "Flagged Team")]);
    assert_state(&idp.user(&id).await, &want, "user in the group");

    // Member removal by filter: only that one.
    let got = idp
        .patch_group(&gid, json!([{"op":"remove","path":format!("members[value eq \"{boss2}\"]")}]))
        .await;
    want_group["members"] = json!(want_members(vec![user_member(&s, &id), user_member(&s, &boss)]));
    assert_state(&got, &want_group, "member removed");
    assert!(idp.user(&boss2).await.get("groups").is_none());
    // Removing it again (a retried cycle) is a no-op.
    let got = idp
        .patch_group(&gid, json!([{"op":"remove","path":format!("members[value eq \"{boss2}\"]")}]))
        .await;
    assert_state(&got, &want_group, "member removed twice");

    // Delete the manager: out of the group, and no longer the user's manager.
    idp.delete_gone(&format!("/Users/{boss}")).await;
    want_group["members"] = json!([user_member(&s, &id)]);
    assert_state(&idp.group(&gid).await, &want_group, "deleted user left the group");
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&idp.user(&id).await, &want, "deleted manager cleared");

    idp.delete_gone(&format!("/Groups/{gid}")).await;
    idp.delete(&format!("/Groups/{gid}")).await.expect(404);
    remove_key(&mut want, "groups");
    assert_state(&idp.user(&id).await, &want, "group deleted");
    for u in [&id, &boss2] {
        idp.delete_gone(&format!("/Users/{u}")).await;
    }
    assert!(idp.find("/Users", &by_name).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The Microsoft SCIM Validator (§4.1).
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn validator() {
    let s = TestServer::start_with(VALIDATOR_CONFIG).await;
    let idp = Idp::with_charset(&s);
    let user_name = "julien.vonrueden@ondricka.us";

    // 4: a non-existing user.
    assert!(idp.find("/Users", "userName eq \"delores.wyman@torp.name\"").await.is_empty());

    // 1: create; every attribute reads back as sent, the "True" string as a boolean.
    let sent = validator_user();
    let (id, created) = idp.create("/Users", &sent).await;
    let mut want = sent.clone();
    want["id"] = json!(id);
    want["roles"][0]["primary"] = json!(true);
    assert_state(&created, &want, "POST response");
    assert_eq!(idp.find("/Users", &format!("userName eq \"{user_name}\"")).await, [id.clone()]);
    let by_filter = resources(
        &idp.get(&format!(
            "/Users?filter={}",
            entra_encode(&format!("userName eq \"{user_name}\""))
        ))
        .await
        .expect(200),
    );
    assert_state(&by_filter[0], &want, "created, read by filter");
    let stored = idp.user(&id).await;
    assert_state(&stored, &want, "created");
    assert_eq!(enterprise(&stored)["manager"], json!({"value": "XYMKVVRYDIOO"}));

    // 2: a duplicate is 409, logged, and changes nothing.
    let r = idp.post("/Users", &sent).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    assert_eq!(idp.user(&id).await, stored, "the duplicate POST changed the user");
    assert_logged_duplicate(&s, "User", user_name).await;
    assert_eq!(s.total("/Users").await, 1);

    // 3, 5: filters, the second with the case flipped.
    assert_eq!(
        idp.find("/Users", "userName eq \"JULIEN.VONRUEDEN@ONDRICKA.US\"").await,
        [id.clone()]
    );

    // 6: Replace Attributes (verbose).
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"replace","path":"emails[type eq \"work\"].value","value":"mack@ritchie.ca"},
                {"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"31-582-4457"},
                {"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"6981 Kiehn Motorway"},
                {"op":"replace","path":"addresses[type eq \"work\"].locality","value":"Kirlinland"},
                {"op":"replace","path":"displayName","value":"UFJXQHWBPKGT"},
                {"op":"replace","path":"title","value":"KFIVNRQCMTXB"},
                {"op":"replace","path":"name.givenName","value":"Destiney"},
                {"op":"replace","path":EMPLOYEE_NUMBER,"value":"LDWPWNOYOJSN"},
                {"op":"replace","path":DEPARTMENT,"value":"HMYTHXDNKBNY"},
                {"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","value":"OWYRMXWTFRMU"}
            ]),
        )
        .await;
    want["emails"][0]["value"] = json!("mack@ritchie.ca");
    want["phoneNumbers"][0]["value"] = json!("31-582-4457");
    want["addresses"][0]["streetAddress"] = json!("6981 Kiehn Motorway");
    want["addresses"][0]["locality"] = json!("Kirlinland");
    want["displayName"] = json!("UFJXQHWBPKGT");
    want["title"] = json!("KFIVNRQCMTXB");
    want["name"]["givenName"] = json!("Destiney");
    want[ENTERPRISE]["employeeNumber"] = json!("LDWPWNOYOJSN");
    want[ENTERPRISE]["department"] = json!("HMYTHXDNKBNY");
    want[ENTERPRISE]["costCenter"] = json!("OWYRMXWTFRMU");
    assert_state(&got, &want, "verbose replace");

    // 7: userName by a pathless replace.
    let new_name = "emilio@hermann.uk";
    let got = idp.patch_user(&id, json!([{"op":"replace","value":{"userName":new_name}}])).await;
    want["userName"] = json!(new_name);
    assert_state(&got, &want, "userName replaced");
    assert!(idp.find("/Users", &format!("userName eq \"{user_name}\"")).await.is_empty());
    assert_eq!(idp.find("/Users", "userName eq \"EMILIO@HERMANN.UK\"").await, [id.clone()]);

    // 8: disable; the later GET must show it.
    let got = idp.patch_user(&id, json!([{"op":"replace","path":"active","value":false}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "disabled");
    assert_logged_deactivation(&s, "patch", &id).await;

    // 9: Add Attributes on a minimal user, ~36 add ops.
    let min_name = "ford_purdy@abernathypadberg.uk";
    let (min, _) =
        idp.create("/Users", &json!({"schemas": [CORE_USER], "userName": min_name})).await;
    let want_min = json!({"schemas": [CORE_USER], "id": min, "userName": min_name, "roles": derived(&["member"])});
    assert_state(&idp.user(&min).await, &want_min, "minimal user");
    let add = |path: &str, value: Value| json!({"op": "add", "path": path, "value": value});
    let enterprise_path = |attr: &str| format!("{ENTERPRISE}:{attr}");
    let ops = json!([
        add("active", json!(true)),
        add("displayName", json!("VLSQGNCRBXHS")),
        add("title", json!("GJRWSDTBQZJX")),
        add("preferredLanguage", json!("ne")),
        add("userType", json!("WAPOWRKZIIDH")),
        add("nickName", json!("DKPQSXZMWGNR")),
        add("locale", json!("ZVPXJLQEHUBN")),
        add("timezone", json!("Asia/Kathmandu")),
        add("profileUrl", json!("JBLWOQCRXVMY")),
        add("externalId", json!("9a7bd2f1-5c1e-4b7a-9d8e-0f3c2b1a6e54")),
        add("name.givenName", json!("Estel")),
        add("name.familyName", json!("Barrows")),
        add("name.formatted", json!("Estel Barrows")),
        add("name.middleName", json!("Lelah")),
        add("name.honorificPrefix", json!("Dr")),
        add("name.honorificSuffix", json!("Jr")),
        add("emails[type eq \"work\"].value", json!("ford@purdy.biz")),
        add("emails[type eq \"work\"].primary", json!(true)),
        add("phoneNumbers[type eq \"work\"].value", json!("58-133-2214")),
        add("phoneNumbers[type eq \"mobile\"].value", json!("58-133-2215")),
        add("phoneNumbers[type eq \"fax\"].value", json!("58-133-2216")),
        add("addresses[type eq \"work\"].formatted", json!("9210 Hane Mall")),
        add("addresses[type eq \"work\"].streetAddress", json!("9210 Hane Mall")),
        add("addresses[type eq \"work\"].locality", json!("Sakhir")),
        add("addresses[type eq \"work\"].region", json!("Southern")),
        add("addresses[type eq \"work\"].postalCode", json!("ig97 5kd")),
        add("addresses[type eq \"work\"].country", json!("Bahrain")),
        add("addresses[type eq \"work\"].primary", json!(true)),
        add("roles[primary eq \"True\"].display", json!("QAJSGSLYKUHC")),
        add("roles[primary eq \"True\"].value", json!("EJXVHWEQFXMB")),
        add("roles[primary eq \"True\"].type", json!("XMAUMBDEOAWM")),
        add(&enterprise_path("employeeNumber"), json!("VSCWIJAEVGUU")),
        add(&enterprise_path("department"), json!("PBJGMRHQTDXL")),
        add(&enterprise_path("costCenter"), json!("KXIYLWZOLJRE")),
        add(&enterprise_path("organization"), json!("ZGMFWOUPLTJC")),
        add(&enterprise_path("division"), json!("QNYCUVAXHSMB")),
    ]);
    assert_eq!(ops.as_array().map(Vec::len), Some(36));
    let got = idp.patch_user(&min, ops).await;
    let role = json!({"primary": true, "display": "QAJSGSLYKUHC", "value": "EJXVHWEQFXMB", "type": "XMAUMBDEOAWM"});
    let mut want_min = json!({"schemas": [CORE_USER, ENTERPRISE], "id": min, "userName": min_name,
        "active": true, "displayName": "VLSQGNCRBXHS", "title": "GJRWSDTBQZJX", "preferredLanguage": "ne",
        "userType": "WAPOWRKZIIDH", "nickName": "DKPQSXZMWGNR", "locale": "ZVPXJLQEHUBN",
        "timezone": "Asia/Kathmandu", "profileUrl": "JBLWOQCRXVMY",
        "externalId": "9a7bd2f1-5c1e-4b7a-9d8e-0f3c2b1a6e54",
        "name": {"givenName": "Estel", "familyName": "Barrows", "formatted": "Estel Barrows",
                 "middleName": "Lelah", "honorificPrefix": "Dr", "honorificSuffix": "Jr"},
        "emails": [{"type": "work", "value": "ford@purdy.biz", "primary": true}],
        "phoneNumbers": [{"type": "work", "value": "58-133-2214"}, {"type": "mobile", "value": "58-133-2215"},
                         {"type": "fax", "value": "58-133-2216"}],
        "addresses": [{"type": "work", "formatted": "9210 Hane Mall", "streetAddress": "9210 Hane Mall",
                       "locality": "Sakhir", "region": "Southern", "postalCode": "ig97 5kd",
                       "country": "Bahrain", "primary": true}],
        ENTERPRISE: {"employeeNumber": "VSCWIJAEVGUU", "department": "PBJGMRHQTDXL",
                     "costCenter": "KXIYLWZOLJRE", "organization": "ZGMFWOUPLTJC", "division": "QNYCUVAXHSMB"}});
    // The IdP-set role is ONE element built from the three filtered ops; derived roles (if
    // scimd keeps any next to it) are scimd's business.
    let explicit: Vec<Value> = got["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("roles: {got}"))
        .iter()
        .filter(|r| r["type"] != "derived")
        .cloned()
        .collect();
    assert_eq!(explicit, [role], "{got}");
    want_min["roles"] = got["roles"].clone();
    assert_state(&got, &want_min, "add attributes");
    let f = entra_encode("roles[primary eq \"True\"].value eq \"EJXVHWEQFXMB\"");
    assert_eq!(ids(&idp.get(&format!("/Users?filter={f}")).await.expect(200)), [min.clone()]);

    // 10-12: manager add {"value"}, replace, and the three removal forms.
    let manager_cases = [
        json!([{"op":"remove","path":MANAGER}]),
        json!([{"op":"replace","path":MANAGER,"value":""}]),
        json!([{"op":"replace","path":MANAGER,"value":{"value":""}}]),
    ];
    for (i, removal) in manager_cases.into_iter().enumerate() {
        let got = idp
            .patch_user(&id, json!([{"op":"add","path":MANAGER,"value":{"value":"AXTKDLNRKMKT"}}]))
            .await;
        want[ENTERPRISE]["manager"] = json!({"value": "AXTKDLNRKMKT"});
        assert_state(&got, &want, &format!("manager added ({i})"));
        let got = idp
            .patch_user(
                &id,
                json!([{"op":"replace","path":MANAGER,"value":{"value":"CBEQXYNPNAZS"}}]),
            )
            .await;
        want[ENTERPRISE]["manager"] = json!({"value": "CBEQXYNPNAZS"});
        assert_state(&got, &want, &format!("manager replaced ({i})"));
        let got = idp.patch_user(&id, removal.clone()).await;
        remove_key(&mut want[ENTERPRISE], "manager");
        assert_state(&got, &want, &format!("manager removed by {removal}"));
        assert!(!got.to_string().contains("CBEQXYNPNAZS"), "{got}");
    }
    // The other validator version: a bare uuid string, here a real user's id.
    let got = idp.patch_user(&id, json!([{"op":"add","path":MANAGER,"value":min}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &min);
    assert_state(&got, &want, "manager as a bare id");
    let got = idp.patch_user(&id, json!([{"op":"remove","path":MANAGER}])).await;
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&got, &want, "manager removed");

    // P1: several ops on different attributes.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"remove","path":"preferredLanguage"},
                {"op":"add","path":"externalId","value":"c3b97a69-2a2e-4a4c-a3c7-0b1e5e3f4d21"},
                {"op":"replace","path":"displayName","value":"MSADPJJZWBUS"}
            ]),
        )
        .await;
    remove_key(&mut want, "preferredLanguage");
    want["externalId"] = json!("c3b97a69-2a2e-4a4c-a3c7-0b1e5e3f4d21");
    want["displayName"] = json!("MSADPJJZWBUS");
    assert_state(&got, &want, "P1");
    // P2: remove, add, replace on the same attribute: the last one wins.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"remove","path":"nickName"},
                {"op":"add","path":"nickName","value":"FIRSTNICKNAME"},
                {"op":"replace","path":"nickName","value":"LASTNICKNAME"}
            ]),
        )
        .await;
    want["nickName"] = json!("LASTNICKNAME");
    assert_state(&got, &want, "P2");

    // MS-VALTUT: "the remove-attributes test may try to remove required attributes". Refused
    // as a whole: the op before it is not applied, the version does not move, the log says so.
    let ops = json!([{"op":"replace","path":"title","value":"NEVERSTORED"},{"op":"remove","path":"userName"}]);
    idp.refused_patch("User", &id, ops, 400, "invalidValue").await;

    // Groups. 17: a non-existing group.
    let group_name = "IRKXZFBWPSNU";
    let by_group = |name: &str| format!("displayName eq \"{name}\"");
    assert!(idp.find("/Groups", &by_group(group_name)).await.is_empty());
    // 19, 20: create and a duplicate.
    let body = json!({"displayName": group_name, "externalId": "5b1f0e8a-7c36-4d2b-9f41-3e6d8c2a1b70", "schemas": [GROUP]});
    let (gid, _) = idp.create("/Groups", &body).await;
    let mut want_group = json!({"schemas": [GROUP], "id": gid, "displayName": group_name,
        "externalId": "5b1f0e8a-7c36-4d2b-9f41-3e6d8c2a1b70", "members": []});
    let stored_group = idp.group(&gid).await;
    assert_state(&stored_group, &want_group, "group created");
    let r = idp.post("/Groups", &body).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    assert_logged_duplicate(&s, "Group", group_name).await;
    assert_eq!(idp.group(&gid).await, stored_group);
    // 14, 15, 16, 18.
    let r = idp.get(&format!("/Groups/{gid}?excludedAttributes=members")).await.expect(200);
    assert!(r.body.get("members").is_none(), "{}", r.text);
    let filter = entra_encode(&by_group(group_name));
    let r = idp.get(&format!("/Groups?excludedAttributes=members&filter={filter}")).await;
    let r = r.expect(200);
    assert_eq!(ids(&r), [gid.clone()]);
    assert!(resources(&r)[0].get("members").is_none(), "{}", r.text);
    assert_eq!(idp.find("/Groups", &by_group(group_name)).await, [gid.clone()]);
    assert_eq!(idp.find("/Groups", &by_group("irkxzfbwpsnu")).await, [gid.clone()]);

    // 21, 22: pathless replaces of externalId and displayName.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"replace","value":{"externalId":"c3b97a69-0f45-4c8d-b2a3-6e7f8091a2b3"}}]),
        )
        .await;
    want_group["externalId"] = json!("c3b97a69-0f45-4c8d-b2a3-6e7f8091a2b3");
    assert_state(&got, &want_group, "group externalId");
    let got = idp
        .patch_group(&gid, json!([{"op":"replace","value":{"displayName":"MSADPJJZWBUS"}}]))
        .await;
    want_group["displayName"] = json!("MSADPJJZWBUS");
    assert_state(&got, &want_group, "group displayName");
    assert!(idp.find("/Groups", &by_group(group_name)).await.is_empty());

    // 23: "Add Member" is a replace of members.
    let got = idp
        .patch_group(&gid, json!([{"op":"replace","path":"members","value":[{"value":id}]}]))
        .await;
    want_group["members"] = json!([user_member(&s, &id)]);
    assert_state(&got, &want_group, "member added by replace");
    assert_eq!(group_ids(&idp.user(&id).await), set(&[&gid]));
    // 24: two members, then one removed by filter.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"replace","path":"members","value":[{"value":id},{"value":min}]}]),
        )
        .await;
    assert_eq!(member_ids(&got), set(&[&id, &min]));
    let got = idp
        .patch_group(&gid, json!([{"op":"remove","path":format!("members[value eq \"{id}\"]")}]))
        .await;
    want_group["members"] = json!([user_member(&s, &min)]);
    assert_state(&got, &want_group, "member removed");
    assert!(group_ids(&idp.user(&id).await).is_empty());
    // P5: add and remove the same member in one request: absent.
    let got = idp
        .patch_group(
            &gid,
            json!([
                {"op":"add","path":"members","value":[{"value":id}]},
                {"op":"remove","path":format!("members[value eq \"{id}\"]")}
            ]),
        )
        .await;
    assert_state(&got, &want_group, "P5");
    assert!(group_ids(&idp.user(&id).await).is_empty());

    // 25, P6, P7: group deletes.
    idp.delete_gone(&format!("/Groups/{gid}")).await;
    idp.delete(&format!("/Groups/{gid}")).await.expect(404);
    idp.delete("/Groups/7d2b3c4e-0a1f-4e5d-8c9b-6a7f8e9d0c1b").await.expect(404);
    assert!(group_ids(&idp.user(&min).await).is_empty());

    // 13, P3, P4: user deletes.
    for u in [&id, &min] {
        idp.delete_gone(&format!("/Users/{u}")).await;
        idp.delete(&format!("/Users/{u}")).await.expect(404);
    }
    idp.delete("/Users/7d2b3c4e-0a1f-4e5d-8c9b-6a7f8e9d0c1b").await.expect(404);
    assert_eq!(s.total("/Users").await, 0);
}

// ---------------------------------------------------------------------------------------------
// Okta, OIN catalogue app: PUT for profile, PATCH for (de)activation, password and groups.
// ---------------------------------------------------------------------------------------------

/// §2.1 "Test API Credentials".
async fn okta_credentials_test(idp: &Idp<'_>, total: u64) {
    let r = idp.get("/Users?startIndex=1&count=2").await.expect(200);
    assert_eq!(r.body["schemas"], json!([LIST]));
    assert_eq!(r.body["totalResults"], total);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["itemsPerPage"], total.min(2));
    assert_eq!(resources(&r).len() as u64, total.min(2));
}

/// §2.2 create with the existence check before and after; returns the id and stored user.
async fn okta_create(idp: &Idp<'_>, user_name: &str, external_id: &str) -> (String, Value) {
    assert_eq!(idp.get(&okta_check_user(user_name)).await.expect(200).body, empty_list());
    let r = idp.post("/Users", &okta_create_user(user_name, external_id)).await.expect(201);
    assert!(!r.text.contains("1mz050nq") && r.body.get("password").is_none(), "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();
    let got = idp.user(&id).await;
    assert_state(&got, &okta_stored_user(&id, user_name, external_id), "Okta create");
    assert!(!got.to_string().contains("1mz050nq"), "{got}");
    let r = idp.get(&okta_check_user(user_name)).await.expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    assert_eq!(r.body["startIndex"], 1);
    (id, got)
}

/// §2.3 profile update: GET, change, PUT back the whole object (id, meta, groups included).
async fn okta_profile_put(idp: &Idp<'_>, id: &str, want: &mut Value) {
    let mut user = idp.user(id).await;
    user["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
    user["emails"][0]["display"] = user["userName"].clone();
    user["groups"] = json!([]);
    let r = idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["name"] = user["name"].clone();
    want["emails"][0]["display"] = user["userName"].clone();
    assert_state(&r.body, want, "PUT response");
    assert_state(&idp.user(id).await, want, "profile PUT");
    assert_log(&idp.s.provisioning_log(1).await[0], "replace", "User", Some(id), 200);
}

/// A profile PUT of a user that is in `group`: first the user exactly as read (with its
/// `groups`), then §2.3's literal shape with `"groups": []`. Both are 200 and neither changes
/// the membership.
async fn okta_put_while_member(idp: &Idp<'_>, id: &str, want: &mut Value, group: &str) {
    let mut user = idp.user(id).await;
    assert_eq!(group_ids(&user), set(&[group]));
    user["displayName"] = json!("Test User (member)");
    let r = idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["displayName"] = json!("Test User (member)");
    assert_state(&r.body, want, "PUT with groups echoed");
    assert_state(&idp.user(id).await, want, "PUT with groups echoed");
    user["groups"] = json!([]);
    user["displayName"] = json!("Test User");
    let r = idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["displayName"] = json!("Test User");
    assert_state(&r.body, want, "PUT with groups: []");
    assert_state(&idp.user(id).await, want, "PUT with groups: []");
    assert!(member_ids(&idp.group(group).await).contains(id));
}

/// §2.2 the retried POST after a timeout: 409, logged, the user unchanged.
async fn okta_retried_create(idp: &Idp<'_>, id: &str, user_name: &str, external_id: &str) {
    let before = idp.user(id).await;
    let r = idp.post("/Users", &okta_create_user(user_name, external_id)).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    assert_eq!(idp.user(id).await, before, "the retried POST changed the user");
    assert_logged_duplicate(idp.s, "User", user_name).await;
}

#[tokio::test]
async fn okta_oin() {
    let s = TestServer::start().await;
    let idp = Idp::with_charset(&s);
    okta_credentials_test(&idp, 0).await;

    let user_name = "test.user@okta.local";
    let (id, mut want) = okta_create(&idp, user_name, "00ujl29u0le5T6Aj10h7").await;
    let (other, other_user) =
        okta_create(&idp, "other.user@okta.local", "00ujl29u0le5T6Aj10h8").await;
    okta_credentials_test(&idp, 2).await;

    okta_profile_put(&idp, &id, &mut want).await;

    // §2.4 Deactivate: a pathless replace; every other attribute kept; still found.
    let got = idp.patch_user(&id, json!([{"op":"replace","value":{"active":false}}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "deactivated");
    assert_logged_deactivation(&s, "patch", &id).await;
    let r = idp.get(&okta_check_user(user_name)).await.expect(200);
    assert_eq!(resources(&r), [got.clone()]);
    // §2.5 Re-assignment: the existence check finds the inactive user, Okta reactivates it.
    let got = idp.patch_user(&id, json!([{"op":"replace","value":{"active":true}}])).await;
    want["active"] = json!(true);
    assert_state(&got, &want, "reactivated");

    okta_retried_create(&idp, &id, user_name, "00ujl29u0le5T6Aj10h7").await;

    // §2.9 Password sync: accepted, nothing stored, never returned.
    let r = idp
        .patch(
            &format!("/Users/{id}"),
            json!([{"op":"replace","value":{"password":"t0pS3cret!Pw"}}]),
        )
        .await
        .expect(200);
    assert!(!r.text.contains("t0pS3cret") && r.body.get("password").is_none(), "{}", r.text);
    let got = idp.user(&id).await;
    assert_state(&got, &want, "password sync");
    assert!(!got.to_string().contains("t0pS3cret"), "{got}");
    assert_log(&s.provisioning_log(1).await[0], "patch", "User", Some(&id), 200);

    // §2.8 Group Push: existence check, create with members:[], GET.
    let name = "Test SCIMv2";
    assert_eq!(idp.get(&okta_check_group(name)).await.expect(200).body, empty_list());
    let body = json!({"schemas":[GROUP],"displayName":name,"members":[]});
    let (gid, created) = idp.create("/Groups", &body).await;
    let mut want_group = json!({"schemas": [GROUP], "id": gid, "displayName": name, "members": []});
    assert_state(&created, &want_group, "group POST response");
    assert_state(&idp.group(&gid).await, &want_group, "group created");
    assert_eq!(ids(&idp.get(&okta_check_group(name)).await.expect(200)), [gid.clone()]);

    // Rename: pathless, carrying the read-only id.
    let renamed = "Test SCIMv2 Renamed";
    let got = idp
        .patch_group(&gid, json!([{"op":"replace","value":{"id":gid,"displayName":renamed}}]))
        .await;
    want_group["displayName"] = json!(renamed);
    assert_state(&got, &want_group, "group renamed");
    assert!(resources(&idp.get(&okta_check_group(name)).await.expect(200)).is_empty());

    // First membership: the rename (same name) sent with every membership update, then add.
    let rename = json!({"op":"replace","value":{"id":gid,"displayName":renamed}});
    let got = idp
        .patch_group(
            &gid,
            json!([rename, {"op":"add","path":"members","value":[{"value":id,"display":user_name}]}]),
        )
        .await;
    want_group["members"] = json!([user_member(&s, &id)]);
    assert_state(&got, &want_group, "member added");
    want["groups"] = json!([membership(&s, &gid, renamed)]);
    assert_state(&idp.user(&id).await, &want, "user in the group");

    // The removal filter and an add in one request.
    let got = idp
        .patch_group(
            &gid,
            json!([
                {"op":"remove","path":format!("members[value eq \"{id}\"]")},
                {"op":"add","path":"members","value":[{"value":other,"display":"other.user@okta.local"}]}
            ]),
        )
        .await;
    want_group["members"] = json!([user_member(&s, &other)]);
    assert_state(&got, &want_group, "member swapped");
    let row = &s.provisioning_log(1).await[0];
    assert_log(row, "patch", "Group", Some(&gid), 204);
    assert!(detail(row).contains("member"), "{row}");
    remove_key(&mut want, "groups");
    assert_state(&idp.user(&id).await, &want, "user out of the group");

    // A full push: replace members.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"replace","path":"members","value":[
                {"value":id,"display":user_name},{"value":other,"display":"other.user@okta.local"}]}]),
        )
        .await;
    want_group["members"] =
        json!(want_members(vec![user_member(&s, &id), user_member(&s, &other)]));
    assert_eq!(json!(members_sorted(&got)), want_group["members"]);
    want["groups"] = json!([membership(&s, &gid, renamed)]);
    assert_state(&idp.user(&id).await, &want, "full push");

    // A profile PUT while the user is a member: Okta round-trips `groups` as read; the
    // membership is the group's business and stays.
    okta_put_while_member(&idp, &id, &mut want, &gid).await;

    // §2.8 step 7: unlink with delete.
    idp.delete_gone(&format!("/Groups/{gid}")).await;
    remove_key(&mut want, "groups");
    assert_state(&idp.user(&id).await, &want, "group deleted");
    assert_state(&idp.user(&other).await, &other_user, "other user after the group");
    // Okta never deletes users: both are still there.
    assert_eq!(s.total("/Users").await, 2);
}

// ---------------------------------------------------------------------------------------------
// Okta, App Integration Wizard app: PUT for everything.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn okta_aiw() {
    let s = TestServer::start().await;
    let idp = Idp::with_charset(&s);
    okta_credentials_test(&idp, 0).await;

    let user_name = "test.user@okta.local";
    let (id, mut want) = okta_create(&idp, user_name, "00ujl29u0le5T6Aj10h7").await;
    let (other, _) = okta_create(&idp, "other.user@okta.local", "00ujl29u0le5T6Aj10h8").await;
    okta_credentials_test(&idp, 2).await;

    okta_profile_put(&idp, &id, &mut want).await;

    // §2.4 AIW deactivate: PUT of the whole user read back, with active false.
    let mut user = idp.user(&id).await;
    user["active"] = json!(false);
    let r = idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["active"] = json!(false);
    assert_state(&r.body, &want, "deactivate PUT response");
    let got = idp.user(&id).await;
    assert_state(&got, &want, "deactivated");
    assert_logged_deactivation(&s, "replace", &id).await;
    let r = idp.get(&okta_check_user(user_name)).await.expect(200);
    assert_eq!(resources(&r), [got.clone()]);
    assert_eq!(
        ids(&idp
            .get(&format!("/Users?filter={}", entra_encode("active eq false")))
            .await
            .expect(200)),
        [id.clone()]
    );
    // §2.5 Reactivate the same way.
    user["active"] = json!(true);
    idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["active"] = json!(true);
    assert_state(&idp.user(&id).await, &want, "reactivated");

    okta_retried_create(&idp, &id, user_name, "00ujl29u0le5T6Aj10h7").await;

    // §2.8 Group push, AIW: POST members:[], then PUTs with id and the full member list.
    let name = "Test SCIMv2";
    assert_eq!(idp.get(&okta_check_group(name)).await.expect(200).body, empty_list());
    let (gid, _) =
        idp.create("/Groups", &json!({"schemas":[GROUP],"displayName":name,"members":[]})).await;
    let mut want_group = json!({"schemas": [GROUP], "id": gid, "displayName": name, "members": []});
    assert_state(&idp.group(&gid).await, &want_group, "group created");
    assert_eq!(ids(&idp.get(&okta_check_group(name)).await.expect(200)), [gid.clone()]);

    let put_group = |name: &str, members: &[(&str, &str)]| {
        let members: Vec<Value> =
            members.iter().map(|(v, d)| json!({"value": v, "display": d})).collect();
        json!({"schemas":[GROUP],"id":gid,"displayName":name,"members":members})
    };
    let steps: [(&str, Vec<(&str, &str)>); 4] = [
        (name, vec![(id.as_str(), user_name)]),
        (name, vec![(id.as_str(), user_name), (other.as_str(), "other.user@okta.local")]),
        ("Test SCIMv2 Renamed", vec![(other.as_str(), "other.user@okta.local")]),
        ("Test SCIMv2 Renamed", vec![]),
    ];
    for (step_name, members) in steps {
        let r = idp.put(&format!("/Groups/{gid}"), &put_group(step_name, &members)).await;
        let r = r.expect(200);
        want_group["displayName"] = json!(step_name);
        want_group["members"] =
            json!(want_members(members.iter().map(|(v, _)| user_member(&s, v)).collect()));
        let got = idp.group(&gid).await;
        assert_eq!(r.body, got, "PUT response is not the stored group");
        let mut got_sorted = got.clone();
        got_sorted["members"] = json!(members_sorted(&got));
        assert_state(&got_sorted, &want_group, &format!("group PUT {step_name} {members:?}"));
        let in_group = members.iter().any(|(v, _)| *v == id);
        let want_groups = if in_group { set(&[&gid]) } else { BTreeSet::new() };
        assert_eq!(group_ids(&idp.user(&id).await), want_groups);
        assert_log(&s.provisioning_log(1).await[0], "replace", "Group", Some(&gid), 200);
        if step_name == name && members.len() == 2 {
            want["groups"] = json!([membership(&s, &gid, name)]);
            okta_put_while_member(&idp, &id, &mut want, &gid).await;
            remove_key(&mut want, "groups");
        }
    }
    assert!(resources(&idp.get(&okta_check_group(name)).await.expect(200)).is_empty());

    // Unlink with delete.
    idp.delete_gone(&format!("/Groups/{gid}")).await;
    assert_state(&idp.user(&id).await, &want, "group deleted");
    assert_eq!(s.total("/Users").await, 2);
}
