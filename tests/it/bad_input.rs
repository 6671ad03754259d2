//! Hostile and broken input: every case is answered with the right 4xx SCIM error (never a
//! 500, never a hang), stores nothing, and — for writes — leaves a provisioning-log row saying
//! why. The server keeps answering afterwards.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Reply, SCIM_JSON, TestServer, entra_encode, user_body};

/// One refused write in the corpus.
struct Case {
    label: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    scim_type: &'static str,
    /// Text the error's detail must contain (what to fix).
    detail: &'static str,
}

fn case(label: &'static str, body: impl Into<Vec<u8>>, scim_type: &'static str) -> Case {
    Case {
        label,
        path: "/Users",
        content_type: SCIM_JSON,
        body: body.into(),
        status: 400,
        scim_type,
        detail: "",
    }
}

fn json_case(label: &'static str, body: Value, detail: &'static str) -> Case {
    Case { detail, ..case(label, body.to_string(), "invalidValue") }
}

fn nested_arrays(depth: usize) -> String {
    format!(
        "{{\"userName\":\"deep@example.org\",\"title\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn corpus() -> Vec<Case> {
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    vec![
        case("malformed JSON", r#"{"userName": "a@example.org", "#, "invalidSyntax"),
        case("a trailing comma", r#"{"userName": "a@example.org",}"#, "invalidSyntax"),
        case("a JSON array", "[]", "invalidSyntax"),
        case("an array holding a user", r#"[{"userName": "a@example.org"}]"#, "invalidSyntax"),
        case("a JSON string", r#""a@example.org""#, "invalidSyntax"),
        case("a JSON number", "5", "invalidSyntax"),
        case("JSON null", "null", "invalidSyntax"),
        case("an empty body", "", "invalidSyntax"),
        case("a blank body", "  \r\n ", "invalidSyntax"),
        case(
            "invalid UTF-8",
            b"{\"userName\": \"a\xff\xfe@example.org\"}".to_vec(),
            "invalidSyntax",
        ),
        case("10,000 nested arrays", nested_arrays(10_000), "invalidSyntax"),
        Case {
            content_type: "text/plain",
            status: 415,
            ..case("text/plain", user_body("a@example.org", json!({})).to_string(), "")
        },
        Case {
            content_type: "application/x-www-form-urlencoded",
            status: 415,
            ..case("a form", "userName=a%40example.org", "")
        },
        json_case("userName a number", json!({"userName": 5}), "'userName' must be a string"),
        json_case(
            "active \"maybe\"",
            json!({"userName": "a@example.org", "active": "maybe"}),
            "'active' must be true or false",
        ),
        json_case(
            "name a string",
            json!({"userName": "a@example.org", "name": "x"}),
            "'name' must be a JSON object",
        ),
        json_case(
            "an email value a number",
            json!({"userName": "a@example.org", "emails": [{"value": 5}]}),
            "'emails.value' must be a string",
        ),
        json_case("emails a number", json!({"userName": "a@example.org", "emails": 5}), "'emails'"),
        json_case(
            "the enterprise extension a string",
            json!({"userName": "a@example.org", enterprise: "x"}),
            enterprise,
        ),
        Case {
            scim_type: "invalidSyntax",
            ..json_case(
                "schemas a string",
                json!({"userName": "a@example.org", "schemas": "urn"}),
                "'schemas' must be a list",
            )
        },
        json_case(
            "an unknown attribute",
            json!({"userName": "a@example.org", "favouriteColour": "teal"}),
            "unknown attribute 'favouriteColour'",
        ),
        json_case(
            "an unknown sub-attribute",
            json!({"userName": "a@example.org", "name": {"middle": "Q"}}),
            "'name.middle'",
        ),
        json_case(
            "an unknown enterprise attribute",
            json!({"userName": "a@example.org", enterprise: {"badge": "7"}}),
            "badge",
        ),
        json_case("no userName", json!({"name": {"givenName": "A"}}), "'userName'"),
        json_case("an empty object", json!({}), "'userName'"),
        json_case("an empty userName", json!({"userName": ""}), "'userName'"),
        json_case("a null userName", json!({"userName": null}), "'userName'"),
        Case {
            path: "/Groups",
            ..json_case("a group without displayName", json!({"members": []}), "'displayName'")
        },
        Case { path: "/Groups", ..case("a group body that is a list", "[]", "invalidSyntax") },
    ]
}

async fn send_case(s: &TestServer, c: &Case) -> Reply {
    s.raw(Method::POST, c.path, c.content_type, c.body.clone()).await
}

fn check(c: &Case, r: Reply) -> Reply {
    assert_eq!(r.status.as_u16(), c.status, "{}: {}", c.label, r.text);
    let r = r.expect(c.status);
    if !c.scim_type.is_empty() {
        assert_eq!(r.scim_type(), c.scim_type, "{}: {}", c.label, r.text);
    }
    let detail = r.body["detail"].as_str().unwrap_or("");
    assert!(!detail.is_empty(), "{}: no detail", c.label);
    assert!(detail.contains(c.detail), "{}: {detail:?} lacks {:?}", c.label, c.detail);
    r
}

#[tokio::test]
async fn the_corpus_is_refused_with_4xx_logged_and_nothing_stored() {
    let s = TestServer::start().await;
    let cases = corpus();
    for c in &cases {
        check(c, send_case(&s, c).await);
    }

    // Nothing was stored, and the server still answers.
    assert_eq!(s.total("/Users").await, 0);
    assert_eq!(s.total("/Groups").await, 0);
    s.create_user("after@example.org").await;
    assert_eq!(s.users_named("after@example.org").await, 1);

    // One log row per refused write, in order, with what the client was told.
    let mut log = s.provisioning_log(1000).await;
    let created = log.remove(0);
    assert_eq!(
        (created["operation"].as_str(), created["status"].as_u64()),
        (Some("create"), Some(201))
    );
    log.reverse();
    assert_eq!(log.len(), cases.len(), "{log:#?}");
    for (c, row) in cases.iter().zip(&log) {
        assert_eq!(row["operation"], "create", "{}: {row}", c.label);
        assert_eq!(row["token"], "test", "{}: {row}", c.label);
        let resource = if c.path == "/Groups" { "Group" } else { "User" };
        assert_eq!(row["resource_type"], resource, "{}: {row}", c.label);
        assert!(row.get("resource_id").is_none(), "{}: {row}", c.label);
        let detail = row["detail"].as_str().unwrap_or("");
        assert!(!detail.is_empty() && detail.contains(c.detail), "{}: {row}", c.label);
        if c.status == 400 {
            assert_eq!(row["status"], 400, "{}: {row}", c.label);
            assert_eq!(row["scim_type"], c.scim_type, "{}: {row}", c.label);
        }
    }
}

#[tokio::test]
async fn refused_bodies_are_logged_with_the_status_the_client_got() {
    let s = TestServer::start_with("[limits]\nmax_body_bytes = 2048\n").await;
    let user = user_body("a@example.org", json!({}));
    s.raw(Method::POST, "/Users", "text/plain", user.to_string().into_bytes()).await.expect(415);
    let big = user_body("b@example.org", json!({"title": "x".repeat(4096)}));
    s.raw(Method::POST, "/Users", SCIM_JSON, big.to_string().into_bytes()).await.expect(413);
    let log = s.provisioning_log(2).await;
    assert_eq!(log[0]["status"], 413, "{log:#?}");
    assert_eq!(log[1]["status"], 415, "{log:#?}");
}

#[tokio::test]
async fn emails_given_as_a_bare_string_is_refused() {
    let s = TestServer::start().await;
    let body = json!({"userName": "a@example.org", "emails": "x"});
    let r = s.post("/Users", &body).await;
    let r = r.expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    assert_eq!(s.total("/Users").await, 0);
}

#[tokio::test]
async fn a_group_with_an_unknown_member_is_refused_and_nothing_stored() {
    let s = TestServer::start().await;
    let ada = s.create_user("ada@example.org").await;
    let unknown = "7d0c5b1e-0000-4000-8000-000000000000";
    for member in ["no-such-id", unknown] {
        let body = json!({"displayName": "Ghosts", "members": [{"value": ada}, {"value": member}]});
        let r = s.post("/Groups", &body).await.expect(400);
        assert_eq!(r.scim_type(), "invalidValue");
        assert!(r.body["detail"].as_str().unwrap_or("").contains(member), "{}", r.text);
    }
    // Neither the group nor a membership of the valid member was kept.
    assert_eq!(s.total("/Groups").await, 0);
    let user = s.read_user(&ada).await;
    assert!(user.get("groups").is_none_or(|g| g.as_array().is_some_and(Vec::is_empty)), "{user}");
    let log = s.provisioning_log(2).await;
    for row in &log {
        assert_eq!(
            (row["operation"].as_str(), row["status"].as_u64()),
            (Some("create"), Some(400))
        );
        assert_eq!(row["resource_type"], "Group");
        assert_eq!(row["name"], "Ghosts");
    }
}

#[tokio::test]
async fn a_refused_create_logs_no_resource_id() {
    let s = TestServer::start().await;
    let body = json!({"displayName": "Ghosts", "members": [{"value": "no-such-id"}]});
    s.post("/Groups", &body).await.expect(400);
    let row = &s.provisioning_log(1).await[0];
    assert_eq!(row["status"], 400);
    if let Some(id) = row["resource_id"].as_str() {
        s.get(&format!("/Groups/{id}")).await.expect(404);
        panic!("the log names group {id}, which does not exist: {row}");
    }
}

#[tokio::test]
async fn put_bodies_are_checked_and_a_refused_put_changes_nothing() {
    let s = TestServer::start().await;
    let id = s.create_user("ada@example.org").await;
    let path = format!("/Users/{id}");
    let before = s.get(&path).await.expect(200).body;

    let mut other_id = user_body("ada@example.org", json!({"title": "Changed"}));
    other_id["id"] = json!("3f1c2d9e-0000-4000-8000-000000000000");
    let r = s.put(&path, &other_id).await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    let detail = r.body["detail"].as_str().unwrap_or("");
    assert!(detail.contains("3f1c2d9e-0000-4000-8000-000000000000"), "{detail}");

    // The same id (any case of the key) is fine to echo.
    let mut same_id = user_body("ada@example.org", json!({"title": "Same"}));
    same_id["ID"] = json!(id);
    s.put(&path, &same_id).await.expect(200);
    let before = {
        let mut b = before;
        b["title"] = json!("Same");
        b
    };

    for (label, body, status) in [
        ("malformed JSON", b"{\"userName\": ".to_vec(), 400),
        ("a JSON array", b"[]".to_vec(), 400),
        ("no userName", br#"{"title": "x"}"#.to_vec(), 400),
        ("a wrong type", br#"{"userName": "ada@example.org", "active": "maybe"}"#.to_vec(), 400),
        ("an unknown attribute", br#"{"userName": "ada@example.org", "x": 1}"#.to_vec(), 400),
    ] {
        let r = s.raw(Method::PUT, &path, SCIM_JSON, body).await;
        assert_eq!(r.status.as_u16(), status, "{label}: {}", r.text);
        r.expect(status);
    }
    let after = s.get(&path).await.expect(200).body;
    let strip = |mut v: Value| {
        v["meta"]["lastModified"] = Value::Null;
        v["meta"]["version"] = Value::Null;
        v
    };
    assert_eq!(strip(after.clone()), strip(before), "the refused PUTs changed the user");

    // Each refused PUT was logged against the resource.
    let log = s.provisioning_log(7).await;
    let refused: Vec<&Value> = log.iter().filter(|e| e["status"] == 400).collect();
    assert_eq!(refused.len(), 6, "{log:#?}");
    for row in refused {
        assert_eq!(row["operation"], "replace", "{row}");
        assert_eq!(row["resource_id"], id.as_str(), "{row}");
    }
    assert_eq!(log[0]["scim_type"], "invalidValue");
    assert!(log[0]["detail"].as_str().unwrap_or("").contains("'x'"), "{}", log[0]);
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_413() {
    let s = TestServer::start_with("[limits]\nmax_body_bytes = 2048\n").await;
    let big = user_body("big@example.org", json!({"title": "x".repeat(4096)})).to_string();
    // With Content-Length.
    let r = s.raw(Method::POST, "/Users", SCIM_JSON, big.clone().into_bytes()).await.expect(413);
    assert!(r.body["detail"].as_str().unwrap_or("").contains("2048"), "{}", r.text);
    // Chunked, with no Content-Length: the limit applies to what arrives.
    let r = raw_https(&s, "POST", "/scim/v2/Users", &[("content-type", SCIM_JSON)], Some(&big))
        .await
        .expect("an answer to the chunked request");
    let r = r.expect(413);
    assert!(r.body["detail"].as_str().unwrap_or("").contains("2048"), "{}", r.text);
    // A body at the limit's edge is read normally.
    let small = user_body("small@example.org", json!({"title": "x".repeat(1000)})).to_string();
    assert!(small.len() < 2048);
    let r = raw_https(&s, "POST", "/scim/v2/Users", &[("content-type", SCIM_JSON)], Some(&small))
        .await
        .expect("an answer");
    r.expect(201);

    assert_eq!(s.users_named("big@example.org").await, 0);
    assert_eq!(s.total("/Users").await, 1);
    let log = s.provisioning_log(3).await;
    assert_eq!(log[0]["status"], 201);
    for row in &log[1..] {
        assert_eq!(row["operation"], "create", "{row}");
        assert!(row["detail"].as_str().unwrap_or("").contains("2048"), "{row}");
    }
}

#[tokio::test]
async fn bad_filters_are_400_invalid_filter() {
    let s = TestServer::start().await;
    s.create_user("ada@example.org").await;
    let long = format!("userName eq \"{}\"", "a".repeat(5000));
    let parens = format!("{}userName pr{}", "(".repeat(5000), ")".repeat(5000));
    let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
    let not_deep = format!("{}userName pr", "not (".repeat(40)) + &")".repeat(40);
    for (label, filter) in [
        ("a 5 KB filter", &long),
        ("5,000 nested parentheses", &parens),
        ("40 nested parentheses", &deep),
        ("40 nested nots", &not_deep),
        ("an unclosed string", &"userName eq \"ada".to_string()),
        ("an unknown operator", &"userName like \"a\"".to_string()),
    ] {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": filter
        });
        let r = s.post("/Users/.search", &body).await;
        assert_eq!(r.status.as_u16(), 400, "{label} (.search): {}", r.text);
        assert_eq!(r.expect(400).scim_type(), "invalidFilter", "{label}");
        if filter.len() < 6000 {
            let r = s.get(&format!("/Users?filter={}", entra_encode(filter))).await;
            assert_eq!(r.status.as_u16(), 400, "{label} (GET): {}", r.text);
            assert_eq!(r.expect(400).scim_type(), "invalidFilter", "{label}");
        }
    }
    // Still serving, and the store is unchanged.
    assert_eq!(s.total("/Users").await, 1);
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let s = TestServer::start().await;
    for (label, query) in [
        ("non-numeric startIndex", "startIndex=abc"),
        ("non-numeric count", "count=ten"),
        ("a fractional startIndex", "startIndex=1.5"),
        ("percent-encoded invalid UTF-8", "filter=userName%20eq%20%22%FF%FE%22"),
        ("a percent-encoded invalid UTF-8 name", "%C3%28=1"),
        ("an unknown sortOrder", "sortOrder=sideways"),
        ("an unknown attribute in attributes", "attributes=emails[type"),
    ] {
        let r = s.get(&format!("/Users?{query}")).await;
        assert_eq!(r.status.as_u16(), 400, "{label}: {}", r.text);
        let r = r.expect(400);
        let detail = r.body["detail"].as_str().unwrap_or("");
        assert!(!detail.is_empty(), "{label}");
    }
    let r = s.get("/Users?startIndex=abc").await.expect(400);
    assert_eq!(r.scim_type(), "invalidValue");
    assert!(r.body["detail"].as_str().unwrap_or("").contains("startIndex"), "{}", r.text);
    // Unknown parameters are ignored, as Entra's aadOptscim062020 needs.
    s.get("/Users?aadOptscim062020&whatever=1").await.expect(200);
}

#[tokio::test]
async fn invalid_percent_escapes_in_the_query_are_400() {
    let s = TestServer::start().await;
    s.create_user("ada@example.org").await;
    for query in [
        "filter=userName%20eq%20%ZZ",
        "filter=userName%20eq%20%22ada%ZZ%22",
        "filter=userName%20eq%20%2",
        "filter=userName%20eq%20%22ada@example.org%22&count=%G1",
    ] {
        let r = s.get(&format!("/Users?{query}")).await;
        assert_eq!(r.status.as_u16(), 400, "{query}: {}", r.text);
        r.expect(400);
    }
}

#[tokio::test]
async fn a_huge_header_is_refused_without_a_hang() {
    let s = TestServer::start().await;
    let filler = "x".repeat(100 * 1024);
    // Through the normal client (HTTP/2 when negotiated).
    let req = s.client.get(s.url("/Users")).bearer_auth(&s.token).header("x-filler", &filler);
    match tokio::time::timeout(Duration::from_secs(60), req.send()).await {
        Err(_) => panic!("a huge header made the request hang"),
        Ok(Ok(resp)) => assert_eq!(resp.status().as_u16(), 431, "{resp:?}"),
        Ok(Err(refused)) => eprintln!("HTTP/2: the connection was refused: {refused}"),
    }
    // Over HTTP/1.1.
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        raw_https(&s, "GET", "/scim/v2/Users", &[("x-filler", &filler)], None),
    )
    .await
    .expect("a huge header made the request hang");
    match answer {
        Ok(r) => assert_eq!(r.status.as_u16(), 431, "{}", r.text),
        Err(refused) => eprintln!("HTTP/1.1: the connection was refused: {refused}"),
    }
    // The server still answers.
    assert_eq!(s.total("/Users").await, 0);
}

/// Sends one HTTP/1.1 request over TLS by hand (a chunked body when `body` is given, which
/// reqwest cannot do without its streaming feature) and reads the answer; Err when the server
/// closes the connection without one.
async fn raw_https(
    s: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Reply> {
    let pem = std::fs::read(s.data_dir().join("tls/cert.pem"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.port)).await?;
    let name = ServerName::try_from("127.0.0.1").expect("name").to_owned();
    let mut tls = connector.connect(name, tcp).await?;

    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nauthorization: Bearer {}\r\n\
         connection: close\r\n",
        s.port, s.token
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str("transfer-encoding: chunked\r\n\r\n");
        for chunk in body.as_bytes().chunks(500) {
            request.push_str(&format!("{:x}\r\n", chunk.len()));
            request.push_str(std::str::from_utf8(chunk).expect("ascii body"));
            request.push_str("\r\n");
        }
        request.push_str("0\r\n\r\n");
    } else {
        request.push_str("\r\n");
    }
    // The server may answer and close before reading everything; the answer still counts.
    let _ = tls.write_all(request.as_bytes()).await;
    let _ = tls.flush().await;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tls.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if raw.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP response".to_string())
    })
}

fn parse_response(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut rest = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_str().unwrap_or("").eq_ignore_ascii_case("chunked"));
    if chunked {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let end = rest[pos..].windows(2).position(|w| w == b"\r\n")? + pos;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[pos..end]).ok()?, 16).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(rest.get(end + 2..end + 2 + size)?);
            pos = end + 2 + size + 2;
        }
        rest = body;
    }
    let text = String::from_utf8_lossy(&rest).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Some(Reply { status: reqwest::StatusCode::from_u16(status).ok()?, headers, body, text })
}
