//! Entra ID with `?aadOptscim062020` in the Tenant URL ([FLAG], MS-COMPAT "with feature
//! flag"): lower-case ops, JSON booleans, one pathless replace with dotted and URN keys, and
//! member removal by filter.

use super::*;
use crate::payloads::ms_tut_create_user;

#[tokio::test]
async fn entra_flag() {
    let s = TestServer::start().await;
    let idp = Idp::entra_flagged(&s);

    // Test Connection, with the flag after the filter.
    idp.test_connection().await;
    // And before it (the Tenant URL's own query comes first).
    let r = s.get(
        "/Users?aadOptscim062020&filter=userName+eq+%22cf4d78e8-cc4f-4d5d-b8b9-183561c0104a%22",
    );
    assert_eq!(r.await.expect(200).body, empty_list());

    // Create the user and two managers-to-be.
    let user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
    let by_name = format!("userName eq \"{user_name}\"");
    assert!(idp.find("/Users", &by_name).await.is_empty());
    let (id, created) = idp.create("/Users", &ms_tut_create_user()).await;
    let mut want = json!({"schemas": [CORE_USER], "id": id, "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name, "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": derived(&["member"])});
    assert_state(&created, &want, "POST response");
    assert_state(&idp.user(&id).await, &want, "created");
    assert_eq!(idp.find("/Users", &by_name).await, [id.clone()]);
    assert_eq!(
        idp.find("/Users", "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"").await,
        [id.clone()]
    );
    let boss_name = "boss@testuser.com";
    let (boss, _) = idp.create("/Users", &entra_user(boss_name, "boss-object-id")).await;
    let boss2_name = "boss2@testuser.com";
    let (boss2, _) = idp.create("/Users", &entra_user(boss2_name, "boss2-object-id")).await;

    // §1.3 [FLAG]: the filtered email, then ONE pathless replace with dotted and URN keys.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"replace","path":"emails[type eq \"work\"].value","value":"TestMhvaes@test.microsoft.com"},
                {"op":"replace","value":{
                    "displayName":"Bjfe",
                    "name.givenName":"Kkom",
                    "name.familyName":"Unua",
                    EMPLOYEE_NUMBER:"Aklq"}}
            ]),
        )
        .await;
    want["emails"] =
        json!([{"primary": true, "type": "work", "value": "TestMhvaes@test.microsoft.com"}]);
    want["displayName"] = json!("Bjfe");
    want["name"] =
        json!({"formatted": "givenName familyName", "familyName": "Unua", "givenName": "Kkom"});
    want[ENTERPRISE] = json!({"employeeNumber": "Aklq"});
    want["schemas"] = json!([CORE_USER, ENTERPRISE]);
    assert_state(&got, &want, "pathless replace");

    // `op: add` pathless with dotted keys, and a single-valued add with a path.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"add","value":{"displayName":"Foo Bar","title":"Bar Foo","name.givenName":"Foo",
                                     "name.familyName":"Bar","name.formatted":"Foo Bar"}},
                {"op":"add","path":"nickName","value":"Babs"}
            ]),
        )
        .await;
    want["displayName"] = json!("Foo Bar");
    want["title"] = json!("Bar Foo");
    want["name"] = json!({"formatted": "Foo Bar", "familyName": "Bar", "givenName": "Foo"});
    want["nickName"] = json!("Babs");
    assert_state(&got, &want, "pathless add");
    // The extension URN as a key with an object: merged, employeeNumber kept.
    let got = idp
        .patch_user(
            &id,
            json!([{"op":"add","value":{ENTERPRISE:{"department":"Tour Operations"}}}]),
        )
        .await;
    want[ENTERPRISE]["department"] = json!("Tour Operations");
    assert_state(&got, &want, "pathless add of the extension object");

    // §1.11 Manager on the URN path as a bare string; changed the same way; cleared with the
    // `manager[value eq "…"]` form; set again.
    let got = idp.patch_user(&id, json!([{"op":"add","path":MANAGER,"value":boss}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &boss);
    assert_state(&got, &want, "manager set");
    let got = idp.patch_user(&id, json!([{"op":"replace","path":MANAGER,"value":boss2}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &boss2);
    assert_state(&got, &want, "manager changed");
    let clear = format!("manager[value eq \"{boss2}\"]");
    let got = idp.patch_user(&id, json!([{"op":"remove","path":clear}])).await;
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&got, &want, "manager cleared");
    let got = idp.patch_user(&id, json!([{"op":"add","path":MANAGER,"value":boss}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &boss);
    assert_state(&got, &want, "manager set again");

    // §1.4/§1.5 Deactivate and reactivate with JSON booleans.
    let got = idp.patch_user(&id, json!([{"op":"replace","path":"active","value":false}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "deactivated");
    assert_logged_deactivation(&s, "patch", &id).await;
    let r = idp.get(&format!("/Users?filter={}", entra_encode(&by_name))).await.expect(200);
    assert_eq!(resources(&r), [got.clone()]);
    let got = idp.patch_user(&id, json!([{"op":"replace","path":"active","value":true}])).await;
    want["active"] = json!(true);
    assert_state(&got, &want, "reactivated");

    // Groups.
    let (gid, mut want_group) = idp.entra_group_created().await;

    let got = idp
        .patch_group(&gid, json!([{"op":"replace","path":"displayName","value":"Flagged Team"}]))
        .await;
    want_group["displayName"] = json!("Flagged Team");
    assert_state(&got, &want_group, "group renamed");

    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"add","path":"members","value":[{"value":id},{"value":boss},{"value":boss2}]}]),
        )
        .await;
    want_group["members"] = json!(want_members(vec![
        user_member(&s, &id),
        user_member(&s, &boss),
        user_member(&s, &boss2),
    ]));
    assert_eq!(json!(members_sorted(&got)), want_group["members"]);
    want["groups"] = json!([membership(&s, &gid, "Flagged Team")]);
    assert_state(&idp.user(&id).await, &want, "user in the group");

    // Member removal by filter: only that one.
    let got = idp
        .patch_group(&gid, json!([{"op":"remove","path":format!("members[value eq \"{boss2}\"]")}]))
        .await;
    want_group["members"] = json!(want_members(vec![user_member(&s, &id), user_member(&s, &boss)]));
    assert_state(&got, &want_group, "member removed");
    assert!(idp.user(&boss2).await.get("groups").is_none());
    // Removing it again (a retried cycle) is a no-op.
    let got = idp
        .patch_group(&gid, json!([{"op":"remove","path":format!("members[value eq \"{boss2}\"]")}]))
        .await;
    assert_state(&got, &want_group, "member removed twice");

    // Delete the manager: out of the group, and no longer the user's manager.
    idp.delete_gone(&format!("/Users/{boss}")).await;
    want_group["members"] = json!([user_member(&s, &id)]);
    assert_state(&idp.group(&gid).await, &want_group, "deleted user left the group");
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&idp.user(&id).await, &want, "deleted manager cleared");

    idp.delete_gone(&format!("/Groups/{gid}")).await;
    idp.delete(&format!("/Groups/{gid}")).await.expect(404);
    remove_key(&mut want, "groups");
    assert_state(&idp.user(&id).await, &want, "group deleted");
    for u in [&id, &boss2] {
        idp.delete_gone(&format!("/Users/{u}")).await;
    }
    assert!(idp.find("/Users", &by_name).await.is_empty());
}
