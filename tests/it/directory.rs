//! What an admin uses to check provisioning, run as the real binary: `scimd users|groups
//! list|show` (table, CSV and JSON; through the running server and from the data file, with
//! the same output), `scimd log` filtered by user and outcome, `log --follow`, and the
//! provisioning log's retention (`[log] keep_days`).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    CliOutput, ServeProcess, TestServer, scimd_at as scimd, scimd_command, user_body,
};

async fn scimd_ok(config: &Path, args: &[&str]) -> CliOutput {
    let out = scimd(config, args).await;
    assert_eq!(out.code, Some(0), "scimd {args:?} failed: {out:?}");
    out
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Three users (one inactive, one with a comma and a quote in its name) and a group of two.
async fn populate(s: &TestServer) -> (Vec<String>, String) {
    let adele = s
        .post(
            "/Users",
            &user_body(
                "adele.vance@contoso.example",
                json!({"externalId": "ext-adele", "userType": "Manager",
                       "displayName": "Vance, Adele \"AV\""}),
            ),
        )
        .await
        .expect(201);
    let alex = s
        .post(
            "/Users",
            &user_body(
                "alex.wilber@contoso.example",
                json!({"userType": "Employee", "active": false,
                       "name": {"givenName": "Alex", "familyName": "Wilber"},
                       ENTERPRISE: {"manager": {"value": adele.body["id"]}}}),
            ),
        )
        .await
        .expect(201);
    let megan = s.create_user("megan.bowen@contoso.example").await;
    let ids = vec![
        adele.body["id"].as_str().unwrap().to_string(),
        alex.body["id"].as_str().unwrap().to_string(),
        megan,
    ];
    let group = s.create_group("Sales, EMEA", &[&ids[0], &ids[1]]).await;
    (ids, group)
}

#[tokio::test]
async fn users_and_groups_list_and_show_the_same_online_and_offline() {
    let mut s = TestServer::start().await;
    let (ids, group) = populate(&s).await;
    let config = s.write_config_file();

    // The table: a header, one row per user in id order, a count on stderr.
    let table = scimd_ok(&config, &["users", "list"]).await;
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", table.stdout);
    for column in ["ID", "USERNAME", "ACTIVE", "USERTYPE", "ROLES", "EXTERNALID", "DISPLAYNAME"] {
        assert!(lines[0].contains(column), "{}", lines[0]);
    }
    let mut sorted = ids.clone();
    sorted.sort();
    for (line, id) in lines[1..].iter().zip(&sorted) {
        assert!(line.starts_with(id.as_str()), "{line}");
    }
    let alex = lines.iter().find(|l| l.contains("alex.wilber")).unwrap();
    for cell in ["false", "Employee", "member", "Alex Wilber"] {
        assert!(alex.contains(cell), "{alex}");
    }
    let adele = lines.iter().find(|l| l.contains("adele.vance")).unwrap();
    assert!(adele.contains("member,manager") && adele.contains("ext-adele"), "{adele}");
    assert_eq!(table.stderr.trim(), "3 users");

    // CSV quotes what needs quoting and parses back to the same cells.
    let csv = scimd_ok(&config, &["users", "list", "--format", "csv"]).await;
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[..3], ["ID", "USERNAME", "ACTIVE"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let adele_row = rows.iter().find(|r| &r[1] == "adele.vance@contoso.example").unwrap();
    assert_eq!(&adele_row[6], "Vance, Adele \"AV\"");

    // JSON is the SCIM resources, as GET /Users returns them.
    let listed = scimd_ok(&config, &["users", "list", "--format", "json"]).await;
    let listed: Value = serde_json::from_str(&listed.stdout).expect("a JSON array");
    let served = s.get("/Users?count=10").await.expect(200);
    assert_eq!(listed, served.body["Resources"]);

    // A SCIM filter narrows it; a bad one is refused with the parser's reason.
    let inactive = scimd_ok(&config, &["users", "list", "--filter", "active eq false"]).await;
    assert_eq!(inactive.stdout.lines().count(), 2, "{}", inactive.stdout);
    assert!(inactive.stdout.contains("alex.wilber"));
    let none = scimd_ok(&config, &["users", "list", "--filter", "userName eq \"nobody\""]).await;
    assert_eq!(none.stdout.lines().count(), 1, "header only: {}", none.stdout);
    assert_eq!(none.stderr.trim(), "0 users");
    let bad = scimd(&config, &["users", "list", "--filter", "userName eq"]).await;
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("--filter"), "{}", bad.stderr);
    let empty = scimd_ok(
        &config,
        &["users", "list", "--format", "json", "--filter", "userType eq \"Pirate\""],
    )
    .await;
    assert_eq!(empty.stdout.trim(), "[]");

    // A create of a name already taken: refused, logged without an id, shown with the user.
    s.post("/Users", &user_body("Alex.Wilber@contoso.example", json!({}))).await.expect(409);

    // show: by userName, id or externalId; text with the recent log, or the SCIM JSON.
    let by_name = scimd_ok(&config, &["users", "show", "alex.wilber@contoso.example"]).await;
    let text = &by_name.stdout;
    assert!(text.contains(&format!("id            {}", ids[1])), "{text}");
    assert!(text.contains("active        false"), "{text}");
    assert!(text.contains(&format!("manager       {}", ids[0])), "{text}");
    assert!(text.contains("groups        Sales, EMEA"), "{text}");
    assert!(text.contains("Recent provisioning"), "{text}");
    assert!(text.contains("create") && text.contains("201"), "{text}");
    assert!(text.contains(" 409 Alex.Wilber@contoso.example"), "the refused create: {text}");
    let by_id = scimd_ok(&config, &["users", "show", &ids[1]]).await;
    assert_eq!(by_id.stdout, by_name.stdout);
    let by_ext = scimd_ok(&config, &["users", "show", "ext-adele", "--format", "json"]).await;
    let shown: Value = serde_json::from_str(&by_ext.stdout).unwrap();
    assert_eq!(shown, s.get(&format!("/Users/{}", ids[0])).await.expect(200).body);
    let missing = scimd(&config, &["users", "show", "nobody@contoso.example"]).await;
    assert_eq!(missing.code, Some(1));
    assert!(missing.stderr.contains("no user"), "{}", missing.stderr);

    // Groups: member counts in the list, the members in show.
    let groups = scimd_ok(&config, &["groups", "list"]).await;
    let row = groups.stdout.lines().nth(1).unwrap();
    assert!(row.starts_with(&group) && row.contains("Sales, EMEA") && row.contains(" 2 "), "{row}");
    let shown = scimd_ok(&config, &["groups", "show", "sales, emea"]).await;
    assert!(shown.stdout.contains("members       2"), "{}", shown.stdout);
    let adele = format!("adele.vance@contoso.example (User {})", ids[0]);
    assert!(shown.stdout.contains(&adele), "{}", shown.stdout);

    // With the server stopped the CLI reads the file itself, and prints the same bytes.
    s.stop().await;
    for args in [
        &["users", "list"][..],
        &["users", "list", "--format", "csv"],
        &["users", "show", "alex.wilber@contoso.example"],
        &["groups", "list"],
    ] {
        let offline = scimd_ok(&config, args).await;
        let online = match args {
            ["users", "list"] => &table.stdout,
            ["users", "list", "--format", "csv"] => &csv.stdout,
            ["users", "show", _] => &by_name.stdout,
            _ => &groups.stdout,
        };
        assert_eq!(&offline.stdout, online, "{args:?}");
    }
}

#[tokio::test]
async fn the_log_filters_by_user_and_outcome_and_follows() {
    let s = TestServer::start().await;
    let (ids, _) = populate(&s).await;
    s.post("/Users", &user_body("bad@contoso.example", json!({"userType": "Pirate"})))
        .await
        .expect(400);
    s.patch(
        &format!("/Users/{}", ids[2]),
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await
    .expect(200);
    let config = s.write_config_file();

    let megan = scimd_ok(&config, &["log", "--user", "MEGAN.BOWEN@contoso.example"]).await;
    let lines: Vec<&str> = megan.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", megan.stdout);
    assert!(lines[0].contains("patch"), "{lines:?}");
    assert!(lines[1].contains("create"), "{lines:?}");
    let by_id = scimd_ok(&config, &["log", "--user", &ids[2]]).await;
    assert_eq!(by_id.stdout, megan.stdout);

    let refused = scimd_ok(&config, &["log", "--outcome", "refused"]).await;
    let lines: Vec<&str> = refused.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", refused.stdout);
    assert!(lines[0].contains("bad@contoso.example") && lines[0].contains("Pirate"), "{lines:?}");
    let ok = scimd_ok(&config, &["log", "--outcome", "ok", "--limit", "100"]).await;
    assert!(!ok.stdout.contains("bad@contoso.example"), "{}", ok.stdout);
    assert_eq!(ok.stdout.lines().count(), 5, "{}", ok.stdout);
    let none = scimd_ok(&config, &["log", "--outcome", "failed"]).await;
    assert_eq!(none.stdout, "");
    assert!(none.stderr.contains("No provisioning log entries match"), "{}", none.stderr);

    // --follow prints the recent entries oldest first, then each new one as it commits, and
    // only those its filter matches.
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config).args(["log", "--follow", "--limit", "2", "--outcome", "ok"]);
    let mut follow = ServeProcess::spawn(cmd);
    let mut follow = tokio::task::spawn_blocking(move || {
        let group = follow.stdout_line("Sales, EMEA");
        assert!(group.contains("create"), "{group}");
        let megan = follow.stdout_line("megan.bowen@contoso.example");
        assert!(megan.contains("patch"), "{megan}");
        follow
    })
    .await
    .unwrap();
    s.post("/Users", &user_body("refused@contoso.example", json!({"userType": "Pirate"})))
        .await
        .expect(400);
    s.create_user("joni.sherman@contoso.example").await;
    let mut follow = tokio::task::spawn_blocking(move || {
        let line = follow.stdout_line("joni.sherman@contoso.example");
        assert!(line.contains("create") && line.contains("201"), "{line}");
        follow
    })
    .await
    .unwrap();
    assert!(!follow.stdout.iter().any(|l| l.contains("refused@")), "{:?}", follow.stdout);
    follow.kill();
}

/// The log lines of a backup file with their times moved `days` into the past.
fn age_log_entries(backup: &Path, days: i64) {
    let text = std::fs::read_to_string(backup).unwrap();
    let shifted = std::time::SystemTime::now() - Duration::from_secs(days as u64 * 86_400);
    let old = humantime::format_rfc3339_millis(shifted).to_string();
    let mut out = String::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        // Only the first three log rows get old: they are the oldest by sequence number.
        if let Some(entry) = v.get_mut("log").filter(|e| e["seq"].as_u64() <= Some(3)) {
            entry["time"] = json!(old);
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    std::fs::write(backup, out).unwrap();
}

#[tokio::test]
async fn the_provisioning_log_keeps_only_keep_days() {
    let mut s = TestServer::start_with("[log]\nkeep_days = 30\n").await;
    populate(&s).await;
    let config = s.write_config_file();
    let file = s.dir.path().join("backup.jsonl");
    scimd_ok(&config, &["backup", file.to_str().unwrap()]).await;
    let before = s.provisioning_log(100).await.len();
    assert_eq!(before, 4, "three users and a group");
    s.stop().await;

    // Entries from 31 days ago come back with the restore; the server prunes them on start.
    age_log_entries(&file, 31);
    scimd_ok(&config, &["restore", "--force", file.to_str().unwrap()]).await;
    let s = s.restart().await;
    let mut kept = Vec::new();
    for _ in 0..100 {
        kept = s.provisioning_log(100).await;
        if kept.len() == before - 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kept.len(), before - 3, "{kept:?}");
    let oldest = kept.iter().map(|e| e["seq"].as_u64().unwrap()).min().unwrap();
    assert_eq!(oldest, 4);
    // New entries go on from the old numbering.
    s.create_user("after-prune@contoso.example").await;
    let newest = &s.provisioning_log(1).await[0];
    assert_eq!(newest["seq"].as_u64().unwrap(), before as u64 + 1, "{newest}");
}

#[tokio::test]
async fn groups_show_names_every_member_of_a_large_group() {
    let s = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..150 {
        ids.push(s.create_user(&format!("member{i:03}@contoso.example")).await);
    }
    let members: Vec<&str> = ids.iter().map(String::as_str).collect();
    s.create_group("Everyone", &members).await;
    let config = s.write_config_file();
    let shown = scimd_ok(&config, &["groups", "show", "Everyone"]).await;
    assert!(shown.stdout.contains("members       150"), "{}", shown.stdout);
    for (i, id) in ids.iter().enumerate() {
        let line = format!("member{i:03}@contoso.example (User {id})");
        assert!(shown.stdout.contains(&line), "{line} missing");
    }
    assert!(!shown.stdout.contains("(not found)"));
}

#[tokio::test]
async fn csv_cells_do_not_run_as_formulas_and_show_lists_refusals_by_name() {
    let s = TestServer::start().await;
    let body = user_body("formula@contoso.example", json!({"displayName": "=HYPERLINK(\"x\")"}));
    s.post("/Users", &body).await.expect(201);
    // A second create of the same name: refused before any id is involved.
    let again = user_body("formula@contoso.example", json!({}));
    s.post("/Users", &again).await.expect(409);
    let config = s.write_config_file();

    let csv = scimd_ok(&config, &["users", "list", "--format", "csv"]).await;
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[6], "'=HYPERLINK(\"x\")", "{}", csv.stdout);
    // The table and JSON show the value as stored.
    let table = scimd_ok(&config, &["users", "list"]).await;
    assert!(table.stdout.contains(" =HYPERLINK(\"x\")"), "{}", table.stdout);

    // The refused create names the user but carries no id; show lists it all the same.
    let shown = scimd_ok(&config, &["users", "show", "formula@contoso.example"]).await;
    let log: Vec<&str> = shown.stdout.lines().skip_while(|l| !l.contains("Recent")).collect();
    assert_eq!(log.len(), 3, "{}", shown.stdout);
    assert!(log[1].contains("409") && log[2].contains("201"), "{log:?}");
}

#[tokio::test]
async fn a_list_taken_while_users_are_created_is_one_consistent_snapshot() {
    let s = TestServer::start().await;
    for i in 0..300 {
        s.create_user(&format!("before{i}@contoso.example")).await;
    }
    let config = s.write_config_file();
    let writer = {
        let (client, base, token) = (s.client.clone(), s.base.clone(), s.token.clone());
        tokio::spawn(async move {
            for i in 0.. {
                let body = user_body(&format!("during{i}@contoso.example"), json!({}));
                let r = client.post(format!("{base}/Users")).bearer_auth(&token).json(&body).send();
                assert_eq!(r.await.expect("POST").status(), 201);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listed = scimd_ok(&config, &["users", "list", "--format", "json"]).await;
    writer.abort();
    let users: Vec<Value> = serde_json::from_str(&listed.stdout).expect("one JSON array");
    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids, "in id order, each once");
    assert!(ids.len() >= 300, "{}", ids.len());
    assert_eq!(listed.stderr.trim(), format!("{} users", ids.len()));
}
