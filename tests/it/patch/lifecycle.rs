//! A user's lifecycle by PATCH: deactivate and reactivate, `userType` re-deriving roles,
//! IdP-set roles, the validator switches, and deleting a user that others point at.

use super::*;

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
    let user = ServerWithUser::with("ada@example.org", json!({"userType": "employee"})).await;
    assert_eq!(user.read().await["roles"], derived(&["member"]));
    let got =
        user.patch(json!([{"op": "replace", "path": "userType", "value": "operations"}])).await;
    assert_eq!(got["roles"], derived(&["member", "operations"]));
    let got = user.patch(json!([{"op": "replace", "value": {"userType": "Manager"}}])).await;
    assert_eq!(got["roles"], derived(&["member", "manager"]));
    assert_eq!(got["userType"], "Manager");
    let got = user.patch(json!([{"op": "remove", "path": "userType"}])).await;
    assert_eq!(got["roles"], derived(&["member"]));
    assert!(got.get("userType").is_none(), "{got}");
    let got = user.patch(json!([{"op": "add", "path": "userType", "value": "employee"}])).await;
    assert_eq!(got["roles"], derived(&["member"]));
}

#[tokio::test]
async fn an_unknown_user_type_or_role_by_patch_is_refused() {
    let user = ServerWithUser::with("ada@example.org", json!({"userType": "employee"})).await;
    let r = user
        .refused(
            json!([{"op": "replace", "path": "userType", "value": "contractor"}]),
            "invalidValue",
        )
        .await;
    assert!(r.body["detail"].as_str().unwrap_or("").contains("contractor"), "{}", r.text);
    let r = user
        .refused(
            json!([{"op": "add", "path": "roles", "value": [{"value": "root"}]}]),
            "invalidValue",
        )
        .await;
    assert!(r.body["detail"].as_str().unwrap_or("").contains("root"), "{}", r.text);
}

#[tokio::test]
async fn idp_set_roles_survive_a_user_type_change() {
    let user = ServerWithUser::with("ada@example.org", json!({"userType": "employee"})).await;
    let got = user
        .patch(json!([{"op": "add", "path": "roles", "value": [{"value": "operations", "primary": true}]}]))
        .await;
    assert_eq!(idp_roles(&got), [json!({"value": "operations", "primary": true})], "{got}");
    let got = user.patch(json!([{"op": "replace", "path": "userType", "value": "manager"}])).await;
    assert_eq!(got["userType"], "manager");
    assert_eq!(idp_roles(&got), [json!({"value": "operations", "primary": true})], "{got}");
    // Removing the IdP's roles falls back to the derived ones.
    let got = user.patch(json!([{"op": "remove", "path": "roles"}])).await;
    assert_eq!(got["roles"], derived(&["member", "manager"]));
}

#[tokio::test]
async fn unknown_user_types_and_roles_pass_with_the_validator_switches() {
    let user = ServerWithUser::on(
        TestServer::start_with(
            "[roles]\nunknown_user_type = \"default\"\nunknown_role = \"accept\"\n",
        )
        .await,
        "ada@example.org",
    )
    .await;
    let got = user
        .patch(json!([
            {"op": "add", "path": "userType", "value": "XQZWV"},
            {"op": "add", "path": "roles[primary eq \"True\"].value", "value": "WDEIISGWWQBE"}
        ]))
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
