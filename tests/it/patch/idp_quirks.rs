//! The IdP quirks a server must tolerate (the numbered list in `payloads.rs`), each with the
//! literal payload Entra ID, the SCIM Validator or Okta sends.

use super::*;

#[tokio::test]
async fn quirk_1_op_in_any_case() {
    let user = ServerWithUser::with("ada@example.org", json!({"title": "Analyst"})).await;
    // §1.3 [CUR]: `{"op":"Add","path":"nickName","value":"Babs"}`.
    let got = user.patch(json!([{"op": "Add", "path": "nickName", "value": "Babs"}])).await;
    assert_eq!(got["nickName"], "Babs");
    let got = user.patch(json!([{"op": "Replace", "path": "nickName", "value": "Ada"}])).await;
    assert_eq!(got["nickName"], "Ada");
    let got = user.patch(json!([{"op": "Remove", "path": "title"}])).await;
    assert!(got.get("title").is_none(), "{got}");
    let got = user
        .patch(json!([
            {"op": "ADD", "path": "title", "value": "One"},
            {"op": "rEpLaCe", "path": "displayName", "value": "Two"},
            {"op": "REMOVE", "path": "nickName"}
        ]))
        .await;
    assert_eq!(got["title"], "One");
    assert_eq!(got["displayName"], "Two");
    assert!(got.get("nickName").is_none(), "{got}");
}

#[tokio::test]
async fn quirk_1_entra_cur_profile_update_literal() {
    let user = ServerWithUser::with("ada@example.org", json!({"displayName": "Ada"})).await;
    // §1.3 [CUR], literal.
    let body: Value = serde_json::from_str(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[
  {"op":"Replace","path":"displayName","value":"Pvlo"},
  {"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
  {"op":"Replace","path":"name.givenName","value":"Gtfd"},
  {"op":"Replace","path":"name.familyName","value":"Pkqf"},
  {"op":"Replace","path":"externalId","value":"Eqpj"},
  {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"}]}"#)
    .expect("literal payload");
    let got = user.patch_raw(&body).await;
    assert_eq!(got["displayName"], "Pvlo");
    assert_eq!(
        got["emails"],
        json!([{"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": true}])
    );
    assert_eq!(got["name"], json!({"givenName": "Gtfd", "familyName": "Pkqf"}));
    assert_eq!(got["externalId"], "Eqpj");
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(got["userName"], "ada@example.org");
}

#[tokio::test]
async fn quirk_1_entra_rename_literal() {
    let user = ServerWithUser::new("ada@example.org").await;
    // §1.3 "Rename", literal.
    let got = user
        .patch(json!([{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]))
        .await;
    assert_eq!(got["userName"], "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com");
    assert_eq!(user.s.users_named("5b50642d-79fc-4410-9e90-4c077cdd1A59@TESTUSER.com").await, 1);
    assert_eq!(user.s.users_named("ada@example.org").await, 0);
}

#[tokio::test]
async fn quirk_2_active_as_a_string_in_any_case() {
    let user = ServerWithUser::new("ada@example.org").await;
    // §1.4 [CUR] and §1.5 [CUR], literal bodies.
    let off = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations":[{"op":"Replace","path":"active","value":"False"}]});
    assert_eq!(user.patch_raw(&off).await["active"], false);
    let on = patch_op(json!([{"op":"Replace","path":"active","value":"True"}]));
    assert_eq!(user.patch_raw(&on).await["active"], true);
    for (value, expected) in
        [("false", false), ("TRUE", true), ("FALSE", false), ("true", true), ("fAlSe", false)]
    {
        let got = user.patch(json!([{"op": "replace", "path": "active", "value": value}])).await;
        assert_eq!(got["active"], expected, "{value}");
    }
}

#[tokio::test]
async fn quirk_2_roles_primary_true_as_a_string_in_a_value_path() {
    let user = ServerWithUser::new("ada@example.org").await;
    // §1.12 mapping paths, with the string "True" in the filter.
    let got = user
        .patch(json!([
            {"op": "Add", "path": "roles[primary eq \"True\"].display", "value": "Manager"},
            {"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "manager"},
            {"op": "Add", "path": "roles[primary eq \"True\"].type", "value": "WindowsAzureActiveDirectoryRole"}
        ]))
        .await;
    assert_eq!(
        idp_roles(&got),
        [json!({"primary": true, "display": "Manager", "value": "manager",
                "type": "WindowsAzureActiveDirectoryRole"})],
        "{got}"
    );
    assert!(!got.to_string().contains("\"True\""), "{got}");
}

#[tokio::test]
async fn quirk_2_primary_true_as_a_string_inside_a_roles_value() {
    let user = ServerWithUser::new("ada@example.org").await;
    // [VAL]'s role element, with a known role value.
    let got = user
        .patch(json!([{"op": "add", "path": "roles",
                "value": [{"primary": "True", "display": "MRONYWGFFHXQ", "value": "operations",
                           "type": "XVTUOHMYUFRL"}]}]))
        .await;
    let roles = idp_roles(&got);
    assert_eq!(
        roles,
        [json!({"primary": true, "display": "MRONYWGFFHXQ", "value": "operations",
                "type": "XVTUOHMYUFRL"})],
        "{got}"
    );
    // Also in emails, and read back as a JSON boolean.
    let got = user
        .patch(json!([{"op": "replace", "path": "emails",
                "value": [{"value": "ada@example.org", "type": "work", "primary": "True"}]}]))
        .await;
    assert_eq!(
        got["emails"],
        json!([{"value": "ada@example.org", "type": "work", "primary": true}])
    );
}

#[tokio::test]
async fn quirk_3_add_sets_active_false() {
    let user = ServerWithUser::new("ada@example.org").await;
    // rancher#54025: `op: "Add"` to deprovision.
    let got = user.patch(json!([{"op": "Add", "path": "active", "value": false}])).await;
    assert_eq!(got["active"], false);
    let got = user.patch(json!([{"op": "Add", "value": {"active": "True"}}])).await;
    assert_eq!(got["active"], true);
}

#[tokio::test]
async fn quirk_5_okta_pathless_active_false_and_true() {
    let user = ServerWithUser::new("test.user@okta.local").await;
    // §2.4, literal.
    let off = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations":[{"op":"replace","value":{"active":false}}]});
    let got = user.patch_raw(&off).await;
    assert_eq!(got["active"], false);
    assert_eq!(got["userName"], "test.user@okta.local");
    // §2.5 (inferred body).
    let on = patch_op(json!([{"op":"replace","value":{"active":true}}]));
    assert_eq!(user.patch_raw(&on).await["active"], true);
}

#[tokio::test]
async fn quirk_5_validator_pathless_user_name() {
    let user = ServerWithUser::new("julien.vonrueden@ondricka.us").await;
    let got = user.patch(json!([{"op":"replace","value":{"userName":"emilio@hermann.uk"}}])).await;
    assert_eq!(got["userName"], "emilio@hermann.uk");
    assert_eq!(user.s.users_named("emilio@hermann.uk").await, 1);
    assert_eq!(user.s.users_named("julien.vonrueden@ondricka.us").await, 0);
}

#[tokio::test]
async fn quirk_5_validator_pathless_group_external_id_and_display_name() {
    let s = TestServer::start().await;
    let g = s.create_group("Staff", &[]).await;
    // §1.8 [VAL], literal shapes.
    let got = patch_group(
        &s,
        &g,
        json!([{"op":"replace","value":{"externalId":"c3b97a69-3bd3-4b9c-8d42-bf1c0ee1e9e1"}}]),
    )
    .await;
    assert_eq!(got["externalId"], "c3b97a69-3bd3-4b9c-8d42-bf1c0ee1e9e1");
    let got =
        patch_group(&s, &g, json!([{"op":"replace","value":{"displayName":"MSADPJJZWBUS"}}])).await;
    assert_eq!(got["displayName"], "MSADPJJZWBUS");
    assert_eq!(got["externalId"], "c3b97a69-3bd3-4b9c-8d42-bf1c0ee1e9e1");
}

#[tokio::test]
async fn quirk_6_okta_group_rename_carrying_its_own_id() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let g = s.create_group("Test SCIMv2 old", &[&ada]).await;
    // §2.8 step 4, literal with the group's own id.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"replace","value":{"id": g,"displayName":"Test SCIMv2"}}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(got["displayName"], "Test SCIMv2");
    assert_eq!(got["id"], g.as_str());
    assert_eq!(member_ids(&got), set(&[&ada]));
    // Okta sends it on every membership update: the same again is fine.
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(got["displayName"], "Test SCIMv2");
}

#[tokio::test]
async fn quirk_6_user_read_only_attributes_echoed_unchanged_are_accepted() {
    let user = ServerWithUser::new("ada@example.org").await;
    let g = user.s.create_group("Staff", &[&user.id]).await;
    let before = user.read().await;
    assert_eq!(group_ids(&before), set(&[&g]));
    // Okta-style: the user read back, sent whole as a pathless replace with one change.
    let mut value = before.clone();
    value["title"] = json!("Lead");
    let got = user.patch(json!([{"op": "replace", "value": value}])).await;
    assert_eq!(got["title"], "Lead");
    assert_eq!(without(got, &["title", "meta"]), without(before, &["meta"]));
    // And the short forms: user.id, meta and schemas next to a change.
    let got = user
        .patch(json!([{"op": "replace", "value": {"id": user.id, "meta": {"resourceType": "User"},
                                           "schemas": [CORE_USER], "displayName": "Ada"}}]))
        .await;
    assert_eq!(got["displayName"], "Ada");
    assert_eq!(got["id"], user.id.as_str());
    assert_eq!(got["meta"]["resourceType"], "User");
}

#[tokio::test]
async fn quirk_7_value_paths_create_missing_elements() {
    let user = ServerWithUser::bare("ada@example.org").await;
    // §3 quirk 7's list, as the validator's "Add Attributes" test sends them.
    let got = user
        .patch(json!([
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "thaddeus@hammes.info"},
            {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "10-040-1308"},
            {"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "10-040-1309"},
            {"op": "add", "path": "addresses[type eq \"work\"].postalCode", "value": "cx47 4mz"},
            {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Freetown"},
            {"op": "add", "path": "roles[primary eq \"True\"].value", "value": "member"}
        ]))
        .await;
    assert_eq!(got["emails"], json!([{"type": "work", "value": "thaddeus@hammes.info"}]));
    assert_eq!(
        got["phoneNumbers"],
        json!([{"type": "mobile", "value": "10-040-1308"}, {"type": "work", "value": "10-040-1309"}])
    );
    assert_eq!(
        got["addresses"],
        json!([{"type": "work", "postalCode": "cx47 4mz", "locality": "Freetown"}])
    );
    assert_eq!(idp_roles(&got), [json!({"primary": true, "value": "member"})], "{got}");
}

#[tokio::test]
async fn quirk_8_capitalised_sub_attribute_and_attribute_names() {
    let user = ServerWithUser::new("ada@example.org").await;
    // §1.2 mapping table: `emails[type eq "other"].Value`, `addresses[type eq "other"].Formatted`.
    let got = user
        .patch(json!([
            {"op": "Add", "path": "emails[type eq \"other\"].Value", "value": "smtp:ada@proxy.example"},
            {"op": "Add", "path": "addresses[type eq \"other\"].Formatted", "value": "Building 7"},
            {"op": "Replace", "path": "Name.GivenName", "value": "Ada"},
            {"op": "Replace", "path": "DisplayName", "value": "Ada L"}
        ]))
        .await;
    assert_eq!(
        got["emails"],
        json!([
            {"value": "ada@example.org", "type": "work", "primary": true},
            {"type": "other", "value": "smtp:ada@proxy.example"}
        ])
    );
    assert_eq!(got["addresses"], json!([{"type": "other", "formatted": "Building 7"}]));
    assert_eq!(got["name"], json!({"givenName": "Ada", "familyName": "Family"}));
    assert_eq!(got["displayName"], "Ada L");
    for k in ["Name", "DisplayName"] {
        assert!(got.get(k).is_none(), "{k}: {got}");
    }
    // The same filter with a capitalised sub-attribute finds the element it created.
    let got = user
        .patch(json!([{"op": "Replace", "path": "emails[Type eq \"other\"].VALUE", "value": "smtp:a@p.example"}]))
        .await;
    assert_eq!(got["emails"][1], json!({"type": "other", "value": "smtp:a@p.example"}));
}

#[tokio::test]
async fn quirk_9_member_removal_via_a_value_array_removes_only_those() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let u3 = s.create_user("u3@example.org").await;
    let g = s.create_group("Staff", &[&u1, &u2, &u3]).await;
    // §1.9 [CUR] and §3 quirk 9, literal with our ids.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value": u1}]}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[&u2, &u3]));
    let body =
        patch_op(json!([{"op":"Remove","path":"members","value":[{"value": u2}, {"value": u3}]}]));
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[]));
    assert_eq!(group_ids(&s.read_user(&u1).await), set(&[]));
}

#[tokio::test]
async fn quirk_10_member_removal_via_a_filter() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let g = s.create_group("Staff", &[&u1, &u2]).await;
    // §1.9 [FLAG], literal with our id.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"remove","path": format!("members[value eq \"{u1}\"]")}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[&u2]));
    assert_eq!(group_ids(&s.read_user(&u1).await), set(&[]));
    assert_eq!(group_ids(&s.read_user(&u2).await), set(&[&g]));
}

#[tokio::test]
async fn quirk_11_several_members_in_one_op() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let u2 = s.create_user("u2@example.org").await;
    let u3 = s.create_user("u3@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "Add", "path": "members",
                "value": [{"value": u1}, {"value": u2}, {"value": u3}]}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&u1, &u2, &u3]));
    for u in [&u1, &u2, &u3] {
        assert_eq!(group_ids(&s.read_user(u).await), set(&[&g]));
    }
}

#[tokio::test]
async fn quirk_11_add_then_remove_of_one_member_in_one_request_leaves_it_absent() {
    let s = TestServer::start().await;
    let u1 = s.create_user("u1@example.org").await;
    let other = s.create_user("other@example.org").await;
    let g = s.create_group("Staff", &[&other]).await;
    // [VAL] P5, literal with our id.
    let got = patch_group(
        &s,
        &g,
        json!([{"op":"add","path":"members","value":[{"value": u1}]},
               {"op":"remove","path": format!("members[value eq \"{u1}\"]")}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&other]));
    assert_eq!(group_ids(&s.read_user(&u1).await), set(&[]));
}

#[tokio::test]
async fn quirk_11_okta_remove_filter_and_add_in_one_request() {
    let s = TestServer::start().await;
    let old = s.create_user("old.user@okta.local").await;
    let new = s.create_user("test.user@okta.local").await;
    let g = s.create_group("Test SCIMv2", &[&old]).await;
    // §2.8 step 5 and §3 quirk 13 (`display`), literal with our ids.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[
          {"op":"remove","path": format!("members[value eq \"{old}\"]")},
          {"op":"add","path":"members","value":[{"value": new,"display":"test.user@okta.local"}]}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[&new]));
    // The client's `display` is accepted and ignored.
    assert_eq!(member(&got, &new), &user_member(&s, &new));
}

#[tokio::test]
async fn quirk_12_ref_null_in_a_member_add() {
    let s = TestServer::start().await;
    let u = s.create_user("ada@example.org").await;
    let g = s.create_group("Staff", &[]).await;
    // §1.9 add, literal with our id.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value": u}]}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(member_ids(&got), set(&[&u]));
    assert_eq!(member(&got, &u), &user_member(&s, &u));
    assert!(!got.to_string().contains("null"), "{got}");
}

#[tokio::test]
async fn quirk_13_display_and_type_on_members_are_not_rejected() {
    let s = TestServer::start().await;
    let u = create_with(&s, "bob@example.org", json!({"displayName": "Bob Builder"})).await;
    let g = s.create_group("Staff", &[]).await;
    let got = patch_group(
        &s,
        &g,
        json!([{"op": "add", "path": "members",
                "value": [{"value": u, "display": "Someone Else", "type": "User"}]}]),
    )
    .await;
    assert_eq!(member_ids(&got), set(&[&u]));
    // Accepted and ignored: members read back as exactly value, $ref, type.
    assert_eq!(member(&got, &u), &user_member(&s, &u));
    assert!(!got.to_string().contains("Someone Else"), "{got}");
}

#[tokio::test]
async fn quirk_14_15_each_manager_form_reads_back_with_scimds_ref() {
    let forms: [(&str, OpsFor); 5] = [
        // §1.11 (SCIM-SDK#686), literal with our id.
        ("a bare string on the URN path", |boss| {
            json!([{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "value": boss}])
        }),
        (
            "a bare string on the short path",
            |boss| json!([{"op": "Add", "path": "manager", "value": boss}]),
        ),
        // §3 quirk 15, §1.11 MS-TUT example 5, literal with our id: read back with scimd's
        // own $ref, never the IdP's.
        ("an array with the IdP's $ref on the short path", |boss| {
            json!([{"op":"Add","path":"manager",
                    "value":[{"$ref": format!("http://example.com/scim/Users/{boss}"),"value": boss}]}])
        }),
        (
            "a URN key in a pathless value",
            |boss| json!([{"op": "replace", "value": {format!("{ENTERPRISE}:manager"): boss}}]),
        ),
        (
            "the extension object in a pathless value",
            |boss| json!([{"op": "replace", "value": {ENTERPRISE: {"manager": {"value": boss}}}}]),
        ),
    ];
    for (what, ops) in forms {
        let s = TestServer::start().await;
        let boss = s.create_user("boss@example.org").await;
        let id = s.create_user("ada@example.org").await;
        let ops = ops(&boss);
        let r = s.patch(&upath(&id), ops.clone()).await;
        assert_eq!(r.status.as_u16(), 200, "{what}: PATCH {ops}: {}", r.text);
        let got = accepted_user(&s, &id, r).await;
        let want = json!({"manager": manager_ref(&s, &boss)});
        assert_eq!(got[ENTERPRISE], want, "{what}: PATCH {ops}");
        let schemas = got["schemas"].as_array().expect("schemas");
        assert!(schemas.iter().any(|s| s == ENTERPRISE), "{what}: PATCH {ops}: {got}");
        assert!(got.get("manager").is_none(), "{what}: PATCH {ops}: {got}");
    }
}

#[tokio::test]
async fn quirk_14_manager_as_a_value_object_add_then_replace() {
    let s = TestServer::start().await;
    let boss = s.create_user("boss@example.org").await;
    let boss2 = s.create_user("boss2@example.org").await;
    let id =
        create_with(&s, "ada@example.org", json!({ENTERPRISE: {"department": "Engines"}})).await;
    // [VAL] "Add Manager" then "Replace Manager", literal with our ids.
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let got = patch_user(&s, &id, json!([{"op":"add","path": path,"value":{"value": boss}}])).await;
    assert_eq!(manager(&got), &manager_ref(&s, &boss));
    let got =
        patch_user(&s, &id, json!([{"op":"replace","path": path,"value":{"value": boss2}}])).await;
    assert_eq!(manager(&got), &manager_ref(&s, &boss2));
    assert_eq!(got[ENTERPRISE]["department"], "Engines");
}

/// Sets ada's manager (with a department kept alongside), applies `clear`, and checks the
/// manager is absent afterwards, never "" or null; each failure names the clearing ops.
async fn manager_cleared_by(clear: OpsFor) {
    let s = TestServer::start().await;
    let boss = s.create_user("boss@example.org").await;
    let id =
        create_with(&s, "ada@example.org", json!({ENTERPRISE: {"department": "Engines"}})).await;
    let got = patch_user(&s, &id, json!([{"op": "add", "path": "manager", "value": boss}])).await;
    assert_eq!(manager(&got), &manager_ref(&s, &boss));
    let ops = clear(&boss);
    let got = patch_user(&s, &id, ops.clone()).await;
    assert!(got[ENTERPRISE].get("manager").is_none(), "cleared by {ops}: {got}");
    assert_eq!(got[ENTERPRISE], json!({"department": "Engines"}), "cleared by {ops}");
    assert!(!got.to_string().contains("manager"), "cleared by {ops}: {got}");
    // Without anything else in the extension, the extension goes too.
    let bare = create_bare(&s, "bare@example.org").await;
    patch_user(&s, &bare, json!([{"op": "add", "path": "manager", "value": boss}])).await;
    let got = patch_user(&s, &bare, clear(&boss)).await;
    assert!(got.get(ENTERPRISE).is_none_or(|e| e == &json!({})), "cleared by {ops}: {got}");
    assert!(!got.to_string().contains("manager"), "cleared by {ops}: {got}");
}

#[tokio::test]
async fn quirk_16_manager_cleared_by_each_form() {
    let forms: [OpsFor; 4] = [
        // remove of the URN path.
        |_| json!([{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
        // replace with an empty string.
        |_| json!([{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}]),
        // replace with an empty value object.
        |_| json!([{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":""}}]),
        // remove with a value filter.
        |boss| json!([{"op":"remove","path": format!("manager[value eq \"{boss}\"]")}]),
    ];
    for clear in forms {
        manager_cleared_by(clear).await;
    }
}

#[tokio::test]
async fn explicit_nulls_in_a_patch_value_remove_the_attributes() {
    let user = ServerWithUser::with("ada@example.org", json!({"title": "Analyst", "nickName": "A", "phoneNumbers": [{"value": "1", "type": "work"}],
               ENTERPRISE: {"department": "Engines", "costCenter": "4130"}})).await;
    let got = user
        .patch(json!([{"op": "replace", "value": {"title": null, "phoneNumbers": null,
                                           "displayName": "Ada",
                                           format!("{ENTERPRISE}:department"): null}}]))
        .await;
    for k in ["title", "phoneNumbers"] {
        assert!(got.get(k).is_none(), "{k}: {got}");
    }
    assert_eq!(got["displayName"], "Ada");
    assert_eq!(got["nickName"], "A");
    assert_eq!(got[ENTERPRISE], json!({"costCenter": "4130"}));
    assert!(!got.to_string().contains("null"), "{got}");
    // A null name sub-attribute through a dotted key.
    let got = user.patch(json!([{"op": "add", "value": {"name.givenName": null}}])).await;
    assert_eq!(got["name"], json!({"familyName": "Family"}));
}

#[tokio::test]
async fn okta_password_sync_is_accepted_and_never_returned() {
    let user = ServerWithUser::new("test.user@okta.local").await;
    let before = user.read().await;
    // §2.9 (inferred body).
    let r = user
        .s
        .patch(&upath(&user.id), json!([{"op":"replace","value":{"password":"n3w-1mz050nq"}}]))
        .await
        .expect(200);
    assert!(r.body.get("password").is_none() && !r.text.contains("n3w-1mz050nq"), "{}", r.text);
    let got = user.s.get(&upath(&user.id)).await.expect(200);
    assert!(
        got.body.get("password").is_none() && !got.text.contains("n3w-1mz050nq"),
        "{}",
        got.text
    );
    assert_eq!(without(got.body, &["meta"]), without(before, &["meta"]));
    let asked =
        user.s.get(&format!("/Users/{}?attributes=password,userName", user.id)).await.expect(200);
    assert!(!asked.text.contains("n3w-1mz050nq"), "{}", asked.text);
    // With a path, and next to another change.
    let got = user
        .patch(json!([{"op":"replace","path":"password","value":"other-secret"},
               {"op":"replace","path":"title","value":"Lead"}]))
        .await;
    assert_eq!(got["title"], "Lead");
    assert!(!got.to_string().contains("other-secret"), "{got}");
}

#[tokio::test]
async fn quirk_30_a_stray_aad_opt_query_parameter_is_ignored() {
    let user = ServerWithUser::new("ada@example.org").await;
    let r = user
        .s
        .patch(
            &format!("{}?aadOptscim062020", upath(&user.id)),
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    let got = accepted_user(&user.s, &user.id, r).await;
    assert_eq!(got["active"], false);
    let g = user.s.create_group("Staff", &[]).await;
    let r = user
        .s
        .patch(
            &format!("/Groups/{g}?aadOptscim062020"),
            json!([{"op": "add", "path": "members", "value": [{"value": user.id}]}]),
        )
        .await;
    let got = accepted_group(&user.s, &g, r).await;
    assert_eq!(member_ids(&got), set(&[&user.id]));
}

#[tokio::test]
async fn entra_disable_user_hybrid_literal_with_operations_first() {
    let user = ServerWithUser::new("ada@example.org").await;
    // §1.4 MS-TUT "Disable User": Operations before schemas, `Replace`, boolean.
    let body: Value = serde_json::from_str(
        r#"{"Operations":[{"op":"Replace","path":"active","value":false}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#,
    )
    .expect("literal");
    assert_eq!(user.patch_raw(&body).await["active"], false);
    // §1.5 [FLAG].
    let on = patch_op(json!([{"op":"replace","path":"active","value":true}]));
    assert_eq!(user.patch_raw(&on).await["active"], true);
}

#[tokio::test]
async fn entra_group_rename_literal_answers_204() {
    let s = TestServer::start().await;
    let g = s.create_group("displayName", &[]).await;
    // §1.8, literal.
    let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Replace","path":"displayName",
                       "value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]});
    let got = patch_group_raw(&s, &g, &body).await;
    assert_eq!(got["displayName"], "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");
    let f =
        entra_encode("displayName eq \"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName\"");
    assert_eq!(ids(&s.get(&format!("/Groups?filter={f}")).await.expect(200)), [g]);
}

#[tokio::test]
async fn postman_member_adds() {
    let cases: [(&str, OpsFor); 2] = [
        // §4.3 MS-REFPM, with our id.
        ("a member as a bare string id", |u| json!([{"op":"add","path":"members","value": u}])),
        // §4.3: `"name":"addMember"` inside the op.
        (
            "an extra name key in the op",
            |u| json!([{"name": "addMember", "op": "add", "path": "members", "value": [{"value": u}]}]),
        ),
    ];
    for (what, ops) in cases {
        let s = TestServer::start().await;
        let u = s.create_user("ada@example.org").await;
        let g = s.create_group("Staff", &[]).await;
        let ops = ops(&u);
        let r = s.patch(&gpath(&g), ops.clone()).await;
        assert_eq!(r.status.as_u16(), 204, "{what}: PATCH {ops}: {}", r.text);
        let got = accepted_group(&s, &g, r).await;
        assert_eq!(member_ids(&got), set(&[&u]), "{what}: PATCH {ops}");
    }
}
