//! What scimd tells its operator, with the real binary: `GET /metrics` on its own listener
//! (requests by route and status, latency and write-batch histograms, users by state, groups,
//! when each token was last used), and the server log as one JSON object per line with
//! `[log] format = "json"`.

use serde_json::{Value, json};

use crate::common::{
    ServeProcess, issue_token, scimd_command, send, user_body, write_plain_config,
};
use scimd::store::TokenScope;

/// The `127.0.0.1:PORT` port in a log line.
fn port_in(line: &str) -> u16 {
    let (_, rest) = line.split_once("127.0.0.1:").unwrap_or_else(|| panic!("no port: {line}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn metrics_report_requests_writes_the_directory_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let token = issue_token(&dir.path().join("data"), "entra-prod", TokenScope::ReadWrite);
    let quoted = issue_token(&dir.path().join("data"), "Okta \"test\"", TokenScope::ReadOnly);
    let config = write_plain_config(dir.path(), "[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config).arg("serve");
    let mut scimd = ServeProcess::start(cmd).await;
    let metrics_port = port_in(&scimd.stderr_line("serving /metrics"));
    let base = format!("http://127.0.0.1:{}/scim/v2", scimd.port);
    let client = reqwest::Client::new();

    let mut ids = Vec::new();
    for (name, active) in
        [("a@contoso.example", true), ("b@contoso.example", true), ("c@contoso.example", false)]
    {
        let body = user_body(name, json!({"active": active}));
        let r = send(client.post(format!("{base}/Users")).bearer_auth(&token).json(&body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales"});
    let r = send(client.post(format!("{base}/Groups")).bearer_auth(&token).json(&group)).await;
    assert_eq!(r.status, 201);
    let r = send(client.get(format!("{base}/Users/{}", ids[0])).bearer_auth(&token)).await;
    assert_eq!(r.status, 200);
    let missing = "00000000-0000-4000-8000-000000000000";
    let r = send(client.get(format!("{base}/Users/{missing}")).bearer_auth(&token)).await;
    assert_eq!(r.status, 404);
    let r = send(client.get(format!("{base}/Users"))).await;
    assert_eq!(r.status, 401);
    // A name with a quote and an invented method must not break the page or mint series.
    let r = send(client.get(format!("{base}/Groups")).bearer_auth(&quoted)).await;
    assert_eq!(r.status, 200);
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let r = send(client.request(brew, format!("{base}/Users")).bearer_auth(&token)).await;
    assert_eq!(r.status, 405);
    let started = scimd::service::now_unix();

    let url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let scrape = client.get(&url).send().await.expect("scrape");
    assert_eq!(scrape.status(), 200);
    let content_type = scrape.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = scrape.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");

    let requests = |route: &str, method: &str, status: u16| {
        let series = format!(
            "scimd_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
        );
        sample(&text, &series)
    };
    assert_eq!(requests("/scim/v2/Users", "POST", 201), Some(3.0), "{text}");
    assert_eq!(requests("/scim/v2/Groups", "POST", 201), Some(1.0), "{text}");
    // Ids do not make series of their own: one route, by status.
    assert_eq!(requests("/scim/v2/Users/{id}", "GET", 200), Some(1.0), "{text}");
    assert_eq!(requests("/scim/v2/Users/{id}", "GET", 404), Some(1.0), "{text}");
    assert_eq!(requests("/scim/v2/Users", "GET", 401), Some(1.0), "{text}");
    assert!(!text.contains(&ids[0]), "a resource id leaked into a label");
    let posts =
        "scimd_http_request_duration_seconds_count{route=\"/scim/v2/Users\",method=\"POST\"}";
    assert_eq!(sample(&text, posts), Some(3.0), "{text}");
    assert!(text.contains("scimd_http_request_duration_seconds_bucket{le=\""), "{text}");

    // Four writes committed: batch sizes and commit times were observed.
    assert!(sample(&text, "scimd_write_batch_size_count").unwrap() >= 1.0, "{text}");
    assert!(sample(&text, "scimd_write_batch_size_sum").unwrap() >= 4.0, "{text}");
    assert!(sample(&text, "scimd_write_batch_commit_duration_seconds_count").unwrap() >= 1.0);

    assert_eq!(sample(&text, "scimd_users{state=\"active\"}"), Some(2.0), "{text}");
    assert_eq!(sample(&text, "scimd_users{state=\"inactive\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "scimd_groups"), Some(1.0), "{text}");
    assert!(sample(&text, "scimd_provisioning_log_entries").unwrap() >= 4.0, "{text}");
    assert!(sample(&text, "scimd_data_file_size_bytes").unwrap() > 0.0, "{text}");

    let token_id = crate::common::token_id(&token);
    let last_used =
        format!("scimd_token_last_used_timestamp_seconds{{id=\"{token_id}\",name=\"entra-prod\"}}");
    let at = sample(&text, &last_used).unwrap_or_else(|| panic!("{last_used} missing: {text}"));
    assert!((at - started as f64).abs() <= 60.0, "{at} vs {started}");
    let quoted_id = crate::common::token_id(&quoted);
    let escaped = format!(
        "scimd_token_last_used_timestamp_seconds{{id=\"{quoted_id}\",name=\"Okta \\\"test\\\"\"}}"
    );
    assert!(sample(&text, &escaped).is_some(), "{escaped} missing: {text}");
    assert_eq!(requests("unmatched", "other", 405), Some(1.0), "{text}");
    assert!(!text.contains("BREW"), "{text}");

    // Deactivating moves a user between the states at the next scrape.
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "active", "value": "False"}]});
    let r = send(client.patch(format!("{base}/Users/{}", ids[0])).bearer_auth(&token).json(&patch))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let text = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(sample(&text, "scimd_users{state=\"inactive\"}"), Some(2.0), "{text}");

    // Only /metrics is served there, and nothing of it on the SCIM port.
    let other = client.get(format!("http://127.0.0.1:{metrics_port}/scim/v2/Users")).send().await;
    assert_eq!(other.unwrap().status(), 404);
    let r = send(client.get(format!("http://127.0.0.1:{}/metrics", scimd.port))).await;
    assert_eq!(r.status, 404);
    scimd.kill();
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_a_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let token = issue_token(&dir.path().join("data"), "okta", TokenScope::ReadWrite);
    let config = write_plain_config(dir.path(), "[log]\nformat = \"json\"\n");
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&config).arg("serve");
    let mut scimd = ServeProcess::spawn(cmd);
    let serving = tokio::task::spawn_blocking(move || {
        let line = scimd.stderr_line("scimd is serving");
        (scimd, line)
    });
    let (mut scimd, line) = serving.await.unwrap();
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["message"], "scimd is serving");
    assert!(event["timestamp"].is_string(), "{event}");
    let port = port_in(event["listen"].as_str().unwrap());

    let body = user_body("json@contoso.example", json!({}));
    let url = format!("http://127.0.0.1:{port}/scim/v2/Users");
    let r = send(reqwest::Client::new().post(&url).bearer_auth(&token).json(&body)).await;
    assert_eq!(r.status, 201);
    let line = tokio::task::spawn_blocking(move || {
        let line = scimd.stderr_line("\"path\":\"/scim/v2/Users\"");
        scimd.kill();
        (scimd, line)
    })
    .await
    .unwrap()
    .1;
    let access: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(access["message"], "request");
    assert_eq!(access["method"], "POST");
    assert_eq!(access["status"], 201);
    assert_eq!(access["token"], "okta");
    assert!(access["ms"].as_f64().is_some(), "{access}");
}
