//! Names as a user of scimd sees them (issue 13 §5): group members must name someone, names
//! may not hold control or bidi characters (and those already stored print escaped), and
//! uniqueness compares names after Unicode normalisation and full case folding, with files of
//! the previous schema migrated (or refused, listing the names that now collide).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use scimd::domain::{Kind, ResourceId};
use scimd::store::{LogEntry, Store, StoredResource, TokenScope};

use crate::common::{
    TestServer, entra_encode, gpath, group_body, id_of, issue_token, member_ids, resources,
    run_scimd, scimd_at as scimd, scimd_command, upath, user_body,
};

// ---- 1. Group members without a value --------------------------------------------------

/// The member shapes that name no one.
fn valueless() -> Vec<Value> {
    vec![json!({}), json!({"display": "x"}), json!({"value": ""}), json!({"value": null})]
}

fn assert_member_refused(reply: crate::common::Reply, what: &str) {
    let reply = reply.expect(400);
    assert_eq!(reply.scim_type(), "invalidValue", "{what}: {}", reply.text);
    let detail = reply.body["detail"].as_str().unwrap_or("");
    assert!(detail.contains("'members'") && detail.contains("no 'value'"), "{what}: {detail}");
}

#[tokio::test]
async fn members_without_a_value_are_refused_by_post_and_put() {
    let s = TestServer::start().await;
    let alice = s.create_user("alice@contoso.example").await;
    let group = s.create_group("Sales", &[&alice]).await;
    for (n, member) in valueless().into_iter().enumerate() {
        let name = format!("New {n}");
        let body = json!({"schemas": [crate::common::GROUP], "displayName": name,
                          "members": [{"value": alice}, member]});
        assert_member_refused(s.post("/Groups", &body).await, &format!("POST {member}"));
        let filter = entra_encode(&format!("displayName eq \"{name}\""));
        assert_eq!(s.total(&format!("/Groups?filter={filter}")).await, 0, "POST {member}");

        let body = json!({"schemas": [crate::common::GROUP], "displayName": "Sales",
                          "members": [member]});
        assert_member_refused(s.put(&gpath(&group), &body).await, &format!("PUT {member}"));
        let stored = s.get(&gpath(&group)).await.expect(200);
        assert_eq!(member_ids(&stored.body), BTreeSet::from([alice.clone()]), "PUT {member}");
    }
}

#[tokio::test]
async fn members_without_a_value_are_refused_in_every_patch_form() {
    let s = TestServer::start().await;
    let alice = s.create_user("alice@contoso.example").await;
    let bob = s.create_user("bob@contoso.example").await;
    let group = s.create_group("Sales", &[&alice]).await;
    let before = s.get(&gpath(&group)).await.expect(200).body["meta"]["version"].clone();
    for member in valueless() {
        let forms = [
            ("RFC add", json!([{"op": "add", "path": "members", "value": [member]}])),
            (
                "Entra Add",
                json!([{"op": "Add", "path": "members", "value": [{"value": bob}, member]}]),
            ),
            ("lone object", json!([{"op": "add", "path": "members", "value": member}])),
            (
                "Okta replace",
                json!([{"op": "replace", "path": "members", "value": [{"value": bob, "display": "bob"}, member]}]),
            ),
            (
                "Okta remove-filter then add",
                json!([{"op": "remove", "path": format!("members[value eq \"{alice}\"]")},
                       {"op": "add", "path": "members", "value": [member]}]),
            ),
            ("pathless", json!([{"op": "replace", "value": {"members": [member]}}])),
            (
                "add with filter",
                json!([{"op": "add", "path": format!("members[value eq \"{bob}\"]"), "value": [member]}]),
            ),
            (
                "Entra Remove by value",
                json!([{"op": "Remove", "path": "members", "value": [member]}]),
            ),
        ];
        for (form, ops) in forms {
            let what = format!("{form} with {member}");
            let reply = s.patch(&gpath(&group), ops).await.expect(400);
            assert_eq!(reply.scim_type(), "invalidValue", "{what}: {}", reply.text);
            let detail = reply.body["detail"].as_str().unwrap_or("");
            assert!(detail.contains("members") && detail.contains("value"), "{what}: {detail}");
            // Nothing stored: the same members, the same version.
            let stored = s.get(&gpath(&group)).await.expect(200);
            assert_eq!(member_ids(&stored.body), BTreeSet::from([alice.clone()]), "{what}");
            assert_eq!(stored.body["meta"]["version"], before, "{what}");
        }
    }
    // The shapes Entra and Okta really send still work.
    s.patch(
        &gpath(&group),
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": bob}]}]),
    )
    .await
    .expect(204);
    let stored = s.get(&gpath(&group)).await.expect(200);
    assert_eq!(member_ids(&stored.body), BTreeSet::from([alice, bob]));
}

// ---- 2. Control and bidi characters ----------------------------------------------------

#[tokio::test]
async fn control_and_bidi_characters_in_names_are_refused() {
    let s = TestServer::start().await;
    let bad = [
        "line\nbreak@contoso.example",
        "tab\t@contoso.example",
        "nel\u{85}@contoso.example",
        "rlo\u{202e}moc.elpmaxe@contoso.example",
        "nul\u{0}@contoso.example",
    ];
    for name in bad {
        let reply = s.post("/Users", &user_body(name, Value::Null)).await.expect(400);
        assert_eq!(reply.scim_type(), "invalidValue", "{name:?}");
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.contains("'userName'"), "{detail}");
    }
    let reply = s
        .post("/Users", &user_body("ok@contoso.example", json!({"displayName": "Eve\u{202e}"})))
        .await
        .expect(400);
    assert!(reply.body["detail"].as_str().unwrap().contains("'displayName'"), "{}", reply.text);
    let reply = s.post("/Groups", &group_body("Ops\n| forged | row", &[])).await.expect(400);
    assert_eq!(reply.scim_type(), "invalidValue");
    assert!(reply.body["detail"].as_str().unwrap().contains("'displayName'"), "{}", reply.text);
    assert_eq!(s.total("/Users").await, 0);
    assert_eq!(s.total("/Groups").await, 0);

    // PUT and PATCH (path and pathless) refuse them too; the user keeps its name.
    let id = s.create_user("good@contoso.example").await;
    let put = user_body("good\u{2066}@contoso.example", Value::Null);
    assert_eq!(s.put(&upath(&id), &put).await.expect(400).scim_type(), "invalidValue");
    for ops in [
        json!([{"op": "replace", "path": "userName", "value": "a\rb@contoso.example"}]),
        json!([{"op": "Replace", "value": {"displayName": "x\u{9b}y"}}]),
    ] {
        assert_eq!(s.patch(&upath(&id), ops).await.expect(400).scim_type(), "invalidValue");
    }
    let group = s.create_group("Ops", &[]).await;
    let ops = json!([{"op": "replace", "path": "displayName", "value": "Ops\u{202d}"}]);
    assert_eq!(s.patch(&gpath(&group), ops).await.expect(400).scim_type(), "invalidValue");
    assert_eq!(s.get(&upath(&id)).await.expect(200).body["userName"], "good@contoso.example");
    // Right-to-left names need no bidi controls and are accepted.
    s.post("/Users", &user_body("דנה@contoso.example", json!({"displayName": "دانا"})))
        .await
        .expect(201);
}

fn stored(id: ResourceId, attributes: Value) -> StoredResource {
    StoredResource {
        id,
        version: 1,
        created: "2026-01-01T00:00:00.000Z".into(),
        last_modified: "2026-01-01T00:00:00.000Z".into(),
        attributes,
        roles_derived: false,
    }
}

#[tokio::test]
async fn names_stored_with_control_characters_print_escaped() {
    let mut s = TestServer::start().await;
    let config = s.write_config_file();
    s.stop().await;
    // As an older scimd, which did not refuse them, could have stored them.
    let forged =
        "evil@contoso.example\n00000000-0000-0000-0000-000000000000  admin@contoso.example";
    let (user, group) = (ResourceId::new_random(), ResourceId::new_random());
    {
        let store = Store::open(&s.data_dir().join("scimd.redb")).unwrap();
        store
            .write(|w| {
                w.put(Kind::User, &stored(user, json!({"userName": forged, "displayName": "Mallory \u{202e}gnp.exe", "active": true})), None)?;
                w.put(Kind::Group, &stored(group, json!({"displayName": "Ops\tAdmins\u{1b}[2J"})), None)?;
                w.append_log(LogEntry {
                    seq: 0,
                    time: "2026-01-01T00:00:00.000Z".into(),
                    token: "entra".into(),
                    operation: "create".into(),
                    resource_type: "User".into(),
                    resource_id: Some(user.to_string()),
                    name: Some(forged.into()),
                    status: 201,
                    scim_type: None,
                    detail: None,
                    roles: None,
                })?;
                Ok::<_, scimd::store::StoreError>(())
            })
            .unwrap();
    }
    let raw = |out: &str| out.chars().any(|c| c == '\u{202e}' || c == '\u{1b}' || c == '\t');
    let check = |online: &str, users: &str, groups: &str, show: &str, log: &str| {
        // One header and one row: the name's newline did not make a second row.
        assert_eq!(users.lines().count(), 2, "{online}: {users}");
        assert!(users.contains("evil@contoso.example\\n00000000"), "{online}: {users}");
        assert!(users.contains("Mallory \\u{202e}gnp.exe"), "{online}: {users}");
        assert!(groups.contains("Ops\\tAdmins\\u{1b}[2J"), "{online}: {groups}");
        assert_eq!(groups.lines().count(), 2, "{online}: {groups}");
        assert!(show.contains("evil@contoso.example\\n00000000"), "{online}: {show}");
        assert!(!show.lines().any(|l| l.starts_with("00000000-0000")), "{online}: {show}");
        assert!(log.contains("evil@contoso.example\\n00000000"), "{online}: {log}");
        assert_eq!(log.lines().count(), 1, "{online}: {log}");
        for out in [users, groups, show, log] {
            assert!(!raw(out), "{online}: raw control or bidi character in {out:?}");
        }
    };
    let uid = user.to_string();
    let offline = [
        scimd(&config, &["users", "list"]).await,
        scimd(&config, &["groups", "list"]).await,
        scimd(&config, &["users", "show", &uid]).await,
        scimd(&config, &["log"]).await,
    ];
    for out in &offline {
        assert_eq!(out.code, Some(0), "{out:?}");
    }
    check(
        "offline",
        &offline[0].stdout,
        &offline[1].stdout,
        &offline[2].stdout,
        &offline[3].stdout,
    );

    let s = s.restart().await;
    let online = [
        scimd(&config, &["users", "list"]).await,
        scimd(&config, &["groups", "list"]).await,
        scimd(&config, &["users", "show", &uid]).await,
        scimd(&config, &["log"]).await,
    ];
    check("online", &online[0].stdout, &online[1].stdout, &online[2].stdout, &online[3].stdout);
    // The IdP can still deactivate that user: its stored name is sent back unchanged.
    s.patch(&upath(&uid), json!([{"op": "Replace", "path": "active", "value": "False"}]))
        .await
        .expect(200);
    // The JSON output keeps the value as stored.
    let json_out = scimd(&config, &["users", "show", &uid, "--format", "json"]).await;
    let shown: Value = serde_json::from_str(&json_out.stdout).unwrap();
    assert_eq!(shown["userName"], forged);
}

// ---- 3. Uniqueness by Unicode key ------------------------------------------------------

/// Pairs that are one name: (first, then the colliding one).
fn colliding_pairs() -> Vec<(&'static str, &'static str)> {
    vec![
        ("straße@contoso.example", "STRASSE@contoso.example"),
        ("İnci@contoso.example", "inci@contoso.example"),
        ("I\u{307}pek@contoso.example", "İpek@contoso.example"),
        ("jos\u{e9}@contoso.example", "jose\u{301}@contoso.example"),
        ("ａｌｉｃｅ@contoso.example", "Alice@contoso.example"),
        ("\u{212a}im@contoso.example", "kim@contoso.example"),
    ]
}

#[tokio::test]
async fn names_equal_under_unicode_folding_are_one_name() {
    let s = TestServer::start().await;
    for (first, second) in colliding_pairs() {
        let id = s.create_user(first).await;
        let reply = s.post("/Users", &user_body(second, Value::Null)).await.expect(409);
        assert_eq!(reply.scim_type(), "uniqueness", "{first} / {second}: {}", reply.text);
        // Kept as sent.
        assert_eq!(s.get(&upath(&id)).await.expect(200).body["userName"], first);
        // A filter with the other spelling finds it (caseExact false), through the index.
        let filter = entra_encode(&format!("userName eq \"{second}\""));
        let found = s.get(&format!("/Users?filter={filter}")).await.expect(200);
        let ids: Vec<Value> = resources(&found).iter().map(|r| r["id"].clone()).collect();
        assert_eq!(ids, vec![json!(id)], "{second}");

        // Renaming another user to it is refused too, by PUT and by PATCH.
        let other = s.create_user(&format!("other-{}", id)).await;
        s.put(&upath(&other), &user_body(second, Value::Null)).await.expect(409);
        let ops = json!([{"op": "replace", "path": "userName", "value": second}]);
        s.patch(&upath(&other), ops).await.expect(409);
    }
    // sw compares folded prefixes, through the index too.
    let filter = entra_encode("userName sw \"STRASS\"");
    let found = s.get(&format!("/Users?filter={filter}")).await.expect(200);
    assert_eq!(found.body["totalResults"], 1, "{}", found.text);
    assert_eq!(resources(&found)[0]["userName"], "straße@contoso.example");

    // Groups' displayName likewise.
    let id = s.create_group("Straßenbau", &[]).await;
    let reply = s.post("/Groups", &group_body("STRASSENBAU", &[])).await.expect(409);
    assert_eq!(reply.scim_type(), "uniqueness");
    s.post("/Groups", &group_body("ＳＴＲＡＳＳＥＮＢＡＵ", &[])).await.expect(409);
    assert_eq!(s.get(&gpath(&id)).await.expect(200).body["displayName"], "Straßenbau");
    // Distinct names stay distinct: dotless ı is not i.
    s.create_user("ınci@contoso.example").await;
}

// ---- 4. Migration from schema 5 --------------------------------------------------------

/// Rewrites a data file this scimd wrote into the layout of schema 5, the previous scimd's:
/// the name indexes in `user_name_idx.v1` / `group_name_idx.v1` keyed by the lower-cased
/// name, and `schema_version` 5. `names` are the resources in the file.
fn downgrade_to_schema_5(file: &Path, names: &[(Kind, ResourceId, &str)]) {
    use redb::TableDefinition;
    let index = |name| TableDefinition::<&str, u128>::new(name);
    let db = redb::Database::open(file).unwrap();
    let tx = db.begin_write().unwrap();
    tx.delete_table(index("user_name_idx.v2")).unwrap();
    tx.delete_table(index("group_name_idx.v2")).unwrap();
    {
        let mut users = tx.open_table(index("user_name_idx.v1")).unwrap();
        let mut groups = tx.open_table(index("group_name_idx.v1")).unwrap();
        for (kind, id, name) in names {
            let table = if *kind == Kind::User { &mut users } else { &mut groups };
            table.insert(name.to_lowercase().as_str(), id.0).unwrap();
        }
        let mut meta = tx.open_table(TableDefinition::<&str, &[u8]>::new("meta.v1")).unwrap();
        meta.insert("schema_version", b"\x015".as_slice()).unwrap();
    }
    tx.commit().unwrap();
}

/// A data directory holding a token and these users and groups, at schema 5.
fn schema_5_directory(
    names: &[(Kind, &'static str)],
) -> (tempfile::TempDir, String, Vec<ResourceId>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = issue_token(&data, "entra", TokenScope::ReadWrite);
    let file = data.join("scimd.redb");
    let ids: Vec<ResourceId> = names.iter().map(|_| ResourceId::new_random()).collect();
    {
        let store = Store::open(&file).unwrap();
        store
            .write(|w| {
                for ((kind, name), id) in names.iter().zip(&ids) {
                    let attr = if *kind == Kind::User { "userName" } else { "displayName" };
                    w.put(*kind, &stored(*id, json!({ attr: name })), None)?;
                }
                Ok::<_, scimd::store::StoreError>(())
            })
            .unwrap();
    }
    let listed: Vec<(Kind, ResourceId, &str)> =
        names.iter().zip(&ids).map(|((k, n), id)| (*k, *id, *n)).collect();
    downgrade_to_schema_5(&file, &listed);
    (dir, token, ids)
}

#[tokio::test]
async fn a_schema_5_file_opens_with_its_name_indexes_rebuilt() {
    let (dir, token, ids) = schema_5_directory(&[
        (Kind::User, "Straße@contoso.example"),
        (Kind::User, "ＢＯＢ@contoso.example"),
        (Kind::Group, "Straßenbau"),
    ]);
    let s = TestServer::start_in(dir, token).await;
    // Found under the new key (a lower-cased v1 key would miss both).
    for (name, id) in [("strasse@contoso.example", ids[0]), ("bob@contoso.example", ids[1])] {
        let filter = entra_encode(&format!("userName eq \"{name}\""));
        let found = s.get(&format!("/Users?filter={filter}")).await.expect(200);
        assert_eq!(found.body["totalResults"], 1, "{name}: {}", found.text);
        assert_eq!(resources(&found)[0]["id"], json!(id.to_string()));
    }
    s.post("/Users", &user_body("STRASSE@contoso.example", Value::Null)).await.expect(409);
    s.post("/Users", &user_body("bob@contoso.example", Value::Null)).await.expect(409);
    s.post("/Groups", &group_body("STRASSENBAU", &[])).await.expect(409);
    // Renaming frees the old key and takes the new one.
    let ops = json!([{"op": "replace", "path": "userName", "value": "robert@contoso.example"}]);
    s.patch(&upath(&ids[1].to_string()), ops).await.expect(200);
    let created = s.post("/Users", &user_body("bob@contoso.example", Value::Null)).await;
    id_of(&created.expect(201));
    // A backup of the migrated file says the current schema and restores with its indexes
    // checked.
    let config = s.write_config_file();
    let backup = s.dir.path().join("backup.jsonl");
    let out = scimd(&config, &["backup", backup.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let header: Value =
        serde_json::from_str(std::fs::read_to_string(&backup).unwrap().lines().next().unwrap())
            .unwrap();
    assert_eq!(header["schema"], 8);
}

#[tokio::test]
async fn a_schema_5_file_with_names_that_now_collide_refuses_to_start() {
    let (dir, _token, ids) = schema_5_directory(&[
        (Kind::User, "straße@contoso.example"),
        (Kind::User, "strasse@contoso.example"),
        (Kind::User, "unrelated@contoso.example"),
        (Kind::Group, "Ｏｐｓ"),
        (Kind::Group, "ops"),
    ]);
    let config = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config).arg("serve");
    let out = run_scimd(cmd).await;
    assert_ne!(out.code, Some(0), "{out:?}");
    let err = &out.stderr;
    for needle in [
        "User 'straße@contoso.example'",
        "User 'strasse@contoso.example'",
        "Group 'Ｏｐｓ'",
        "Group 'ops'",
        "Nothing was changed",
        "previous scimd version",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    for id in &ids[..2] {
        assert!(err.contains(&id.to_string()), "{id} missing from: {err}");
    }
    assert!(!err.contains("unrelated"), "{err}");
    // Nothing was changed: the file is still at schema 5 and still refused.
    let again = run_scimd({
        let mut cmd = scimd_command();
        cmd.arg("--config").arg(&config).arg("serve");
        cmd
    })
    .await;
    assert_ne!(again.code, Some(0));
    assert!(again.stderr.contains("User 'strasse@contoso.example'"), "{}", again.stderr);
}

#[tokio::test]
async fn a_backup_holding_names_that_now_collide_is_not_restored() {
    let s = TestServer::start().await;
    let id = s.create_user("straße@contoso.example").await;
    let config = s.write_config_file();
    let file = s.dir.path().join("backup.jsonl");
    assert_eq!(scimd(&config, &["backup", file.to_str().unwrap()]).await.code, Some(0));
    // As a backup from a scimd that compared names by lower-casing could be: a second user
    // whose name differs only by ß/ss.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut twin = lines.iter().find(|l| l.get("user").is_some()).unwrap().clone();
    let twin_id = ResourceId::new_random().to_string();
    twin["user"]["id"] = json!(twin_id);
    twin["user"]["attributes"]["userName"] = json!("strasse@contoso.example");
    lines[0]["counts"]["users"] = json!(2);
    lines.insert(2, twin);
    let edited = s.dir.path().join("edited.jsonl");
    let body: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&edited, body.join("\n") + "\n").unwrap();

    let target = tempfile::tempdir().unwrap();
    let restore_config = target.path().join("config.toml");
    let data = target.path().join("data").display().to_string();
    std::fs::write(&restore_config, format!("data_dir = {data:?}\n")).unwrap();
    let out = scimd(&restore_config, &["restore", edited.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    for needle in ["straße@contoso.example", "strasse@contoso.example", &id, &twin_id] {
        assert!(out.stderr.contains(needle), "{needle} missing from: {}", out.stderr);
    }
    assert!(!target.path().join("data/scimd.redb").exists());
}
