//! `scimd backup`, `restore` and `compact` with the real binary: an online backup taken while
//! writes go on is one consistent state, restores into a new data directory that serves the
//! same resources to the same token, and refuses what would lose data (an existing file without
//! `--force`, a running server, a truncated backup).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{TestServer, scimd_at as scimd, user_body};

/// A config whose data directory is `dir/data`.
fn config_for(dir: &Path) -> PathBuf {
    let path = dir.join("config.toml");
    let text = format!("data_dir = {:?}\n", dir.join("data").display().to_string());
    std::fs::write(&path, text).expect("config");
    path
}

/// The records of a backup file, after its header.
fn records(file: &Path) -> (Value, Vec<Value>) {
    let text = std::fs::read_to_string(file).expect("backup file");
    let mut lines = text.lines().map(|l| serde_json::from_str::<Value>(l).expect("JSON line"));
    let header = lines.next().expect("header");
    (header, lines.collect())
}

async fn populate(s: &TestServer) -> (Vec<String>, String) {
    let mut users = Vec::new();
    for i in 0..20 {
        let body = user_body(
            &format!("user{i}@contoso.example"),
            json!({"externalId": format!("ext-{i}"), "userType": "Employee",
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                       {"department": "Sales", "employeeNumber": format!("{i}")}}),
        );
        users.push(
            s.post("/Users", &body).await.expect(201).body["id"].as_str().unwrap().to_string(),
        );
    }
    let manager = json!({"value": users[0]});
    s.patch(
        &format!("/Users/{}", users[1]),
        json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": manager}]),
    )
    .await
    .expect(200);
    let members: Vec<&str> = users[..5].iter().map(String::as_str).collect();
    let group = s.create_group("Sales", &members).await;
    (users, group)
}

#[tokio::test]
async fn an_online_backup_during_writes_restores_the_same_directory() {
    let s = TestServer::start().await;
    let (users, group) = populate(&s).await;
    let config = s.write_config_file();
    let file = s.dir.path().join("backup.jsonl");

    // Writes keep going while the backup runs.
    let writer = {
        let (client, base, token) = (s.client.clone(), s.base.clone(), s.token.clone());
        tokio::spawn(async move {
            let mut i = 0;
            loop {
                let body = user_body(&format!("during{i}@contoso.example"), json!({}));
                let r = client
                    .post(format!("{base}/Users"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                assert_eq!(r.expect("POST").status(), 201);
                i += 1;
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let out = scimd(&config, &["backup", file.to_str().unwrap()]).await;
    writer.abort();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("from the running server"), "{}", out.stderr);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!s.dir.path().join("backup.jsonl.partial").exists());

    let (header, lines) = records(&file);
    assert_eq!(header["format"], "scimd-backup");
    let backed_users: Vec<&Value> = lines.iter().filter_map(|l| l.get("user")).collect();
    assert_eq!(header["counts"]["users"], backed_users.len());
    assert!(backed_users.len() >= 20, "{}", backed_users.len());
    assert_eq!(header["counts"]["members"], 5);
    assert_eq!(header["counts"]["tokens"], 1);
    assert!(header["counts"]["log"].as_u64().unwrap() >= 22);

    // Restore into a new directory and serve it with the same token.
    let target = tempfile::tempdir().expect("tempdir");
    let restore_config = config_for(target.path());
    let out = scimd(&restore_config, &["restore", file.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("indexes checked"), "{}", out.stderr);
    let restored = TestServer::start_in(target, s.token.clone()).await;

    assert_eq!(restored.total("/Users").await, backed_users.len() as u64);
    for user in backed_users {
        let path = format!("/Users/{}", user["id"].as_str().unwrap());
        let (a, b) = (s.get(&path).await.expect(200), restored.get(&path).await.expect(200));
        let strip = |mut v: Value| {
            // Only the host differs: meta.location and $refs name each server's port.
            let text = v.to_string().replace(&s.base, "BASE").replace(&restored.base, "BASE");
            v = serde_json::from_str(&text).unwrap();
            v
        };
        assert_eq!(strip(a.body), strip(b.body), "{path}");
    }
    let g = restored.get(&format!("/Groups/{group}")).await.expect(200);
    assert_eq!(g.body["members"].as_array().unwrap().len(), 5);
    let manager = restored.get(&format!("/Users/{}", users[1])).await.expect(200);
    let ext = &manager.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ext["manager"]["value"], users[0].as_str());
    // The indexes work: lookups by name and externalId, and uniqueness.
    assert_eq!(restored.users_named("user7@contoso.example").await, 1);
    assert_eq!(restored.total("/Users?filter=externalId%20eq%20%22ext-3%22").await, 1);
    let dup = restored.post("/Users", &user_body("USER7@contoso.example", json!({}))).await;
    assert_eq!(dup.expect(409).scim_type(), "uniqueness");
    restored.post("/Users", &user_body("new@contoso.example", json!({}))).await.expect(201);
    let log = restored.provisioning_log(1000).await;
    assert!(log.len() as u64 >= header["counts"]["log"].as_u64().unwrap());

    // What an admin checks: once the original loses the users created after the backup (and
    // the one created above leaves the restored copy), `scimd users list` prints the same
    // bytes for both directories.
    let backed: std::collections::HashSet<String> =
        lines.iter().filter_map(|l| l["user"]["id"].as_str()).map(str::to_string).collect();
    let live = scimd(&config, &["users", "list", "--format", "json"]).await;
    for user in serde_json::from_str::<Value>(&live.stdout).unwrap().as_array().unwrap() {
        let id = user["id"].as_str().unwrap();
        if !backed.contains(id) {
            s.delete(&format!("/Users/{id}")).await.expect(204);
        }
    }
    let extra = restored.users_named("new@contoso.example").await;
    assert_eq!(extra, 1);
    let new = restored.get("/Users?filter=userName%20eq%20%22new@contoso.example%22").await;
    restored
        .delete(&format!("/Users/{}", new.expect(200).body["Resources"][0]["id"].as_str().unwrap()))
        .await
        .expect(204);
    let restored_config = restored.write_config_file();
    for format in ["table", "csv"] {
        let a = scimd(&config, &["users", "list", "--format", format]).await;
        let b = scimd(&restored_config, &["users", "list", "--format", format]).await;
        assert_eq!((a.code, b.code), (Some(0), Some(0)), "{a:?} {b:?}");
        assert_eq!(a.stdout.lines().count(), backed.len() + 1);
        assert!(a.stdout == b.stdout, "users list --format {format} differs after restore");
    }
    let (a, b) = (
        scimd(&config, &["groups", "list"]).await,
        scimd(&restored_config, &["groups", "list"]).await,
    );
    assert_eq!(a.stdout, b.stdout);
}

#[tokio::test]
async fn restore_refuses_to_lose_data() {
    let mut s = TestServer::start().await;
    populate(&s).await;
    let config = s.write_config_file();
    let file = s.dir.path().join("backup.jsonl");
    assert_eq!(scimd(&config, &["backup", file.to_str().unwrap()]).await.code, Some(0));
    // One user more than the backup holds tells the live file from the restored one.
    s.create_user("after-backup@contoso.example").await;

    // Not while the server runs.
    let out = scimd(&config, &["restore", "--force", file.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("stop it first"), "{}", out.stderr);
    s.stop().await;

    // Not over an existing file without --force.
    let out = scimd(&config, &["restore", file.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("--force"), "{}", out.stderr);

    // Not from a truncated copy: the data directory stays as it was.
    let text = std::fs::read_to_string(&file).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    let truncated = s.dir.path().join("truncated.jsonl");
    std::fs::write(&truncated, cut[..cut.len() - 3].join("\n")).unwrap();
    let out = scimd(&config, &["restore", "--force", truncated.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("incomplete"), "{}", out.stderr);
    assert!(out.stderr.contains("unchanged"), "{}", out.stderr);
    assert!(!s.data_dir().join("scimd.redb.restoring").exists());
    assert!(!s.data_dir().join("scimd.redb.before-restore").exists());

    // Not from something that is not a backup.
    let out = scimd(&config, &["restore", "--force", config.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("line 1"), "{}", out.stderr);

    let mut s = s.restart().await;
    assert_eq!(s.total("/Users").await, 21, "the failed restores changed the directory");
    s.stop().await;

    // With --force the old file is kept aside.
    let out = scimd(&config, &["restore", "--force", file.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(s.data_dir().join("scimd.redb.before-restore").exists());
    let s = s.restart().await;
    assert_eq!(s.total("/Users").await, 20);
}

#[tokio::test]
async fn backup_of_a_stopped_server_and_compact() {
    let mut s = TestServer::start().await;
    let (users, _) = populate(&s).await;
    for i in 0..300 {
        let id = s.create_user(&format!("temp{i}@contoso.example")).await;
        s.delete(&format!("/Users/{id}")).await.expect(204);
    }
    let config = s.write_config_file();
    let out = scimd(&config, &["compact"]).await;
    assert_eq!(out.code, Some(1), "compact while running: {out:?}");
    s.stop().await;

    let file = s.dir.path().join("offline.jsonl");
    let out = scimd(&config, &["backup", file.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("from the data file"), "{}", out.stderr);
    assert_eq!(records(&file).0["counts"]["users"], 20);

    let data = s.data_dir().join("scimd.redb");
    let before = std::fs::metadata(&data).unwrap().len();
    let out = scimd(&config, &["compact"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let after = std::fs::metadata(&data).unwrap().len();
    assert!(after < before, "{before} -> {after}");
    let s = s.restart().await;
    assert_eq!(s.total("/Users").await, 20);
    s.get(&format!("/Users/{}", users[3])).await.expect(200);
}

#[tokio::test]
async fn a_restore_run_as_root_leaves_the_file_to_the_data_directory_owner() {
    use std::os::unix::fs::MetadataExt;
    let mut s = TestServer::start().await;
    populate(&s).await;
    let config = s.write_config_file();
    let file = s.dir.path().join("backup.jsonl");
    assert_eq!(scimd(&config, &["backup", file.to_str().unwrap()]).await.code, Some(0));
    s.stop().await;

    let target = tempfile::tempdir().expect("tempdir");
    let data = target.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mine = std::fs::metadata(&data).unwrap();
    // As the packaged service has it: the data directory belongs to the service user. Only
    // root can give it away; anyone else restores into their own directory.
    let owner = if mine.uid() == 0 { (65534, 65534) } else { (mine.uid(), mine.gid()) };
    if mine.uid() == 0 {
        std::os::unix::fs::chown(&data, Some(owner.0), Some(owner.1)).unwrap();
    }
    let out = scimd(&config_for(target.path()), &["restore", file.to_str().unwrap()]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let restored = std::fs::metadata(data.join("scimd.redb")).unwrap();
    assert_eq!((restored.uid(), restored.gid()), owner);
    assert_eq!(restored.mode() & 0o777, 0o600);
}
