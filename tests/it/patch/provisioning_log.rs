//! The provisioning log after PATCH: accepted and refused patches of users and groups, and
//! a PATCH of an unknown id.

use super::*;

#[tokio::test]
async fn an_accepted_user_patch_is_logged_with_what_changed() {
    let user = ServerWithUser::new("ada@example.org").await;
    user.patch(json!([{"op": "replace", "path": "active", "value": false}])).await;
    let row = &user.s.provisioning_log(1).await[0];
    assert_eq!(row["operation"], "patch", "{row}");
    assert_eq!(row["status"], 200, "{row}");
    assert_eq!(row["resource_type"], "User", "{row}");
    assert_eq!(row["resource_id"], user.id.as_str(), "{row}");
    assert_eq!(row["token"], "test", "{row}");
    let detail = row["detail"].as_str().unwrap_or("").to_lowercase();
    assert!(detail.contains("active") || detail.contains("deactivat"), "{row}");
}

#[tokio::test]
async fn a_refused_user_patch_is_logged_with_its_status() {
    let user = ServerWithUser::new("ada@example.org").await;
    user.refused(json!([{"op": "replace", "path": "active", "value": "maybe"}]), "invalidValue")
        .await;
    let row = &user.s.provisioning_log(1).await[0];
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
