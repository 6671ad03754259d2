//! Group membership by PATCH: no-op adds and removes, remove-all, replace, nested groups, a
//! user's `groups` following the changes, and member ids in any case.

use super::*;

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
