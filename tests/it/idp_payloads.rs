//! Literal requests from Microsoft Entra ID, Microsoft's validator and reference collection,
//! and Okta (sources and `§` numbers: `payloads.rs`), replayed against scimd one at a time,
//! with the stored state checked by a later GET.

use serde_json::{Value, json};

use crate::common::{
    CORE_USER, ENTERPRISE, LIST, TestServer, empty_list, entra_encode, id_of, ids, resources,
};
use crate::payloads::{
    entra_group, ms_tut_create_user, ms_tut_jyoung, okta_create_user, validator_user,
};

/// §2.2, Okta's create, as Okta sent it.
fn okta_create_test_user() -> Value {
    okta_create_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7")
}

async fn created_id(s: &TestServer, body: &Value) -> String {
    id_of(&s.post("/Users", body).await.expect(201))
}

#[tokio::test]
async fn entra_test_connection_probes_for_user_and_group() {
    let s = TestServer::start().await;
    // §1.1, the literal probe.
    let r = s
        .get("/Users?filter=userName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22")
        .await
        .expect(200);
    assert_eq!(r.body, empty_list());
    // The group probe.
    let probe = "/Groups?excludedAttributes=members&filter=displayName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22";
    let r = s.get(probe).await.expect(200);
    assert!(r.content_type().starts_with("application/scim+json"));
    assert_eq!(r.body, empty_list());
    // With data in the directory the probes still find nothing...
    let id = s.create_user("ada@example.org").await;
    let g = s.create_group("Team", &[&id]).await;
    assert_eq!(s.get(probe).await.expect(200).body, empty_list());
    // ...and the same query shape finds a real group, without `members`.
    let r = s
        .get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Team%22")
        .await
        .expect(200);
    assert_eq!(ids(&r), [g]);
    assert!(resources(&r)[0].get("members").is_none(), "{}", r.text);
}

#[tokio::test]
async fn ms_tut_create_user_first_example() {
    let s = TestServer::start().await;
    let sent = ms_tut_create_user();
    let r = s.post("/Users", &sent).await.expect(201);
    let id = id_of(&r);
    assert!(r.body["meta"]["created"].is_string() && r.body["meta"]["lastModified"].is_string());

    let got = s.read_user(&id).await;
    for key in ["externalId", "userName", "active", "emails", "name"] {
        assert_eq!(got[key], sent[key], "{key}: {got}");
    }
    assert_eq!(got["meta"]["resourceType"], "User");
    assert_eq!(got["meta"]["location"], s.url(&format!("/Users/{id}")));
    // `roles: []` means no roles sent: the default role is derived (README, Roles).
    assert_eq!(got["roles"], json!([{"value": "member", "type": "derived"}]), "{got}");
    // No extension attributes were sent, so the extension is not claimed.
    assert!(got.get(ENTERPRISE).is_none(), "{got}");
    assert_eq!(got["schemas"], json!([CORE_USER]));
}

#[tokio::test]
async fn ms_tut_second_example_with_nulls_meta_and_a_typo_urn() {
    let s = TestServer::start().await;
    // §1.2, verbatim.
    let sent = ms_tut_jyoung();
    let r = s.post("/Users", &sent).await.expect(201);
    let id = id_of(&r);

    let got = s.read_user(&id).await;
    assert_eq!(got["userName"], "jyoung@testuser.com");
    assert_eq!(got["externalId"], "jyoung");
    assert_eq!(got["displayName"], "Joy Young");
    assert_eq!(got["active"], true);
    assert_eq!(got["name"], json!({"familyName": "Young", "givenName": "Joy"}));
    // Stored exactly as sent, case included.
    assert_eq!(
        got["emails"],
        json!([{"type": "work", "value": "jyoung@Contoso.com", "primary": true}])
    );
    // Nulls are absent, never stored as null or echoed.
    for absent in [
        "addresses",
        "phoneNumbers",
        "preferredLanguage",
        "title",
        "department",
        "manager",
        ENTERPRISE,
    ] {
        assert!(got.get(absent).is_none(), "{absent}: {got}");
    }
    assert!(!serde_json::to_string(&got).expect("json").contains("null"), "{got}");
    // The misspelled URN is tolerated, not echoed.
    assert_eq!(got["schemas"], json!([CORE_USER]));
}

#[tokio::test]
async fn entra_lookup_then_create_then_retry() {
    let s = TestServer::start().await;
    let lookup = format!(
        "/Users?filter={}",
        entra_encode("userName eq \"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"")
    );
    assert_eq!(s.get(&lookup).await.expect(200).body, empty_list());

    let id = created_id(&s, &ms_tut_create_user()).await;
    let r = s.get(&lookup).await.expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let found = &resources(&r)[0];
    assert_eq!(found["id"], id.as_str());
    for key in ["externalId", "meta", "userName", "name", "active", "emails"] {
        assert!(found.get(key).is_some(), "{key} missing: {found}");
    }
    // Entra's other default matching attribute.
    let by_external = format!(
        "/Users?filter={}",
        entra_encode("externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"")
    );
    assert_eq!(ids(&s.get(&by_external).await.expect(200)), [id.clone()]);

    // A retried create (next cycle) is a 409 and leaves the user as it was.
    let before = s.read_user(&id).await;
    let mut retry = ms_tut_create_user();
    retry["name"]["givenName"] = json!("changed");
    let r = s.post("/Users", &retry).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    assert_eq!(s.read_user(&id).await, before);
    assert_eq!(s.total("/Users").await, 1);
}

#[tokio::test]
async fn entra_group_create_with_the_microsoft_schema_urn() {
    let s = TestServer::start().await;
    // §1.7, verbatim.
    let sent = entra_group();
    let r = s.post("/Groups", &sent).await.expect(201);
    let id = id_of(&r);
    assert!(
        r.body.get("members").is_none_or(|m| m == &json!([])),
        "members must be empty or absent: {}",
        r.text
    );
    assert_eq!(r.body["meta"]["resourceType"], "Group");

    let got = s.read_group(&id).await;
    assert_eq!(got["displayName"], "displayName");
    assert_eq!(got["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert_eq!(got["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]));
    assert!(got.get("members").is_none_or(|m| m == &json!([])), "{got}");

    // Entra's reads.
    let r = s.get(&format!("/Groups/{id}?excludedAttributes=members")).await.expect(200);
    assert!(r.body.get("members").is_none(), "{}", r.text);
    let r = s
        .get("/Groups?excludedAttributes=members&filter=displayName eq \"displayName\"")
        .await
        .expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    assert!(resources(&r)[0].get("members").is_none(), "{}", r.text);
    // A duplicate is a 409.
    assert_eq!(s.post("/Groups", &sent).await.expect(409).scim_type(), "uniqueness");
}

#[tokio::test]
async fn okta_create_with_password_groups_and_external_id() {
    let s = TestServer::start().await;
    // §2.2: the existence check first.
    let check = "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
    assert_eq!(s.get(check).await.expect(200).body, empty_list());

    let r = s.post("/Users", &okta_create_test_user()).await.expect(201);
    assert!(r.body.get("password").is_none() && !r.text.contains("1mz050nq"), "{}", r.text);
    let id = id_of(&r);

    let got = s.get(&format!("/Users/{id}")).await.expect(200);
    assert!(got.body.get("password").is_none() && !got.text.contains("1mz050nq"), "{}", got.text);
    assert_eq!(got.body["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(got.body["userName"], "test.user@okta.local");
    assert_eq!(got.body["displayName"], "Test User");
    assert_eq!(got.body["locale"], "en-US");
    assert_eq!(got.body["active"], true);
    assert_eq!(got.body["name"], json!({"givenName": "Test", "familyName": "User"}));
    assert!(got.body.get("groups").is_none_or(|g| g == &json!([])), "{}", got.text);

    assert_eq!(ids(&s.get(check).await.expect(200)), [id]);
    // Okta's retry after a timeout.
    assert_eq!(
        s.post("/Users", &okta_create_test_user()).await.expect(409).scim_type(),
        "uniqueness"
    );
}

#[tokio::test]
async fn okta_get_then_put_of_the_whole_object() {
    let s = TestServer::start().await;
    let id = created_id(&s, &okta_create_test_user()).await;

    // Okta reads the user, changes what differs and PUTs everything back, read-only keys too.
    let mut user = s.read_user(&id).await;
    user["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
    user["emails"][0]["display"] = json!("test.user@okta.local");
    user["groups"] = json!([]);
    let r = s.put(&format!("/Users/{id}"), &user).await.expect(200);
    assert_eq!(r.body["name"]["givenName"], "Another");

    let got = s.read_user(&id).await;
    assert_eq!(
        got["name"],
        json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"})
    );
    assert_eq!(got["emails"][0]["value"], "test.user@okta.local");
    // What Okta round-tripped is kept.
    assert_eq!(got["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(got["displayName"], "Test User");
    assert_eq!(got["locale"], "en-US");
    assert_eq!(got["active"], true);
    assert_eq!(got["id"], id.as_str());

    // §2.3's literal body (with this server's id).
    let literal = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
     "id": id,
     "userName":"test.user@okta.local",
     "name":{"givenName":"Third","middleName":"Excited","familyName":"User"},
     "emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],
     "active":true,"groups":[],"meta":{"resourceType":"User"}});
    s.put(&format!("/Users/{id}"), &literal).await.expect(200);
    let got = s.read_user(&id).await;
    assert_eq!(got["name"]["givenName"], "Third");
    assert_eq!(got["active"], true);
    assert_eq!(got["emails"][0]["primary"], true);
}

#[tokio::test]
async fn okta_deactivate_by_put_keeps_the_user_listed() {
    let s = TestServer::start().await;
    let id = created_id(&s, &okta_create_test_user()).await;
    let mut user = s.read_user(&id).await;
    user["active"] = json!(false);
    let r = s.put(&format!("/Users/{id}"), &user).await.expect(200);
    assert_eq!(r.body["active"], false);

    let got = s.read_user(&id).await;
    assert_eq!(got["active"], false);
    assert_eq!(got["userName"], "test.user@okta.local");
    // Still listed and found by filters.
    assert_eq!(ids(&s.get("/Users").await.expect(200)), [id.clone()]);
    let by_name = format!("/Users?filter={}", entra_encode("userName eq \"test.user@okta.local\""));
    let r = s.get(&by_name).await.expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    assert_eq!(resources(&r)[0]["active"], false);
    let inactive = format!("/Users?filter={}", entra_encode("active eq false"));
    assert_eq!(ids(&s.get(&inactive).await.expect(200)), [id.clone()]);

    // Reactivation, the same way.
    user["active"] = json!(true);
    s.put(&format!("/Users/{id}"), &user).await.expect(200);
    assert_eq!(s.read_user(&id).await["active"], true);
}

#[tokio::test]
async fn validator_post_with_string_primary_in_roles() {
    let s = TestServer::start_with("[roles]\nunknown_role = \"accept\"\n").await;
    // §4.1, with the abridged "…" values filled in.
    let sent = validator_user();
    let r = s.post("/Users", &sent).await.expect(201);
    let id = id_of(&r);
    assert_eq!(r.body["roles"][0]["primary"], json!(true), "{}", r.text);

    // The validator reads the user back by filter and compares every attribute it sent.
    let f = entra_encode("userName eq \"julien.vonrueden@ondricka.us\"");
    let r = s.get(&format!("/Users?filter={f}")).await.expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    let got = s.read_user(&id).await;
    assert_eq!(resources(&r)[0], got);
    assert_eq!(
        got["roles"],
        json!([{"primary": true, "display": "MRONYWGFFHXQ", "value": "WDEIISGWWQBE", "type": "XVTUOHMYUFRL"}])
    );
    for key in [
        "userName",
        "active",
        "displayName",
        "title",
        "emails",
        "preferredLanguage",
        "name",
        "addresses",
        "phoneNumbers",
        "userType",
        "nickName",
        "locale",
        "timezone",
        "profileUrl",
    ] {
        assert_eq!(got[key], sent[key], "{key}");
    }
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "QTRMFZZDHXZQ");
    assert_eq!(got[ENTERPRISE]["costCenter"], "VYVTNGWOXRRA");
    assert_eq!(got[ENTERPRISE]["manager"]["value"], "XYMKVVRYDIOO");
    let schemas = got["schemas"].as_array().expect("schemas");
    assert!(schemas.contains(&json!(ENTERPRISE)), "{got}");
    // Entra's role mapping path, as a filter.
    let f = entra_encode("roles[primary eq \"True\"].value eq \"WDEIISGWWQBE\"");
    assert_eq!(ids(&s.get(&format!("/Users?filter={f}")).await.expect(200)), [id]);
}

#[tokio::test]
async fn microsoft_trailing_slash_and_capitalised_attribute() {
    let s = TestServer::start().await;
    let body = json!({"schemas": [CORE_USER], "userName": "bob@example.org", "displayName": "BobIsAmazing"});
    let id = created_id(&s, &body).await;
    s.create_user("other@example.org").await;
    // §4.3, verbatim.
    let r = s.get("/Users/?filter=DisplayName+eq+%22BobIsAmazing%22").await.expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    // The collection also uses attributes=userName,emails and plain GET /Users, /Groups.
    let r = s.get("/Users?attributes=userName,emails").await.expect(200);
    assert_eq!(r.body["totalResults"], 2);
    for u in resources(&r) {
        assert!(u.get("userName").is_some() && u.get("meta").is_none(), "{u}");
    }
    s.get("/Groups").await.expect(200);
    s.get("/Groups/").await.expect(200);
}

#[tokio::test]
async fn stray_aad_opt_query_parameter_is_ignored() {
    let s = TestServer::start().await;
    let r = s.post("/Users?aadOptscim062020", &ms_tut_create_user()).await.expect(201);
    let id = id_of(&r);
    assert_eq!(r.body["userName"], "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee");
    let r = s.get("/Users?aadOptscim062020").await.expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    let r = s
        .get("/Users?aadOptscim062020&filter=userName+eq+%22Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee%22")
        .await
        .expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    let r = s.get("/Users?filter=userName+eq+%22nobody%22&aadOptscim062020").await.expect(200);
    assert_eq!(r.body, empty_list());
    s.get(&format!("/Users/{id}?aadOptscim062020")).await.expect(200);
    s.get("/Groups?aadOptscim062020").await.expect(200);
}

#[tokio::test]
async fn okta_connection_test_and_spec_paging() {
    let s = TestServer::start().await;
    for name in ["a@example.org", "b@example.org", "c@example.org"] {
        s.create_user(name).await;
    }
    // §2.1, "Test API Credentials".
    let r = s.get("/Users?startIndex=1&count=2").await.expect(200);
    assert_eq!(r.body["schemas"], json!([LIST]));
    for key in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(r.body[key].is_u64(), "{key}: {}", r.text);
    }
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(resources(&r).len(), 2);
    // §4.4 step 1.
    let r = s.get("/Users?count=1&startIndex=1").await.expect(200);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["itemsPerPage"], 1);
    let first = &resources(&r)[0];
    for pointer in ["/id", "/name/familyName", "/name/givenName", "/userName", "/emails/0/value"] {
        let v = first.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        assert!(!v.is_empty(), "{pointer} empty in {first}");
    }
    assert!(first["active"].is_boolean(), "{first}");
    // §4.4 step 2: the same user by id.
    let id = first["id"].as_str().expect("id");
    assert_eq!(&s.read_user(id).await, first);
}

#[tokio::test]
async fn okta_spec_user_name_case_check() {
    let s = TestServer::start().await;
    // §4.4 steps 5-9.
    let check =
        |name: &str| format!("/Users?filter={}", entra_encode(&format!("userName eq \"{name}\"")));
    assert_eq!(s.total(&check("runscope300hfluaklab151@example.com")).await, 0);
    let body = json!({"schemas": [CORE_USER], "userName": "runscope300hfluaklab151@example.com",
        "name": {"givenName": "Runscope", "familyName": "Hfluaklab"},
        "emails": [{"primary": true, "value": "runscope300hfluaklab151@example.com", "type": "work"}],
        "displayName": "Runscope Hfluaklab", "active": true});
    let id = created_id(&s, &body).await;
    assert_eq!(s.post("/Users", &body).await.expect(409).scim_type(), "uniqueness");
    let r = s.get(&check("RUNSCOPE300HFLUAKLAB151@EXAMPLE.COM")).await.expect(200);
    assert_eq!(ids(&r), [id]);
    assert_eq!(resources(&r)[0]["userName"], "runscope300hfluaklab151@example.com");
    // Step 4: an unknown id.
    let r = s.get("/Users/010101001010101011001010101011").await.expect(404);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn okta_group_push_and_aiw_membership_put() {
    let s = TestServer::start().await;
    let user = created_id(&s, &okta_create_test_user()).await;
    let other = s.create_user("other@okta.local").await;
    // §2.8 step 1: the existence check.
    let check = "/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100";
    assert_eq!(s.get(check).await.expect(200).body, empty_list());
    // Step 2: create.
    let r = s
        .post("/Groups", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}))
        .await
        .expect(201);
    let id = id_of(&r);
    assert_eq!(r.body["members"], json!([]));
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert_eq!(ids(&s.get(check).await.expect(200)), [id.clone()]);
    // Step 6 (AIW): PUT with `id` and members carrying `display`.
    let put = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": id, "displayName":"Test SCIMv2",
        "members":[{"value": user, "display":"test.user@okta.local"}, {"value": other, "display":"someone else"}]});
    s.put(&format!("/Groups/{id}"), &put).await.expect(200);
    let got = s.read_group(&id).await;
    let mut members: Vec<String> = got["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["value"].as_str().unwrap_or("").to_string())
        .collect();
    members.sort();
    let mut want = vec![user.clone(), other.clone()];
    want.sort();
    assert_eq!(members, want);
    // The client's `display` is accepted and not stored.
    let shown = got["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["value"] == other.as_str())
        .cloned();
    assert!(shown.expect("member").get("display").is_none());
    let u = s.read_user(&user).await;
    assert_eq!(u["groups"][0]["value"], id.as_str());
    // Step 7: unlink with delete.
    s.delete(&format!("/Groups/{id}")).await.expect(204);
    assert!(s.read_user(&user).await.get("groups").is_none());
}
