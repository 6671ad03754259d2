//! Refused PATCHes: each error with its status and `scimType`, and nothing stored (the
//! resource reads back exactly as before).

use super::*;

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
    let user = ServerWithUser::new("ada@example.org").await;
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
        user.refused(ops, "invalidPath").await;
    }
    // `userName` is not a group attribute.
    let g = user.s.create_group("Staff", &[]).await;
    let ops = json!([{"op": "add", "path": "userName", "value": "x"}]);
    refused(&user.s, &gpath(&g), ops, "invalidPath").await;
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
    let user = ServerWithUser::new("ada@example.org").await;
    user.refused(
        json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "title", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "maybe"}
        ]),
        "invalidValue",
    )
    .await;
    user.refused(
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
    let user = ServerWithUser::new("ada@example.org").await;
    let path = upath(&user.id);
    let v1 =
        user.s.get(&path).await.expect(200).headers["etag"].to_str().expect("etag").to_string();
    let r = patch_as(
        &user.s,
        &user.s.token,
        &path,
        json!([{"op": "replace", "path": "title", "value": "first"}]),
        &[("if-match", &v1)],
    )
    .await;
    let got = accepted_user(&user.s, &user.id, r).await;
    assert_eq!(got["title"], "first");

    let before = user.read().await;
    let r = patch_as(
        &user.s,
        &user.s.token,
        &path,
        json!([{"op": "replace", "path": "title", "value": "stale"}]),
        &[("if-match", &v1)],
    )
    .await
    .expect(412);
    assert!(!r.body["detail"].as_str().unwrap_or("").is_empty(), "{}", r.text);
    assert_eq!(user.read().await, before);

    let g = user.s.create_group("Staff", &[]).await;
    let gv = user.s.get(&gpath(&g)).await.expect(200).headers["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    patch_group(&user.s, &g, json!([{"op": "replace", "path": "displayName", "value": "Crew"}]))
        .await;
    let before = user.s.read_group(&g).await;
    patch_as(
        &user.s,
        &user.s.token,
        &gpath(&g),
        json!([{"op": "replace", "path": "displayName", "value": "Stale"}]),
        &[("if-match", &gv)],
    )
    .await
    .expect(412);
    assert_eq!(user.s.read_group(&g).await, before);
}

#[tokio::test]
async fn a_read_only_token_gets_403_and_changes_nothing() {
    let user = ServerWithUser::new("ada@example.org").await;
    let g = user.s.create_group("Staff", &[]).await;
    let ro = user.s.issue_token("ro", TokenScope::ReadOnly, None).await;
    let before_user = user.read().await;
    let before_group = user.s.read_group(&g).await;

    let r = patch_as(
        &user.s,
        &ro,
        &upath(&user.id),
        json!([{"op": "replace", "path": "active", "value": false}]),
        &[],
    )
    .await
    .expect(403);
    assert!(r.body["detail"].as_str().unwrap_or("").contains("read-only"), "{}", r.text);
    patch_as(
        &user.s,
        &ro,
        &gpath(&g),
        json!([{"op": "add", "path": "members", "value": [{"value": user.id}]}]),
        &[],
    )
    .await
    .expect(403);

    assert_eq!(user.read().await, before_user);
    assert_eq!(user.s.read_group(&g).await, before_group);
    let log = user.s.provisioning_log(2).await;
    for row in &log {
        assert_eq!(row["operation"], "patch", "{row}");
        assert_eq!(row["status"], 403, "{row}");
        assert_eq!(row["token"], "ro", "{row}");
    }
}

#[tokio::test]
async fn a_pathless_value_with_an_unknown_key_is_refused() {
    let user = ServerWithUser::new("ada@example.org").await;
    let r = user
        .refused(
            json!([{"op": "replace", "value": {"title": "Lead", "favouriteColour": "teal"}}]),
            "",
        )
        .await;
    assert!(["invalidPath", "invalidValue"].contains(&r.scim_type()), "{}", r.text);
    // `members` is not a user attribute.
    user.refused(
        json!([{"op": "add", "path": "members", "value": [{"value": user.id}]}]),
        "invalidPath",
    )
    .await;
}

#[tokio::test]
async fn a_patch_cannot_escape_allowed_domains() {
    let user = ServerWithUser::on(
        TestServer::start_with("[scim]\nallowed_domains = [\"example.org\"]\n").await,
        "ada@example.org",
    )
    .await;
    for ops in [
        json!([{"op": "replace", "path": "userName", "value": "eve@evil.com"}]),
        json!([{"op": "replace", "value": {"userName": "eve@evil.com"}}]),
        json!([{"op": "add", "path": "emails", "value": [{"value": "ada@gmail.com", "type": "home"}]}]),
        json!([{"op": "add", "path": "emails[type eq \"home\"].value", "value": "ada@gmail.com"}]),
    ] {
        let r = user.refused(ops, "invalidValue").await;
        assert!(r.body["detail"].as_str().unwrap_or("").contains("example.org"), "{}", r.text);
    }
    assert_eq!(user.s.users_named("eve@evil.com").await, 0);
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
