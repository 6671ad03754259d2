//! Discovery (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`), unknown paths and
//! methods, `/healthz`, and the `application/scim+json` content type on every SCIM answer.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    CORE_USER, ENTERPRISE, GROUP, Reply, TestServer, group_body, id_of, resources, send, user_body,
};

fn assert_scim_json(r: &Reply, what: &str) {
    assert!(
        r.content_type().starts_with("application/scim+json"),
        "{what}: content-type {:?}",
        r.content_type()
    );
}

/// Every JSON path in `v` whose value is null.
fn nulls(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(at.to_string()),
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                nulls(x, &format!("{at}[{i}]"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                nulls(x, &format!("{at}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// Checks one schema attribute definition (and its sub-attributes) for RFC 7643 §7 shape.
fn check_attribute(a: &Value, schema: &str) {
    let name = a["name"].as_str().unwrap_or_else(|| panic!("attribute without name in {schema}"));
    let one_of = |key: &str, allowed: &[&str]| {
        let v = a[key].as_str().unwrap_or_else(|| panic!("{schema} {name}: no {key}"));
        assert!(allowed.contains(&v), "{schema} {name}: {key} = {v:?}");
    };
    one_of(
        "type",
        &["string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex"],
    );
    one_of("mutability", &["readOnly", "readWrite", "immutable", "writeOnly"]);
    one_of("returned", &["always", "never", "default", "request"]);
    one_of("uniqueness", &["none", "server", "global"]);
    for key in ["multiValued", "required", "caseExact"] {
        assert!(a[key].is_boolean(), "{schema} {name}: {key} is not a boolean");
    }
    assert!(a["description"].is_string(), "{schema} {name}: no description");
    if let Some(subs) = a.get("subAttributes") {
        assert_eq!(a["type"], "complex", "{schema} {name}");
        for sub in subs.as_array().expect("subAttributes") {
            check_attribute(sub, schema);
        }
    }
}

fn attribute<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {}", schema["id"]))
}

#[tokio::test]
async fn service_provider_config_advertises_what_works() {
    let s = TestServer::start_with("[scim]\nmax_page_size = 250\n").await;
    let r = s.get("/ServiceProviderConfig").await.expect(200);
    assert_scim_json(&r, "ServiceProviderConfig");
    let c = &r.body;
    assert_eq!(
        c["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(c["patch"]["supported"], true);
    assert_eq!(c["bulk"]["supported"], false);
    assert_eq!(c["filter"]["supported"], true);
    assert_eq!(c["filter"]["maxResults"], 250);
    assert_eq!(c["sort"]["supported"], true);
    assert_eq!(c["etag"]["supported"], true);
    assert_eq!(c["changePassword"]["supported"], false);
    let schemes = c["authenticationSchemes"].as_array().expect("authenticationSchemes");
    assert!(!schemes.is_empty());
    assert_eq!(schemes[0]["type"], "oauthbearertoken");
    assert!(schemes[0]["name"].is_string() && schemes[0]["description"].is_string());
    let mut found = Vec::new();
    nulls(c, "$", &mut found);
    assert!(found.is_empty(), "nulls at {found:?}");
}

#[tokio::test]
async fn resource_types_list_user_with_the_enterprise_extension_and_group() {
    let s = TestServer::start().await;
    let r = s.get("/ResourceTypes").await.expect(200);
    assert_scim_json(&r, "ResourceTypes");
    assert_eq!(r.body["totalResults"], 2);
    let types = resources(&r);
    let user = types.iter().find(|t| t["name"] == "User").expect("User");
    assert_eq!(user["id"], "User");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], CORE_USER);
    assert_eq!(user["schemaExtensions"], json!([{"schema": ENTERPRISE, "required": false}]));
    assert_eq!(user["meta"]["location"], s.url("/ResourceTypes/User"));
    let group = types.iter().find(|t| t["name"] == "Group").expect("Group");
    assert_eq!(group["endpoint"], "/Groups");
    assert_eq!(group["schema"], GROUP);

    let one = s.get("/ResourceTypes/User").await.expect(200);
    assert_eq!(&one.body, user);
    let one = s.get("/ResourceTypes/Group").await.expect(200);
    assert_eq!(&one.body, group);
    s.get("/ResourceTypes/Printer").await.expect(404);
}

#[tokio::test]
async fn schemas_are_complete_camel_case_and_null_free() {
    let s = TestServer::start().await;
    let r = s.get("/Schemas").await.expect(200);
    assert_scim_json(&r, "Schemas");
    assert_eq!(r.body["totalResults"], 3);
    let schemas = resources(&r);
    let ids: Vec<&str> = schemas.iter().map(|s| s["id"].as_str().expect("id")).collect();
    for id in [CORE_USER, ENTERPRISE, GROUP] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let mut found = Vec::new();
    nulls(&r.body, "$", &mut found);
    assert!(found.is_empty(), "JSON nulls at {found:?}");
    for schema in &schemas {
        let id = schema["id"].as_str().expect("id");
        assert_eq!(schema["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]));
        assert!(schema["name"].is_string(), "{id}");
        for a in schema["attributes"].as_array().expect("attributes") {
            check_attribute(a, id);
        }
    }
    let user = schemas.iter().find(|s| s["id"] == CORE_USER).expect("User schema");
    assert_eq!(user["description"], "User Account");
    let user_name = attribute(user, "userName");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(attribute(user, "id")["mutability"], "readOnly");
    assert_eq!(attribute(user, "externalId")["caseExact"], true);
    assert_eq!(attribute(user, "groups")["mutability"], "readOnly");
    assert_eq!(attribute(user, "password")["returned"], "never");
    assert_eq!(attribute(user, "displayName")["mutability"], "readWrite");
    let emails = attribute(user, "emails");
    assert_eq!(emails["multiValued"], true);
    assert!(emails["subAttributes"].as_array().expect("subs").iter().any(|s| s["name"] == "value"));
    let group = schemas.iter().find(|s| s["id"] == GROUP).expect("Group schema");
    assert_eq!(attribute(group, "displayName")["uniqueness"], "server");
    assert_eq!(attribute(group, "members")["multiValued"], true);
    let enterprise = schemas.iter().find(|s| s["id"] == ENTERPRISE).expect("enterprise schema");
    for name in
        ["employeeNumber", "department", "division", "organization", "costCenter", "manager"]
    {
        attribute(enterprise, name);
    }
}

#[tokio::test]
async fn one_schema_by_urn() {
    let s = TestServer::start().await;
    let all = s.get("/Schemas").await.expect(200);
    for urn in [CORE_USER, ENTERPRISE, GROUP] {
        let r = s.get(&format!("/Schemas/{urn}")).await.expect(200);
        assert_scim_json(&r, urn);
        assert_eq!(r.body["id"], urn);
        let listed = resources(&all).into_iter().find(|x| x["id"] == urn).expect("listed");
        assert_eq!(r.body, listed);
    }
    let r = s.get(&format!("/Schemas/{CORE_USER}")).await.expect(200);
    assert_eq!(r.body["description"], "User Account");
    assert_eq!(r.body["meta"]["location"], s.url(&format!("/Schemas/{CORE_USER}")));
    s.get("/Schemas/urn:example:params:scim:schemas:Nope").await.expect(404);
}

#[tokio::test]
async fn unknown_paths_are_404_scim_errors() {
    let s = TestServer::start().await;
    for path in ["/Nope", "/Users/abc/extra", "/Bulk", "/Me"] {
        let r = s.get(path).await.expect(404);
        assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{path}: {}", r.text);
    }
    let r = send(s.client.get(format!("https://127.0.0.1:{}/nothing-here", s.port))).await;
    let r = r.expect(404);
    assert_scim_json(&r, "/nothing-here");
}

#[tokio::test]
async fn wrong_methods_are_405_scim_errors() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    for (method, path) in [
        (Method::DELETE, "/Users".to_string()),
        (Method::PUT, "/Users".to_string()),
        (Method::DELETE, "/Groups".to_string()),
        (Method::POST, format!("/Users/{id}")),
        (Method::GET, "/Users/.search".to_string()),
        (Method::POST, "/ServiceProviderConfig".to_string()),
        (Method::DELETE, "/Schemas".to_string()),
    ] {
        let r = s.call(method.clone(), &path, None).await;
        assert_eq!(r.status.as_u16(), 405, "{method} {path}: {}", r.text);
        r.expect(405);
    }
    // Nothing was changed by the refused requests.
    let got = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body["active"], true);
    assert_eq!(s.total("/Users").await, 1);
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let s = TestServer::start().await;
    let r = send(s.client.get(format!("https://127.0.0.1:{}/healthz", s.port))).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(r.body["status"], "ok");
    // SCIM endpoints do need one.
    let r = send(s.client.get(s.url("/Users"))).await.expect(401);
    assert_scim_json(&r, "401");
}

#[tokio::test]
async fn every_scim_response_is_application_scim_json() {
    let s = TestServer::start().await;
    let created = s.post("/Users", &user_body("ada@example.org", json!({}))).await.expect(201);
    let id = id_of(&created);
    assert_scim_json(&created, "201 create");
    let replies = vec![
        ("ServiceProviderConfig", s.get("/ServiceProviderConfig").await.expect(200)),
        ("ResourceTypes", s.get("/ResourceTypes").await.expect(200)),
        ("Schemas", s.get("/Schemas").await.expect(200)),
        ("list", s.get("/Users").await.expect(200)),
        ("get", s.get(&format!("/Users/{id}")).await.expect(200)),
        (
            "put",
            s.put(&format!("/Users/{id}"), &user_body("ada@example.org", json!({})))
                .await
                .expect(200),
        ),
        ("search", s.post("/.search", &json!({})).await.expect(200)),
        ("groups", s.get("/Groups").await.expect(200)),
        ("404", s.get("/Users/0f8fad5b-d9cb-469f-a165-70867728950e").await.expect(404)),
        ("409", s.post("/Users", &user_body("ada@example.org", json!({}))).await.expect(409)),
        ("400", s.get("/Users?filter=bad").await.expect(400)),
        (
            "invalid JSON",
            s.raw(Method::POST, "/Users", "application/json", b"{".to_vec()).await.expect(400),
        ),
        ("401", send(s.client.get(s.url("/Users")).bearer_auth("scimd_0_wrong")).await.expect(401)),
    ];
    for (what, r) in &replies {
        assert_scim_json(r, what);
    }
    // Requests sent as application/json (and with a charset) are accepted as well.
    let body = serde_json::to_vec(&user_body("bob@example.org", json!({}))).expect("json");
    s.raw(Method::POST, "/Users", "application/json", body).await.expect(201);
    let body = serde_json::to_vec(&user_body("cy@example.org", json!({}))).expect("json");
    let r = s
        .raw(Method::POST, "/Users", "application/scim+json; charset=utf-8", body)
        .await
        .expect(201);
    assert_scim_json(&r, "201 with charset");
}

#[tokio::test]
async fn endpoint_names_are_matched_whatever_their_case() {
    // Microsoft's SCIM Validator and some IdPs' test tooling send `/users`, `/groups`.
    let s = TestServer::start().await;
    let created = s.post("/users", &user_body("lower@example.org", json!(null))).await.expect(201);
    let id = id_of(&created);
    assert_eq!(created.body["meta"]["location"], s.url(&format!("/Users/{id}")));
    let found = s.get("/users?filter=userName%20eq%20%22lower@example.org%22").await.expect(200);
    assert_eq!(found.body["totalResults"], 1);
    s.get(&format!("/USERS/{id}")).await.expect(200);
    let group = s.post("/groups", &group_body("Lower", &[&id])).await.expect(201);
    s.get(&format!("/Groups/{}", id_of(&group))).await.expect(200);
    for path in ["/serviceproviderconfig", "/resourcetypes", "/schemas", "/resourceTypes/User"] {
        s.get(path).await.expect(200);
    }
    s.delete(&format!("/users/{id}")).await.expect(204);
    // Only the endpoint's case: other paths are still unknown.
    s.get("/userz").await.expect(404);
}
