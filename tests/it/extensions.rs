//! Custom attributes (issue 16): extension schemas declared in `[[schemas.extensions]]`, over
//! the real binary. An Entra-shaped POST carrying a custom extension, Entra's PATCH forms for
//! it (`Replace` with the full URN path, path-less with URN keys), an Okta PUT with the
//! extension object, type and `canonical_values` errors, a filter and a projection on a custom
//! attribute, `/Schemas` and `/ResourceTypes` in RFC 7643 form, and a reload that adds an
//! attribute while one that removes one is refused.

use serde_json::{Value, json};

use crate::common::{
    ProcessClient, ServeProcess, issue_token, serve_process, urlencode, write_plain_config,
};
use scimd::store::TokenScope;

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

const DECLARED: &str = r#"
[[schemas.extensions]]
id = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
name = "Acme user"

[[schemas.extensions.attributes]]
name = "badgeNumber"
description = "The number on the badge"

[[schemas.extensions.attributes]]
name = "clearance"
canonical_values = ["low", "high"]

[[schemas.extensions.attributes]]
name = "contractor"
type = "boolean"

[[schemas.extensions.attributes]]
name = "floor"
type = "integer"

[[schemas.extensions.attributes]]
name = "hourlyRate"
type = "decimal"

[[schemas.extensions.attributes]]
name = "startDate"
type = "dateTime"

[[schemas.extensions.attributes]]
name = "desk"
type = "complex"

[[schemas.extensions.attributes.sub_attributes]]
name = "building"

[[schemas.extensions.attributes.sub_attributes]]
name = "number"
type = "integer"
"#;

use reqwest::Method;

/// One `scimd serve` process with `extra` config appended: its directory (kept while it
/// runs), the IdP's token, the config file, the process and a client.
struct Served {
    dir: tempfile::TempDir,
    token: String,
    config: std::path::PathBuf,
    process: ServeProcess,
    c: ProcessClient,
}

async fn serve_with(extra: &str) -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = issue_token(&dir.path().join("data"), "idp", TokenScope::ReadWrite);
    let config = write_plain_config(dir.path(), extra);
    let process = serve_process(&config).await;
    let c = ProcessClient::new(process.port, &token);
    Served { dir, token, config, process, c }
}

/// Writes `text` as the config and has the server reload it, waiting until it has.
fn reload_with(process: &mut ServeProcess, dir: &std::path::Path, text: &str) {
    write_plain_config(dir, text);
    hangup(process);
    process.stderr_line("config reloaded");
}

/// SIGHUP: the server reloads its config.
fn hangup(process: &ServeProcess) {
    let status =
        std::process::Command::new("kill").args(["-HUP", &process.child.id().to_string()]).status();
    assert!(status.expect("kill -HUP").success());
}

fn entra_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", ACME],
        "externalId": user_name,
        "userName": user_name,
        "active": true,
        "displayName": "Badge Holder",
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"},
        ACME: {"badgeNumber": "4711", "contractor": "True", "floor": 3, "hourlyRate": 12.5,
               "startDate": "2026-01-05T09:00:00Z", "desk": {"building": "North", "number": 12}}
    })
}

#[tokio::test]
async fn a_declared_extension_provisions_in_every_form_the_idps_send() {
    let Served { dir, token: _, config, process: _process, c } = serve_with(DECLARED).await;

    // Entra's POST: the extension object under its URN; "True" for a declared boolean.
    let (status, created) =
        c.send(Method::POST, "/Users", Some(entra_user("ada@example.org"))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(
        created[ACME],
        json!({"badgeNumber": "4711", "contractor": true, "floor": 3, "hourlyRate": 12.5,
               "startDate": "2026-01-05T09:00:00Z", "desk": {"building": "North", "number": 12}})
    );
    assert!(created["schemas"].as_array().expect("schemas").contains(&json!(ACME)), "{created}");
    let (_, read) = c.send(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(read[ACME], created[ACME], "stored as answered");

    // Entra's PATCH: Replace with the full URN path, then a path-less value with URN keys.
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let (status, patched) = c
        .send(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "Replace", "path": format!("{ACME}:badgeNumber"), "value": "4712"}]),
            )),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched[ACME]["badgeNumber"], "4712");
    let (status, patched) = c
        .send(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([{"op": "replace", "value": {
                  format!("{ACME}:clearance"): "high", "displayName": "Ada"}}]))),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (patched[ACME]["clearance"].as_str(), patched["displayName"].as_str()),
        (Some("high"), Some("Ada"))
    );
    assert_eq!(patched[ACME]["badgeNumber"], "4712", "the rest of the extension is kept");

    // Okta's PUT: the whole user with the extension object.
    let mut okta = read.clone();
    okta[ACME] = json!({"badgeNumber": "5000", "floor": 4});
    let (status, put) = c.send(Method::PUT, &format!("/Users/{id}"), Some(okta)).await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put[ACME], json!({"badgeNumber": "5000", "floor": 4}));

    // Type errors name the attribute and its declared type; nothing is stored.
    for (value, says) in [
        (json!({"floor": "three"}), "floor"),
        (json!({"hourlyRate": "cheap"}), "hourlyRate"),
        (json!({"startDate": "last monday"}), "startDate"),
        (json!({"contractor": "maybe"}), "contractor"),
        (json!({"clearance": "secret"}), "clearance"),
        (json!({"desk": {"number": "twelve"}}), "number"),
        (json!({"nope": 1}), "nope"),
    ] {
        let mut body = entra_user("bad@example.org");
        body[ACME] = value.clone();
        let (status, error) = c.send(Method::POST, "/Users", Some(body)).await;
        assert_eq!(status, 400, "{value}: {error}");
        assert!(error["detail"].as_str().unwrap_or("").contains(says), "{value}: {error}");
    }
    let (_, list) =
        c.send(Method::GET, "/Users?filter=userName%20eq%20%22bad@example.org%22", None).await;
    assert_eq!(list["totalResults"], 0, "a refused user is not stored");

    // Filters and projection on a custom attribute.
    let (status, _) = c.send(Method::POST, "/Users", Some(entra_user("bob@example.org"))).await;
    assert_eq!(status, 201);
    let filter = format!("{ACME}:badgeNumber eq \"5000\"");
    let path = format!("/Users?filter={}&attributes={ACME}:badgeNumber", urlencode(&filter));
    let (status, found) = c.send(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], id.as_str());
    assert_eq!(found["Resources"][0][ACME], json!({"badgeNumber": "5000"}), "{found}");
    assert!(found["Resources"][0].get("userName").is_none(), "only what was asked for");
    let (_, sorted) = c
        .send(Method::GET, &format!("/Users?sortBy={ACME}:badgeNumber&attributes=userName"), None)
        .await;
    let names: Vec<&str> = sorted["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|u| u["userName"].as_str())
        .collect();
    assert_eq!(names, ["bob@example.org", "ada@example.org"], "4711 sorts before 5000");

    // A backup carries them, as stored.
    let backup = dir.path().join("backup.jsonl");
    let mut cmd = crate::common::scimd_command();
    cmd.arg("--config").arg(&config).arg("backup").arg(&backup);
    let out = crate::common::run_scimd(cmd).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let text = std::fs::read_to_string(&backup).expect("backup");
    let line = text.lines().find(|l| l.contains(&id)).expect("the user's line");
    assert!(line.contains(ACME) && line.contains("\"badgeNumber\":\"5000\""), "{line}");

    // The CLI shows them: `users show`, and `users list --columns` in the table and the CSV.
    let cli = |args: &[&str]| {
        let mut cmd = crate::common::scimd_command();
        cmd.arg("--config").arg(&config).args(args);
        crate::common::run_scimd(cmd)
    };
    let shown = cli(&["users", "show", "ada@example.org"]).await;
    assert_eq!(shown.code, Some(0), "{shown:?}");
    let badge = shown.stdout.lines().find(|l| l.trim_start().starts_with("badgeNumber"));
    assert!(badge.is_some_and(|l| l.ends_with("5000")), "{}", shown.stdout);
    let column = format!("{ACME}:badgeNumber");
    let csv =
        cli(&["users", "list", "--format", "csv", "--columns", &format!("{column},desk.building")])
            .await;
    assert_eq!(csv.code, Some(0), "{csv:?}");
    let mut lines = csv.stdout.lines();
    assert!(
        lines.next().is_some_and(|h| h.ends_with(&format!(",{column},desk.building"))),
        "{}",
        csv.stdout
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter().any(|r| r.contains("ada@example.org") && r.ends_with(",5000,")),
        "{}",
        csv.stdout
    );
    assert!(
        rows.iter().any(|r| r.contains("bob@example.org") && r.ends_with(",4711,North")),
        "{}",
        csv.stdout
    );
    let table = cli(&["users", "list", "--columns", &column]).await;
    assert!(
        table.stdout.lines().next().is_some_and(|h| h.trim_end().ends_with(&column)),
        "{}",
        table.stdout
    );
    let wrong = cli(&["users", "list", "--columns", "shoeSize"]).await;
    assert_ne!(wrong.code, Some(0));
    assert!(
        wrong.stderr.contains("--columns") && wrong.stderr.contains("shoeSize"),
        "{}",
        wrong.stderr
    );
}

#[tokio::test]
async fn schemas_and_resource_types_list_a_declared_extension_in_rfc_7643_form() {
    let required =
        DECLARED.replace("name = \"Acme user\"", "name = \"Acme user\"\nrequired = true");
    let Served { c, process: _process, dir: _dir, .. } = serve_with(&required).await;

    let (status, schema) = c.send(Method::GET, &format!("/Schemas/{ACME}"), None).await;
    assert_eq!(status, 200, "{schema}");
    assert_eq!(schema["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]));
    assert_eq!((schema["id"].as_str(), schema["name"].as_str()), (Some(ACME), Some("Acme user")));
    assert_eq!(schema["meta"]["resourceType"], "Schema");
    let attrs = schema["attributes"].as_array().expect("attributes");
    let badge = attrs.iter().find(|a| a["name"] == "badgeNumber").expect("badgeNumber");
    // RFC 7643 §7: every characteristic, with the declared values.
    for (key, want) in [
        ("type", json!("string")),
        ("multiValued", json!(false)),
        ("required", json!(false)),
        ("caseExact", json!(false)),
        ("mutability", json!("readWrite")),
        ("returned", json!("default")),
        ("uniqueness", json!("none")),
        ("description", json!("The number on the badge")),
    ] {
        assert_eq!(badge[key], want, "{key}: {badge}");
    }
    let clearance = attrs.iter().find(|a| a["name"] == "clearance").expect("clearance");
    assert_eq!(clearance["canonicalValues"], json!(["low", "high"]));
    let desk = attrs.iter().find(|a| a["name"] == "desk").expect("desk");
    assert_eq!(desk["type"], "complex");
    assert_eq!(
        desk["subAttributes"][1],
        json!({
        "name": "number", "type": "integer", "multiValued": false, "description": "",
        "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none"})
    );

    let (_, all) = c.send(Method::GET, "/Schemas", None).await;
    let ids: Vec<&str> = all["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(ids.contains(&ACME), "{ids:?}");
    assert_eq!(all["totalResults"], ids.len());

    let (_, user_type) = c.send(Method::GET, "/ResourceTypes/User", None).await;
    assert_eq!(
        user_type["schemaExtensions"],
        json!([{"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": false},
               {"schema": ACME, "required": true}])
    );
    // A required extension must be there.
    let mut without = entra_user("carol@example.org");
    without.as_object_mut().expect("object").remove(ACME);
    let (status, error) = c.send(Method::POST, "/Users", Some(without)).await;
    assert_eq!(status, 400, "{error}");
    assert!(error["detail"].as_str().unwrap_or("").contains(ACME), "{error}");
}

#[tokio::test]
async fn a_reload_adds_an_attribute_and_refuses_to_remove_one() {
    let Served { dir, token, config, mut process, c } = serve_with(DECLARED).await;
    let mut body = entra_user("dan@example.org");
    body[ACME]["costCode"] = json!("CC-1");
    let (status, error) = c.send(Method::POST, "/Users", Some(body.clone())).await;
    assert_eq!(status, 400, "not declared yet: {error}");

    let added = format!("{DECLARED}\n[[schemas.extensions.attributes]]\nname = \"costCode\"\n");
    reload_with(&mut process, dir.path(), &added);
    let (status, created) = c.send(Method::POST, "/Users", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created[ACME]["costCode"], "CC-1");

    // Removing it again would orphan the stored value: the reload is refused, all of it.
    write_plain_config(dir.path(), DECLARED);
    hangup(&process);
    let refusal = process.stderr_line("reload failed");
    assert!(refusal.contains("costCode") && refusal.contains("removed"), "{refusal}");
    let (_, schema) = c.send(Method::GET, &format!("/Schemas/{ACME}"), None).await;
    let names: Vec<&str> = schema["attributes"]
        .as_array()
        .expect("attrs")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(names.contains(&"costCode"), "unchanged: {names:?}");

    // An attribute no resource uses may go: declared, then withdrawn again.
    let unused = format!("{added}\n[[schemas.extensions.attributes]]\nname = \"unused\"\n");
    for config_text in [&unused, &added] {
        reload_with(&mut process, dir.path(), config_text);
    }

    // A start that would hide stored values is refused the same way, saying what to do.
    drop(process);
    write_plain_config(dir.path(), DECLARED);
    let mut cmd = crate::common::scimd_command();
    cmd.arg("--config").arg(&config).arg("serve");
    let refused = crate::common::run_scimd(cmd).await;
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(
        refused.stderr.contains("costCode (removed)")
            && refused.stderr.contains("1 User(s) hold a value"),
        "{}",
        refused.stderr
    );
    write_plain_config(dir.path(), &added);
    let process = serve_process(&config).await;
    let c = ProcessClient::new(process.port, &token);
    let (_, list) =
        c.send(Method::GET, "/Users?filter=userName%20eq%20%22dan@example.org%22", None).await;
    assert_eq!(list["Resources"][0][ACME]["costCode"], "CC-1", "kept all along");
}

/// `scimd log` against the running server of `config`: its stdout.
async fn log_lines(config: &std::path::Path) -> String {
    let mut cmd = crate::common::scimd_command();
    cmd.arg("--config").arg(config).args(["log", "--limit", "20"]);
    let out = crate::common::run_scimd(cmd).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout
}

#[tokio::test]
async fn unknown_attributes_are_refused_by_default_and_dropped_and_logged_when_ignored() {
    let Served { dir, token: _, config, mut process, c } = serve_with(DECLARED).await;
    let mut body = entra_user("erin@example.org");
    body["shoeSize"] = json!(44);
    body[ACME]["hatSize"] = json!("L");

    // Reject (the default): 400 naming the attribute and how to declare it; nothing stored.
    let (status, error) = c.send(Method::POST, "/Users", Some(body.clone())).await;
    assert_eq!(status, 400, "{error}");
    let detail = error["detail"].as_str().unwrap_or("");
    assert!(detail.contains("shoeSize") || detail.contains("hatSize"), "{detail}");
    assert!(
        detail.contains("[[schemas.extensions]]") && detail.contains("unknown_attributes"),
        "{detail}"
    );
    let (_, id) = c.send(Method::POST, "/Users", Some(entra_user("frank@example.org"))).await;
    let id = id["id"].as_str().expect("id").to_string();
    let unknown_patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": format!("{ACME}:hatSize"), "value": "M"},
                       {"op": "Replace", "path": "displayName", "value": "Frank"}]});
    let (status, error) =
        c.send(Method::PATCH, &format!("/Users/{id}"), Some(unknown_patch.clone())).await;
    assert_eq!(status, 400, "{error}");

    // Ignore: the same writes succeed without the unknown names, and the log lists them.
    let ignoring = format!("[scim]\nunknown_attributes = \"ignore\"\n{DECLARED}");
    reload_with(&mut process, dir.path(), &ignoring);

    let (status, created) = c.send(Method::POST, "/Users", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created.get("shoeSize").is_none(), "{created}");
    assert_eq!(created[ACME]["badgeNumber"], "4711", "the declared ones are kept");
    assert!(created[ACME].get("hatSize").is_none(), "{created}");
    let (status, patched) =
        c.send(Method::PATCH, &format!("/Users/{id}"), Some(unknown_patch)).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["displayName"], "Frank", "the known operation applied");
    // A PATCH of nothing but unknown attributes changes nothing and is not refused.
    let only_unknown = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"shoeSize": 45}}]});
    let (status, same) = c.send(Method::PATCH, &format!("/Users/{id}"), Some(only_unknown)).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["meta"]["version"], patched["meta"]["version"]);

    let log = log_lines(&config).await;
    let erin = log
        .lines()
        .find(|l| l.contains("erin@example.org") && l.contains("201"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        erin.contains("ignored unknown attributes: ")
            && erin.contains("shoeSize")
            && erin.contains(&format!("{ACME}:hatSize")),
        "{erin}"
    );
    assert!(
        log.lines().any(|l| l.contains("patch")
            && l.contains(&format!("ignored unknown attributes: {ACME}:hatSize"))),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("ignored unknown attributes: shoeSize") && l.contains("patch")),
        "{log}"
    );
}

#[tokio::test]
async fn a_unique_custom_attribute_is_enforced_indexed_and_built_for_existing_users() {
    let Served { dir, token, config, mut process, c } = serve_with(DECLARED).await;
    let with_badge = |name: &str, badge: &str| {
        let mut body = entra_user(name);
        body[ACME] = json!({"badgeNumber": badge});
        body
    };
    // Not unique yet: two users share "B-1" and the reload that makes it unique is refused.
    let mut ids = Vec::new();
    for (name, badge) in
        [("u1@example.org", "B-1"), ("u2@example.org", "b-1"), ("u3@example.org", "B-3")]
    {
        let (status, body) = c.send(Method::POST, "/Users", Some(with_badge(name, badge))).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().expect("id").to_string());
    }
    let unique = DECLARED
        .replace("name = \"badgeNumber\"\n", "name = \"badgeNumber\"\nuniqueness = \"server\"\n");
    write_plain_config(dir.path(), &unique);
    hangup(&process);
    let refusal = process.stderr_line("reload failed");
    assert!(
        refusal.contains("both hold") && refusal.contains(&ids[0]) && refusal.contains(&ids[1]),
        "{refusal}"
    );
    let (_, schema) = c.send(Method::GET, &format!("/Schemas/{ACME}"), None).await;
    let badge = schema["attributes"]
        .as_array()
        .expect("attrs")
        .iter()
        .find(|a| a["name"] == "badgeNumber")
        .cloned();
    assert_eq!(badge.expect("badge")["uniqueness"], "none", "the refused reload changed nothing");

    // Once the clash is gone the reload builds the index from the users there are.
    let patch = |value: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": format!("{ACME}:badgeNumber"), "value": value}]})
    };
    let (status, _) =
        c.send(Method::PATCH, &format!("/Users/{}", ids[1]), Some(patch("B-2"))).await;
    assert_eq!(status, 200);
    hangup(&process);
    process.stderr_line("config reloaded");
    let (_, schema) = c.send(Method::GET, &format!("/Schemas/{ACME}"), None).await;
    let badge = schema["attributes"]
        .as_array()
        .expect("attrs")
        .iter()
        .find(|a| a["name"] == "badgeNumber")
        .cloned();
    assert_eq!(badge.expect("badge")["uniqueness"], "server");

    // A value another user holds, in any case, is 409 uniqueness on POST, PUT and PATCH.
    let (status, error) =
        c.send(Method::POST, "/Users", Some(with_badge("u4@example.org", "b-3"))).await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["scimType"], "uniqueness", "{error}");
    assert!(error["detail"].as_str().unwrap_or("").contains("badgeNumber"), "{error}");
    let (status, _) =
        c.send(Method::PATCH, &format!("/Users/{}", ids[0]), Some(patch("B-2"))).await;
    assert_eq!(status, 409);
    let (status, error) = c
        .send(Method::PUT, &format!("/Users/{}", ids[0]), Some(with_badge("u1@example.org", "B-3")))
        .await;
    assert_eq!(status, 409, "{error}");
    // Its own value is no clash; a value given up is free again, and so is a deleted user's.
    let (status, _) = c
        .send(Method::PUT, &format!("/Users/{}", ids[0]), Some(with_badge("u1@example.org", "B-1")))
        .await;
    assert_eq!(status, 200);
    let (status, _) =
        c.send(Method::PATCH, &format!("/Users/{}", ids[1]), Some(patch("B-9"))).await;
    assert_eq!(status, 200);
    let (status, _) =
        c.send(Method::POST, "/Users", Some(with_badge("u5@example.org", "B-2"))).await;
    assert_eq!(status, 201, "B-2 was given up");
    let (status, _) = c.send(Method::DELETE, &format!("/Users/{}", ids[2]), None).await;
    assert_eq!(status, 204);
    let (status, _) =
        c.send(Method::POST, "/Users", Some(with_badge("u6@example.org", "B-3"))).await;
    assert_eq!(status, 201, "a deleted user's value is free");

    // The eq filter finds the holder (through the index), qualified or not, in any case.
    for filter in [format!("{ACME}:badgeNumber eq \"b-9\""), "badgeNumber eq \"B-9\"".to_string()] {
        let (status, found) =
            c.send(Method::GET, &format!("/Users?filter={}", urlencode(&filter)), None).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["totalResults"], 1, "{filter}: {found}");
        assert_eq!(found["Resources"][0]["id"], ids[1].as_str());
    }

    // After a restart the index is still enforced.
    drop(process);
    let process = serve_process(&config).await;
    let c = ProcessClient::new(process.port, &token);
    let (status, _) =
        c.send(Method::POST, "/Users", Some(with_badge("u7@example.org", "B-9"))).await;
    assert_eq!(status, 409);
}
