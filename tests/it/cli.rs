//! The `scimd` command line, run as the real binary: `version`, `check-config`, `token
//! create/list/revoke` and `log` both with the server stopped (the CLI opens the data file) and
//! running (the CLI talks to the admin socket), `$SCIMD_CONFIG`, and the very first `serve`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use reqwest::Method;
use serde_json::json;

use crate::common::{
    CliOutput, ServeProcess, TestServer, client_trusting, is_token, run_scimd, scimd_at as scimd,
    scimd_command, send, token_id, user_body,
};

/// Runs a command that must succeed.
async fn scimd_ok(config: &Path, args: &[&str]) -> CliOutput {
    let out = scimd(config, args).await;
    assert_eq!(out.code, Some(0), "scimd {args:?} failed: {out:?}");
    out
}

/// `token create --name NAME`: checks the output and returns the token.
async fn create_token(config: &Path, name: &str) -> String {
    let out = scimd_ok(config, &["token", "create", "--name", name]).await;
    let last = out.stdout.lines().last().unwrap_or("");
    assert!(is_token(last), "last stdout line is not a token: {:?}", out.stdout);
    // The token is the only thing on stdout; the explanation goes to stderr.
    assert_eq!(out.stdout.trim_end(), last, "{out:?}");
    assert!(out.stderr.contains(&format!("Created token '{name}'")), "{}", out.stderr);
    assert!(out.stderr.contains("shown only this once"), "{}", out.stderr);
    assert!(!out.stderr.contains(last), "the token is on stderr too: {}", out.stderr);
    last.to_string()
}

/// The `token list` row for `id`.
fn list_row<'a>(list: &'a CliOutput, id: &str) -> &'a str {
    list.stdout.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| {
        panic!("token {id} not in the list: {:?}", list.stdout);
    })
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

#[tokio::test]
async fn version_prints_the_version() {
    let out = run_scimd({
        let mut c = scimd_command();
        c.arg("version");
        c
    })
    .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), format!("scimd {}", env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn check_config_names_the_file_line_and_key_of_a_mistake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad =
        write(dir.path(), "bad.toml", "listen = \"127.0.0.1:9443\"\n\n[scim]\nenabeld = true\n");
    let out = scimd(&bad, &["check-config"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains(&format!("{}:4:", bad.display())), "{}", out.stderr);
    assert!(out.stderr.contains("enabeld"), "{}", out.stderr);

    let bad = write(dir.path(), "listen.toml", "# comment\nlisten = \"localhost\"\n");
    let out = scimd(&bad, &["check-config"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains(&format!("{}:2:", bad.display())), "{}", out.stderr);
    assert!(out.stderr.contains("listen"), "{}", out.stderr);

    let bad = write(dir.path(), "type.toml", "[limits]\nmax_body_bytes = \"big\"\n");
    let out = scimd(&bad, &["check-config"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains(&format!("{}:2:", bad.display())), "{}", out.stderr);
}

#[tokio::test]
async fn check_config_accepts_a_good_file_and_the_example() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(
        dir.path(),
        "good.toml",
        &format!(
            "listen = \"127.0.0.1:9443\"\npublic_url = \"https://scim.example.org\"\n\
             data_dir = {:?}\n[roles]\nunknown_user_type = \"default\"\n",
            dir.path().join("data").display().to_string()
        ),
    );
    let out = scimd(&good, &["check-config"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("config OK"), "{}", out.stderr);
    assert!(out.stderr.contains("https://scim.example.org/scim/v2"), "{}", out.stderr);
    // check-config does not create the data directory or file.
    assert!(!dir.path().join("data").exists());
}

/// The config the Debian package installs, as shipped and with every commented setting
/// uncommented (`#key = …`, `#[section]`): both pass `check-config`, so its `[events]`
/// example works once an admin removes the `#`s.
#[tokio::test]
async fn the_packaged_config_checks_as_shipped_and_with_its_examples_uncommented() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = include_str!("../../packaging/debian/config.toml");
    let data = format!("{:?}", dir.path().join("data").display().to_string());
    let shipped = shipped.replace("\"/var/lib/scimd\"", &data);
    let out = scimd_ok(&write(dir.path(), "shipped.toml", &shipped), &["check-config"]).await;
    assert!(out.stderr.contains("events      no receivers"), "{}", out.stderr);

    let auth = write(dir.path(), "wiki.auth", "Bearer wiki-token\n");
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut uncommented = String::new();
    for line in shipped.lines() {
        let setting = line.strip_prefix('#').filter(|rest| {
            rest.starts_with('[') || rest.starts_with(|c: char| c.is_ascii_lowercase())
        });
        uncommented.push_str(setting.unwrap_or(line));
        uncommented.push('\n');
    }
    assert!(uncommented.contains("\n[events]\n"), "{uncommented}");
    let uncommented = uncommented
        .replace("\"/etc/scimd/wiki.auth\"", &format!("{:?}", auth.display().to_string()));
    let out =
        scimd_ok(&write(dir.path(), "uncommented.toml", &uncommented), &["check-config"]).await;
    let said = &out.stderr;
    assert!(said.contains("https://scim.example.org:8443/scim/v2"), "{said}");
    assert!(said.contains("2 receiver(s); events kept 7 day(s)"), "{said}");
    assert!(said.contains("wiki        push to wiki.example.org, payload notice"), "{said}");
    assert!(
        said.contains("hr          poll (POST /events/hr), payload full, types User"),
        "{said}"
    );
}

#[tokio::test]
async fn check_config_lists_the_event_receivers_and_never_the_authorization_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = write(dir.path(), "wiki.auth", "Bearer wiki-s3cr3t-8f2c\n");
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let text = format!(
        "data_dir = {data:?}\n\n[events]\nkeep_days = 3\n\n\
         [[events.receivers]]\nname = \"wiki\"\ndelivery = \"push\"\n\
         endpoint = \"https://wiki.example.org:8443/scim-events\"\n\
         authorization_file = {auth:?}\n\n\
         [[events.receivers]]\nname = \"hr-sync\"\ndelivery = \"poll\"\npayload = \"full\"\n\
         resource_types = [\"User\"]\nstart = \"beginning\"\n",
        data = dir.path().join("data").display().to_string(),
        auth = auth.display().to_string(),
    );
    let config = write(dir.path(), "events.toml", &text);
    let out = scimd(&config, &["check-config"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let line = |start: &str| {
        let found = out.stderr.lines().find(|l| l.trim_start().starts_with(start));
        found.unwrap_or_else(|| panic!("no line starting {start:?}: {}", out.stderr)).to_string()
    };
    assert!(line("events").contains("2 receiver(s)") && line("events").contains("3 day(s)"));
    assert_eq!(
        line("wiki").trim(),
        "wiki        push to wiki.example.org:8443, payload notice, types User and Group, \
         start now"
    );
    assert_eq!(
        line("hr-sync").trim(),
        "hr-sync     poll (POST /events/hr-sync), payload full, types User, start beginning"
    );
    for printed in [&out.stdout, &out.stderr] {
        assert!(!printed.contains("s3cr3t"), "the authorization value is printed: {out:?}");
    }

    // The same file readable by others is refused at the key's line, saying what to run.
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = scimd(&config, &["check-config"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    let at = format!("{}:10: events.receivers.authorization_file", config.display());
    assert!(out.stderr.contains(&at), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("chmod 600 {}", auth.display())), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cr3t"), "{}", out.stderr);
}

#[tokio::test]
async fn check_config_with_a_missing_certificate_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("missing-fullchain.pem");
    let config = write(
        dir.path(),
        "tls.toml",
        &format!(
            "[tls]\nmode = \"files\"\ncert = {:?}\nkey = {:?}\n",
            cert.display().to_string(),
            dir.path().join("privkey.pem").display().to_string()
        ),
    );
    let out = scimd(&config, &["check-config"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains(&cert.display().to_string()), "{}", out.stderr);
    assert!(out.stderr.contains("tls.cert"), "{}", out.stderr);
}

#[tokio::test]
async fn tokens_and_the_log_work_offline_while_the_server_is_stopped() {
    let mut s = TestServer::start().await;
    s.create_user("one@example.org").await;
    s.create_user("two@example.org").await;
    s.create_user("three@example.org").await;
    let config = s.write_config_file();
    s.stop().await;

    let token = create_token(&config, "offline").await;
    let list = scimd_ok(&config, &["token", "list"]).await;
    let row = list_row(&list, &token_id(&token));
    assert!(row.contains("offline") && row.contains("read-write"), "{row}");
    assert!(row.trim_end().ends_with("active"), "{row}");
    assert!(list.stdout.contains("test"), "{}", list.stdout);
    let secret = token.rsplit('_').next().unwrap_or("");
    assert!(!list.stdout.contains(secret) && !list.stderr.contains(secret), "{list:?}");

    let log = scimd_ok(&config, &["log", "--limit", "2"]).await;
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", log.stdout);
    assert!(lines[0].contains("three@example.org") && lines[0].contains("create"), "{lines:?}");
    assert!(lines[1].contains("two@example.org"), "{lines:?}");

    // The token made offline works once the server is back.
    let s = s.restart().await;
    let r = s.call_as(&token, Method::GET, "/Users", None).await.expect(200);
    assert_eq!(r.body["totalResults"], 3);
}

#[tokio::test]
async fn tokens_and_the_log_go_through_the_running_server() {
    let s = TestServer::start().await;
    s.ready().await;
    let config = s.write_config_file();

    let token = create_token(&config, "online").await;
    // Usable at once by the running server.
    let body = user_body("new@example.org", json!({}));
    s.call_as(&token, Method::POST, "/Users", Some(&body)).await.expect(201);

    let list = scimd_ok(&config, &["token", "list"]).await;
    let row = list_row(&list, &token_id(&token)).to_string();
    assert!(row.contains("online") && row.trim_end().ends_with("active"), "{row}");
    let secret = token.rsplit('_').next().unwrap_or("");
    assert!(!list.stdout.contains(secret), "{}", list.stdout);
    assert!(!list.stdout.contains(s.token.rsplit('_').next().unwrap_or("")), "{}", list.stdout);

    let revoked = scimd_ok(&config, &["token", "revoke", &token_id(&token)]).await;
    assert!(revoked.stderr.contains("Revoked token 'online'"), "{}", revoked.stderr);
    let list = scimd_ok(&config, &["token", "list"]).await;
    assert!(list_row(&list, &token_id(&token)).trim_end().ends_with("revoked"), "{}", list.stdout);
    let r = s.call_as(&token, Method::GET, "/Users", None).await.expect(401);
    assert!(r.body["detail"].as_str().unwrap_or("").contains("revoked"), "{}", r.text);
    // The server's own token is untouched.
    s.get("/Users").await.expect(200);

    // Revoking an unknown id fails with a message, not a crash.
    let out = scimd(&config, &["token", "revoke", "0000000000000000"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("0000000000000000"), "{}", out.stderr);
}

#[tokio::test]
async fn log_shows_the_newest_entries_first_while_running() {
    let s = TestServer::start().await;
    for i in 1..=7 {
        s.create_user(&format!("user{i}@example.org")).await;
    }
    s.post("/Users", &user_body("bad@example.org", json!({"userType": "nope"}))).await.expect(400);
    let config = s.write_config_file();

    let log = scimd_ok(&config, &["log", "--limit", "5"]).await;
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", log.stdout);
    assert!(lines[0].contains("bad@example.org"), "{lines:?}");
    assert!(lines[0].contains("400") && lines[0].contains("[invalidValue]"), "{lines:?}");
    assert!(lines[0].contains("nope"), "the refusal's detail is missing: {lines:?}");
    for (line, i) in lines[1..].iter().zip([7, 6, 5, 4]) {
        assert!(line.contains(&format!("user{i}@example.org")), "{lines:?}");
        assert!(line.contains("test") && line.contains("create") && line.contains("201"), "{line}");
    }
}

#[tokio::test]
async fn the_config_path_can_come_from_scimd_config() {
    let s = TestServer::start().await;
    s.ready().await;
    let config = s.write_config_file();
    let mut cmd = scimd_command();
    cmd.env(scimd::config::ENV_CONFIG, &config).args(["token", "list"]);
    let out = run_scimd(cmd).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(list_row(&out, &token_id(&s.token)).contains("test"), "{}", out.stdout);

    // An explicit --config wins over the environment.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.toml", "nonsense = 1\n");
    let mut cmd = scimd_command();
    cmd.env(scimd::config::ENV_CONFIG, &bad).arg("--config").arg(&config).args(["token", "list"]);
    let out = run_scimd(cmd).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    // And the environment's file is really read: a broken one is reported.
    let mut cmd = scimd_command();
    cmd.env(scimd::config::ENV_CONFIG, &bad).arg("check-config");
    let out = run_scimd(cmd).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains(&format!("{}:1:", bad.display())), "{}", out.stderr);
}

#[tokio::test]
async fn the_admin_socket_is_private_to_its_owner() {
    let s = TestServer::start().await;
    s.ready().await;
    let meta = std::fs::metadata(s.data_dir().join("scimd.sock")).expect("admin socket");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn the_first_serve_without_any_config_prints_the_tenant_url_and_a_token() {
    if std::net::TcpListener::bind("127.0.0.1:8443").is_err() {
        eprintln!("SKIPPED: port 8443 is busy");
        return;
    }
    if Path::new(scimd::config::SYSTEM_CONFIG).exists() {
        eprintln!("SKIPPED: {} exists", scimd::config::SYSTEM_CONFIG);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = scimd_command();
    cmd.current_dir(dir.path()).arg("serve");
    let mut process = ServeProcess::start(cmd).await;
    assert_eq!(process.port, 8443, "{:?}", process.stderr);
    let tenant = process.stdout_line("Tenant URL:");
    assert_eq!(tenant.trim(), "Tenant URL:    https://127.0.0.1:8443/scim/v2");
    let secret_line = process.stdout_line("Secret Token:");
    let token = secret_line.trim().trim_start_matches("Secret Token:").trim();
    assert!(is_token(token), "{secret_line}");
    assert!(dir.path().join("scimd-data/scimd.redb").is_file());
    let cert = dir.path().join("scimd-data/tls/cert.pem");
    assert!(cert.is_file());

    // The printed pair is what an IdP needs: it works.
    let client = client_trusting(&std::fs::read(&cert).expect("cert"));
    let r = send(client.get("https://127.0.0.1:8443/scim/v2/Users").bearer_auth(token)).await;
    let r = r.expect(200);
    assert_eq!(r.body["totalResults"], 0);
    drop(process);
}
