//! Roles from `userType` (the built-in mapping, a custom one, and the two switches), roles sent
//! by the IdP, re-derivation on PUT, and the `allowed_domains` rule.

use serde_json::{Value, json};

use crate::common::{TestServer, derived, user_body};

/// Creates a user with `extra` attributes, returns the 201 body, and checks the stored user
/// reads back with the same roles.
async fn create(s: &TestServer, user_name: &str, extra: Value) -> Value {
    let created = s.post("/Users", &user_body(user_name, extra)).await.expect(201).body;
    let id = created["id"].as_str().expect("id");
    let read = s.read_user(id).await;
    assert_eq!(read["roles"], created["roles"], "stored roles differ from the 201's");
    created
}

#[tokio::test]
async fn user_type_gives_the_mapped_roles() {
    let s = TestServer::start().await;
    let cases = [
        ("employee", vec!["member"]),
        ("operations", vec!["member", "operations"]),
        ("manager", vec!["member", "manager"]),
        ("Manager", vec!["member", "manager"]),
        ("OPERATIONS", vec!["member", "operations"]),
    ];
    for (i, (user_type, roles)) in cases.iter().enumerate() {
        let u = create(&s, &format!("u{i}@example.org"), json!({"userType": user_type})).await;
        assert_eq!(u["roles"], derived(roles), "userType {user_type}");
        // The userType itself is kept as sent.
        assert_eq!(u["userType"], *user_type);
    }
}

#[tokio::test]
async fn no_user_type_gives_the_default_roles() {
    let s = TestServer::start().await;
    let u = create(&s, "plain@example.org", json!({})).await;
    assert_eq!(u["roles"], derived(&["member"]));
    // An empty or null userType is no userType (Entra sends both).
    let u = create(&s, "empty@example.org", json!({"userType": ""})).await;
    assert_eq!(u["roles"], derived(&["member"]));
    let u = create(&s, "null@example.org", json!({"userType": null})).await;
    assert_eq!(u["roles"], derived(&["member"]));
}

#[tokio::test]
async fn idp_sent_roles_are_kept_as_sent_and_win_over_user_type() {
    let s = TestServer::start().await;
    let sent = json!([{"value": "operations", "primary": true}, {"value": "Manager"}]);
    let u = create(&s, "ops@example.org", json!({"userType": "employee", "roles": sent})).await;
    assert_eq!(u["roles"], sent);
    // Not marked derived, so a later GET-then-PUT keeps them as the IdP's.
    let id = u["id"].as_str().expect("id");
    let mut echoed = u.clone();
    echoed["title"] = json!("Lead");
    let r = s.put(&format!("/Users/{id}"), &echoed).await.expect(200);
    assert_eq!(r.body["roles"], sent);
}

#[tokio::test]
async fn an_unknown_user_type_is_refused_naming_the_accepted_ones() {
    let s = TestServer::start().await;
    let r = s
        .post("/Users", &user_body("c@example.org", json!({"userType": "contractor"})))
        .await
        .expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(detail.contains("contractor"), "{detail}");
    assert!(detail.contains("employee, manager, operations"), "{detail}");
    assert_eq!(s.users_named("c@example.org").await, 0);
    assert_eq!(s.total("/Users").await, 0);
}

#[tokio::test]
async fn unknown_user_type_default_switch_gives_the_default_roles() {
    let s = TestServer::start_with("[roles]\nunknown_user_type = \"default\"\n").await;
    let u = create(&s, "c@example.org", json!({"userType": "contractor"})).await;
    assert_eq!(u["roles"], derived(&["member"]));
    assert_eq!(u["userType"], "contractor");
    // Mapped userTypes still map.
    let u = create(&s, "m@example.org", json!({"userType": "manager"})).await;
    assert_eq!(u["roles"], derived(&["member", "manager"]));
}

#[tokio::test]
async fn an_unknown_idp_role_is_refused_naming_the_known_roles() {
    let s = TestServer::start().await;
    let body =
        user_body("r@example.org", json!({"roles": [{"value": "member"}, {"value": "root"}]}));
    let r = s.post("/Users", &body).await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(detail.contains("'root'"), "{detail}");
    assert!(detail.contains("manager, member, operations"), "{detail}");
    assert_eq!(s.users_named("r@example.org").await, 0);
}

#[tokio::test]
async fn unknown_role_accept_switch_stores_the_role_as_sent() {
    let s = TestServer::start_with("[roles]\nunknown_role = \"accept\"\n").await;
    let sent = json!([{"value": "root", "display": "Superuser"}]);
    let u = create(&s, "r@example.org", json!({"userType": "employee", "roles": sent})).await;
    assert_eq!(u["roles"], sent);
}

#[tokio::test]
async fn a_put_changing_user_type_derives_the_roles_again() {
    let s = TestServer::start().await;
    let u = create(&s, "p@example.org", json!({"userType": "employee"})).await;
    let id = u["id"].as_str().expect("id");
    let r = s
        .put(&format!("/Users/{id}"), &user_body("p@example.org", json!({"userType": "manager"})))
        .await
        .expect(200);
    assert_eq!(r.body["roles"], derived(&["member", "manager"]));
    let read = s.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(read.body["roles"], derived(&["member", "manager"]));
    // Dropping the userType falls back to the default roles.
    let r =
        s.put(&format!("/Users/{id}"), &user_body("p@example.org", json!({}))).await.expect(200);
    assert_eq!(r.body["roles"], derived(&["member"]));
}

#[tokio::test]
async fn an_okta_get_then_put_echoing_derived_roles_keeps_them_derived() {
    let s = TestServer::start().await;
    let u = create(&s, "okta@example.org", json!({"userType": "operations"})).await;
    let id = u["id"].as_str().expect("id");
    let path = format!("/Users/{id}");

    // Okta GETs the user and PUTs it back whole, roles included.
    let read = s.get(&path).await.expect(200).body;
    let mut echoed = read.clone();
    echoed["title"] = json!("Engineer");
    let r = s.put(&path, &echoed).await.expect(200);
    assert_eq!(r.body["roles"], derived(&["member", "operations"]));
    assert_eq!(r.body["title"], "Engineer");

    // Echoed derived roles do not pin the old mapping: a new userType derives anew.
    let mut echoed = s.get(&path).await.expect(200).body;
    echoed["userType"] = json!("manager");
    let r = s.put(&path, &echoed).await.expect(200);
    assert_eq!(r.body["roles"], derived(&["member", "manager"]));
    let read = s.get(&path).await.expect(200).body;
    assert_eq!(read["roles"], derived(&["member", "manager"]));
}

#[tokio::test]
async fn a_custom_mapping_replaces_the_built_in_one() {
    let s = TestServer::start_with(
        "[roles]\ndefault = [\"viewer\"]\n[roles.user_types]\nstaff = [\"viewer\", \"editor\"]\n",
    )
    .await;
    let u = create(&s, "staff@example.org", json!({"userType": "Staff"})).await;
    assert_eq!(u["roles"], derived(&["viewer", "editor"]));
    let u = create(&s, "none@example.org", json!({})).await;
    assert_eq!(u["roles"], derived(&["viewer"]));

    // The built-in userTypes are gone, and the error names the configured ones.
    let r = s
        .post("/Users", &user_body("e@example.org", json!({"userType": "employee"})))
        .await
        .expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(detail.contains("staff"), "{detail}");
    assert!(!detail.contains("manager"), "{detail}");
    assert_eq!(s.users_named("e@example.org").await, 0);

    // Known roles come from the custom mapping too.
    let r = s
        .post("/Users", &user_body("m@example.org", json!({"roles": [{"value": "member"}]})))
        .await
        .expect(400);
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(detail.contains("editor, viewer"), "{detail}");
    let sent = json!([{"value": "editor"}]);
    let u = create(&s, "ed@example.org", json!({"roles": sent})).await;
    assert_eq!(u["roles"], sent);
}

const ALLOWED: &str = "[scim]\nallowed_domains = [\"example.org\"]\n";

#[tokio::test]
async fn allowed_domains_accepts_users_in_the_domain_in_any_case() {
    let s = TestServer::start_with(ALLOWED).await;
    s.create_user("ada@example.org").await;
    s.create_user("Bob@EXAMPLE.ORG").await;
    let u = create(&s, "cy@Example.Org", json!({})).await;
    assert_eq!(u["userName"], "cy@Example.Org");
    assert_eq!(s.total("/Users").await, 3);
}

#[tokio::test]
async fn allowed_domains_refuses_a_user_name_outside_the_domain() {
    let s = TestServer::start_with(ALLOWED).await;
    for user_name in ["eve@evil.com", "eve@sub.example.org", "eve@example.org.evil.com", "eve"] {
        let body = json!({"userName": user_name, "name": {"givenName": "Eve"}});
        let r = s.post("/Users", &body).await.expect(400);
        assert_eq!(r.scim_type(), "invalidValue", "{user_name}");
        let detail = r.body["detail"].as_str().expect("detail");
        assert!(detail.contains("example.org"), "{user_name}: {detail}");
        assert!(detail.contains(user_name), "{user_name}: {detail}");
        assert_eq!(s.users_named(user_name).await, 0, "{user_name}");
    }
    assert_eq!(s.total("/Users").await, 0);
}

#[tokio::test]
async fn allowed_domains_refuses_an_email_outside_the_domain() {
    let s = TestServer::start_with(ALLOWED).await;
    let body = user_body(
        "ada@example.org",
        json!({"emails": [
            {"value": "ada@example.org", "type": "work", "primary": true},
            {"value": "ada@gmail.com", "type": "home"}
        ]}),
    );
    let r = s.post("/Users", &body).await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(detail.contains("ada@gmail.com"), "{detail}");
    assert!(detail.contains("example.org"), "{detail}");
    assert_eq!(s.users_named("ada@example.org").await, 0);
}

#[tokio::test]
async fn a_put_moving_the_user_name_outside_the_domain_is_refused() {
    let s = TestServer::start_with(ALLOWED).await;
    let id = s.create_user("ada@example.org").await;
    let path = format!("/Users/{id}");
    let before = s.get(&path).await.expect(200).body;

    let moved = user_body("ada@elsewhere.net", json!({"emails": [{"value": "ada@example.org"}]}));
    let r = s.put(&path, &moved).await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    assert!(r.body["detail"].as_str().unwrap_or("").contains("example.org"), "{}", r.text);

    let after = s.get(&path).await.expect(200).body;
    assert_eq!(after, before, "the stored user changed");
    assert_eq!(s.users_named("ada@elsewhere.net").await, 0);
    assert_eq!(s.users_named("ada@example.org").await, 1);
}
