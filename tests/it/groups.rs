//! `/Groups`: creation with and without members (users and nested groups), how `members`
//! is rendered and excluded, `displayName` uniqueness, member validation, PUT of the member
//! set, and what deleting a user or a group does to memberships.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{
    GROUP, TestServer, entra_encode, group_body, group_ids, id_of, member_ids, resources, set,
    user_body,
};

#[tokio::test]
async fn create_an_empty_group() {
    let s = TestServer::start().await;
    let r =
        s.post("/Groups", &json!({"schemas": [GROUP], "displayName": "Readers"})).await.expect(201);
    let id = id_of(&r);
    let location = s.url(&format!("/Groups/{id}"));
    assert_eq!(r.headers["location"], location.as_str());
    assert_eq!(r.headers["etag"], r.body["meta"]["version"].as_str().expect("version"));
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert_eq!(r.body["meta"]["location"], location);
    assert_eq!(r.body["schemas"], json!([GROUP]));
    assert_eq!(r.body["displayName"], "Readers");
    assert_eq!(r.body["members"], json!([]));

    let got = s.get(&format!("/Groups/{id}")).await.expect(200);
    assert_eq!(got.body, r.body);
    let list = s.get("/Groups").await.expect(200);
    assert_eq!(list.body["totalResults"], 1);
    assert_eq!(resources(&list)[0]["displayName"], "Readers");
}

#[tokio::test]
async fn members_are_rendered_with_value_ref_and_type() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let bob_body = user_body("bob@example.org", json!({"displayName": "Bob Builder"}));
    let bob = id_of(&s.post("/Users", &bob_body).await.expect(201));
    let inner = s.create_group("Inner", &[]).await;

    let r = s.post("/Groups", &group_body("Outer", &[&ada, &bob, &inner])).await.expect(201);
    let outer = id_of(&r);
    let got = s.get(&format!("/Groups/{outer}")).await.expect(200);
    for body in [&r.body, &got.body] {
        let members = body["members"].as_array().expect("members");
        assert_eq!(members.len(), 3, "{body}");
        let find = |id: &str| {
            members.iter().find(|m| m["value"] == id).unwrap_or_else(|| panic!("{id} in {body}"))
        };
        // Exactly these keys: no `display` (it would cost a read per member).
        let m = find(&ada);
        assert_eq!(
            *m,
            json!({"value": ada, "$ref": s.url(&format!("/Users/{ada}")), "type": "User"})
        );
        assert_eq!(find(&bob)["type"], "User");
        let m = find(&inner);
        assert_eq!(
            *m,
            json!({"value": inner, "$ref": s.url(&format!("/Groups/{inner}")), "type": "Group"})
        );
    }

    // The other side of each membership.
    let user = s.get(&format!("/Users/{ada}")).await.expect(200);
    assert_eq!(group_ids(&user.body), set(&[&outer]));
    let inner_got = s.get(&format!("/Groups/{inner}")).await.expect(200);
    assert_eq!(member_ids(&inner_got.body), BTreeSet::new());
}

#[tokio::test]
async fn excluded_attributes_members_drops_the_key_on_get_and_list() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let id = s.create_group("Engineering", &[&ada]).await;
    s.create_group("Other", &[&ada]).await;

    let r = s.get(&format!("/Groups/{id}?excludedAttributes=members")).await.expect(200);
    assert!(r.body.get("members").is_none(), "{}", r.text);
    assert_eq!(r.body["displayName"], "Engineering");
    assert_eq!(r.body["id"], id);
    assert!(r.headers.contains_key("etag"));

    let filter = entra_encode("displayName eq \"Engineering\"");
    let r = s.get(&format!("/Groups?excludedAttributes=members&filter={filter}")).await.expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let found = &resources(&r)[0];
    assert_eq!(found["id"], id);
    assert!(found.get("members").is_none(), "{}", r.text);

    let r = s.get("/Groups?excludedAttributes=members").await.expect(200);
    assert_eq!(r.body["totalResults"], 2);
    assert!(resources(&r).iter().all(|g| g.get("members").is_none()), "{}", r.text);

    // Without the parameter the members are there.
    let r = s.get(&format!("/Groups?filter={filter}")).await.expect(200);
    assert_eq!(member_ids(&resources(&r)[0]), set(&[&ada]));
}

#[tokio::test]
async fn display_name_is_unique_case_insensitively() {
    let s = TestServer::start().await;
    let eng = s.create_group("Engineering", &[]).await;
    let before = s.get(&format!("/Groups/{eng}")).await.expect(200);
    for name in ["Engineering", "ENGINEERING", "engineering"] {
        let r = s.post("/Groups", &group_body(name, &[])).await.expect(409);
        assert_eq!(r.scim_type(), "uniqueness", "{}", r.text);
    }
    assert_eq!(s.total("/Groups").await, 1);

    let ops = s.create_group("Operations", &[]).await;
    let r = s.put(&format!("/Groups/{ops}"), &group_body("engineering", &[])).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness", "{}", r.text);
    assert_eq!(s.read_group(&ops).await["displayName"], "Operations");
    assert_eq!(s.read_group(&eng).await, before.body);
}

#[tokio::test]
async fn an_unknown_member_is_400_and_nothing_is_stored() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let missing = "0f8fad5b-d9cb-469f-a165-70867728950e";
    for bad in [missing, "not-an-id"] {
        let r = s.post("/Groups", &group_body("Ghosts", &[&ada, bad])).await.expect(400);
        assert_eq!(r.scim_type(), "invalidValue", "{}", r.text);
    }
    assert_eq!(s.total("/Groups").await, 0);
    let f = entra_encode("displayName eq \"Ghosts\"");
    assert_eq!(s.total(&format!("/Groups?filter={f}")).await, 0);
    assert!(group_ids(&s.read_user(&ada).await).is_empty());

    // A PUT naming an unknown member leaves the group as it was.
    let bob = s.create_user("bob@example.org").await;
    let id = s.create_group("Real", &[&ada]).await;
    let before = s.get(&format!("/Groups/{id}")).await.expect(200);
    let r = s.put(&format!("/Groups/{id}"), &group_body("Renamed", &[&bob, missing])).await;
    let r = r.expect(400);
    assert_eq!(r.scim_type(), "invalidValue", "{}", r.text);
    assert_eq!(s.read_group(&id).await, before.body);
    assert!(group_ids(&s.read_user(&bob).await).is_empty());
}

#[tokio::test]
async fn put_replaces_the_member_set() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let u3 = s.create_user("u3@example.org").await;
    let id = s.create_group("Team", &[&u1, &u2]).await;

    let r = s.put(&format!("/Groups/{id}"), &group_body("Team", &[&u2, &u3])).await.expect(200);
    assert_eq!(member_ids(&r.body), set(&[&u2, &u3]));
    let got = s.get(&format!("/Groups/{id}")).await.expect(200);
    assert_eq!(member_ids(&got.body), set(&[&u2, &u3]));
    assert!(group_ids(&s.read_user(&u1).await).is_empty());
    assert_eq!(group_ids(&s.read_user(&u3).await), set(&[&id]));

    // A PUT without members empties the group.
    let r = s.put(&format!("/Groups/{id}"), &json!({"displayName": "Team"})).await.expect(200);
    assert_eq!(member_ids(&r.body), BTreeSet::new());
    assert_eq!(member_ids(&s.read_group(&id).await), BTreeSet::new());
    assert!(group_ids(&s.read_user(&u2).await).is_empty());
}

#[tokio::test]
async fn put_and_delete_of_an_unknown_group_are_404() {
    let s = TestServer::start().await;
    let missing = "0f8fad5b-d9cb-469f-a165-70867728950e";
    s.put(&format!("/Groups/{missing}"), &group_body("X", &[])).await.expect(404);
    s.delete(&format!("/Groups/{missing}")).await.expect(404);
    let id = s.create_group("X", &[]).await;
    s.delete(&format!("/Groups/{id}")).await.expect(204);
    s.get(&format!("/Groups/{id}")).await.expect(404);
    s.delete(&format!("/Groups/{id}")).await.expect(404);
    assert_eq!(s.total("/Groups").await, 0);
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_its_groups() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let g = s.create_group("Team", &[&u1, &u2]).await;
    let g2 = s.create_group("Solo", &[&u1]).await;

    s.delete(&format!("/Users/{u1}")).await.expect(204);
    assert_eq!(member_ids(&s.read_group(&g).await), set(&[&u2]));
    assert_eq!(member_ids(&s.read_group(&g2).await), BTreeSet::new());
    let f = entra_encode(&format!("members.value eq \"{u1}\""));
    assert_eq!(s.total(&format!("/Groups?filter={f}")).await, 0);
    let list = s.get("/Groups").await.expect(200);
    assert!(!list.text.contains(&u1), "{}", list.text);
}

#[tokio::test]
async fn deleting_a_group_removes_it_from_users_and_parent_groups() {
    let s = TestServer::start().await;
    let u = s.create_user("u@example.org").await;
    let g1 = s.create_group("One", &[&u]).await;
    let g2 = s.create_group("Two", &[&u]).await;
    let parent = s.create_group("Parent", &[&g1, &u]).await;
    assert_eq!(group_ids(&s.read_user(&u).await), set(&[&g1, &g2, &parent]));

    s.delete(&format!("/Groups/{g1}")).await.expect(204);
    assert_eq!(group_ids(&s.read_user(&u).await), set(&[&g2, &parent]));
    assert_eq!(member_ids(&s.read_group(&parent).await), set(&[&u]));
    // The user itself is untouched.
    s.get(&format!("/Users/{u}")).await.expect(200);
}

#[tokio::test]
async fn a_group_read_and_put_back_unchanged_keeps_its_members() {
    let s = TestServer::start().await;
    let u = s.create_user("u@example.org").await;
    let inner = s.create_group("Inner", &[]).await;
    let id = s
        .post("/Groups", &json!({"displayName": "Outer", "externalId": "Ext-1", "members": [{"value": u}, {"value": inner}]}))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .expect("id")
        .to_string();
    let before = s.read_group(&id).await;
    // Okta AIW: the whole group, with id, meta and members carrying $ref, type and display.
    let r = s.put(&format!("/Groups/{id}"), &before).await.expect(200);
    let after = s.read_group(&id).await;
    assert_eq!(r.body, after);
    assert_eq!(after["members"].as_array().map(Vec::len), Some(2));
    let members_sorted = |v: &Value| {
        let mut m = v["members"].as_array().expect("members").clone();
        m.sort_by_key(|x| x["value"].as_str().unwrap_or("").to_string());
        m
    };
    assert_eq!(members_sorted(&after), members_sorted(&before));
    assert_eq!(after["externalId"], "Ext-1");
    assert_eq!(after["displayName"], "Outer");
}

#[tokio::test]
async fn group_rename_by_put_frees_the_old_name() {
    let s = TestServer::start().await;
    let id = s.create_group("Old Name", &[]).await;
    s.put(&format!("/Groups/{id}"), &group_body("New Name", &[])).await.expect(200);
    let find = |name: &str| {
        format!("/Groups?filter={}", entra_encode(&format!("displayName eq \"{name}\"")))
    };
    assert_eq!(s.total(&find("old name")).await, 0);
    assert_eq!(s.total(&find("new name")).await, 1);
    s.create_group("Old Name", &[]).await;
    assert_eq!(
        s.post("/Groups", &group_body("NEW NAME", &[])).await.expect(409).scim_type(),
        "uniqueness"
    );
    assert_eq!(s.total("/Groups").await, 2);
}
