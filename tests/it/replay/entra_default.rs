//! Entra ID's default ([CUR]) dialect: Test Connection, user create with MS-TUT's examples,
//! profile updates with one capitalised `Replace` per attribute, manager, (de)activation,
//! groups and members, and the deletes, with the stored state checked after every step.

use super::*;
use crate::payloads::{ms_tut_create_user, ms_tut_jyoung};

#[tokio::test]
async fn entra_default() {
    let s = TestServer::start().await;
    let idp = Idp::entra(&s);

    idp.test_connection().await;
    let group_probe = "/Groups?excludedAttributes=members&filter=displayName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22";
    assert_eq!(idp.get(group_probe).await.expect(200).body, empty_list());

    // §1.2 The manager-to-be: lookup by userName and externalId, then MS-TUT's first example.
    let mgr_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
    let by_mgr_name = format!("userName eq \"{mgr_name}\"");
    let by_mgr_ext = "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"";
    assert!(idp.find("/Users", &by_mgr_name).await.is_empty());
    assert!(idp.find("/Users", by_mgr_ext).await.is_empty());
    let (mgr, _) = idp.create("/Users", &ms_tut_create_user()).await;
    let want_mgr = json!({"schemas": [CORE_USER], "id": mgr, "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": mgr_name, "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": derived(&["member"])});
    assert_state(&idp.user(&mgr).await, &want_mgr, "manager created");
    assert_eq!(idp.find("/Users", &by_mgr_name).await, [mgr.clone()]);
    assert_eq!(idp.find("/Users", by_mgr_ext).await, [mgr.clone()]);

    // The user: MS-TUT's second example (nulls, meta, the typo'd URN).
    assert!(idp.find("/Users", "userName eq \"jyoung@testuser.com\"").await.is_empty());
    assert!(idp.find("/Users", "externalId eq \"jyoung\"").await.is_empty());
    let (id, created) = idp.create("/Users", &ms_tut_jyoung()).await;
    let mut want = json!({"schemas": [CORE_USER], "id": id, "externalId": "jyoung",
        "userName": "jyoung@testuser.com", "active": true, "displayName": "Joy Young",
        "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
        "name": {"familyName": "Young", "givenName": "Joy"},
        "roles": derived(&["member"])});
    assert_state(&created, &want, "POST response");
    assert_state(&idp.user(&id).await, &want, "created");
    assert_eq!(idp.find("/Users", "userName eq \"jyoung@testuser.com\"").await, [id.clone()]);
    assert_eq!(idp.find("/Users", "externalId eq \"jyoung\"").await, [id.clone()]);
    assert_log(&s.provisioning_log(1).await[0], "create", "User", Some(&id), 201);

    // A second manager, for the change of manager later.
    let mgr2_name = "Test_User_22cc22cc-dd33-ee44-ff55-66aa66aa66aa@testuser.com";
    let (mgr2, _) =
        idp.create("/Users", &entra_user(mgr2_name, "1b32e1e3-9e3b-4f9f-8a09-8474d5bfe5f0")).await;

    // §1.3 Update profile, [CUR]: one Replace per changed attribute, capitalised op.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"Replace","path":"displayName","value":"Pvlo"},
                {"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
                {"op":"Replace","path":"name.givenName","value":"Gtfd"},
                {"op":"Replace","path":"name.familyName","value":"Pkqf"},
                {"op":"Replace","path":"externalId","value":"Eqpj"},
                {"op":"Replace","path":EMPLOYEE_NUMBER,"value":"Eqpj"}
            ]),
        )
        .await;
    want["displayName"] = json!("Pvlo");
    want["emails"] =
        json!([{"type": "work", "value": "TestBcwqnm@test.microsoft.com", "primary": true}]);
    want["name"] = json!({"familyName": "Pkqf", "givenName": "Gtfd"});
    want["externalId"] = json!("Eqpj");
    want[ENTERPRISE] = json!({"employeeNumber": "Eqpj"});
    want["schemas"] = json!([CORE_USER, ENTERPRISE]);
    assert_state(&got, &want, "profile replace");
    assert_eq!(idp.find("/Users", "externalId eq \"Eqpj\"").await, [id.clone()]);
    // The email as a matching attribute (MS-TUT /Users rules).
    let by_mail = "emails[type eq \"work\"].value eq \"TestBcwqnm@test.microsoft.com\"";
    assert_eq!(idp.find("/Users", by_mail).await, [id.clone()]);
    assert!(idp.find("/Users", "externalId eq \"jyoung\"").await.is_empty());
    let row = &s.provisioning_log(1).await[0];
    assert_log(row, "patch", "User", Some(&id), 200);
    assert!(!detail(row).is_empty(), "an accepted PATCH summarises the change: {row}");

    // Adds of absent attributes, the default mapping's capitalised sub-attributes, and a
    // Replace of an attribute that is not there yet.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"Add","path":"nickName","value":"Babs"},
                {"op":"Add","path":"emails[type eq \"other\"].Value","value":"jyoung@contoso.onmicrosoft.com"},
                {"op":"Add","path":"addresses[type eq \"other\"].Formatted","value":"Building 4, Room 1012"},
                {"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 (425) 555-0100"},
                {"op":"Replace","path":"title","value":"Program Manager"},
                {"op":"Add","path":DEPARTMENT,"value":"Sales"}
            ]),
        )
        .await;
    want["nickName"] = json!("Babs");
    want["emails"] = json!([
        {"type": "work", "value": "TestBcwqnm@test.microsoft.com", "primary": true},
        {"type": "other", "value": "jyoung@contoso.onmicrosoft.com"}
    ]);
    want["addresses"] = json!([{"type": "other", "formatted": "Building 4, Room 1012"}]);
    want["phoneNumbers"] = json!([{"type": "mobile", "value": "+1 (425) 555-0100"}]);
    want["title"] = json!("Program Manager");
    want[ENTERPRISE]["department"] = json!("Sales");
    assert_state(&got, &want, "adds");

    // Rename (MS-TUT).
    let new_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";
    let got =
        idp.patch_user(&id, json!([{"op":"Replace","path":"userName","value":new_name}])).await;
    want["userName"] = json!(new_name);
    assert_state(&got, &want, "rename");
    assert!(idp.find("/Users", "userName eq \"jyoung@testuser.com\"").await.is_empty());
    assert_eq!(idp.find("/Users", &format!("userName eq \"{new_name}\"")).await, [id.clone()]);
    // A rename onto another user's userName (any case) is 409 and changes nothing.
    let taken = mgr2_name.to_uppercase();
    let ops = json!([{"op":"Replace","path":"userName","value":taken}]);
    idp.refused_patch("User", &id, ops, 409, "uniqueness").await;

    // §1.11 Manager, set the MS-TUT way: path `manager`, an array with Entra's own `$ref`.
    let entra_ref = format!("http://entra.example/scim/Users/{mgr}");
    let set_manager =
        json!([{"op":"Add","path":"manager","value":[{"$ref":entra_ref,"value":mgr}]}]);
    let got = idp.patch_user(&id, set_manager.clone()).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &mgr);
    assert_state(&got, &want, "manager set");
    // Changed as a bare string on the URN path.
    let got = idp.patch_user(&id, json!([{"op":"Replace","path":MANAGER,"value":mgr2}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &mgr2);
    assert_state(&got, &want, "manager changed");
    // Cleared: absent afterwards, the rest of the extension kept.
    let got = idp.patch_user(&id, json!([{"op":"Remove","path":MANAGER}])).await;
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&got, &want, "manager cleared");
    assert!(enterprise(&got).get("manager").is_none(), "{got}");
    // Set again (the manager is deleted at the end).
    let got = idp.patch_user(&id, set_manager.clone()).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &mgr);
    assert_state(&got, &want, "manager set again");
    // [LEGACY] current-value check: `id eq … and manager eq …` with `attributes=id`.
    let legacy =
        |manager: &str| format!("/Users?filter=id+eq+{id}+and+manager+eq+{manager}&attributes=id");
    let r = idp.get(&legacy(&mgr)).await.expect(200);
    assert_eq!(ids(&r), [id.clone()]);
    assert!(resources(&r)[0].get("userName").is_none(), "{}", r.text);
    assert!(ids(&idp.get(&legacy(&mgr2)).await.expect(200)).is_empty());

    // §1.4 Deactivate with the string "False"; read back as a JSON boolean, all data kept,
    // still found by GET and by both matching filters.
    let got = idp.patch_user(&id, json!([{"op":"Replace","path":"active","value":"False"}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "deactivated");
    assert_logged_deactivation(&s, "patch", &id).await;
    let r = idp.get(&format!("/Users?filter={}", entra_encode("externalId eq \"Eqpj\""))).await;
    assert_eq!(resources(&r.expect(200)), [got.clone()]);
    assert_eq!(idp.find("/Users", &format!("userName eq \"{new_name}\"")).await, [id.clone()]);
    // §1.5 Reactivate with "True".
    let got = idp.patch_user(&id, json!([{"op":"Replace","path":"active","value":"True"}])).await;
    want["active"] = json!(true);
    assert_state(&got, &want, "reactivated");
    // §1.4/§3.3 `Add` used as replace: deprovisioning with op "Add", then back.
    let got = idp.patch_user(&id, json!([{"op":"Add","path":"active","value":"False"}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "deactivated by Add");
    assert_logged_deactivation(&s, "patch", &id).await;
    let got = idp.patch_user(&id, json!([{"op":"Add","path":"active","value":"True"}])).await;
    want["active"] = json!(true);
    assert_state(&got, &want, "reactivated by Add");

    // An attribute mapped to userType (README, Roles): the derived roles follow it.
    let got = idp.patch_user(&id, json!([{"op":"Add","path":"userType","value":"Manager"}])).await;
    want["userType"] = json!("Manager");
    want["roles"] =
        json!([{"value": "member", "type": "derived"}, {"value": "manager", "type": "derived"}]);
    assert_state(&got, &want, "userType set");
    // An unmapped userType is refused as a whole (the title op with it is not applied).
    let ops = json!([{"op":"Replace","path":"title","value":"Contractor"},
                     {"op":"Replace","path":"userType","value":"contractor"}]);
    let row = idp.refused_patch("User", &id, ops, 400, "invalidValue").await;
    assert!(detail(&row).contains("contractor"), "{row}");
    // `Add` on a filtered path whose element exists changes that element, never a second one.
    let got = idp
        .patch_user(
            &id,
            json!([{"op":"Add","path":"addresses[type eq \"other\"].Formatted","value":"Building 5, Room 7"}]),
        )
        .await;
    want["addresses"] = json!([{"type": "other", "formatted": "Building 5, Room 7"}]);
    assert_state(&got, &want, "Add on an existing element");

    // §1.7 Groups: lookup (no members key), create with the ADSCIM URN and `meta`.
    let (gid, mut want_group) = idp.entra_group_created().await;
    let r = idp.get(&format!("/Groups/{gid}?excludedAttributes=members")).await.expect(200);
    assert!(r.body.get("members").is_none(), "{}", r.text);

    // §1.8 Rename: 204.
    let renamed = "1879db59-3c5f-4b8b-9d6e-2b0f1e3c7a11updatedDisplayName";
    let got =
        idp.patch_group(&gid, json!([{"op":"Replace","path":"displayName","value":renamed}])).await;
    want_group["displayName"] = json!(renamed);
    assert_state(&got, &want_group, "group renamed");
    assert!(resources(&idp.get(&group_lookup("displayName")).await.expect(200)).is_empty());
    assert_eq!(ids(&idp.get(&group_lookup(renamed)).await.expect(200)), [gid.clone()]);

    // §1.9 Add members: several in one op, each with `"$ref": null`.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"Add","path":"members","value":[
                {"$ref":null,"value":id},{"$ref":null,"value":mgr},{"$ref":null,"value":mgr2}]}]),
        )
        .await;
    let all_three =
        want_members(vec![user_member(&s, &id), user_member(&s, &mgr), user_member(&s, &mgr2)]);
    assert_eq!(members_sorted(&got), all_three);
    let row = &s.provisioning_log(1).await[0];
    assert_log(row, "patch", "Group", Some(&gid), 204);
    assert!(detail(row).contains("member"), "{row}");
    for u in [&id, &mgr, &mgr2] {
        assert_eq!(idp.user(u).await["groups"], json!([membership(&s, &gid, renamed)]));
    }
    want["groups"] = json!([membership(&s, &gid, renamed)]);
    assert_state(&idp.user(&id).await, &want, "user in the group");
    // The same add in the next cycle is a no-op: no duplicates.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":mgr}]}]),
        )
        .await;
    assert_eq!(members_sorted(&got), all_three);

    // Remove with a `value` array: only the listed member goes.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"Remove","path":"members","value":[{"$ref":null,"value":mgr2}]}]),
        )
        .await;
    assert_eq!(
        members_sorted(&got),
        want_members(vec![user_member(&s, &id), user_member(&s, &mgr)])
    );
    assert!(idp.user(&mgr2).await.get("groups").is_none());
    want_group["members"] = json!(want_members(vec![user_member(&s, &id), user_member(&s, &mgr)]));
    assert_state(&got, &want_group, "member removed");

    // §1.6 Hard delete of the manager: 404 afterwards, gone from the group, and no longer
    // anyone's manager.
    idp.delete(&format!("/Users/{mgr}")).await.expect(204);
    assert_log(&s.provisioning_log(1).await[0], "delete", "User", Some(&mgr), 204);
    idp.get(&format!("/Users/{mgr}")).await.expect(404);
    idp.delete(&format!("/Users/{mgr}")).await.expect(404);
    assert!(idp.find("/Users", &by_mgr_name).await.is_empty());
    want_group["members"] = json!([user_member(&s, &id)]);
    assert_state(&idp.group(&gid).await, &want_group, "deleted user left the group");
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&idp.user(&id).await, &want, "deleted manager cleared");
    // A stale id in a member add (next to a good one): 400 invalidValue, nothing changed.
    let ops = json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":mgr2},{"$ref":null,"value":mgr}]}]);
    idp.refused_patch("Group", &gid, ops, 400, "invalidValue").await;
    assert!(idp.user(&mgr2).await.get("groups").is_none());
    // A PATCH of the deleted user (Entra's cached id) is a 404, and logged.
    let gone = format!("/Users/{mgr}");
    idp.patch(&gone, json!([{"op":"Replace","path":"active","value":"False"}])).await.expect(404);
    assert_log(&s.provisioning_log(1).await[0], "patch", "User", Some(&mgr), 404);

    // §1.10 Group delete.
    idp.delete_gone(&format!("/Groups/{gid}")).await;
    assert!(resources(&idp.get(&group_lookup(renamed)).await.expect(200)).is_empty());
    remove_key(&mut want, "groups");
    assert_state(&idp.user(&id).await, &want, "group deleted");

    // And the users.
    for u in [&id, &mgr2] {
        idp.delete_gone(&format!("/Users/{u}")).await;
    }
    assert!(idp.find("/Users", &format!("userName eq \"{new_name}\"")).await.is_empty());
    assert_eq!(s.total("/Users").await, 0);
}
