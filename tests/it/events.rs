//! Change events (issue 15): what the outbox holds after IdP requests over HTTP. The server is
//! stopped and its data file opened, so the test reads exactly what delivery will read.

use scimd::domain::events::{Activation, Change, ChangeEvent};
use scimd::store::Store;
use serde_json::json;

use crate::common::*;
use crate::payloads::{entra_group, ms_tut_create_user};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Stops `s` and returns every event in its outbox, oldest first.
async fn outbox(s: &mut TestServer) -> Vec<(u64, ChangeEvent)> {
    s.stop().await;
    let store = Store::open(&s.data_dir().join("scimd.redb")).expect("open the data file");
    store.read().expect("read").events_after(0, 10_000).expect("events")
}

/// One event as (change, resource type, id, activation, attributes), for comparing.
fn summary(e: &ChangeEvent) -> (Change, &'static str, String, Option<Activation>, Vec<String>) {
    (e.change, e.kind.resource_type(), e.id.to_string(), e.activation, e.attributes.clone())
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn an_entra_lifecycle_appends_exactly_its_events_in_commit_order() {
    let mut s = TestServer::start().await;
    // The manager, then MS-TUT's user, literally, managed by them.
    let manager = s.create_user("boss@example.org").await;
    let user = id_of(&s.post("/Users", &ms_tut_create_user()).await.expect(201));
    let path = upath(&user);
    // Entra's default dialect: one capitalised Replace per attribute.
    s.patch(&path, json!([{"op": "Replace", "path": "displayName", "value": "Pvlo"}]))
        .await
        .expect(200);
    s.patch(
        &path,
        json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager}]),
    )
    .await
    .expect(200);
    // Deactivate and reactivate with Entra's string booleans.
    s.entra_set_active(&path, false).await;
    s.entra_set_active(&path, true).await;
    // A PATCH that changes nothing is no event.
    s.entra_set_active(&path, true).await;
    let group = id_of(&s.post("/Groups", &entra_group()).await.expect(201));
    let gp = gpath(&group);
    s.patch(&gp, json!([{"op": "Add", "path": "members", "value": [{"value": user}]}]))
        .await
        .expect(204);
    s.patch(&gp, json!([{"op": "Add", "path": "members", "value": [{"value": manager}]}]))
        .await
        .expect(204);
    s.patch(&gp, json!([{"op": "Remove", "path": "members", "value": [{"value": user}]}]))
        .await
        .expect(204);
    // Refused writes: a taken userName, a bad PATCH path. They leave no event.
    s.post("/Users", &user_body("boss@example.org", json!(null))).await.expect(409);
    s.patch(&path, json!([{"op": "replace", "path": "nosuch", "value": 1}])).await.expect(400);
    // The manager leaves: the user loses their manager and the group a member, in one txn.
    s.delete(&upath(&manager)).await.expect(204);
    s.delete(&gp).await.expect(204);
    s.delete(&path).await.expect(204);

    let events = outbox(&mut s).await;
    let got: Vec<_> = events.iter().map(|(_, e)| summary(e)).collect();
    let manager_path = format!("{ENTERPRISE}:manager");
    // A create names every attribute the resource was stored with.
    let created_user = strings(&["name", "externalId", "userName", "active", "emails", "roles"]);
    let created_manager = strings(&["active", "userName", "name", "emails", "roles"]);
    let want = vec![
        (Change::Create, "User", manager.clone(), None, created_manager),
        (Change::Create, "User", user.clone(), None, created_user),
        (Change::Patch, "User", user.clone(), None, strings(&["displayName"])),
        (Change::Patch, "User", user.clone(), None, vec![manager_path.clone()]),
        (Change::Patch, "User", user.clone(), Some(Activation::Deactivate), strings(&["active"])),
        (Change::Patch, "User", user.clone(), Some(Activation::Activate), strings(&["active"])),
        (Change::Create, "Group", group.clone(), None, strings(&["displayName", "externalId"])),
        (Change::Patch, "Group", group.clone(), None, strings(&["members"])),
        (Change::Patch, "Group", group.clone(), None, strings(&["members"])),
        (Change::Patch, "Group", group.clone(), None, strings(&["members"])),
        (Change::Delete, "User", manager.clone(), None, vec![]),
        (Change::Patch, "Group", group.clone(), None, strings(&["members"])),
        (Change::Patch, "User", user.clone(), None, vec![manager_path]),
        (Change::Delete, "Group", group.clone(), None, vec![]),
        (Change::Delete, "User", user.clone(), None, vec![]),
    ];
    assert_eq!(got, want, "{events:#?}");

    // Sequence numbers increase by one; each write has its own txn, shared by what it did.
    let seqs: Vec<u64> = events.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=want.len() as u64).collect::<Vec<_>>());
    let txns: Vec<&str> = events.iter().map(|(_, e)| e.txn.as_str()).collect();
    assert_eq!(txns[10], txns[11]);
    assert_eq!(txns[10], txns[12]);
    let mut distinct = txns.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), want.len() - 2);

    // What a full receiver gets: the created user as a GET returned it, the patch as a PatchOp
    // that replays it, the delete with the externalId it had.
    let (_, created) = &events[1];
    let data = &created.data_value().expect("create data");
    assert_eq!(data["id"], user);
    assert_eq!(data["userName"], "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee");
    assert_eq!(data["meta"]["version"], "W/\"1\"");
    assert_eq!(created.external_id.as_deref(), Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"));
    assert_eq!(created.version, Some(1));
    let (_, deactivated) = &events[4];
    assert_eq!(
        deactivated.data_value(),
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]}))
    );
    assert_eq!(deactivated.version, Some(4));
    let (_, added) = &events[7];
    assert_eq!(
        added.data_value().expect("patch data")["Operations"],
        json!([{"op": "add", "path": "members", "value": [{"value": user}]}])
    );
    let (_, removed) = &events[11];
    assert_eq!(
        removed.data_value().expect("patch data")["Operations"],
        json!([{"op": "remove", "path": format!("members[value eq \"{manager}\"]")}])
    );
    let (_, deleted) = &events[14];
    assert_eq!(deleted.external_id.as_deref(), Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"));
    assert_eq!((deleted.version, deleted.data_value()), (None, None));
}

#[tokio::test]
async fn an_okta_put_that_changes_nothing_is_no_event_and_keeps_the_version() {
    let mut s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let current = s.get(&upath(&id)).await.expect(200).body;
    // Okta sends the whole user back, unchanged.
    let same = s.put(&upath(&id), &current).await.expect(200);
    assert_eq!(same.body["meta"]["version"], current["meta"]["version"]);
    // Deactivation by PUT (Okta's way) is a put with a deactivate riding along.
    let mut off = current.clone();
    off["active"] = json!(false);
    let put = s.put(&upath(&id), &off).await.expect(200);
    assert_eq!(put.body["meta"]["version"], "W/\"2\"");

    let events = outbox(&mut s).await;
    let got: Vec<_> = events.iter().map(|(_, e)| summary(e)).collect();
    assert_eq!(
        got,
        vec![
            (
                Change::Create,
                "User",
                id.clone(),
                None,
                strings(&["active", "userName", "name", "emails", "roles"])
            ),
            (Change::Put, "User", id.clone(), Some(Activation::Deactivate), strings(&["active"])),
        ]
    );
    let data = &events[1].1.data_value().expect("put data");
    assert_eq!(data["active"], false);
    assert_eq!(data["meta"]["version"], "W/\"2\"");
}

#[tokio::test]
async fn a_group_put_names_members_only_when_the_member_set_changes() {
    let mut s = TestServer::start().await;
    let (a, b) = (s.create_user("a@example.org").await, s.create_user("b@example.org").await);
    let g = s.create_group("Staff", &[&a]).await;
    // Same members, new name; then the same name, other members.
    s.put(&gpath(&g), &group_body("Team", &[&a])).await.expect(200);
    s.put(&gpath(&g), &group_body("Team", &[&b])).await.expect(200);

    let events = outbox(&mut s).await;
    let got: Vec<_> = events.iter().skip(2).map(|(_, e)| summary(e)).collect();
    assert_eq!(
        got,
        vec![
            (Change::Create, "Group", g.clone(), None, strings(&["displayName", "members"])),
            (Change::Put, "Group", g.clone(), None, strings(&["displayName"])),
            (Change::Put, "Group", g.clone(), None, strings(&["members"])),
        ]
    );
    let data = &events[4].1.data_value().expect("put data");
    assert_eq!(data["members"][0]["value"], b);
}

#[tokio::test]
async fn service_provider_config_advertises_security_events_once_a_receiver_is_configured() {
    // None configured: nothing advertised (strict SCIM clients refuse attributes they do not
    // know, and there is no one to send events to).
    let s = TestServer::start().await;
    let spc = s.get("/ServiceProviderConfig").await.expect(200).body;
    assert!(spc.get("securityEvents").is_none(), "{spc}");
    let s = TestServer::start_with("[[events.receivers]]\nname = \"wiki\"\ndelivery = \"poll\"\n")
        .await;
    let spc = s.get("/ServiceProviderConfig").await.expect(200).body;
    assert_eq!(spc["securityEvents"]["asyncRequest"], "none");
    let uris = spc["securityEvents"]["eventUris"].as_array().expect("eventUris");
    for uri in [
        "urn:ietf:params:scim:event:prov:create:notice",
        "urn:ietf:params:scim:event:prov:patch:full",
        "urn:ietf:params:scim:event:prov:delete",
        "urn:ietf:params:scim:event:prov:deactivate",
    ] {
        assert!(uris.iter().any(|u| u == uri), "{uri} in {uris:?}");
    }
}
