//! PATCH semantics (RFC 7644 §3.5.2) and every IdP quirk of idp-behaviour.md §3, each with the
//! literal payload, asserting what a later GET shows.

use reqwest::Method;
use scimd::store::TokenScope;
use serde_json::{Value, json};

use crate::common::{
    CORE_USER, ENTERPRISE, PATCH_OP, Reply, SCIM_JSON, TestServer, derived, entra_encode, gpath,
    group_ids, id_of, ids, manager_ref, member_ids, member_shape, set, upath, user_body,
    user_member,
};

// ---- Helpers ----------------------------------------------------------------------------

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

// ---- RFC semantics: simple attributes ---------------------------------------------------

#[tokio::test]
async fn simple_attribute_patches() {
    check_cases(vec![
        Case {
            what: "add sets a simple attribute",
            start: Start::With(json!({})),
            ops: json!([{"op": "add", "path": "nickName", "value": "Babs"}]),
            want: vec![
                at("/nickName", json!("Babs")),
                at("/userName", json!("ada@example.org")),
                at("/name", json!({"givenName": "Given", "familyName": "Family"})),
            ],
        },
        Case {
            what: "add of an existing single-valued attribute replaces it",
            start: Start::With(json!({"title": "Analyst"})),
            ops: json!([{"op": "add", "path": "title", "value": "Lead"}]),
            want: vec![at("/title", json!("Lead"))],
        },
        Case {
            what: "remove of a simple attribute makes it absent",
            start: Start::With(json!({"title": "Analyst", "nickName": "A"})),
            ops: json!([{"op": "remove", "path": "title"}]),
            want: vec![absent("/title"), at("/nickName", json!("A"))],
        },
    ])
    .await;
}

#[tokio::test]
async fn replace_sets_a_simple_attribute_and_bumps_the_version() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"displayName": "Ada"})).await;
    let before = s.read_user(&id).await;
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "replace", "path": "displayName", "value": "Ada Lovelace"}]),
    )
    .await;
    assert_eq!(got["displayName"], "Ada Lovelace");
    assert_ne!(got["meta"]["version"], before["meta"]["version"]);
    assert_eq!(got["meta"]["created"], before["meta"]["created"]);
    assert_eq!(without(got, &["displayName", "meta"]), without(before, &["displayName", "meta"]));
}

#[tokio::test]
async fn replace_of_a_missing_attribute_adds_it() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    assert!(s.read_user(&id).await.get("title").is_none());
    let got =
        patch_user(&s, &id, json!([{"op": "replace", "path": "title", "value": "Lead"}])).await;
    assert_eq!(got["title"], "Lead");
}

#[tokio::test]
async fn null_or_empty_string_values_remove_the_attribute() {
    let s = TestServer::start().await;
    let id = create_with(
        &s,
        "ada@example.org",
        json!({"title": "Analyst", "displayName": "Ada", "nickName": "A"}),
    )
    .await;
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "replace", "path": "title", "value": null},
            {"op": "replace", "path": "displayName", "value": ""}
        ]),
    )
    .await;
    assert!(got.get("title").is_none(), "{got}");
    assert!(got.get("displayName").is_none(), "{got}");
    assert_eq!(got["nickName"], "A");
    assert!(!got.to_string().contains("null"), "{got}");
}

// ---- RFC semantics: the complex `name` ---------------------------------------------------

#[tokio::test]
async fn name_patches() {
    check_cases(vec![
        Case {
            what: "replace of name with an object merges sub-attributes",
            start: Start::With(json!({})),
            ops: json!([{"op": "replace", "path": "name", "value": {"givenName": "Ada"}}]),
            want: vec![at("/name", json!({"givenName": "Ada", "familyName": "Family"}))],
        },
        Case {
            what: "add of name with an object merges sub-attributes",
            start: Start::With(json!({})),
            ops: json!([{"op": "add", "path": "name", "value": {"middleName": "King", "givenName": "Ada"}}]),
            want: vec![at(
                "/name",
                json!({"givenName": "Ada", "middleName": "King", "familyName": "Family"}),
            )],
        },
        Case {
            what: "a sub-attribute path sets one sub-attribute",
            start: Start::With(json!({})),
            ops: json!([
                {"op": "replace", "path": "name.givenName", "value": "Ada"},
                {"op": "add", "path": "name.honorificPrefix", "value": "Countess"}
            ]),
            want: vec![
                at(
                    "/name",
                    json!({"givenName": "Ada", "familyName": "Family", "honorificPrefix": "Countess"}),
                ),
                absent("/name.givenName"),
            ],
        },
        Case {
            what: "a sub-attribute path creates name when absent",
            start: Start::Bare,
            ops: json!([{"op": "add", "path": "name.familyName", "value": "Byron"}]),
            want: vec![at("/name", json!({"familyName": "Byron"}))],
        },
        Case {
            what: "remove of a sub-attribute keeps the others",
            start: Start::With(json!({})),
            ops: json!([{"op": "remove", "path": "name.givenName"}]),
            want: vec![at("/name", json!({"familyName": "Family"}))],
        },
        Case {
            what: "remove of name removes the whole complex attribute",
            start: Start::With(json!({})),
            ops: json!([{"op": "remove", "path": "name"}]),
            want: vec![absent("/name")],
        },
    ])
    .await;
}

// ---- RFC semantics: multi-valued attributes ---------------------------------------------

#[tokio::test]
async fn multi_valued_patches() {
    let list = json!([
        {"value": "a@new.example", "type": "work", "primary": true},
        {"value": "a@home.example", "type": "home"}
    ]);
    check_cases(vec![
        Case {
            what: "replace of emails replaces the whole list",
            start: Start::With(json!({})),
            ops: json!([{"op": "replace", "path": "emails", "value": list}]),
            want: vec![at("/emails", list.clone())],
        },
        Case {
            what: "remove of emails removes the whole attribute",
            start: Start::With(json!({"emails": [{"value": "ada@example.org", "type": "work"},
                                                 {"value": "ada@home.example", "type": "home"}]})),
            ops: json!([{"op": "remove", "path": "emails"}]),
            want: vec![absent("/emails")],
        },
        Case {
            what: "replace with a filter replaces only the matched element",
            start: Start::With(two_emails()),
            ops: json!([{"op": "replace", "path": "emails[type eq \"work\"]",
                         "value": {"value": "ada@new.example", "type": "work", "primary": true}}]),
            want: vec![at(
                "/emails",
                json!([
                    {"value": "ada@new.example", "type": "work", "primary": true},
                    {"value": "ada@home.example", "type": "home"}
                ]),
            )],
        },
        Case {
            what: "replace with a filter and sub-attribute sets it on the matched element only",
            start: Start::With(two_emails()),
            ops: json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example"}]),
            want: vec![at(
                "/emails",
                json!([
                    {"value": "ada@new.example", "type": "work", "primary": true},
                    {"value": "ada@home.example", "type": "home"}
                ]),
            )],
        },
        Case {
            what: "remove with a filter and sub-attribute removes that sub-attribute only",
            start: Start::With(json!({"addresses": [
                {"type": "work", "streetAddress": "1 Way", "locality": "London"},
                {"type": "home", "streetAddress": "2 Road", "locality": "Oxford"}
            ]})),
            ops: json!([{"op": "remove", "path": "addresses[type eq \"work\"].locality"}]),
            want: vec![at(
                "/addresses",
                json!([
                    {"type": "work", "streetAddress": "1 Way"},
                    {"type": "home", "streetAddress": "2 Road", "locality": "Oxford"}
                ]),
            )],
        },
        Case {
            // §1.3 (scim-patch#42), literal.
            what: "a streetAddress on a user without addresses creates the address",
            start: Start::With(json!({})),
            ops: json!([{"op": "Add", "path": "addresses[type eq \"work\"].streetAddress",
                         "value": "1010 Broadway Ave"}]),
            want: vec![at(
                "/addresses",
                json!([{"type": "work", "streetAddress": "1010 Broadway Ave"}]),
            )],
        },
        Case {
            what: "several ops on one value path merge into one element",
            start: Start::With(json!({})),
            ops: json!([
                {"op": "add", "path": "addresses[type eq \"work\"].streetAddress", "value": "25928 Katlyn Row"},
                {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Beaver"},
                {"op": "add", "path": "addresses[type eq \"work\"].postalCode", "value": "cx47 4mz"},
                {"op": "replace", "path": "addresses[type eq \"work\"].country", "value": "Sierra Leone"}
            ]),
            want: vec![at(
                "/addresses",
                json!([{"type": "work", "streetAddress": "25928 Katlyn Row", "locality": "Beaver",
                        "postalCode": "cx47 4mz", "country": "Sierra Leone"}]),
            )],
        },
        Case {
            what: "a lone object where a list is expected is taken as one element",
            start: Start::With(json!({})),
            ops: json!([{"op": "add", "path": "emails", "value": {"value": "ada@home.example", "type": "home"}}]),
            want: vec![at(
                "/emails",
                json!([
                    {"value": "ada@example.org", "type": "work", "primary": true},
                    {"value": "ada@home.example", "type": "home"}
                ]),
            )],
        },
        Case {
            // §3 quirk 3, §1.3 (pingidentity/scim2#281), literal.
            what: "add on an existing value-path element replaces the sub-attribute",
            start: Start::With(json!({"addresses": [
                {"type": "work", "streetAddress": "1 Way", "locality": "London"}
            ]})),
            ops: json!([{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Beaver"}]),
            want: vec![at(
                "/addresses",
                json!([{"type": "work", "streetAddress": "1 Way", "locality": "Beaver"}]),
            )],
        },
    ])
    .await;
}

#[tokio::test]
async fn add_to_emails_appends_without_duplicates() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "ada@example.org", "type": "work", "primary": true},
            {"value": "ada@home.example", "type": "home"}
        ]}]),
    )
    .await;
    assert_eq!(
        got["emails"],
        json!([
            {"value": "ada@example.org", "type": "work", "primary": true},
            {"value": "ada@home.example", "type": "home"}
        ])
    );
    // The same add again changes nothing.
    let again = patch_user(
        &s,
        &id,
        json!([{"op": "add", "path": "emails", "value": [{"value": "ada@home.example", "type": "home"}]}]),
    )
    .await;
    assert_eq!(again["emails"], got["emails"]);
}

fn two_emails() -> Value {
    json!({"emails": [
        {"value": "ada@example.org", "type": "work", "primary": true},
        {"value": "ada@home.example", "type": "home"}
    ]})
}

#[tokio::test]
async fn remove_with_a_filter_removes_only_the_matched_element() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", two_emails()).await;
    let got =
        patch_user(&s, &id, json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])).await;
    assert_eq!(
        got["emails"],
        json!([{"value": "ada@example.org", "type": "work", "primary": true}])
    );
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "remove", "path": "emails[value eq \"ada@example.org\"]"}]),
    )
    .await;
    assert!(got.get("emails").is_none_or(|e| e == &json!([])), "{got}");
}

#[tokio::test]
async fn a_value_path_matching_nothing_creates_the_element() {
    let s = TestServer::start().await;
    // §3 quirk 7, literal.
    let id = create_bare(&s, "ada@example.org").await;
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
    )
    .await;
    assert_eq!(got["emails"], json!([{"type": "work", "value": "a@b.c"}]));
    // The same with replace, and next to an existing element of another type.
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "a@home.example"},
            {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}
        ]),
    )
    .await;
    assert_eq!(
        got["emails"],
        json!([{"type": "work", "value": "a@b.c"}, {"type": "home", "value": "a@home.example"}])
    );
    assert_eq!(got["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555 0100"}]));
}

#[tokio::test]
async fn primary_stays_unique_when_a_primary_element_is_added() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "add", "path": "emails",
                "value": [{"value": "ada@home.example", "type": "home", "primary": true}]}]),
    )
    .await;
    let emails = &got["emails"];
    assert_eq!(emails.as_array().map(Vec::len), Some(2), "{got}");
    assert_eq!(primaries(emails), 1, "{got}");
    let home = emails.as_array().unwrap().iter().find(|e| e["type"] == "home").expect("home");
    assert_eq!(home["primary"], true, "{got}");
}

#[tokio::test]
async fn primary_stays_unique_when_set_through_a_value_path() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", two_emails()).await;
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
    )
    .await;
    let emails = got["emails"].as_array().expect("emails");
    assert_eq!(emails.len(), 2, "{got}");
    assert_eq!(primaries(&got["emails"]), 1, "{got}");
    let home = emails.iter().find(|e| e["type"] == "home").expect("home");
    assert_eq!(home["primary"], true, "{got}");
}

#[tokio::test]
async fn a_fully_qualified_core_urn_path_is_the_core_attribute() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    // RFC 7644 §3.10: attribute names may carry their schema URN.
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "replace", "path": format!("{CORE_USER}:displayName"), "value": "Ada"},
            {"op": "replace", "path": format!("{CORE_USER}:name.givenName"), "value": "A"}
        ]),
    )
    .await;
    assert_eq!(got["displayName"], "Ada");
    assert_eq!(got["name"]["givenName"], "A");
    let g = s.create_group("Staff", &[]).await;
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
                "value": "Crew"}]),
    )
    .await;
    assert_eq!(got["displayName"], "Crew");
}

#[tokio::test]
async fn an_and_filter_creates_the_element_from_all_its_eq_terms() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "add", "path": "addresses[type eq \"work\" and country eq \"GB\"].locality",
             "value": "London"},
            {"op": "add", "path": "addresses[type eq \"work\" and country eq \"GB\"].postalCode",
             "value": "N1 9GU"}
        ]),
    )
    .await;
    assert_eq!(
        got["addresses"],
        json!([{"type": "work", "country": "GB", "locality": "London", "postalCode": "N1 9GU"}])
    );
    // And an `and` filter selects for replace.
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "replace", "path": "emails[type eq \"work\" and primary eq true].value",
                "value": "ada@new.example"}]),
    )
    .await;
    assert_eq!(
        got["emails"],
        json!([{"value": "ada@new.example", "type": "work", "primary": true}])
    );
}

// ---- RFC semantics: the enterprise extension --------------------------------------------

#[tokio::test]
async fn enterprise_extension_patches() {
    check_cases(vec![
        Case {
            what: "the short department path resolves to the extension",
            start: Start::With(json!({ENTERPRISE: {"department": "Engines"}})),
            ops: json!([{"op": "replace", "path": "department", "value": "Looms"}]),
            want: vec![at(&ent("department"), json!("Looms")), absent("/department")],
        },
        Case {
            what: "remove of an enterprise URN path keeps the other extension attributes",
            start: Start::With(json!({ENTERPRISE: {"department": "Engines", "costCenter": "4130"}})),
            ops: json!([{"op": "remove", "path": format!("{ENTERPRISE}:department")}]),
            want: vec![at(&ent(""), json!({"costCenter": "4130"}))],
        },
        Case {
            // §3 quirk 14: a manager that is not a scimd id has no $ref.
            what: "a manager that is not a scimd id has no $ref",
            start: Start::With(json!({})),
            ops: json!([{"op":"add","path": format!("{ENTERPRISE}:manager"),"value":{"value":"AXTKDLNRKMKT"}}]),
            want: vec![at(&ent("manager"), json!({"value": "AXTKDLNRKMKT"}))],
        },
    ])
    .await;
}

#[tokio::test]
async fn an_enterprise_urn_path_sets_the_extension_attribute() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Engines"}]),
    )
    .await;
    assert_eq!(got[ENTERPRISE]["department"], "Engines");
    assert!(got.get("department").is_none(), "{got}");
    let schemas = got["schemas"].as_array().expect("schemas");
    assert!(schemas.iter().any(|s| s == ENTERPRISE), "{got}");
    assert!(schemas.iter().any(|s| s == CORE_USER), "{got}");
}

// ---- RFC semantics: pathless add/replace ------------------------------------------------

#[tokio::test]
async fn pathless_patches() {
    check_cases(vec![
        Case {
            what: "pathless replace with plain keys",
            start: Start::With(json!({"title": "Analyst"})),
            ops: json!([{"op": "replace", "value": {"title": "Lead", "displayName": "Ada", "active": false}}]),
            want: vec![
                at("/title", json!("Lead")),
                at("/displayName", json!("Ada")),
                at("/active", json!(false)),
            ],
        },
        Case {
            // §1.3 (pond/scimitar#123 and others), literal. The dotted keys are never stored
            // as literal keys.
            what: "pathless add with dotted keys",
            start: Start::With(json!({})),
            ops: json!([{"op":"add","value":{"displayName":"Foo Bar","title":"Bar Foo","name.givenName":"Foo",
                         "name.familyName":"Bar","name.formatted":"Foo Bar"}}]),
            want: vec![
                at("/displayName", json!("Foo Bar")),
                at("/title", json!("Bar Foo")),
                at("/name", json!({"givenName": "Foo", "familyName": "Bar", "formatted": "Foo Bar"})),
                absent("/name.givenName"),
                absent("/name.familyName"),
                absent("/name.formatted"),
            ],
        },
        Case {
            what: "pathless add with the extension URN object merges",
            start: Start::With(json!({ENTERPRISE: {"department": "Engines"}})),
            ops: json!([{"op": "add", "value": {ENTERPRISE: {"costCenter": "4130", "division": "Theme Park"}}}]),
            want: vec![at(
                &ent(""),
                json!({"department": "Engines", "costCenter": "4130", "division": "Theme Park"}),
            )],
        },
        Case {
            what: "pathless replace with a name object merges",
            start: Start::With(json!({})),
            ops: json!([{"op": "replace", "value": {"name": {"givenName": "Ada"}}}]),
            want: vec![at("/name", json!({"givenName": "Ada", "familyName": "Family"}))],
        },
    ])
    .await;
}

#[tokio::test]
async fn pathless_replace_with_dotted_and_urn_keys_entra_flag_update() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"displayName": "Ada"})).await;
    // §1.3 [FLAG] and §3 quirk 4, literal.
    let body: Value = serde_json::from_str(
        r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[
  {"op":"replace","path":"emails[type eq \"work\"].value","value":"TestMhvaes@test.microsoft.com"},
  {"op":"replace","value":{
     "displayName":"Bjfe",
     "name.givenName":"Kkom",
     "name.familyName":"Unua",
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}"#,
    )
    .expect("literal payload");
    let got = patch_user_raw(&s, &id, &body).await;
    assert_eq!(got["displayName"], "Bjfe");
    assert_eq!(got["name"], json!({"givenName": "Kkom", "familyName": "Unua"}));
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(
        got["emails"],
        json!([{"value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": true}])
    );
    assert!(got.get(format!("{ENTERPRISE}:employeeNumber")).is_none(), "{got}");
    assert!(got.get("employeeNumber").is_none(), "{got}");
}

// ---- RFC semantics: operations apply in order -------------------------------------------

#[tokio::test]
async fn ops_apply_in_order() {
    check_cases(vec![
        Case {
            what: "ops on a multi-valued attribute apply in order",
            start: Start::With(json!({})),
            ops: json!([
                {"op": "remove", "path": "emails"},
                {"op": "add", "path": "emails", "value": [{"value": "a@one.example", "type": "work"}]},
                {"op": "replace", "path": "emails", "value": [{"value": "a@two.example", "type": "home"}]}
            ]),
            want: vec![at("/emails", json!([{"value": "a@two.example", "type": "home"}]))],
        },
        Case {
            // [VAL] P1.
            what: "multiple ops on different attributes",
            start: Start::With(json!({"preferredLanguage": "en"})),
            ops: json!([
                {"op": "remove", "path": "preferredLanguage"},
                {"op": "add", "path": "externalId", "value": "ext-1"},
                {"op": "replace", "path": "displayName", "value": "NDSQQTECVAAC"}
            ]),
            want: vec![
                absent("/preferredLanguage"),
                at("/externalId", json!("ext-1")),
                at("/displayName", json!("NDSQQTECVAAC")),
            ],
        },
    ])
    .await;
}

#[tokio::test]
async fn remove_then_add_then_replace_of_one_attribute_last_wins() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"title": "Analyst"})).await;
    // [VAL] P2 "Multiple Ops on same attribute".
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "remove", "path": "title"},
            {"op": "add", "path": "title", "value": "Added"},
            {"op": "replace", "path": "title", "value": "Replaced"}
        ]),
    )
    .await;
    assert_eq!(got["title"], "Replaced");
    // And with remove last.
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "replace", "path": "title", "value": "Again"},
            {"op": "remove", "path": "title"}
        ]),
    )
    .await;
    assert!(got.get("title").is_none(), "{got}");
}

// ---- Responses ---------------------------------------------------------------------------

#[tokio::test]
async fn a_user_patch_answers_200_with_the_full_resource_and_etag() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let r =
        s.patch(&upath(&id), json!([{"op": "replace", "path": "title", "value": "Lead"}])).await;
    let r = r.expect(200);
    for key in ["schemas", "id", "userName", "name", "emails", "active", "meta", "title"] {
        assert!(r.body.get(key).is_some(), "{key} missing: {}", r.text);
    }
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.body["meta"]["location"], s.url(&upath(&id)));
    let got = accepted_user(&s, &id, r).await;
    assert_eq!(got["title"], "Lead");
}

#[tokio::test]
async fn a_user_patch_honours_attributes() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let r = s
        .patch(
            &format!("/Users/{id}?attributes=userName"),
            json!([{"op": "replace", "path": "title", "value": "Lead"}]),
        )
        .await
        .expect(200);
    assert_eq!(r.body["userName"], "ada@example.org");
    assert_eq!(r.body["id"], id.as_str());
    for key in ["title", "emails", "name", "active"] {
        assert!(r.body.get(key).is_none(), "{key} not asked for: {}", r.text);
    }
    // The change was stored in full.
    assert_eq!(s.read_user(&id).await["title"], "Lead");
}

#[tokio::test]
async fn a_group_patch_answers_204_with_no_body() {
    let s = TestServer::start().await;
    let g = s.create_group("Staff", &[]).await;
    let before = s.read_group(&g).await;
    let got =
        patch_group(&s, &g, json!([{"op": "replace", "path": "displayName", "value": "Crew"}]))
            .await;
    assert_eq!(got["displayName"], "Crew");
    assert_ne!(got["meta"]["version"], before["meta"]["version"]);
}

#[tokio::test]
async fn a_group_patch_with_excluded_members_answers_200_without_members() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let bob = s.create_user("bob@example.org").await;
    let g = s.create_group("Staff", &[&ada]).await;
    let r = s
        .patch(
            &format!("/Groups/{g}?excludedAttributes=members"),
            json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
        )
        .await
        .expect(200);
    assert!(r.body.get("members").is_none(), "{}", r.text);
    assert_eq!(r.body["displayName"], "Staff");
    assert_eq!(r.body["id"], g.as_str());
    assert_eq!(member_ids(&s.read_group(&g).await), set(&[&ada, &bob]));
}

#[tokio::test]
async fn a_group_patch_with_attributes_answers_200_with_the_projection() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[&ada]).await;
    let r = s
        .patch(
            &format!("/Groups/{g}?attributes=displayName"),
            json!([{"op": "replace", "path": "displayName", "value": "Crew"}]),
        )
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "Crew");
    assert_eq!(r.body["id"], g.as_str());
    assert!(r.body.get("members").is_none(), "{}", r.text);
    let got = s.read_group(&g).await;
    assert_eq!(got["displayName"], "Crew");
    assert_eq!(member_ids(&got), set(&[&ada]));
}

#[tokio::test]
async fn patch_accepts_json_and_scim_json_with_charset() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    for (ct, title) in [("application/json", "A"), ("application/scim+json; charset=utf-8", "B")] {
        let body = patch_op(json!([{"op": "replace", "path": "title", "value": title}]));
        let r = s.raw(Method::PATCH, &upath(&id), ct, body.to_string().into_bytes()).await;
        let got = accepted_user(&s, &id, r).await;
        assert_eq!(got["title"], title, "{ct}");
    }
}

// ---- Errors: each with its scimType, and nothing stored ---------------------------------

#[tokio::test]
async fn malformed_patch_bodies_are_invalid_syntax() {
    let s = TestServer::start().await;
    let user = upath(&s.create_user("ada@example.org").await);
    let group = gpath(&s.create_group("Staff", &[]).await);
    for (path, body) in [
        // A body without `Operations`.
        (&user, json!({"schemas": [PATCH_OP]})),
        // A resource body sent by mistake is not a PatchOp either.
        (&user, user_body("ada@example.org", json!({}))),
        // An empty `Operations` list, for users and groups.
        (&user, patch_op(json!([]))),
        (&group, patch_op(json!([]))),
        // `Operations` that are not a list.
        (&user, patch_op(json!("replace"))),
        (&user, patch_op(json!(5))),
        (&user, patch_op(json!(null))),
        // An unknown op, and none.
        (&user, patch_op(json!([{"op": "move", "path": "title", "value": "x"}]))),
        (&user, patch_op(json!([{"path": "title", "value": "x"}]))),
        // An operation that is not an object.
        (&user, patch_op(json!(["replace"]))),
        // An op that is not a string.
        (&user, patch_op(json!([{"op": 5, "path": "title", "value": "x"}]))),
    ] {
        refused_raw(&s, path, &body, 400, "invalidSyntax").await;
    }
}

#[tokio::test]
async fn paths_that_do_not_resolve_are_invalid_path() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    for path in [
        // Unknown attributes and sub-attributes.
        "favouriteColour",
        "name.middle",
        "emails[type eq \"work\"].nope",
        "emails[foo eq \"work\"].value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:badge",
        // Malformed filters.
        "emails[type eq \"work\"",
        "emails[type eq]",
        "emails[type \"work\"].value",
        "emails[]",
        "emails[type eq \"work\"]].value",
    ] {
        let ops = json!([{"op": "replace", "path": path, "value": "x"}]);
        refused(&s, &upath(&id), ops, "invalidPath").await;
    }
    // `userName` is not a group attribute.
    let g = s.create_group("Staff", &[]).await;
    let ops = json!([{"op": "add", "path": "userName", "value": "x"}]);
    refused(&s, &gpath(&g), ops, "invalidPath").await;
}

#[tokio::test]
async fn values_an_attribute_cannot_take_are_invalid_value() {
    let s = TestServer::start().await;
    let user = upath(&s.create_user("ada@example.org").await);
    let group = gpath(&s.create_group("Staff", &[]).await);
    for (path, ops) in [
        // Values of the wrong type.
        (&user, json!([{"op": "replace", "path": "active", "value": "maybe"}])),
        (&user, json!([{"op": "replace", "value": {"active": "maybe"}}])),
        (&user, json!([{"op": "replace", "path": "userName", "value": 5}])),
        (&user, json!([{"op": "replace", "path": "name", "value": "x"}])),
        // Removing the required userName (or displayName of a group), or blanking it.
        (&user, json!([{"op": "remove", "path": "userName"}])),
        (&user, json!([{"op": "replace", "path": "userName", "value": ""}])),
        (&user, json!([{"op": "replace", "path": "userName", "value": null}])),
        (&group, json!([{"op": "remove", "path": "displayName"}])),
    ] {
        refused(&s, path, ops, "invalidValue").await;
    }
}

#[tokio::test]
async fn changing_read_only_attributes_is_mutability() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let other = s.create_user("bob@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    let (user, group) = (upath(&id), gpath(&g));
    for (path, ops) in [
        // id, by path and in a pathless value (Okta's group rename with a foreign id).
        (&user, json!([{"op": "replace", "path": "id", "value": other}])),
        (&user, json!([{"op": "replace", "value": {"id": other, "displayName": "Ada"}}])),
        (
            &group,
            json!([{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
                                               "displayName": "Test SCIMv2"}}]),
        ),
        // meta.
        (
            &user,
            json!([{"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"}]),
        ),
        (&user, json!([{"op": "replace", "value": {"meta": {"resourceType": "Group"}}}])),
        // A user's groups, by path and in a pathless value. Contract: an unchanged echo of
        // `groups` is accepted, a different one is mutability (otherwise the client is told
        // 200 while its membership change is silently dropped).
        (&user, json!([{"op": "add", "path": "groups", "value": [{"value": g}]}])),
        (&user, json!([{"op": "replace", "value": {"groups": [{"value": g}], "title": "x"}}])),
    ] {
        refused(&s, path, ops, "mutability").await;
    }
    assert_eq!(member_ids(&s.read_group(&g).await), set(&[]));
}

#[tokio::test]
async fn patches_without_a_target_are_no_target() {
    let s = TestServer::start().await;
    let user = upath(&s.create_user("ada@example.org").await);
    let group = gpath(&s.create_group("Staff", &[]).await);
    for (path, ops) in [
        // remove without a path.
        (&user, json!([{"op": "remove"}])),
        (&group, json!([{"op": "Remove"}])),
        // A filter that matches nothing and cannot create: `co` gives nothing to build an
        // element from.
        (
            &user,
            json!([{"op": "replace", "path": "phoneNumbers[value co \"555\"].type", "value": "work"}]),
        ),
    ] {
        refused(&s, path, ops, "noTarget").await;
    }
}

// RFC 7644 §3.5.2.1 and §3.5.2.3: add and replace MUST carry "value". The contract is silent;
// an absent value is not `null`, so a malformed op must not silently drop data (any 400).
#[tokio::test]
async fn operations_without_a_usable_value_are_refused() {
    let s = TestServer::start().await;
    // With a title, so the replace without a value is seen to keep it.
    let user = upath(&create_with(&s, "ada@example.org", json!({"title": "Analyst"})).await);
    for ops in [
        // A pathless value that is not an object.
        json!([{"op": "replace", "value": "x"}]),
        json!([{"op": "replace", "value": 5}]),
        json!([{"op": "replace", "value": [{"title": "x"}]}]),
        json!([{"op": "replace", "value": true}]),
        // Neither path nor value.
        json!([{"op": "add"}]),
        // A path but no value.
        json!([{"op": "add", "path": "nickName"}]),
        json!([{"op": "replace", "path": "title"}]),
    ] {
        refused(&s, &user, ops, "").await;
    }
}

#[tokio::test]
async fn a_member_id_that_does_not_exist_is_invalid_value() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[&ada]).await;
    for missing in ["no-such-id", "7d0c5b1e-0000-4000-8000-000000000000"] {
        let r = refused(
            &s,
            &gpath(&g),
            json!([{"op": "add", "path": "members", "value": [{"value": missing}]}]),
            "invalidValue",
        )
        .await;
        assert!(r.body["detail"].as_str().unwrap_or("").contains(missing), "{}", r.text);
    }
    refused(
        &s,
        &gpath(&g),
        json!([{"op": "replace", "path": "members", "value": [{"value": "no-such-id"}]}]),
        "invalidValue",
    )
    .await;
    assert!(group_ids(&s.read_user(&ada).await) == set(&[&g]));
}

#[tokio::test]
async fn a_failing_op_after_a_valid_one_stores_nothing() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    refused(
        &s,
        &upath(&id),
        json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "title", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "maybe"}
        ]),
        "invalidValue",
    )
    .await;
    refused(
        &s,
        &upath(&id),
        json!([
            {"op": "remove", "path": "emails"},
            {"op": "add", "path": "nope", "value": "x"}
        ]),
        "invalidPath",
    )
    .await;
}

#[tokio::test]
async fn a_failing_member_op_after_a_valid_one_stores_nothing() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let bob = s.create_user("bob@example.org").await;
    let g = s.create_group("Staff", &[&ada]).await;
    refused(
        &s,
        &gpath(&g),
        json!([
            {"op": "replace", "path": "displayName", "value": "Crew"},
            {"op": "remove", "path": "members", "value": [{"value": ada}]},
            {"op": "add", "path": "members", "value": [{"value": bob}, {"value": "no-such-id"}]}
        ]),
        "invalidValue",
    )
    .await;
    assert_eq!(group_ids(&s.read_user(&ada).await), set(&[&g]));
    assert_eq!(group_ids(&s.read_user(&bob).await), set(&[]));
}

#[tokio::test]
async fn patch_of_an_unknown_id_is_404() {
    let s = TestServer::start().await;
    let ops = json!([{"op": "replace", "path": "displayName", "value": "x"}]);
    for path in [
        "/Users/7d0c5b1e-0000-4000-8000-000000000000",
        "/Users/no-such-id",
        "/Groups/7d0c5b1e-0000-4000-8000-000000000000",
    ] {
        let r = s.patch(path, ops.clone()).await.expect(404);
        assert!(!r.body["detail"].as_str().unwrap_or("").is_empty(), "{}", r.text);
    }
    // A deleted user is gone for PATCH too.
    let id = s.create_user("ada@example.org").await;
    s.delete(&upath(&id)).await.expect(204);
    s.patch(&upath(&id), ops).await.expect(404);
    assert_eq!(s.total("/Users").await, 0);
}

#[tokio::test]
async fn a_rename_onto_another_users_name_is_409_in_any_case() {
    let s = TestServer::start().await;
    s.create_user("ada@example.org").await;
    let bob = s.create_user("bob@example.org").await;
    for name in ["ada@example.org", "ADA@Example.org"] {
        let ops = json!([{"op": "replace", "path": "userName", "value": name}]);
        refused_raw(&s, &upath(&bob), &patch_op(ops), 409, "uniqueness").await;
        let ops = json!([{"op": "replace", "value": {"userName": name}}]);
        refused_raw(&s, &upath(&bob), &patch_op(ops), 409, "uniqueness").await;
    }
    assert_eq!(s.users_named("ada@example.org").await, 1);
    // Changing the case of one's own name is fine.
    let got = patch_user(
        &s,
        &bob,
        json!([{"op": "replace", "path": "userName", "value": "Bob@Example.org"}]),
    )
    .await;
    assert_eq!(got["userName"], "Bob@Example.org");
}

#[tokio::test]
async fn refused_rename_is_409_for_groups_too() {
    let s = TestServer::start().await;
    s.create_group("Engineering", &[]).await;
    let ops = s.create_group("Operations", &[]).await;
    let r = refused_raw(
        &s,
        &gpath(&ops),
        &patch_op(json!([{"op": "replace", "path": "displayName", "value": "ENGINEERING"}])),
        409,
        "uniqueness",
    )
    .await;
    assert_eq!(r.status.as_u16(), 409);
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_a_current_one_passes() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let path = upath(&id);
    let v1 = s.get(&path).await.expect(200).headers["etag"].to_str().expect("etag").to_string();
    let r = patch_as(
        &s,
        &s.token,
        &path,
        json!([{"op": "replace", "path": "title", "value": "first"}]),
        &[("if-match", &v1)],
    )
    .await;
    let got = accepted_user(&s, &id, r).await;
    assert_eq!(got["title"], "first");

    let before = s.read_user(&id).await;
    let r = patch_as(
        &s,
        &s.token,
        &path,
        json!([{"op": "replace", "path": "title", "value": "stale"}]),
        &[("if-match", &v1)],
    )
    .await
    .expect(412);
    assert!(!r.body["detail"].as_str().unwrap_or("").is_empty(), "{}", r.text);
    assert_eq!(s.read_user(&id).await, before);

    let g = s.create_group("Staff", &[]).await;
    let gv =
        s.get(&gpath(&g)).await.expect(200).headers["etag"].to_str().expect("etag").to_string();
    patch_group(&s, &g, json!([{"op": "replace", "path": "displayName", "value": "Crew"}])).await;
    let before = s.read_group(&g).await;
    patch_as(
        &s,
        &s.token,
        &gpath(&g),
        json!([{"op": "replace", "path": "displayName", "value": "Stale"}]),
        &[("if-match", &gv)],
    )
    .await
    .expect(412);
    assert_eq!(s.read_group(&g).await, before);
}

#[tokio::test]
async fn a_read_only_token_gets_403_and_changes_nothing() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    let ro = s.issue_token("ro", TokenScope::ReadOnly, None).await;
    let before_user = s.read_user(&id).await;
    let before_group = s.read_group(&g).await;

    let r = patch_as(
        &s,
        &ro,
        &upath(&id),
        json!([{"op": "replace", "path": "active", "value": false}]),
        &[],
    )
    .await
    .expect(403);
    assert!(r.body["detail"].as_str().unwrap_or("").contains("read-only"), "{}", r.text);
    patch_as(
        &s,
        &ro,
        &gpath(&g),
        json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        &[],
    )
    .await
    .expect(403);

    assert_eq!(s.read_user(&id).await, before_user);
    assert_eq!(s.read_group(&g).await, before_group);
    let log = s.provisioning_log(2).await;
    for row in &log {
        assert_eq!(row["operation"], "patch", "{row}");
        assert_eq!(row["status"], 403, "{row}");
        assert_eq!(row["token"], "ro", "{row}");
    }
}

#[tokio::test]
async fn a_pathless_value_with_an_unknown_key_is_refused() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let r = refused(
        &s,
        &upath(&id),
        json!([{"op": "replace", "value": {"title": "Lead", "favouriteColour": "teal"}}]),
        "",
    )
    .await;
    assert!(["invalidPath", "invalidValue"].contains(&r.scim_type()), "{}", r.text);
    // `members` is not a user attribute.
    refused(
        &s,
        &upath(&id),
        json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        "invalidPath",
    )
    .await;
}

#[tokio::test]
async fn a_patch_cannot_escape_allowed_domains() {
    let s = TestServer::start_with("[scim]\nallowed_domains = [\"example.org\"]\n").await;
    let id = s.create_user("ada@example.org").await;
    for ops in [
        json!([{"op": "replace", "path": "userName", "value": "eve@evil.com"}]),
        json!([{"op": "replace", "value": {"userName": "eve@evil.com"}}]),
        json!([{"op": "add", "path": "emails", "value": [{"value": "ada@gmail.com", "type": "home"}]}]),
        json!([{"op": "add", "path": "emails[type eq \"home\"].value", "value": "ada@gmail.com"}]),
    ] {
        let r = refused(&s, &upath(&id), ops, "invalidValue").await;
        assert!(r.body["detail"].as_str().unwrap_or("").contains("example.org"), "{}", r.text);
    }
    assert_eq!(s.users_named("eve@evil.com").await, 0);
}

#[tokio::test]
async fn patch_of_a_user_path_with_a_group_id_is_404() {
    let s = TestServer::start().await;
    let g = s.create_group("Staff", &[]).await;
    let u = s.create_user("ada@example.org").await;
    s.patch(&upath(&g), json!([{"op": "remove", "path": "title"}])).await.expect(404);
    s.patch(&gpath(&u), json!([{"op": "remove", "path": "members"}])).await.expect(404);
    assert_eq!(s.read_group(&g).await["displayName"], "Staff");
}

// ---- §3 quirks, with literal payloads ---------------------------------------------------

#[tokio::test]
async fn quirk_1_op_in_any_case() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"title": "Analyst"})).await;
    // §1.3 [CUR]: `{"op":"Add","path":"nickName","value":"Babs"}`.
    let got =
        patch_user(&s, &id, json!([{"op": "Add", "path": "nickName", "value": "Babs"}])).await;
    assert_eq!(got["nickName"], "Babs");
    let got =
        patch_user(&s, &id, json!([{"op": "Replace", "path": "nickName", "value": "Ada"}])).await;
    assert_eq!(got["nickName"], "Ada");
    let got = patch_user(&s, &id, json!([{"op": "Remove", "path": "title"}])).await;
    assert!(got.get("title").is_none(), "{got}");
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "ADD", "path": "title", "value": "One"},
            {"op": "rEpLaCe", "path": "displayName", "value": "Two"},
            {"op": "REMOVE", "path": "nickName"}
        ]),
    )
    .await;
    assert_eq!(got["title"], "One");
    assert_eq!(got["displayName"], "Two");
    assert!(got.get("nickName").is_none(), "{got}");
}

#[tokio::test]
async fn quirk_1_entra_cur_profile_update_literal() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"displayName": "Ada"})).await;
    // §1.3 [CUR], literal.
    let body: Value = serde_json::from_str(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[
  {"op":"Replace","path":"displayName","value":"Pvlo"},
  {"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
  {"op":"Replace","path":"name.givenName","value":"Gtfd"},
  {"op":"Replace","path":"name.familyName","value":"Pkqf"},
  {"op":"Replace","path":"externalId","value":"Eqpj"},
  {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"}]}"#)
    .expect("literal payload");
    let got = patch_user_raw(&s, &id, &body).await;
    assert_eq!(got["displayName"], "Pvlo");
    assert_eq!(
        got["emails"],
        json!([{"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": true}])
    );
    assert_eq!(got["name"], json!({"givenName": "Gtfd", "familyName": "Pkqf"}));
    assert_eq!(got["externalId"], "Eqpj");
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(got["userName"], "ada@example.org");
}

#[tokio::test]
async fn quirk_1_entra_rename_literal() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    // §1.3 "Rename", literal.
    let got = patch_user(
        &s,
        &id,
        json!([{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]),
    )
    .await;
    assert_eq!(got["userName"], "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com");
    assert_eq!(s.users_named("5b50642d-79fc-4410-9e90-4c077cdd1A59@TESTUSER.com").await, 1);
    assert_eq!(s.users_named("ada@example.org").await, 0);
}

#[tokio::test]
async fn quirk_2_active_as_a_string_in_any_case() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    // §1.4 [CUR] and §1.5 [CUR], literal bodies.
    let off = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations":[{"op":"Replace","path":"active","value":"False"}]});
    assert_eq!(patch_user_raw(&s, &id, &off).await["active"], false);
    let on = patch_op(json!([{"op":"Replace","path":"active","value":"True"}]));
    assert_eq!(patch_user_raw(&s, &id, &on).await["active"], true);
    for (value, expected) in
        [("false", false), ("TRUE", true), ("FALSE", false), ("true", true), ("fAlSe", false)]
    {
        let got =
            patch_user(&s, &id, json!([{"op": "replace", "path": "active", "value": value}])).await;
        assert_eq!(got["active"], expected, "{value}");
    }
}

#[tokio::test]
async fn quirk_2_roles_primary_true_as_a_string_in_a_value_path() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    // §1.12 mapping paths, with the string "True" in the filter.
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "Add", "path": "roles[primary eq \"True\"].display", "value": "Manager"},
            {"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "manager"},
            {"op": "Add", "path": "roles[primary eq \"True\"].type", "value": "WindowsAzureActiveDirectoryRole"}
        ]),
    )
    .await;
    assert_eq!(
        idp_roles(&got),
        [json!({"primary": true, "display": "Manager", "value": "manager",
                "type": "WindowsAzureActiveDirectoryRole"})],
        "{got}"
    );
    assert!(!got.to_string().contains("\"True\""), "{got}");
}

#[tokio::test]
async fn quirk_2_primary_true_as_a_string_inside_a_roles_value() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    // [VAL]'s role element, with a known role value.
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "add", "path": "roles",
                "value": [{"primary": "True", "display": "MRONYWGFFHXQ", "value": "operations",
                           "type": "XVTUOHMYUFRL"}]}]),
    )
    .await;
    let roles = idp_roles(&got);
    assert_eq!(
        roles,
        [json!({"primary": true, "display": "MRONYWGFFHXQ", "value": "operations",
                "type": "XVTUOHMYUFRL"})],
        "{got}"
    );
    // Also in emails, and read back as a JSON boolean.
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "replace", "path": "emails",
                "value": [{"value": "ada@example.org", "type": "work", "primary": "True"}]}]),
    )
    .await;
    assert_eq!(
        got["emails"],
        json!([{"value": "ada@example.org", "type": "work", "primary": true}])
    );
}

#[tokio::test]
async fn quirk_3_add_sets_active_false() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    // rancher#54025: `op: "Add"` to deprovision.
    let got = patch_user(&s, &id, json!([{"op": "Add", "path": "active", "value": false}])).await;
    assert_eq!(got["active"], false);
    let got = patch_user(&s, &id, json!([{"op": "Add", "value": {"active": "True"}}])).await;
    assert_eq!(got["active"], true);
}

#[tokio::test]
async fn quirk_5_okta_pathless_active_false_and_true() {
    let s = TestServer::start().await;
    let id = s.create_user("test.user@okta.local").await;
    // §2.4, literal.
    let off = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations":[{"op":"replace","value":{"active":false}}]});
    let got = patch_user_raw(&s, &id, &off).await;
    assert_eq!(got["active"], false);
    assert_eq!(got["userName"], "test.user@okta.local");
    // §2.5 (inferred body).
    let on = patch_op(json!([{"op":"replace","value":{"active":true}}]));
    assert_eq!(patch_user_raw(&s, &id, &on).await["active"], true);
}

#[tokio::test]
async fn quirk_5_validator_pathless_user_name() {
    let s = TestServer::start().await;
    let id = s.create_user("julien.vonrueden@ondricka.us").await;
    let got =
        patch_user(&s, &id, json!([{"op":"replace","value":{"userName":"emilio@hermann.uk"}}]))
            .await;
    assert_eq!(got["userName"], "emilio@hermann.uk");
    assert_eq!(s.users_named("emilio@hermann.uk").await, 1);
    assert_eq!(s.users_named("julien.vonrueden@ondricka.us").await, 0);
}

#[tokio::test]
async fn quirk_5_validator_pathless_group_external_id_and_display_name() {
    let s = TestServer::start().await;
    let g = s.create_group("Staff", &[]).await;
    // §1.8 [VAL], literal shapes.
    let got = patch_group(
        &s,
        &g,
        json!([{"op":"replace","value":{"externalId":"c3b97a69-3bd3-4b9c-8d42-bf1c0ee1e9e1"}}]),
    )
    .await;
    assert_eq!(got["externalId"], "c3b97a69-3bd3-4b9c-8d42-bf1c0ee1e9e1");
    let got =
        patch_group(&s, &g, json!([{"op":"replace","value":{"displayName":"MSADPJJZWBUS"}}])).await;
    assert_eq!(got["displayName"], "MSADPJJZWBUS");
    assert_eq!(got["externalId"], "c3b97a69-3bd3-4b9c-8d42-bf1c0ee1e9e1");
}

#[tokio::test]
async fn quirk_6_okta_group_rename_carrying_its_own_id() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let g = s.create_group("Test SCIMv2 old", &[&ada]).await;
    // §2.8 step 4, literal with the group's own id.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"replace","value":{"id": g,"displayName":"Test SCIMv2"}}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(got["displayName"], "Test SCIMv2");
    assert_eq!(got["id"], g.as_str());
    assert_eq!(member_ids(&got), set(&[&ada]));
    // Okta sends it on every membership update: the same again is fine.
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(got["displayName"], "Test SCIMv2");
}

#[tokio::test]
async fn quirk_6_user_read_only_attributes_echoed_unchanged_are_accepted() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[&id]).await;
    let before = s.read_user(&id).await;
    assert_eq!(group_ids(&before), set(&[&g]));
    // Okta-style: the user read back, sent whole as a pathless replace with one change.
    let mut value = before.clone();
    value["title"] = json!("Lead");
    let got = patch_user(&s, &id, json!([{"op": "replace", "value": value}])).await;
    assert_eq!(got["title"], "Lead");
    assert_eq!(without(got, &["title", "meta"]), without(before, &["meta"]));
    // And the short forms: id, meta and schemas next to a change.
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "replace", "value": {"id": id, "meta": {"resourceType": "User"},
                                           "schemas": [CORE_USER], "displayName": "Ada"}}]),
    )
    .await;
    assert_eq!(got["displayName"], "Ada");
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["meta"]["resourceType"], "User");
}

#[tokio::test]
async fn quirk_7_value_paths_create_missing_elements() {
    let s = TestServer::start().await;
    let id = create_bare(&s, "ada@example.org").await;
    // §3 quirk 7's list, as the validator's "Add Attributes" test sends them.
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "thaddeus@hammes.info"},
            {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "10-040-1308"},
            {"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "10-040-1309"},
            {"op": "add", "path": "addresses[type eq \"work\"].postalCode", "value": "cx47 4mz"},
            {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Freetown"},
            {"op": "add", "path": "roles[primary eq \"True\"].value", "value": "member"}
        ]),
    )
    .await;
    assert_eq!(got["emails"], json!([{"type": "work", "value": "thaddeus@hammes.info"}]));
    assert_eq!(
        got["phoneNumbers"],
        json!([{"type": "mobile", "value": "10-040-1308"}, {"type": "work", "value": "10-040-1309"}])
    );
    assert_eq!(
        got["addresses"],
        json!([{"type": "work", "postalCode": "cx47 4mz", "locality": "Freetown"}])
    );
    assert_eq!(idp_roles(&got), [json!({"primary": true, "value": "member"})], "{got}");
}

#[tokio::test]
async fn quirk_8_capitalised_sub_attribute_and_attribute_names() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    // §1.2 mapping table: `emails[type eq "other"].Value`, `addresses[type eq "other"].Formatted`.
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "Add", "path": "emails[type eq \"other\"].Value", "value": "smtp:ada@proxy.example"},
            {"op": "Add", "path": "addresses[type eq \"other\"].Formatted", "value": "Building 7"},
            {"op": "Replace", "path": "Name.GivenName", "value": "Ada"},
            {"op": "Replace", "path": "DisplayName", "value": "Ada L"}
        ]),
    )
    .await;
    assert_eq!(
        got["emails"],
        json!([
            {"value": "ada@example.org", "type": "work", "primary": true},
            {"type": "other", "value": "smtp:ada@proxy.example"}
        ])
    );
    assert_eq!(got["addresses"], json!([{"type": "other", "formatted": "Building 7"}]));
    assert_eq!(got["name"], json!({"givenName": "Ada", "familyName": "Family"}));
    assert_eq!(got["displayName"], "Ada L");
    for k in ["Name", "DisplayName"] {
        assert!(got.get(k).is_none(), "{k}: {got}");
    }
    // The same filter with a capitalised sub-attribute finds the element it created.
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "Replace", "path": "emails[Type eq \"other\"].VALUE", "value": "smtp:a@p.example"}]),
    )
    .await;
    assert_eq!(got["emails"][1], json!({"type": "other", "value": "smtp:a@p.example"}));
}

#[tokio::test]
async fn quirk_9_member_removal_via_a_value_array_removes_only_those() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let u3 = s.create_user("u3@example.org").await;
    let g = s.create_group("Staff", &[&u1, &u2, &u3]).await;
    // §1.9 [CUR] and §3 quirk 9, literal with our ids.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value": u1}]}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[&u2, &u3]));
    let body =
        patch_op(json!([{"op":"Remove","path":"members","value":[{"value": u2}, {"value": u3}]}]));
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[]));
    assert_eq!(group_ids(&s.read_user(&u1).await), set(&[]));
}

#[tokio::test]
async fn quirk_10_member_removal_via_a_filter() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let g = s.create_group("Staff", &[&u1, &u2]).await;
    // §1.9 [FLAG], literal with our id.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"remove","path": format!("members[value eq \"{u1}\"]")}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[&u2]));
    assert_eq!(group_ids(&s.read_user(&u1).await), set(&[]));
    assert_eq!(group_ids(&s.read_user(&u2).await), set(&[&g]));
}

#[tokio::test]
async fn quirk_11_several_members_in_one_op() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let u3 = s.create_user("u3@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "Add", "path": "members",
                "value": [{"value": u1}, {"value": u2}, {"value": u3}]}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&u1, &u2, &u3]));
    for u in [&u1, &u2, &u3] {
        assert_eq!(group_ids(&s.read_user(u).await), set(&[&g]));
    }
}

#[tokio::test]
async fn quirk_11_add_then_remove_of_one_member_in_one_request_leaves_it_absent() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let other = s.create_user("other@example.org").await;
    let g = s.create_group("Staff", &[&other]).await;
    // [VAL] P5, literal with our id.
    let got = patch_group(
        &s,
        &g,
        json!([{"op":"add","path":"members","value":[{"value": u1}]},
               {"op":"remove","path": format!("members[value eq \"{u1}\"]")}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&other]));
    assert_eq!(group_ids(&s.read_user(&u1).await), set(&[]));
}

#[tokio::test]
async fn quirk_11_okta_remove_filter_and_add_in_one_request() {
    let s = TestServer::start().await;
    let old = s.create_user("old.user@okta.local").await;
    let new = s.create_user("test.user@okta.local").await;
    let g = s.create_group("Test SCIMv2", &[&old]).await;
    // §2.8 step 5 and §3 quirk 13 (`display`), literal with our ids.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[
          {"op":"remove","path": format!("members[value eq \"{old}\"]")},
          {"op":"add","path":"members","value":[{"value": new,"display":"test.user@okta.local"}]}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[&new]));
    // The client's `display` is accepted and ignored.
    assert_eq!(member(&got, &new), &user_member(&s, &new));
}

#[tokio::test]
async fn quirk_12_ref_null_in_a_member_add() {
    let s = TestServer::start().await;
    let u = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    // §1.9 add, literal with our id.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value": u}]}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[&u]));
    assert_eq!(member(&got, &u), &user_member(&s, &u));
    assert!(!got.to_string().contains("null"), "{got}");
}

#[tokio::test]
async fn quirk_13_display_and_type_on_members_are_not_rejected() {
    let s = TestServer::start().await;
    let u = create_with(&s, "bob@example.org", json!({"displayName": "Bob Builder"})).await;
    let g = s.create_group("Staff", &[]).await;
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "add", "path": "members",
                "value": [{"value": u, "display": "Someone Else", "type": "User"}]}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&u]));
    // Accepted and ignored: members read back as exactly value, $ref, type.
    assert_eq!(member(&got, &u), &user_member(&s, &u));
    assert!(!got.to_string().contains("Someone Else"), "{got}");
}

#[tokio::test]
async fn quirk_14_15_each_manager_form_reads_back_with_scimds_ref() {
    let forms: [(&str, OpsFor); 5] = [
        // §1.11 (SCIM-SDK#686), literal with our id.
        ("a bare string on the URN path", |boss| {
            json!([{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "value": boss}])
        }),
        (
            "a bare string on the short path",
            |boss| json!([{"op": "Add", "path": "manager", "value": boss}]),
        ),
        // §3 quirk 15, §1.11 MS-TUT example 5, literal with our id: read back with scimd's
        // own $ref, never the IdP's.
        ("an array with the IdP's $ref on the short path", |boss| {
            json!([{"op":"Add","path":"manager",
                    "value":[{"$ref": format!("http://example.com/scim/Users/{boss}"),"value": boss}]}])
        }),
        (
            "a URN key in a pathless value",
            |boss| json!([{"op": "replace", "value": {format!("{ENTERPRISE}:manager"): boss}}]),
        ),
        (
            "the extension object in a pathless value",
            |boss| json!([{"op": "replace", "value": {ENTERPRISE: {"manager": {"value": boss}}}}]),
        ),
    ];
    for (what, ops) in forms {
        let s = TestServer::start().await;
        let boss = s.create_user("boss@example.org").await;
        let id = s.create_user("ada@example.org").await;
        let ops = ops(&boss);
        let r = s.patch(&upath(&id), ops.clone()).await;
        assert_eq!(r.status.as_u16(), 200, "{what}: PATCH {ops}: {}", r.text);
        let got = accepted_user(&s, &id, r).await;
        let want = json!({"manager": manager_ref(&s, &boss)});
        assert_eq!(got[ENTERPRISE], want, "{what}: PATCH {ops}");
        let schemas = got["schemas"].as_array().expect("schemas");
        assert!(schemas.iter().any(|s| s == ENTERPRISE), "{what}: PATCH {ops}: {got}");
        assert!(got.get("manager").is_none(), "{what}: PATCH {ops}: {got}");
    }
}

#[tokio::test]
async fn quirk_14_manager_as_a_value_object_add_then_replace() {
    let s = TestServer::start().await;
    let boss = s.create_user("boss@example.org").await;
    let boss2 = s.create_user("boss2@example.org").await;
    let id =
        create_with(&s, "ada@example.org", json!({ENTERPRISE: {"department": "Engines"}})).await;
    // [VAL] "Add Manager" then "Replace Manager", literal with our ids.
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let got = patch_user(&s, &id, json!([{"op":"add","path": path,"value":{"value": boss}}])).await;
    assert_eq!(manager(&got), &manager_ref(&s, &boss));
    let got =
        patch_user(&s, &id, json!([{"op":"replace","path": path,"value":{"value": boss2}}])).await;
    assert_eq!(manager(&got), &manager_ref(&s, &boss2));
    assert_eq!(got[ENTERPRISE]["department"], "Engines");
}

/// Sets ada's manager (with a department kept alongside), applies `clear`, and checks the
/// manager is absent afterwards, never "" or null; each failure names the clearing ops.
async fn manager_cleared_by(clear: OpsFor) {
    let s = TestServer::start().await;
    let boss = s.create_user("boss@example.org").await;
    let id =
        create_with(&s, "ada@example.org", json!({ENTERPRISE: {"department": "Engines"}})).await;
    let got = patch_user(&s, &id, json!([{"op": "add", "path": "manager", "value": boss}])).await;
    assert_eq!(manager(&got), &manager_ref(&s, &boss));
    let ops = clear(&boss);
    let got = patch_user(&s, &id, ops.clone()).await;
    assert!(got[ENTERPRISE].get("manager").is_none(), "cleared by {ops}: {got}");
    assert_eq!(got[ENTERPRISE], json!({"department": "Engines"}), "cleared by {ops}");
    assert!(!got.to_string().contains("manager"), "cleared by {ops}: {got}");
    // Without anything else in the extension, the extension goes too.
    let bare = create_bare(&s, "bare@example.org").await;
    patch_user(&s, &bare, json!([{"op": "add", "path": "manager", "value": boss}])).await;
    let got = patch_user(&s, &bare, clear(&boss)).await;
    assert!(got.get(ENTERPRISE).is_none_or(|e| e == &json!({})), "cleared by {ops}: {got}");
    assert!(!got.to_string().contains("manager"), "cleared by {ops}: {got}");
}

#[tokio::test]
async fn quirk_16_manager_cleared_by_each_form() {
    let forms: [OpsFor; 4] = [
        // remove of the URN path.
        |_| json!([{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
        // replace with an empty string.
        |_| json!([{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}]),
        // replace with an empty value object.
        |_| json!([{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":""}}]),
        // remove with a value filter.
        |boss| json!([{"op":"remove","path": format!("manager[value eq \"{boss}\"]")}]),
    ];
    for clear in forms {
        manager_cleared_by(clear).await;
    }
}

#[tokio::test]
async fn explicit_nulls_in_a_patch_value_remove_the_attributes() {
    let s = TestServer::start().await;
    let id = create_with(
        &s,
        "ada@example.org",
        json!({"title": "Analyst", "nickName": "A", "phoneNumbers": [{"value": "1", "type": "work"}],
               ENTERPRISE: {"department": "Engines", "costCenter": "4130"}}),
    )
    .await;
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "replace", "value": {"title": null, "phoneNumbers": null,
                                           "displayName": "Ada",
                                           format!("{ENTERPRISE}:department"): null}}]),
    )
    .await;
    for k in ["title", "phoneNumbers"] {
        assert!(got.get(k).is_none(), "{k}: {got}");
    }
    assert_eq!(got["displayName"], "Ada");
    assert_eq!(got["nickName"], "A");
    assert_eq!(got[ENTERPRISE], json!({"costCenter": "4130"}));
    assert!(!got.to_string().contains("null"), "{got}");
    // A null name sub-attribute through a dotted key.
    let got = patch_user(&s, &id, json!([{"op": "add", "value": {"name.givenName": null}}])).await;
    assert_eq!(got["name"], json!({"familyName": "Family"}));
}

#[tokio::test]
async fn okta_password_sync_is_accepted_and_never_returned() {
    let s = TestServer::start().await;
    let id = s.create_user("test.user@okta.local").await;
    let before = s.read_user(&id).await;
    // §2.9 (inferred body).
    let r = s
        .patch(&upath(&id), json!([{"op":"replace","value":{"password":"n3w-1mz050nq"}}]))
        .await
        .expect(200);
    assert!(r.body.get("password").is_none() && !r.text.contains("n3w-1mz050nq"), "{}", r.text);
    let got = s.get(&upath(&id)).await.expect(200);
    assert!(
        got.body.get("password").is_none() && !got.text.contains("n3w-1mz050nq"),
        "{}",
        got.text
    );
    assert_eq!(without(got.body, &["meta"]), without(before, &["meta"]));
    let asked = s.get(&format!("/Users/{id}?attributes=password,userName")).await.expect(200);
    assert!(!asked.text.contains("n3w-1mz050nq"), "{}", asked.text);
    // With a path, and next to another change.
    let got = patch_user(
        &s,
        &id,
        json!([{"op":"replace","path":"password","value":"other-secret"},
               {"op":"replace","path":"title","value":"Lead"}]),
    )
    .await;
    assert_eq!(got["title"], "Lead");
    assert!(!got.to_string().contains("other-secret"), "{got}");
}

#[tokio::test]
async fn quirk_30_a_stray_aad_opt_query_parameter_is_ignored() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let r = s
        .patch(
            &format!("/Users/{id}?aadOptscim062020"),
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    let got = accepted_user(&s, &id, r).await;
    assert_eq!(got["active"], false);
    let g = s.create_group("Staff", &[]).await;
    let r = s
        .patch(
            &format!("/Groups/{g}?aadOptscim062020"),
            json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        )
        .await;
    let got = accepted_group(&s, &g, r).await;
    assert_eq!(member_ids(&got), set(&[&id]));
}

#[tokio::test]
async fn entra_disable_user_hybrid_literal_with_operations_first() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    // §1.4 MS-TUT "Disable User": Operations before schemas, `Replace`, boolean.
    let body: Value = serde_json::from_str(
        r#"{"Operations":[{"op":"Replace","path":"active","value":false}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#,
    )
    .expect("literal");
    assert_eq!(patch_user_raw(&s, &id, &body).await["active"], false);
    // §1.5 [FLAG].
    let on = patch_op(json!([{"op":"replace","path":"active","value":true}]));
    assert_eq!(patch_user_raw(&s, &id, &on).await["active"], true);
}

#[tokio::test]
async fn entra_group_rename_literal_answers_204() {
    let s = TestServer::start().await;
    let g = s.create_group("displayName", &[]).await;
    // §1.8, literal.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Replace","path":"displayName",
                       "value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(got["displayName"], "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");
    let f =
        entra_encode("displayName eq \"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName\"");
    assert_eq!(ids(&s.get(&format!("/Groups?filter={f}")).await.expect(200)), [g]);
}

#[tokio::test]
async fn postman_member_adds() {
    let cases: [(&str, OpsFor); 2] = [
        // §4.3 MS-REFPM, with our id.
        ("a member as a bare string id", |u| json!([{"op":"add","path":"members","value": u}])),
        // §4.3: `"name":"addMember"` inside the op.
        (
            "an extra name key in the op",
            |u| json!([{"name": "addMember", "op": "add", "path": "members", "value": [{"value": u}]}]),
        ),
    ];
    for (what, ops) in cases {
        let s = TestServer::start().await;
        let u = s.create_user("ada@example.org").await;
        let g = s.create_group("Staff", &[]).await;
        let ops = ops(&u);
        let r = s.patch(&gpath(&g), ops.clone()).await;
        assert_eq!(r.status.as_u16(), 204, "{what}: PATCH {ops}: {}", r.text);
        let got = accepted_group(&s, &g, r).await;
        assert_eq!(member_ids(&got), set(&[&u]), "{what}: PATCH {ops}");
    }
}

// ---- Membership behaviour ----------------------------------------------------------------

#[tokio::test]
async fn adding_an_existing_member_is_a_no_op() {
    let s = TestServer::start().await;
    let u = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[&u]).await;
    let got =
        patch_group(&s, &g, json!([{"op": "add", "path": "members", "value": [{"value": u}]}]))
            .await;
    assert_eq!(got["members"].as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(member_ids(&got), set(&[&u]));
    // Twice in one value, too.
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": u}]}]),
    )
    .await;
    assert_eq!(got["members"].as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(s.read_user(&u).await["groups"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn removing_an_absent_member_is_a_no_op() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let g = s.create_group("Staff", &[&u1]).await;
    let got =
        patch_group(&s, &g, json!([{"op": "remove", "path": "members", "value": [{"value": u2}]}]))
            .await;
    assert_eq!(member_ids(&got), set(&[&u1]));
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&u1]));
}

#[tokio::test]
async fn remove_of_members_without_a_value_removes_all() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let g = s.create_group("Staff", &[&u1, &u2]).await;
    // §4.3 MS-REFPM "remove path members".
    let got = patch_group(&s, &g, json!([{"op": "remove", "path": "members"}])).await;
    assert_eq!(member_ids(&got), set(&[]));
    assert_eq!(got["displayName"], "Staff");
    for u in [&u1, &u2] {
        assert_eq!(group_ids(&s.read_user(u).await), set(&[]));
    }
}

#[tokio::test]
async fn replace_of_members_sets_exactly_the_list() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let u3 = s.create_user("u3@example.org").await;
    let g = s.create_group("Staff", &[&u1, &u2]).await;
    // §2.8 Okta full push / [VAL] "Add Member" via replace.
    let got = patch_group(
        &s,
        &g,
        json!([{"op":"replace","path":"members","value":[{"value": u2,"display":"u2@example.org"},
                                                         {"value": u3,"display":"u3@example.org"}]}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&u2, &u3]));
    assert_eq!(group_ids(&s.read_user(&u1).await), set(&[]));
    assert_eq!(group_ids(&s.read_user(&u3).await), set(&[&g]));
    // An empty list empties the group.
    let got = patch_group(&s, &g, json!([{"op": "replace", "path": "members", "value": []}])).await;
    assert_eq!(member_ids(&got), set(&[]));
}

#[tokio::test]
async fn a_nested_group_member_renders_as_type_group() {
    let s = TestServer::start().await;
    let u = s.create_user("ada@example.org").await;
    let inner = s.create_group("Inner", &[]).await;
    let outer = s.create_group("Outer", &[]).await;
    let got = patch_group(
        &s,
        &outer,
        json!([{"op": "add", "path": "members", "value": [{"value": inner}, {"value": u}]}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&inner, &u]));
    assert_eq!(member(&got, &inner), &member_shape(&s, &inner, "Group"));
    assert_eq!(member(&got, &u), &user_member(&s, &u));
    // The inner group's own members are untouched.
    assert_eq!(member_ids(&s.read_group(&inner).await), set(&[]));
    // And removable the same way.
    let got = patch_group(
        &s,
        &outer,
        json!([{"op": "remove", "path": format!("members[value eq \"{inner}\"]")}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&u]));
}

#[tokio::test]
async fn a_users_groups_follow_patch_membership_changes() {
    let s = TestServer::start().await;
    let u = s.create_user("ada@example.org").await;
    let g1 = s.create_group("One", &[]).await;
    let g2 = s.create_group("Two", &[]).await;
    assert_eq!(group_ids(&s.read_user(&u).await), set(&[]));
    patch_group(&s, &g1, json!([{"op": "add", "path": "members", "value": [{"value": u}]}])).await;
    patch_group(&s, &g2, json!([{"op": "add", "path": "members", "value": [{"value": u}]}])).await;
    let user = s.read_user(&u).await;
    assert_eq!(group_ids(&user), set(&[&g1, &g2]));
    let g1_entry = user["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["value"] == g1.as_str()))
        .expect("g1 in groups");
    assert_eq!(g1_entry["$ref"], s.url(&gpath(&g1)));
    // `display` is optional; when present it is the group's current name.
    assert!(g1_entry.get("display").is_none_or(|d| d == "One"), "{user}");
    patch_group(&s, &g1, json!([{"op": "remove", "path": "members", "value": [{"value": u}]}]))
        .await;
    assert_eq!(group_ids(&s.read_user(&u).await), set(&[&g2]));
    // A group rename shows in the user's groups.
    patch_group(&s, &g2, json!([{"op": "replace", "path": "displayName", "value": "Deux"}])).await;
    let user = s.read_user(&u).await;
    assert!(user["groups"][0].get("display").is_none_or(|d| d == "Deux"), "{user}");
}

#[tokio::test]
async fn an_or_filter_removes_each_member_it_names() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let u3 = s.create_user("u3@example.org").await;
    let g = s.create_group("Staff", &[&u1, &u2, &u3]).await;
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{u1}\" or value eq \"{u3}\"]")}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&u2]));
}

#[tokio::test]
async fn a_member_id_in_upper_case_is_the_same_member() {
    let s = TestServer::start().await;
    let u = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    let upper = u.to_uppercase();
    let got =
        patch_group(&s, &g, json!([{"op": "add", "path": "members", "value": [{"value": upper}]}]))
            .await;
    assert_eq!(member_ids(&got), set(&[&u]), "stored under scimd's own spelling");
    // Adding it again in the canonical spelling is a no-op, and removal in either spelling works.
    let got =
        patch_group(&s, &g, json!([{"op": "add", "path": "members", "value": [{"value": u}]}]))
            .await;
    assert_eq!(got["members"].as_array().map(Vec::len), Some(1), "{got}");
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{upper}\"]")}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[]), "remove by filter in upper case: {got}");
    patch_group(&s, &g, json!([{"op": "add", "path": "members", "value": [{"value": u}]}])).await;
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "remove", "path": "members", "value": [{"value": upper}]}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[]), "remove by value list in upper case: {got}");
}

// ---- Lifecycle ---------------------------------------------------------------------------

#[tokio::test]
async fn deactivate_keeps_all_data_and_reactivate_restores_active() {
    let s = TestServer::start().await;
    let boss = s.create_user("boss@example.org").await;
    let id = create_with(&s, "ada@example.org", rich_extra(&boss)).await;
    let g = s.create_group("Staff", &[&id]).await;
    let before = s.read_user(&id).await;
    assert_eq!(group_ids(&before), set(&[&g]));

    // §1.4 [CUR], literal.
    let off = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations":[{"op":"Replace","path":"active","value":"False"}]});
    let got = patch_user_raw(&s, &id, &off).await;
    assert_eq!(got["active"], false);
    assert_eq!(
        without(got.clone(), &["active", "meta"]),
        without(before.clone(), &["active", "meta"])
    );
    // Still found by filters, and still a member.
    assert_eq!(s.users_named("ada@example.org").await, 1);
    let f = entra_encode("active eq false");
    assert_eq!(ids(&s.get(&format!("/Users?filter={f}")).await.expect(200)), [id.clone()]);
    assert_eq!(member_ids(&s.read_group(&g).await), set(&[&id]));

    // §2.5 Okta reactivation.
    let got = patch_user(&s, &id, json!([{"op":"replace","value":{"active":true}}])).await;
    assert_eq!(got["active"], true);
    assert_eq!(without(got, &["meta"]), without(before, &["meta"]));
}

#[tokio::test]
async fn a_user_type_change_rederives_derived_roles() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"userType": "employee"})).await;
    assert_eq!(s.read_user(&id).await["roles"], derived(&["member"]));
    let got =
        patch_user(&s, &id, json!([{"op": "replace", "path": "userType", "value": "operations"}]))
            .await;
    assert_eq!(got["roles"], derived(&["member", "operations"]));
    let got =
        patch_user(&s, &id, json!([{"op": "replace", "value": {"userType": "Manager"}}])).await;
    assert_eq!(got["roles"], derived(&["member", "manager"]));
    assert_eq!(got["userType"], "Manager");
    let got = patch_user(&s, &id, json!([{"op": "remove", "path": "userType"}])).await;
    assert_eq!(got["roles"], derived(&["member"]));
    assert!(got.get("userType").is_none(), "{got}");
    let got =
        patch_user(&s, &id, json!([{"op": "add", "path": "userType", "value": "employee"}])).await;
    assert_eq!(got["roles"], derived(&["member"]));
}

#[tokio::test]
async fn an_unknown_user_type_or_role_by_patch_is_refused() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"userType": "employee"})).await;
    let r = refused(
        &s,
        &upath(&id),
        json!([{"op": "replace", "path": "userType", "value": "contractor"}]),
        "invalidValue",
    )
    .await;
    assert!(r.body["detail"].as_str().unwrap_or("").contains("contractor"), "{}", r.text);
    let r = refused(
        &s,
        &upath(&id),
        json!([{"op": "add", "path": "roles", "value": [{"value": "root"}]}]),
        "invalidValue",
    )
    .await;
    assert!(r.body["detail"].as_str().unwrap_or("").contains("root"), "{}", r.text);
}

#[tokio::test]
async fn idp_set_roles_survive_a_user_type_change() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"userType": "employee"})).await;
    let got = patch_user(
        &s,
        &id,
        json!([{"op": "add", "path": "roles", "value": [{"value": "operations", "primary": true}]}]),
    )
    .await;
    assert_eq!(idp_roles(&got), [json!({"value": "operations", "primary": true})], "{got}");
    let got =
        patch_user(&s, &id, json!([{"op": "replace", "path": "userType", "value": "manager"}]))
            .await;
    assert_eq!(got["userType"], "manager");
    assert_eq!(idp_roles(&got), [json!({"value": "operations", "primary": true})], "{got}");
    // Removing the IdP's roles falls back to the derived ones.
    let got = patch_user(&s, &id, json!([{"op": "remove", "path": "roles"}])).await;
    assert_eq!(got["roles"], derived(&["member", "manager"]));
}

#[tokio::test]
async fn unknown_user_types_and_roles_pass_with_the_validator_switches() {
    let s = TestServer::start_with(
        "[roles]\nunknown_user_type = \"default\"\nunknown_role = \"accept\"\n",
    )
    .await;
    let id = s.create_user("ada@example.org").await;
    let got = patch_user(
        &s,
        &id,
        json!([
            {"op": "add", "path": "userType", "value": "XQZWV"},
            {"op": "add", "path": "roles[primary eq \"True\"].value", "value": "WDEIISGWWQBE"}
        ]),
    )
    .await;
    assert_eq!(got["userType"], "XQZWV");
    assert_eq!(idp_roles(&got), [json!({"primary": true, "value": "WDEIISGWWQBE"})], "{got}");
}

#[tokio::test]
async fn deleting_a_user_clears_it_as_manager_and_removes_it_from_groups() {
    let s = TestServer::start().await;
    let boss = s.create_user("boss@example.org").await;
    let ada =
        create_with(&s, "ada@example.org", json!({ENTERPRISE: {"department": "Engines"}})).await;
    let bob = s.create_user("bob@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    patch_user(&s, &ada, json!([{"op": "add", "path": "manager", "value": boss}])).await;
    patch_user(&s, &bob, json!([{"op": "add", "path": "manager", "value": {"value": boss}}])).await;
    patch_group(
        &s,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": boss}, {"value": ada}]}]),
    )
    .await;

    s.delete(&upath(&boss)).await.expect(204);
    let a = s.read_user(&ada).await;
    assert_eq!(a[ENTERPRISE], json!({"department": "Engines"}));
    let b = s.read_user(&bob).await;
    assert!(b.get(ENTERPRISE).is_none_or(|e| e.get("manager").is_none()), "{b}");
    assert!(!b.to_string().contains("manager"), "{b}");
    assert_eq!(member_ids(&s.read_group(&g).await), set(&[&ada]));
    // A later PATCH of the survivors still works.
    let got =
        patch_user(&s, &ada, json!([{"op": "replace", "path": "title", "value": "Lead"}])).await;
    assert_eq!(got["title"], "Lead");
}

// ---- Indexes, uniqueness and durability after PATCH -------------------------------------

#[tokio::test]
async fn filters_see_patched_values() {
    let s = TestServer::start().await;
    let id = create_with(&s, "ada@example.org", json!({"externalId": "old-ext"})).await;
    patch_user(
        &s,
        &id,
        json!([
            {"op": "replace", "path": "externalId", "value": "new-ext"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example"},
            {"op": "replace", "path": "userName", "value": "ada.l@example.org"}
        ]),
    )
    .await;
    let find = |f: &str| format!("/Users?filter={}", entra_encode(f));
    assert_eq!(ids(&s.get(&find("externalId eq \"new-ext\"")).await.expect(200)), [id.clone()]);
    assert_eq!(s.total(&find("externalId eq \"old-ext\"")).await, 0);
    assert_eq!(
        ids(&s
            .get(&find("emails[type eq \"work\"].value eq \"ada@new.example\""))
            .await
            .expect(200)),
        [id.clone()]
    );
    assert_eq!(s.total(&find("emails.value eq \"ada@example.org\"")).await, 0);
    assert_eq!(s.users_named("ADA.L@example.org").await, 1);
    assert_eq!(s.users_named("ada@example.org").await, 0);
}

#[tokio::test]
async fn a_rename_frees_the_old_name() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    patch_user(
        &s,
        &id,
        json!([{"op": "replace", "path": "userName", "value": "ada2@example.org"}]),
    )
    .await;
    let other = s.create_user("ada@example.org").await;
    assert_ne!(other, id);
    let g = s.create_group("Staff", &[]).await;
    patch_group(&s, &g, json!([{"op": "replace", "path": "displayName", "value": "Crew"}])).await;
    s.create_group("Staff", &[]).await;
    // And the new names are taken.
    let r = s.post("/Users", &user_body("ADA2@example.org", json!({}))).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    let r = s.post("/Groups", &json!({"displayName": "crew"})).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
}

#[tokio::test]
async fn patched_state_survives_a_restart() {
    let s = TestServer::start().await;
    let boss = s.create_user("boss@example.org").await;
    let id = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    patch_user(
        &s,
        &id,
        json!([
            {"op": "replace", "path": "active", "value": "False"},
            {"op": "add", "path": "manager", "value": boss},
            {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "London"}
        ]),
    )
    .await;
    patch_group(&s, &g, json!([{"op": "add", "path": "members", "value": [{"value": id}]}])).await;
    let user_before = s.read_user(&id).await;
    let group_before = s.read_group(&g).await;
    let s = s.restart().await;
    assert_eq!(s.read_user(&id).await, user_before);
    assert_eq!(s.read_group(&g).await, group_before);
}

// ---- Provisioning log -------------------------------------------------------------------

#[tokio::test]
async fn an_accepted_user_patch_is_logged_with_what_changed() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    patch_user(&s, &id, json!([{"op": "replace", "path": "active", "value": false}])).await;
    let row = &s.provisioning_log(1).await[0];
    assert_eq!(row["operation"], "patch", "{row}");
    assert_eq!(row["status"], 200, "{row}");
    assert_eq!(row["resource_type"], "User", "{row}");
    assert_eq!(row["resource_id"], id.as_str(), "{row}");
    assert_eq!(row["token"], "test", "{row}");
    let detail = row["detail"].as_str().unwrap_or("").to_lowercase();
    assert!(detail.contains("active") || detail.contains("deactivat"), "{row}");
}

#[tokio::test]
async fn a_refused_user_patch_is_logged_with_its_status() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    refused(
        &s,
        &upath(&id),
        json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        "invalidValue",
    )
    .await;
    let row = &s.provisioning_log(1).await[0];
    assert_eq!(row["operation"], "patch", "{row}");
    assert_eq!(row["status"], 400, "{row}");
    assert_eq!(row["scim_type"], "invalidValue", "{row}");
    assert_eq!(row["resource_type"], "User", "{row}");
    assert!(!row["detail"].as_str().unwrap_or("").is_empty(), "{row}");
}

#[tokio::test]
async fn group_patches_are_logged_accepted_and_refused() {
    let s = TestServer::start().await;
    let u = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    patch_group(&s, &g, json!([{"op": "add", "path": "members", "value": [{"value": u}]}])).await;
    refused(
        &s,
        &gpath(&g),
        json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]),
        "invalidValue",
    )
    .await;
    let log = s.provisioning_log(2).await;
    let (refused_row, accepted_row) = (&log[0], &log[1]);
    assert_eq!(accepted_row["operation"], "patch", "{accepted_row}");
    assert_eq!(accepted_row["status"], 204, "{accepted_row}");
    assert_eq!(accepted_row["resource_type"], "Group", "{accepted_row}");
    assert_eq!(accepted_row["resource_id"], g.as_str(), "{accepted_row}");
    assert!(
        accepted_row["detail"].as_str().unwrap_or("").to_lowercase().contains("member"),
        "{accepted_row}"
    );
    assert_eq!(refused_row["operation"], "patch", "{refused_row}");
    assert_eq!(refused_row["status"], 400, "{refused_row}");
    assert_eq!(refused_row["scim_type"], "invalidValue", "{refused_row}");
}

#[tokio::test]
async fn a_patch_of_an_unknown_id_is_logged_as_404() {
    let s = TestServer::start().await;
    s.patch(
        "/Users/7d0c5b1e-0000-4000-8000-000000000000",
        json!([{"op": "remove", "path": "title"}]),
    )
    .await
    .expect(404);
    let row = &s.provisioning_log(1).await[0];
    assert_eq!(row["operation"], "patch", "{row}");
    assert_eq!(row["status"], 404, "{row}");
}
