//! Okta (OKTA-20): an OIN catalogue app (PUT for the profile, PATCH for (de)activation,
//! password and groups) and an App Integration Wizard app (PUT for everything), each a whole
//! lifecycle with the stored state checked after every step.

use std::collections::BTreeSet;

use super::*;
use crate::payloads::okta_create_user;

/// What scimd stores for [`okta_create_user`]: no password, no groups, the default role.
fn okta_stored_user(id: &str, user_name: &str, external_id: &str) -> Value {
    json!({"schemas": [CORE_USER], "id": id,
     "userName": user_name,
     "name": {"givenName": "Test", "familyName": "User"},
     "emails": [{"primary": true, "value": user_name, "type": "work"}],
     "displayName": "Test User", "locale": "en-US",
     "externalId": external_id,
     "active": true,
     "roles": derived(&["member"])})
}

fn okta_check_user(user_name: &str) -> String {
    format!(
        "/Users?filter=userName%20eq%20%22{}%22&startIndex=1&count=100",
        user_name.replace('@', "%40")
    )
}

fn okta_check_group(name: &str) -> String {
    format!(
        "/Groups?filter=displayName%20eq%20%22{}%22&startIndex=1&count=100",
        name.replace(' ', "%20")
    )
}

// ---------------------------------------------------------------------------------------------
// Okta, OIN catalogue app: PUT for profile, PATCH for (de)activation, password and groups.
// ---------------------------------------------------------------------------------------------

/// §2.1 "Test API Credentials".
async fn okta_credentials_test(idp: &Idp<'_>, total: u64) {
    let r = idp.get("/Users?startIndex=1&count=2").await.expect(200);
    assert_eq!(r.body["schemas"], json!([LIST]));
    assert_eq!(r.body["totalResults"], total);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["itemsPerPage"], total.min(2));
    assert_eq!(resources(&r).len() as u64, total.min(2));
}

/// §2.2 create with the existence check before and after; returns the id and stored user.
async fn okta_create(idp: &Idp<'_>, user_name: &str, external_id: &str) -> (String, Value) {
    assert_eq!(idp.get(&okta_check_user(user_name)).await.expect(200).body, empty_list());
    let r = idp.post("/Users", &okta_create_user(user_name, external_id)).await.expect(201);
    assert!(!r.text.contains("1mz050nq") && r.body.get("password").is_none(), "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();
    let got = idp.user(&id).await;
    assert_state(&got, &okta_stored_user(&id, user_name, external_id), "Okta create");
    assert!(!got.to_string().contains("1mz050nq"), "{got}");
    let r = idp.get(&okta_check_user(user_name)).await.expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    assert_eq!(r.body["startIndex"], 1);
    (id, got)
}

/// §2.3 profile update: GET, change, PUT back the whole object (id, meta, groups included).
async fn okta_profile_put(idp: &Idp<'_>, id: &str, want: &mut Value) {
    let mut user = idp.user(id).await;
    user["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
    user["emails"][0]["display"] = user["userName"].clone();
    user["groups"] = json!([]);
    let r = idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["name"] = user["name"].clone();
    want["emails"][0]["display"] = user["userName"].clone();
    assert_state(&r.body, want, "PUT response");
    assert_state(&idp.user(id).await, want, "profile PUT");
    assert_log(&idp.s.provisioning_log(1).await[0], "replace", "User", Some(id), 200);
}

/// A profile PUT of a user that is in `group`: first the user exactly as read (with its
/// `groups`), then §2.3's literal shape with `"groups": []`. Both are 200 and neither changes
/// the membership.
async fn okta_put_while_member(idp: &Idp<'_>, id: &str, want: &mut Value, group: &str) {
    let mut user = idp.user(id).await;
    assert_eq!(group_ids(&user), set(&[group]));
    user["displayName"] = json!("Test User (member)");
    let r = idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["displayName"] = json!("Test User (member)");
    assert_state(&r.body, want, "PUT with groups echoed");
    assert_state(&idp.user(id).await, want, "PUT with groups echoed");
    user["groups"] = json!([]);
    user["displayName"] = json!("Test User");
    let r = idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["displayName"] = json!("Test User");
    assert_state(&r.body, want, "PUT with groups: []");
    assert_state(&idp.user(id).await, want, "PUT with groups: []");
    assert!(member_ids(&idp.group(group).await).contains(id));
}

/// §2.2 the retried POST after a timeout: 409, logged, the user unchanged.
async fn okta_retried_create(idp: &Idp<'_>, id: &str, user_name: &str, external_id: &str) {
    let before = idp.user(id).await;
    let r = idp.post("/Users", &okta_create_user(user_name, external_id)).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    assert_eq!(idp.user(id).await, before, "the retried POST changed the user");
    assert_logged_duplicate(idp.s, "User", user_name).await;
}

/// The user both Okta scenarios provision and change.
const OKTA_USER: &str = "test.user@okta.local";

/// How both Okta apps start: the credentials test on an empty server, [`OKTA_USER`] and
/// other.user@okta.local created the Okta way, the credentials test again (two users), and
/// the profile push of [`OKTA_USER`]. Returns each user's id and expected stored state.
async fn okta_users(idp: &Idp<'_>) -> ((String, Value), (String, Value)) {
    okta_credentials_test(idp, 0).await;
    let (id, mut want) = okta_create(idp, OKTA_USER, "00ujl29u0le5T6Aj10h7").await;
    let other = okta_create(idp, "other.user@okta.local", "00ujl29u0le5T6Aj10h8").await;
    okta_credentials_test(idp, 2).await;
    okta_profile_put(idp, &id, &mut want).await;
    ((id, want), other)
}

#[tokio::test]
async fn okta_oin() {
    let s = TestServer::start().await;
    let idp = Idp::with_charset(&s);
    let user_name = OKTA_USER;
    let ((id, mut want), (other, other_user)) = okta_users(&idp).await;

    // §2.4 Deactivate: a pathless replace; every other attribute kept; still found.
    let got = idp.patch_user(&id, json!([{"op":"replace","value":{"active":false}}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "deactivated");
    assert_logged_deactivation(&s, "patch", &id).await;
    let r = idp.get(&okta_check_user(user_name)).await.expect(200);
    assert_eq!(resources(&r), [got.clone()]);
    // §2.5 Re-assignment: the existence check finds the inactive user, Okta reactivates it.
    let got = idp.patch_user(&id, json!([{"op":"replace","value":{"active":true}}])).await;
    want["active"] = json!(true);
    assert_state(&got, &want, "reactivated");

    okta_retried_create(&idp, &id, user_name, "00ujl29u0le5T6Aj10h7").await;

    // §2.9 Password sync: accepted, nothing stored, never returned.
    let r = idp
        .patch(
            &format!("/Users/{id}"),
            json!([{"op":"replace","value":{"password":"t0pS3cret!Pw"}}]),
        )
        .await
        .expect(200);
    assert!(!r.text.contains("t0pS3cret") && r.body.get("password").is_none(), "{}", r.text);
    let got = idp.user(&id).await;
    assert_state(&got, &want, "password sync");
    assert!(!got.to_string().contains("t0pS3cret"), "{got}");
    assert_log(&s.provisioning_log(1).await[0], "patch", "User", Some(&id), 200);

    // §2.8 Group Push: existence check, create with members:[], GET.
    let name = "Test SCIMv2";
    assert_eq!(idp.get(&okta_check_group(name)).await.expect(200).body, empty_list());
    let body = json!({"schemas":[GROUP],"displayName":name,"members":[]});
    let (gid, created) = idp.create("/Groups", &body).await;
    let mut want_group = json!({"schemas": [GROUP], "id": gid, "displayName": name, "members": []});
    assert_state(&created, &want_group, "group POST response");
    assert_state(&idp.group(&gid).await, &want_group, "group created");
    assert_eq!(ids(&idp.get(&okta_check_group(name)).await.expect(200)), [gid.clone()]);

    // Rename: pathless, carrying the read-only id.
    let renamed = "Test SCIMv2 Renamed";
    let got = idp
        .patch_group(&gid, json!([{"op":"replace","value":{"id":gid,"displayName":renamed}}]))
        .await;
    want_group["displayName"] = json!(renamed);
    assert_state(&got, &want_group, "group renamed");
    assert!(resources(&idp.get(&okta_check_group(name)).await.expect(200)).is_empty());

    // First membership: the rename (same name) sent with every membership update, then add.
    let rename = json!({"op":"replace","value":{"id":gid,"displayName":renamed}});
    let got = idp
        .patch_group(
            &gid,
            json!([rename, {"op":"add","path":"members","value":[{"value":id,"display":user_name}]}]),
        )
        .await;
    want_group["members"] = json!([user_member(&s, &id)]);
    assert_state(&got, &want_group, "member added");
    want["groups"] = json!([membership(&s, &gid, renamed)]);
    assert_state(&idp.user(&id).await, &want, "user in the group");

    // The removal filter and an add in one request.
    let got = idp
        .patch_group(
            &gid,
            json!([
                {"op":"remove","path":format!("members[value eq \"{id}\"]")},
                {"op":"add","path":"members","value":[{"value":other,"display":"other.user@okta.local"}]}
            ]),
        )
        .await;
    want_group["members"] = json!([user_member(&s, &other)]);
    assert_state(&got, &want_group, "member swapped");
    let row = &s.provisioning_log(1).await[0];
    assert_log(row, "patch", "Group", Some(&gid), 204);
    assert!(detail(row).contains("member"), "{row}");
    remove_key(&mut want, "groups");
    assert_state(&idp.user(&id).await, &want, "user out of the group");

    // A full push: replace members.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"replace","path":"members","value":[
                {"value":id,"display":user_name},{"value":other,"display":"other.user@okta.local"}]}]),
        )
        .await;
    want_group["members"] =
        json!(want_members(vec![user_member(&s, &id), user_member(&s, &other)]));
    assert_eq!(json!(members_sorted(&got)), want_group["members"]);
    want["groups"] = json!([membership(&s, &gid, renamed)]);
    assert_state(&idp.user(&id).await, &want, "full push");

    // A profile PUT while the user is a member: Okta round-trips `groups` as read; the
    // membership is the group's business and stays.
    okta_put_while_member(&idp, &id, &mut want, &gid).await;

    // §2.8 step 7: unlink with delete.
    idp.delete_gone(&format!("/Groups/{gid}")).await;
    remove_key(&mut want, "groups");
    assert_state(&idp.user(&id).await, &want, "group deleted");
    assert_state(&idp.user(&other).await, &other_user, "other user after the group");
    // Okta never deletes users: both are still there.
    assert_eq!(s.total("/Users").await, 2);
}

// ---------------------------------------------------------------------------------------------
// Okta, App Integration Wizard app: PUT for everything.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn okta_aiw() {
    let s = TestServer::start().await;
    let idp = Idp::with_charset(&s);
    let user_name = OKTA_USER;
    let ((id, mut want), (other, _)) = okta_users(&idp).await;

    // §2.4 AIW deactivate: PUT of the whole user read back, with active false.
    let mut user = idp.user(&id).await;
    user["active"] = json!(false);
    let r = idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["active"] = json!(false);
    assert_state(&r.body, &want, "deactivate PUT response");
    let got = idp.user(&id).await;
    assert_state(&got, &want, "deactivated");
    assert_logged_deactivation(&s, "replace", &id).await;
    let r = idp.get(&okta_check_user(user_name)).await.expect(200);
    assert_eq!(resources(&r), [got.clone()]);
    assert_eq!(
        ids(&idp
            .get(&format!("/Users?filter={}", entra_encode("active eq false")))
            .await
            .expect(200)),
        [id.clone()]
    );
    // §2.5 Reactivate the same way.
    user["active"] = json!(true);
    idp.put(&format!("/Users/{id}"), &user).await.expect(200);
    want["active"] = json!(true);
    assert_state(&idp.user(&id).await, &want, "reactivated");

    okta_retried_create(&idp, &id, user_name, "00ujl29u0le5T6Aj10h7").await;

    // §2.8 Group push, AIW: POST members:[], then PUTs with id and the full member list.
    let name = "Test SCIMv2";
    assert_eq!(idp.get(&okta_check_group(name)).await.expect(200).body, empty_list());
    let (gid, _) =
        idp.create("/Groups", &json!({"schemas":[GROUP],"displayName":name,"members":[]})).await;
    let mut want_group = json!({"schemas": [GROUP], "id": gid, "displayName": name, "members": []});
    assert_state(&idp.group(&gid).await, &want_group, "group created");
    assert_eq!(ids(&idp.get(&okta_check_group(name)).await.expect(200)), [gid.clone()]);

    let put_group = |name: &str, members: &[(&str, &str)]| {
        let members: Vec<Value> =
            members.iter().map(|(v, d)| json!({"value": v, "display": d})).collect();
        json!({"schemas":[GROUP],"id":gid,"displayName":name,"members":members})
    };
    let steps: [(&str, Vec<(&str, &str)>); 4] = [
        (name, vec![(id.as_str(), user_name)]),
        (name, vec![(id.as_str(), user_name), (other.as_str(), "other.user@okta.local")]),
        ("Test SCIMv2 Renamed", vec![(other.as_str(), "other.user@okta.local")]),
        ("Test SCIMv2 Renamed", vec![]),
    ];
    for (step_name, members) in steps {
        let r = idp.put(&format!("/Groups/{gid}"), &put_group(step_name, &members)).await;
        let r = r.expect(200);
        want_group["displayName"] = json!(step_name);
        want_group["members"] =
            json!(want_members(members.iter().map(|(v, _)| user_member(&s, v)).collect()));
        let got = idp.group(&gid).await;
        assert_eq!(r.body, got, "PUT response is not the stored group");
        let mut got_sorted = got.clone();
        got_sorted["members"] = json!(members_sorted(&got));
        assert_state(&got_sorted, &want_group, &format!("group PUT {step_name} {members:?}"));
        let in_group = members.iter().any(|(v, _)| *v == id);
        let want_groups = if in_group { set(&[&gid]) } else { BTreeSet::new() };
        assert_eq!(group_ids(&idp.user(&id).await), want_groups);
        assert_log(&s.provisioning_log(1).await[0], "replace", "Group", Some(&gid), 200);
        if step_name == name && members.len() == 2 {
            want["groups"] = json!([membership(&s, &gid, name)]);
            okta_put_while_member(&idp, &id, &mut want, &gid).await;
            remove_key(&mut want, "groups");
        }
    }
    assert!(resources(&idp.get(&okta_check_group(name)).await.expect(200)).is_empty());

    // Unlink with delete.
    idp.delete_gone(&format!("/Groups/{gid}")).await;
    assert_state(&idp.user(&id).await, &want, "group deleted");
    assert_eq!(s.total("/Users").await, 2);
}
