//! What survives: a graceful restart, a `kill -9` right after a 201, and what the provisioning
//! log remembers. Also: one server per data directory.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use reqwest::Method;
use scimd::admin::AdminRequest;
use scimd::store::TokenScope;
use serde_json::json;

use crate::common::{
    TestServer, client_trusting, entra_encode, id_of, issue_token, run_scimd, scimd_command, send,
    serve_process, token_id, user_body,
};

#[tokio::test]
async fn users_groups_memberships_and_tokens_survive_a_restart() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let bob = s.create_user("bob@example.org").await;
    let inner = s.create_group("Inner", &[&bob]).await;
    let staff = s.create_group("Staff", &[&ada, &inner]).await;
    let u = user_body("cy@example.org", json!({"userType": "manager", "title": "Boss"}));
    let cy = s.post("/Users", &u).await.expect(201).body;
    let extra = s.issue_token("second", TokenScope::ReadOnly, None).await;
    let gone = s.issue_token("gone", TokenScope::ReadWrite, None).await;
    s.admin(AdminRequest::TokenRevoke { id: token_id(&gone) }).await;
    let before_ada = s.read_user(&ada).await;
    let before_staff = s.read_group(&staff).await;

    let s = s.restart().await;

    // Resources read back exactly as before, relations included.
    assert_eq!(s.read_user(&ada).await, before_ada);
    let staff_now = s.read_group(&staff).await;
    assert_eq!(staff_now, before_staff);
    let mut members: Vec<&str> = staff_now["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    members.sort_unstable();
    let mut expected = vec![ada.as_str(), inner.as_str()];
    expected.sort_unstable();
    assert_eq!(members, expected);
    let bob_now = s.read_user(&bob).await;
    assert_eq!(bob_now["groups"][0]["value"], inner.as_str(), "{bob_now}");
    let cy_id = cy["id"].as_str().expect("id");
    let cy_now = s.read_user(cy_id).await;
    assert_eq!(cy_now, cy);
    assert_eq!(s.total("/Users").await, 3);
    assert_eq!(s.total("/Groups").await, 2);

    // Tokens: the harness token and the read-only one still work (with their scope); the
    // revoked one stays revoked.
    s.call_as(&extra, Method::GET, "/Users", None).await.expect(200);
    s.call_as(&extra, Method::POST, "/Users", Some(&user_body("x@example.org", json!({}))))
        .await
        .expect(403);
    let r = s.call_as(&gone, Method::GET, "/Users", None).await.expect(401);
    assert!(r.body["detail"].as_str().unwrap_or("").contains("revoked"), "{}", r.text);
    let tokens = s.admin(AdminRequest::TokenList).await;
    let names: Vec<&str> =
        tokens.as_array().expect("tokens").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names.len(), 3, "{tokens}");
    for name in ["test", "second", "gone"] {
        assert!(names.contains(&name), "{name} missing from {tokens}");
    }
}

/// A config for the real binary: an ephemeral port, `data_dir`, a self-signed certificate.
fn serve_config(dir: &Path, data_dir: &Path) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n\n[tls]\nmode = \"self-signed\"\n",
        data_dir.display().to_string()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

#[tokio::test]
async fn a_created_user_survives_kill_9_right_after_the_201() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let token = issue_token(&data_dir, "test", TokenScope::ReadWrite);
    let config = serve_config(dir.path(), &data_dir);

    let mut first = serve_process(&config).await;
    let cert = std::fs::read(data_dir.join("tls/cert.pem")).expect("generated cert");
    let client = client_trusting(&cert);
    let body = user_body("durable@example.org", json!({"userType": "operations"}));
    let r = send(
        client
            .post(format!("{}/Users", first.base()))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string()),
    )
    .await
    .expect(201);
    let id = id_of(&r);
    let status = first.kill();
    assert_eq!(status.signal(), Some(9), "scimd was not killed by SIGKILL: {status:?}");

    let second = serve_process(&config).await;
    let client = client_trusting(&std::fs::read(data_dir.join("tls/cert.pem")).expect("cert"));
    let filter = entra_encode("userName eq \"durable@example.org\"");
    let found =
        send(client.get(format!("{}/Users?filter={filter}", second.base())).bearer_auth(&token))
            .await
            .expect(200);
    assert_eq!(found.body["totalResults"], 1, "{}", found.text);
    let user = &found.body["Resources"][0];
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["userName"], "durable@example.org");
    assert_eq!(user["roles"], r.body["roles"]);
    // The log row committed with it survived too.
    let newest = AdminRequest::Log { limit: 1, filter: Default::default(), after: None };
    let log =
        scimd::admin::call(&data_dir.join("scimd.sock"), &newest).await.expect("admin socket");
    let entry = &log.result.expect("log")["entries"][0];
    assert_eq!(entry["operation"], "create");
    assert_eq!(entry["resource_id"], id.as_str());
    assert_eq!(entry["status"], 201);
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_is_refused() {
    let s = TestServer::start().await;
    s.ready().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = serve_config(dir.path(), &s.data_dir());
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config).arg("serve");
    let out = run_scimd(cmd).await;
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.code.is_some(), "killed by a signal: {out:?}");
    assert!(out.stderr.contains("in use"), "{}", out.stderr);
    assert!(out.stderr.contains("scimd.redb"), "{}", out.stderr);
    // A message for the admin, not a debug dump of the storage error.
    for dump in ["DatabaseAlreadyOpen", "Locked(", "Error {", "panicked"] {
        assert!(!out.stderr.contains(dump), "{}", out.stderr);
    }
    // The running server is unaffected.
    s.create_user("still@example.org").await;
    assert_eq!(s.users_named("still@example.org").await, 1);
}

#[tokio::test]
async fn the_provisioning_log_records_writes_and_refusals_newest_first() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let path = format!("/Users/{id}");
    s.put(&path, &user_body("ada@example.org", json!({"userType": "manager"}))).await.expect(200);
    let refused = user_body("bob@example.org", json!({"userType": "contractor"}));
    s.post("/Users", &refused).await.expect(400);
    s.post("/Users", &user_body("ADA@example.org", json!({}))).await.expect(409);
    s.delete(&path).await.expect(204);
    let group = s.create_group("Staff", &[]).await;

    let log = s.provisioning_log(10).await;
    assert_eq!(log.len(), 6, "{log:#?}");
    let seqs: Vec<u64> = log.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "not newest first: {seqs:?}");
    for e in &log {
        assert_eq!(e["token"], "test", "{e}");
    }
    let summary: Vec<(&str, &str, u64, &str)> = log
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or(""),
                e["resource_type"].as_str().unwrap_or(""),
                e["status"].as_u64().unwrap_or(0),
                e["scim_type"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("create", "Group", 201, "-"),
            ("delete", "User", 204, "-"),
            ("create", "User", 409, "uniqueness"),
            ("create", "User", 400, "invalidValue"),
            ("replace", "User", 200, "-"),
            ("create", "User", 201, "-"),
        ],
        "{log:#?}"
    );
    let [group_row, deleted, conflict, invalid, replaced, created] = &log[..] else {
        unreachable!()
    };
    assert_eq!(group_row["resource_id"], group.as_str());
    assert_eq!(group_row["name"], "Staff");
    assert_eq!(deleted["resource_id"], id.as_str());
    assert_eq!(deleted["name"], "ada@example.org");
    assert!(conflict["detail"].as_str().unwrap_or("").contains("already taken"), "{conflict}");
    assert_eq!(invalid["name"], "bob@example.org");
    let detail = invalid["detail"].as_str().unwrap_or("");
    assert!(detail.contains("contractor") && detail.contains("employee"), "{invalid}");
    assert!(invalid.get("resource_id").is_none(), "{invalid}");
    assert_eq!(replaced["resource_id"], id.as_str());
    assert!(replaced["roles"].as_str().unwrap_or("").contains("manager"), "{replaced}");
    assert_eq!(created["resource_id"], id.as_str());
    assert_eq!(created["name"], "ada@example.org");
    assert!(created["roles"].as_str().unwrap_or("").contains("member"), "{created}");
    for e in [group_row, deleted, replaced, created] {
        assert!(e.get("detail").is_none() && e.get("scim_type").is_none(), "{e}");
    }

    // `limit` returns the newest rows.
    let newest = s.provisioning_log(2).await;
    assert_eq!(newest, log[..2]);
}
