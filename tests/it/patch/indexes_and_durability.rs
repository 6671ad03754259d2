//! What a PATCH leaves behind for later requests: filters see patched values, a rename frees
//! the old name, and the patched state survives a restart.

use super::*;

#[tokio::test]
async fn filters_see_patched_values() {
    let user = ServerWithUser::with("ada@example.org", json!({"externalId": "old-ext"})).await;
    user.patch(json!([
        {"op": "replace", "path": "externalId", "value": "new-ext"},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example"},
        {"op": "replace", "path": "userName", "value": "ada.l@example.org"}
    ]))
    .await;
    let find = |f: &str| format!("/Users?filter={}", entra_encode(f));
    assert_eq!(
        ids(&user.s.get(&find("externalId eq \"new-ext\"")).await.expect(200)),
        [user.id.clone()]
    );
    assert_eq!(user.s.total(&find("externalId eq \"old-ext\"")).await, 0);
    assert_eq!(
        ids(&user
            .s
            .get(&find("emails[type eq \"work\"].value eq \"ada@new.example\""))
            .await
            .expect(200)),
        [user.id.clone()]
    );
    assert_eq!(user.s.total(&find("emails.value eq \"ada@example.org\"")).await, 0);
    assert_eq!(user.s.users_named("ADA.L@example.org").await, 1);
    assert_eq!(user.s.users_named("ada@example.org").await, 0);
}

#[tokio::test]
async fn a_rename_frees_the_old_name() {
    let user = ServerWithUser::new("ada@example.org").await;
    user.patch(json!([{"op": "replace", "path": "userName", "value": "ada2@example.org"}])).await;
    let other = user.s.create_user("ada@example.org").await;
    assert_ne!(other, user.id);
    let g = user.s.create_group("Staff", &[]).await;
    patch_group(&user.s, &g, json!([{"op": "replace", "path": "displayName", "value": "Crew"}]))
        .await;
    user.s.create_group("Staff", &[]).await;
    // And the new names are taken.
    let r = user.s.post("/Users", &user_body("ADA2@example.org", json!({}))).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    let r = user.s.post("/Groups", &json!({"displayName": "crew"})).await.expect(409);
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
