//! The Microsoft SCIM Validator (§4.1, MS-VALTUT): its user and group tests in the order the
//! tool runs them, numbered as it reports them, with the previews P1–P7.

use super::*;
use crate::payloads::validator_user;

const VALIDATOR_CONFIG: &str =
    "[roles]\nunknown_user_type = \"default\"\nunknown_role = \"accept\"\n";

#[tokio::test]
async fn validator() {
    let s = TestServer::start_with(VALIDATOR_CONFIG).await;
    let idp = Idp::with_charset(&s);
    let user_name = "julien.vonrueden@ondricka.us";

    // 4: a non-existing user.
    assert!(idp.find("/Users", "userName eq \"delores.wyman@torp.name\"").await.is_empty());

    // 1: create; every attribute reads back as sent, the "True" string as a boolean.
    let sent = validator_user();
    let (id, created) = idp.create("/Users", &sent).await;
    let mut want = sent.clone();
    want["id"] = json!(id);
    want["roles"][0]["primary"] = json!(true);
    assert_state(&created, &want, "POST response");
    assert_eq!(idp.find("/Users", &format!("userName eq \"{user_name}\"")).await, [id.clone()]);
    let by_filter = resources(
        &idp.get(&format!(
            "/Users?filter={}",
            entra_encode(&format!("userName eq \"{user_name}\""))
        ))
        .await
        .expect(200),
    );
    assert_state(&by_filter[0], &want, "created, read by filter");
    let stored = idp.user(&id).await;
    assert_state(&stored, &want, "created");
    assert_eq!(enterprise(&stored)["manager"], json!({"value": "XYMKVVRYDIOO"}));

    // 2: a duplicate is 409, logged, and changes nothing.
    let r = idp.post("/Users", &sent).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    assert_eq!(idp.user(&id).await, stored, "the duplicate POST changed the user");
    assert_logged_duplicate(&s, "User", user_name).await;
    assert_eq!(s.total("/Users").await, 1);

    // 3, 5: filters, the second with the case flipped.
    assert_eq!(
        idp.find("/Users", "userName eq \"JULIEN.VONRUEDEN@ONDRICKA.US\"").await,
        [id.clone()]
    );

    // 6: Replace Attributes (verbose).
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"replace","path":"emails[type eq \"work\"].value","value":"mack@ritchie.ca"},
                {"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"31-582-4457"},
                {"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"6981 Kiehn Motorway"},
                {"op":"replace","path":"addresses[type eq \"work\"].locality","value":"Kirlinland"},
                {"op":"replace","path":"displayName","value":"UFJXQHWBPKGT"},
                {"op":"replace","path":"title","value":"KFIVNRQCMTXB"},
                {"op":"replace","path":"name.givenName","value":"Destiney"},
                {"op":"replace","path":EMPLOYEE_NUMBER,"value":"LDWPWNOYOJSN"},
                {"op":"replace","path":DEPARTMENT,"value":"HMYTHXDNKBNY"},
                {"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","value":"OWYRMXWTFRMU"}
            ]),
        )
        .await;
    want["emails"][0]["value"] = json!("mack@ritchie.ca");
    want["phoneNumbers"][0]["value"] = json!("31-582-4457");
    want["addresses"][0]["streetAddress"] = json!("6981 Kiehn Motorway");
    want["addresses"][0]["locality"] = json!("Kirlinland");
    want["displayName"] = json!("UFJXQHWBPKGT");
    want["title"] = json!("KFIVNRQCMTXB");
    want["name"]["givenName"] = json!("Destiney");
    want[ENTERPRISE]["employeeNumber"] = json!("LDWPWNOYOJSN");
    want[ENTERPRISE]["department"] = json!("HMYTHXDNKBNY");
    want[ENTERPRISE]["costCenter"] = json!("OWYRMXWTFRMU");
    assert_state(&got, &want, "verbose replace");

    // 7: userName by a pathless replace.
    let new_name = "emilio@hermann.uk";
    let got = idp.patch_user(&id, json!([{"op":"replace","value":{"userName":new_name}}])).await;
    want["userName"] = json!(new_name);
    assert_state(&got, &want, "userName replaced");
    assert!(idp.find("/Users", &format!("userName eq \"{user_name}\"")).await.is_empty());
    assert_eq!(idp.find("/Users", "userName eq \"EMILIO@HERMANN.UK\"").await, [id.clone()]);

    // 8: disable; the later GET must show it.
    let got = idp.patch_user(&id, json!([{"op":"replace","path":"active","value":false}])).await;
    want["active"] = json!(false);
    assert_state(&got, &want, "disabled");
    assert_logged_deactivation(&s, "patch", &id).await;

    // 9: Add Attributes on a minimal user, ~36 add ops.
    let min_name = "ford_purdy@abernathypadberg.uk";
    let (min, _) =
        idp.create("/Users", &json!({"schemas": [CORE_USER], "userName": min_name})).await;
    let want_min = json!({"schemas": [CORE_USER], "id": min, "userName": min_name, "roles": derived(&["member"])});
    assert_state(&idp.user(&min).await, &want_min, "minimal user");
    let add = |path: &str, value: Value| json!({"op": "add", "path": path, "value": value});
    let enterprise_path = |attr: &str| format!("{ENTERPRISE}:{attr}");
    let ops = json!([
        add("active", json!(true)),
        add("displayName", json!("VLSQGNCRBXHS")),
        add("title", json!("GJRWSDTBQZJX")),
        add("preferredLanguage", json!("ne")),
        add("userType", json!("WAPOWRKZIIDH")),
        add("nickName", json!("DKPQSXZMWGNR")),
        add("locale", json!("ZVPXJLQEHUBN")),
        add("timezone", json!("Asia/Kathmandu")),
        add("profileUrl", json!("JBLWOQCRXVMY")),
        add("externalId", json!("9a7bd2f1-5c1e-4b7a-9d8e-0f3c2b1a6e54")),
        add("name.givenName", json!("Estel")),
        add("name.familyName", json!("Barrows")),
        add("name.formatted", json!("Estel Barrows")),
        add("name.middleName", json!("Lelah")),
        add("name.honorificPrefix", json!("Dr")),
        add("name.honorificSuffix", json!("Jr")),
        add("emails[type eq \"work\"].value", json!("ford@purdy.biz")),
        add("emails[type eq \"work\"].primary", json!(true)),
        add("phoneNumbers[type eq \"work\"].value", json!("58-133-2214")),
        add("phoneNumbers[type eq \"mobile\"].value", json!("58-133-2215")),
        add("phoneNumbers[type eq \"fax\"].value", json!("58-133-2216")),
        add("addresses[type eq \"work\"].formatted", json!("9210 Hane Mall")),
        add("addresses[type eq \"work\"].streetAddress", json!("9210 Hane Mall")),
        add("addresses[type eq \"work\"].locality", json!("Sakhir")),
        add("addresses[type eq \"work\"].region", json!("Southern")),
        add("addresses[type eq \"work\"].postalCode", json!("ig97 5kd")),
        add("addresses[type eq \"work\"].country", json!("Bahrain")),
        add("addresses[type eq \"work\"].primary", json!(true)),
        add("roles[primary eq \"True\"].display", json!("QAJSGSLYKUHC")),
        add("roles[primary eq \"True\"].value", json!("EJXVHWEQFXMB")),
        add("roles[primary eq \"True\"].type", json!("XMAUMBDEOAWM")),
        add(&enterprise_path("employeeNumber"), json!("VSCWIJAEVGUU")),
        add(&enterprise_path("department"), json!("PBJGMRHQTDXL")),
        add(&enterprise_path("costCenter"), json!("KXIYLWZOLJRE")),
        add(&enterprise_path("organization"), json!("ZGMFWOUPLTJC")),
        add(&enterprise_path("division"), json!("QNYCUVAXHSMB")),
    ]);
    assert_eq!(ops.as_array().map(Vec::len), Some(36));
    let got = idp.patch_user(&min, ops).await;
    let role = json!({"primary": true, "display": "QAJSGSLYKUHC", "value": "EJXVHWEQFXMB", "type": "XMAUMBDEOAWM"});
    let mut want_min = json!({"schemas": [CORE_USER, ENTERPRISE], "id": min, "userName": min_name,
        "active": true, "displayName": "VLSQGNCRBXHS", "title": "GJRWSDTBQZJX", "preferredLanguage": "ne",
        "userType": "WAPOWRKZIIDH", "nickName": "DKPQSXZMWGNR", "locale": "ZVPXJLQEHUBN",
        "timezone": "Asia/Kathmandu", "profileUrl": "JBLWOQCRXVMY",
        "externalId": "9a7bd2f1-5c1e-4b7a-9d8e-0f3c2b1a6e54",
        "name": {"givenName": "Estel", "familyName": "Barrows", "formatted": "Estel Barrows",
                 "middleName": "Lelah", "honorificPrefix": "Dr", "honorificSuffix": "Jr"},
        "emails": [{"type": "work", "value": "ford@purdy.biz", "primary": true}],
        "phoneNumbers": [{"type": "work", "value": "58-133-2214"}, {"type": "mobile", "value": "58-133-2215"},
                         {"type": "fax", "value": "58-133-2216"}],
        "addresses": [{"type": "work", "formatted": "9210 Hane Mall", "streetAddress": "9210 Hane Mall",
                       "locality": "Sakhir", "region": "Southern", "postalCode": "ig97 5kd",
                       "country": "Bahrain", "primary": true}],
        ENTERPRISE: {"employeeNumber": "VSCWIJAEVGUU", "department": "PBJGMRHQTDXL",
                     "costCenter": "KXIYLWZOLJRE", "organization": "ZGMFWOUPLTJC", "division": "QNYCUVAXHSMB"}});
    // The IdP-set role is ONE element built from the three filtered ops; derived roles (if
    // scimd keeps any next to it) are scimd's business.
    let explicit: Vec<Value> = got["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("roles: {got}"))
        .iter()
        .filter(|r| r["type"] != "derived")
        .cloned()
        .collect();
    assert_eq!(explicit, [role], "{got}");
    want_min["roles"] = got["roles"].clone();
    assert_state(&got, &want_min, "add attributes");
    let f = entra_encode("roles[primary eq \"True\"].value eq \"EJXVHWEQFXMB\"");
    assert_eq!(ids(&idp.get(&format!("/Users?filter={f}")).await.expect(200)), [min.clone()]);

    // 10-12: manager add {"value"}, replace, and the three removal forms.
    let manager_cases = [
        json!([{"op":"remove","path":MANAGER}]),
        json!([{"op":"replace","path":MANAGER,"value":""}]),
        json!([{"op":"replace","path":MANAGER,"value":{"value":""}}]),
    ];
    for (i, removal) in manager_cases.into_iter().enumerate() {
        let got = idp
            .patch_user(&id, json!([{"op":"add","path":MANAGER,"value":{"value":"AXTKDLNRKMKT"}}]))
            .await;
        want[ENTERPRISE]["manager"] = json!({"value": "AXTKDLNRKMKT"});
        assert_state(&got, &want, &format!("manager added ({i})"));
        let got = idp
            .patch_user(
                &id,
                json!([{"op":"replace","path":MANAGER,"value":{"value":"CBEQXYNPNAZS"}}]),
            )
            .await;
        want[ENTERPRISE]["manager"] = json!({"value": "CBEQXYNPNAZS"});
        assert_state(&got, &want, &format!("manager replaced ({i})"));
        let got = idp.patch_user(&id, removal.clone()).await;
        remove_key(&mut want[ENTERPRISE], "manager");
        assert_state(&got, &want, &format!("manager removed by {removal}"));
        assert!(!got.to_string().contains("CBEQXYNPNAZS"), "{got}");
    }
    // The other validator version: a bare uuid string, here a real user's id.
    let got = idp.patch_user(&id, json!([{"op":"add","path":MANAGER,"value":min}])).await;
    want[ENTERPRISE]["manager"] = manager_ref(&s, &min);
    assert_state(&got, &want, "manager as a bare id");
    let got = idp.patch_user(&id, json!([{"op":"remove","path":MANAGER}])).await;
    remove_key(&mut want[ENTERPRISE], "manager");
    assert_state(&got, &want, "manager removed");

    // P1: several ops on different attributes.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"remove","path":"preferredLanguage"},
                {"op":"add","path":"externalId","value":"c3b97a69-2a2e-4a4c-a3c7-0b1e5e3f4d21"},
                {"op":"replace","path":"displayName","value":"MSADPJJZWBUS"}
            ]),
        )
        .await;
    remove_key(&mut want, "preferredLanguage");
    want["externalId"] = json!("c3b97a69-2a2e-4a4c-a3c7-0b1e5e3f4d21");
    want["displayName"] = json!("MSADPJJZWBUS");
    assert_state(&got, &want, "P1");
    // P2: remove, add, replace on the same attribute: the last one wins.
    let got = idp
        .patch_user(
            &id,
            json!([
                {"op":"remove","path":"nickName"},
                {"op":"add","path":"nickName","value":"FIRSTNICKNAME"},
                {"op":"replace","path":"nickName","value":"LASTNICKNAME"}
            ]),
        )
        .await;
    want["nickName"] = json!("LASTNICKNAME");
    assert_state(&got, &want, "P2");

    // MS-VALTUT: "the remove-attributes test may try to remove required attributes". Refused
    // as a whole: the op before it is not applied, the version does not move, the log says so.
    let ops = json!([{"op":"replace","path":"title","value":"NEVERSTORED"},{"op":"remove","path":"userName"}]);
    idp.refused_patch("User", &id, ops, 400, "invalidValue").await;

    // Groups. 17: a non-existing group.
    let group_name = "IRKXZFBWPSNU";
    let by_group = |name: &str| format!("displayName eq \"{name}\"");
    assert!(idp.find("/Groups", &by_group(group_name)).await.is_empty());
    // 19, 20: create and a duplicate.
    let body = json!({"displayName": group_name, "externalId": "5b1f0e8a-7c36-4d2b-9f41-3e6d8c2a1b70", "schemas": [GROUP]});
    let (gid, _) = idp.create("/Groups", &body).await;
    let mut want_group = json!({"schemas": [GROUP], "id": gid, "displayName": group_name,
        "externalId": "5b1f0e8a-7c36-4d2b-9f41-3e6d8c2a1b70", "members": []});
    let stored_group = idp.group(&gid).await;
    assert_state(&stored_group, &want_group, "group created");
    let r = idp.post("/Groups", &body).await.expect(409);
    assert_eq!(r.scim_type(), "uniqueness");
    assert_logged_duplicate(&s, "Group", group_name).await;
    assert_eq!(idp.group(&gid).await, stored_group);
    // 14, 15, 16, 18.
    let r = idp.get(&format!("/Groups/{gid}?excludedAttributes=members")).await.expect(200);
    assert!(r.body.get("members").is_none(), "{}", r.text);
    let filter = entra_encode(&by_group(group_name));
    let r = idp.get(&format!("/Groups?excludedAttributes=members&filter={filter}")).await;
    let r = r.expect(200);
    assert_eq!(ids(&r), [gid.clone()]);
    assert!(resources(&r)[0].get("members").is_none(), "{}", r.text);
    assert_eq!(idp.find("/Groups", &by_group(group_name)).await, [gid.clone()]);
    assert_eq!(idp.find("/Groups", &by_group("irkxzfbwpsnu")).await, [gid.clone()]);

    // 21, 22: pathless replaces of externalId and displayName.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"replace","value":{"externalId":"c3b97a69-0f45-4c8d-b2a3-6e7f8091a2b3"}}]),
        )
        .await;
    want_group["externalId"] = json!("c3b97a69-0f45-4c8d-b2a3-6e7f8091a2b3");
    assert_state(&got, &want_group, "group externalId");
    let got = idp
        .patch_group(&gid, json!([{"op":"replace","value":{"displayName":"MSADPJJZWBUS"}}]))
        .await;
    want_group["displayName"] = json!("MSADPJJZWBUS");
    assert_state(&got, &want_group, "group displayName");
    assert!(idp.find("/Groups", &by_group(group_name)).await.is_empty());

    // 23: "Add Member" is a replace of members.
    let got = idp
        .patch_group(&gid, json!([{"op":"replace","path":"members","value":[{"value":id}]}]))
        .await;
    want_group["members"] = json!([user_member(&s, &id)]);
    assert_state(&got, &want_group, "member added by replace");
    assert_eq!(group_ids(&idp.user(&id).await), set(&[&gid]));
    // 24: two members, then one removed by filter.
    let got = idp
        .patch_group(
            &gid,
            json!([{"op":"replace","path":"members","value":[{"value":id},{"value":min}]}]),
        )
        .await;
    assert_eq!(member_ids(&got), set(&[&id, &min]));
    let got = idp
        .patch_group(&gid, json!([{"op":"remove","path":format!("members[value eq \"{id}\"]")}]))
        .await;
    want_group["members"] = json!([user_member(&s, &min)]);
    assert_state(&got, &want_group, "member removed");
    assert!(group_ids(&idp.user(&id).await).is_empty());
    // P5: add and remove the same member in one request: absent.
    let got = idp
        .patch_group(
            &gid,
            json!([
                {"op":"add","path":"members","value":[{"value":id}]},
                {"op":"remove","path":format!("members[value eq \"{id}\"]")}
            ]),
        )
        .await;
    assert_state(&got, &want_group, "P5");
    assert!(group_ids(&idp.user(&id).await).is_empty());

    // 25, P6, P7: group deletes.
    idp.delete_gone(&format!("/Groups/{gid}")).await;
    idp.delete(&format!("/Groups/{gid}")).await.expect(404);
    idp.delete("/Groups/7d2b3c4e-0a1f-4e5d-8c9b-6a7f8e9d0c1b").await.expect(404);
    assert!(group_ids(&idp.user(&min).await).is_empty());

    // 13, P3, P4: user deletes.
    for u in [&id, &min] {
        idp.delete_gone(&format!("/Users/{u}")).await;
        idp.delete(&format!("/Users/{u}")).await.expect(404);
    }
    idp.delete("/Users/7d2b3c4e-0a1f-4e5d-8c9b-6a7f8e9d0c1b").await.expect(404);
    assert_eq!(s.total("/Users").await, 0);
}
