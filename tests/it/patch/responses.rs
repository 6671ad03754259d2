//! What an accepted PATCH answers: 200 with the full user (and `ETag`), 204 for a group,
//! `attributes`/`excludedAttributes` projections, and the accepted content types.

use super::*;

#[tokio::test]
async fn a_user_patch_answers_200_with_the_full_resource_and_etag() {
    let user = ServerWithUser::new("ada@example.org").await;
    let r = user
        .s
        .patch(&upath(&user.id), json!([{"op": "replace", "path": "title", "value": "Lead"}]))
        .await;
    let r = r.expect(200);
    for key in ["schemas", "id", "userName", "name", "emails", "active", "meta", "title"] {
        assert!(r.body.get(key).is_some(), "{key} missing: {}", r.text);
    }
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.body["meta"]["location"], user.s.url(&upath(&user.id)));
    let got = accepted_user(&user.s, &user.id, r).await;
    assert_eq!(got["title"], "Lead");
}

#[tokio::test]
async fn a_user_patch_honours_attributes() {
    let user = ServerWithUser::new("ada@example.org").await;
    let r = user
        .s
        .patch(
            &format!("{}?attributes=userName", upath(&user.id)),
            json!([{"op": "replace", "path": "title", "value": "Lead"}]),
        )
        .await
        .expect(200);
    assert_eq!(r.body["userName"], "ada@example.org");
    assert_eq!(r.body["id"], user.id.as_str());
    for key in ["title", "emails", "name", "active"] {
        assert!(r.body.get(key).is_none(), "{key} not asked for: {}", r.text);
    }
    // The change was stored in full.
    assert_eq!(user.read().await["title"], "Lead");
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
    let user = ServerWithUser::new("ada@example.org").await;
    for (ct, title) in [("application/json", "A"), ("application/scim+json; charset=utf-8", "B")] {
        let body = patch_op(json!([{"op": "replace", "path": "title", "value": title}]));
        let r =
            user.s.raw(Method::PATCH, &upath(&user.id), ct, body.to_string().into_bytes()).await;
        let got = accepted_user(&user.s, &user.id, r).await;
        assert_eq!(got["title"], title, "{ct}");
    }
}
