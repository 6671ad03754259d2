//! The admin console (issue 17) against the real binary over HTTPS: driven in Debian's
//! chromium through chromedriver (sign-in with one-time links, search, detail, a large group's
//! pages, tokens made and revoked, sign-out; a screenshot of each page into
//! target/console-screenshots), and with plain HTTPS requests where a browser would not send
//! what an attacker sends (a POST without the CSRF token or from another origin, a console
//! cookie on /scim/v2, a client outside `allowed_networks`).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::common::*;
use crate::payloads::{ms_tut_create_user, ms_tut_jyoung};
use scimd::service::TokenScope;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A `scimd serve` over HTTPS (a generated certificate) on a port of its own, with
/// `public_url` set to it, an `entra` token, and `extra` appended to the config.
struct Console {
    dir: tempfile::TempDir,
    config: PathBuf,
    process: ServeProcess,
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Console {
    async fn start(extra: &str) -> Console {
        let dir = tempfile::tempdir().expect("tempdir");
        let [port] = ports_for_children::<1>();
        let base = format!("https://127.0.0.1:{port}");
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\ndata_dir = {:?}\n\
                 [tls]\nmode = \"self-signed\"\n{extra}",
                dir.path().join("data").display().to_string()
            ),
        )
        .expect("config");
        let token = issue_token(&dir.path().join("data"), "entra", TokenScope::ReadWrite);
        let process = serve_process(&config).await;
        let pem = std::fs::read(dir.path().join("data/tls/cert.pem")).expect("generated cert");
        Console { dir, config, process, base, token, client: no_redirects(&pem) }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("data/tls/cert.pem")
    }

    /// `scimd console login [--valid-for SECS]`: the link it prints on stdout.
    async fn login_link(&self, valid_for: Option<u64>) -> String {
        let mut cmd = scimd_command();
        cmd.arg("--config").arg(&self.config).args(["console", "login"]);
        if let Some(secs) = valid_for {
            cmd.args(["--valid-for", &secs.to_string()]);
        }
        let out = run_scimd(cmd).await;
        assert_eq!(out.code, Some(0), "console login: {}", out.stderr);
        let link = out.stdout.trim().to_string();
        assert!(link.starts_with(&format!("{}/admin/login?code=", self.base)), "{link}");
        link
    }

    async fn scim(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}/scim/v2{path}", self.base))
            .bearer_auth(token)
            .header("Content-Type", "application/scim+json");
        if let Some(body) = body {
            req = req.json(body);
        }
        send(req).await
    }

    async fn create(&self, path: &str, body: &Value) -> String {
        let reply =
            self.scim(reqwest::Method::POST, path, &self.token, Some(body)).await.expect(201);
        reply.body["id"].as_str().expect("id").to_string()
    }

    /// Signs in with a fresh link over plain HTTPS: the session cookie (`name=value`) and
    /// the CSRF token of its forms.
    async fn sign_in(&self) -> (String, String) {
        let link = self.login_link(None).await;
        let code = link.split_once("code=").expect("code").1.to_string();
        let resp = self
            .client
            .post(format!("{}/admin/login", self.base))
            .header(ORIGIN, &self.base)
            .form(&[("code", code.as_str())])
            .send()
            .await
            .expect("sign in");
        assert_eq!(resp.status(), 303);
        let set = resp.headers().get(SET_COOKIE).expect("Set-Cookie").to_str().unwrap().to_string();
        let cookie = set.split(';').next().unwrap().to_string();
        let page = self.page("/admin/tokens", &cookie).await;
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a csrf field")
            .to_string();
        (cookie, csrf)
    }

    async fn page(&self, path: &str, cookie: &str) -> String {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("page");
        assert_eq!(resp.status(), 200, "{path}");
        resp.text().await.expect("body")
    }

    async fn token_count(&self) -> usize {
        let list = self.process_admin(scimd::admin::AdminRequest::TokenList).await;
        list.as_array().expect("tokens").len()
    }

    async fn process_admin(&self, request: scimd::admin::AdminRequest) -> Value {
        let socket = self.dir.path().join("data/scimd.sock");
        let response = scimd::admin::call(&socket, &request).await.expect("admin call");
        assert!(response.ok, "{:?}", response.error);
        response.result.unwrap_or(Value::Null)
    }
}

fn no_redirects(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem).expect("pem"))
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn shot(browser: &Browser, name: &str) -> PathBuf {
    let path = browser.screenshot(name).await;
    assert!(std::fs::metadata(&path).map(|m| m.len() > 10_000).unwrap_or(false), "{path:?}");
    path
}

/// Waits up to 10 s until the browser's URL contains `part` (a click's navigation done).
async fn wait_url(browser: &Browser, part: &str) -> String {
    for _ in 0..100 {
        let url = browser.current_url().await;
        if url.contains(part) {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser did not reach a URL with {part:?}: {}", browser.current_url().await);
}

fn assert_on(url: &str, path: &str) {
    let got = url.split_once("://").and_then(|(_, r)| r.find('/').map(|i| &r[i..])).unwrap_or("");
    assert!(got.starts_with(path), "expected to be on {path}, on {url}");
}

#[tokio::test]
async fn an_admin_signs_in_finds_a_provisioned_user_pages_a_group_and_manages_tokens() {
    let c = Console::start("[roles]\nunknown_user_type = \"reject\"\n").await;

    // What Entra provisioned: MS-TUT's user and manager, the manager set, a refused update.
    let manager = c.create("/Users", &ms_tut_create_user()).await;
    let joy = c.create("/Users", &ms_tut_jyoung()).await;
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    c.scim(
        reqwest::Method::PATCH,
        &format!("/Users/{joy}"),
        &c.token,
        Some(&patch(
            json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager}]),
        )),
    )
    .await
    .expect(200);
    let refused = c
        .scim(
            reqwest::Method::PATCH,
            &format!("/Users/{joy}"),
            &c.token,
            Some(&patch(json!([{"op": "Replace", "path": "userType", "value": "Contractor"}]))),
        )
        .await
        .expect(400);
    assert!(refused.body["detail"].as_str().unwrap().contains("Contractor"));
    // A group of 250 members: three pages of 100.
    let mut members = Vec::new();
    for i in 0..250 {
        members.push(
            c.create("/Users", &user_body(&format!("member{i:03}@example.org"), json!({}))).await,
        );
    }
    let member_refs: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let group = c
        .create(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "All staff", "members": member_refs}),
        )
        .await;

    let browser = Browser::start(&c.cert()).await;

    // Sign in with a one-time link: a page with a button, then the overview.
    let link = c.login_link(None).await;
    browser.goto(&link).await;
    shot(&browser, "01-sign-in").await;
    browser.click("form[action='/admin/login'] button").await;
    browser.wait_for("nav.main").await;
    assert_on(&browser.current_url().await, "/admin/");
    let cookies = browser.cookies().await;
    let session =
        cookies.iter().find(|k| k.name == "__Host-scimd_console").expect("session cookie");
    assert!(session.secure && session.http_only, "{session:?}");
    assert_eq!(session.same_site.as_deref(), Some("Strict"));
    assert_eq!(session.path.as_deref(), Some("/"));
    let overview = browser.text("main").await;
    assert!(overview.contains(&format!("{}/scim/v2", c.base)), "{overview}");
    assert!(overview.contains("252"), "user count: {overview}");
    assert!(overview.contains("entra"), "the token's last request: {overview}");
    assert!(overview.contains("invalidValue"), "the refusal among the top reasons: {overview}");
    shot(&browser, "02-overview").await;

    // The same link again, and an expired one: refused.
    browser.goto(&link).await;
    assert!(browser.text("main").await.contains("does not work"));
    let short = c.login_link(Some(1)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser.goto(&short).await;
    assert!(browser.text("main").await.contains("does not work"));
    shot(&browser, "03-link-refused").await;

    // Search the Entra user by a part of the name, open the detail.
    browser.goto(&format!("{}/admin/users", c.base)).await;
    browser.fill("input[name=q]", "young").await;
    browser.submit_form("form.search").await;
    wait_url(&browser, "q=young").await;
    browser.wait_for("table.list").await;
    let rows = browser.find_all("table.list tbody tr").await;
    assert_eq!(rows.len(), 1, "{}", browser.text("main").await);
    assert!(browser.text("table.list").await.contains("jyoung@testuser.com"));
    shot(&browser, "04-users-search").await;
    browser.click("table.list tbody a").await;
    wait_url(&browser, &format!("/admin/users/{joy}")).await;
    browser.wait_for("table.attrs").await;
    assert_on(&browser.current_url().await, &format!("/admin/users/{joy}"));
    let detail = browser.text("main").await;
    assert!(detail.contains("Joy Young") && detail.contains("jyoung@Contoso.com"), "{detail}");
    assert!(detail.contains("default roles (no userType): member"), "roles' origin: {detail}");
    assert!(
        detail.contains("refused 400") && detail.contains("Contractor"),
        "the refusal: {detail}"
    );
    assert!(detail.contains("Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"), "manager: {detail}");
    shot(&browser, "05-user-detail").await;
    browser.script("document.querySelector('table.log').scrollIntoView(); return null;").await;
    shot(&browser, "05-user-history").await;
    // On a phone: the page fits the width (tables scroll inside their own box).
    browser.resize(390, 844).await;
    let overflow = browser
        .script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        )
        .await;
    assert!(overflow.as_i64().is_some_and(|px| px <= 0), "wider than a phone by {overflow} px");
    shot(&browser, "05-user-detail-phone").await;
    browser.resize(1280, 900).await;
    // The manager is a link to the manager's page.
    browser.click(&format!("a[href='/admin/users/{manager}']")).await;
    wait_url(&browser, &manager).await;
    browser.wait_for("table.attrs").await;
    assert_on(&browser.current_url().await, &format!("/admin/users/{manager}"));

    // The plain list, then a SCIM filter in the search box.
    browser.goto(&format!("{}/admin/users?q=userName+sw+%22member24%22", c.base)).await;
    assert_eq!(browser.find_all("table.list tbody tr").await.len(), 10);
    browser.goto(&format!("{}/admin/users", c.base)).await;
    assert_eq!(browser.find_all("table.list tbody tr").await.len(), 50);
    shot(&browser, "06-users").await;

    // The large group, a page at a time.
    browser.goto(&format!("{}/admin/groups", c.base)).await;
    shot(&browser, "07-groups").await;
    browser.click("table.list tbody a").await;
    wait_url(&browser, &format!("/admin/groups/{group}")).await;
    browser.wait_for("nav.pager").await;
    let mut seen = Vec::new();
    loop {
        for a in browser.find_all("table.list tbody td:first-child a").await {
            seen.push(a.text().await.expect("member name"));
        }
        if seen.len() == 100 {
            shot(&browser, "08-group").await;
        }
        let mut next = None;
        for a in browser.find_all("nav.pager a").await {
            if a.text().await.unwrap().starts_with("Next") {
                next = Some((a.attr("href").await.unwrap().expect("href"), a));
                break;
            }
        }
        let Some((href, a)) = next else { break };
        a.click().await.expect("next page");
        // The page after this one, not this one again.
        let after = href.split_once("after=").expect("an after in the Next link").1.to_string();
        wait_url(&browser, &format!("after={after}")).await;
        browser.wait_for("table.list").await;
    }
    let mut want: Vec<String> = (0..250).map(|i| format!("member{i:03}@example.org")).collect();
    want.sort();
    seen.sort();
    assert_eq!(seen, want, "every member once over the pages of group {group}");

    // A token made in the console, its secret shown once, used over SCIM, then revoked.
    browser.goto(&format!("{}/admin/tokens", c.base)).await;
    shot(&browser, "09-tokens").await;
    browser.fill("form.stack input[name=name]", "okta-trial").await;
    browser.submit_form("form.stack").await;
    browser.wait_for("#token").await;
    let secret = browser.text("#token").await;
    assert!(is_token(&secret), "{secret}");
    shot(&browser, "10-token-created").await;
    c.scim(reqwest::Method::GET, "/Users?count=1", &secret, None).await.expect(200);
    browser.goto(&format!("{}/admin/tokens", c.base)).await;
    assert!(!browser.page_source().await.contains(&secret), "the secret is shown once only");
    let id = token_id(&secret);
    browser.click(&format!("a[href='/admin/tokens/{id}/revoke']")).await;
    wait_url(&browser, "/revoke").await;
    browser.wait_for("button.danger").await;
    shot(&browser, "11-revoke-confirm").await;
    browser.click("button.danger").await;
    wait_url(&browser, "revoked=").await;
    assert!(browser.text("p.notice").await.contains("okta-trial"));
    c.scim(reqwest::Method::GET, "/Users?count=1", &secret, None).await.expect(401);

    // The console's actions are in the log with the actor `console`.
    browser.goto(&format!("{}/admin/log?token=console", c.base)).await;
    let log = browser.text("table.log").await;
    for op in ["token-create", "token-revoke", "console-sign-in"] {
        assert!(log.contains(op), "{op} in {log}");
    }
    browser.goto(&format!("{}/admin/log?outcome=refused", c.base)).await;
    assert!(browser.text("table.log").await.contains("Contractor"));
    shot(&browser, "12-log-refused").await;
    browser.click(&format!("table.log a[href='/admin/users/{joy}']")).await;
    browser.wait_for("table.attrs").await;

    // The connect page's "last request" line follows the IdP's Test Connection by itself.
    browser.goto(&format!("{}/admin/connect", c.base)).await;
    let okta = c
        .process_admin(scimd::admin::AdminRequest::TokenCreate {
            name: "okta-prod".into(),
            read_only: false,
            expires_in_days: None,
            events: None,
        })
        .await;
    let okta = okta["token"].as_str().expect("token").to_string();
    let probe = "/Users?filter=userName+eq+%22a5e6c1f0-8d1e-4f6b-9d3c-2b7f0e9a1c44%22";
    c.scim(reqwest::Method::GET, probe, &okta, None).await.expect(200);
    let mut line = String::new();
    for _ in 0..40 {
        line = browser.text("[data-last-seen]").await;
        if line.contains("okta-prod") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(line.contains("okta-prod"), "the line did not update without a reload: {line}");
    shot(&browser, "13-connect").await;
    browser.goto(&format!("{}/admin/settings", c.base)).await;
    browser.wait_for("main h1").await;
    shot(&browser, "14-settings").await;
    assert!(browser.text("main").await.contains(&c.config.display().to_string()));

    // Sign out: the session ends, and the console asks for a link again.
    browser.click("form.signout button").await;
    wait_url(&browser, "/admin/login").await;
    browser.wait_for("main h1").await;
    assert_on(&browser.current_url().await, "/admin/login");
    assert!(browser.text("main").await.contains("signed out"));
    browser.goto(&format!("{}/admin/users", c.base)).await;
    assert_on(&browser.current_url().await, "/admin/login");
    shot(&browser, "15-signed-out").await;
    browser.close().await;
}

#[tokio::test]
async fn forged_posts_cross_credentials_and_logout_all_are_refused() {
    let mut c = Console::start("").await;
    let (cookie, csrf) = c.sign_in().await;
    let before = c.token_count().await;
    let post = |form: Vec<(&'static str, String)>, origin: &str| {
        c.client
            .post(format!("{}/admin/tokens", c.base))
            .header(COOKIE, &cookie)
            .header(ORIGIN, origin.to_string())
            .form(&form)
    };
    // No CSRF token, a wrong one, the right one from another origin: refused, nothing made.
    let name = || ("name", "forged".to_string());
    let no_csrf = post(vec![name()], &c.base).send().await.unwrap();
    assert_eq!(no_csrf.status(), 403);
    assert!(no_csrf.text().await.unwrap().contains("CSRF"));
    let wrong = post(vec![name(), ("csrf", "x".repeat(43))], &c.base).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    let cross =
        post(vec![name(), ("csrf", csrf.clone())], "https://evil.example").send().await.unwrap();
    assert_eq!(cross.status(), 403);
    assert_eq!(c.token_count().await, before, "no token was made by a refused POST");
    // The right token from our origin works (so the refusals above were about the token).
    let ok = post(vec![name(), ("csrf", csrf.clone())], &c.base).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(c.token_count().await, before + 1);

    // A body larger than any console form is refused, signed in or not.
    let big = "x".repeat(20 * 1024);
    for path in ["/admin/login", "/admin/tokens"] {
        let resp = c
            .client
            .post(format!("{}{path}", c.base))
            .header(COOKIE, &cookie)
            .header(ORIGIN, &c.base)
            .form(&[("code", big.as_str()), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413, "{path}");
    }

    // Every page carries the security headers.
    let resp = c
        .client
        .get(format!("{}/admin/users", c.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");

    // A console cookie is no SCIM credential; a bearer token is no console session.
    let scim = c
        .client
        .get(format!("{}/scim/v2/Users", c.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(scim.status(), 401);
    let console =
        c.client.get(format!("{}/admin/users", c.base)).bearer_auth(&c.token).send().await.unwrap();
    assert_eq!(console.status(), 303);
    assert_eq!(console.headers()[LOCATION], "/admin/login");

    // A restart ends every session too (they live in the server's memory only).
    let (cookie, _) = c.sign_in().await;
    let overview =
        |cookie: String| c.client.get(format!("{}/admin/", c.base)).header(COOKIE, cookie).send();
    assert_eq!(overview(cookie.clone()).await.unwrap().status(), 200);
    c.process.kill();
    c.process = serve_process(&c.config).await;
    let page = overview(cookie).await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()[LOCATION], "/admin/login?expired=1");

    // The sign-in code is not in scimd's own request log.
    let link = c.login_link(None).await;
    let code = link.split_once("code=").unwrap().1.to_string();
    let shown = c.client.get(&link).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    c.process.stderr_line("path=\"/admin/login\"");
    c.process.read_printed();
    assert!(c.process.stderr.iter().chain(&c.process.stdout).all(|l| !l.contains(&code)));

    // logout-all ends the session at once.
    let (cookie, _) = c.sign_in().await;
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&c.config).args(["console", "logout-all"]);
    let out = run_scimd(cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let after =
        c.client.get(format!("{}/admin/", c.base)).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(after.status(), 303);

    // A wrong code, many times: refused, then throttled for this address.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let url = format!("{}/admin/login?code=wrong{i}", c.base);
        statuses.push(c.client.get(url).send().await.unwrap().status().as_u16());
    }
    assert_eq!(&statuses[..10], &[403; 10]);
    assert_eq!(statuses[11], 429);
    // Meanwhile even a good link is refused from this address.
    let good = c.login_link(None).await;
    assert_eq!(c.client.get(&good).send().await.unwrap().status(), 429);
}

#[tokio::test]
async fn a_client_outside_allowed_networks_gets_404_and_scim_still_answers() {
    let c = Console::start("[console]\nallowed_networks = [\"10.0.0.0/8\", \"fd00::/8\"]\n").await;
    for path in ["/admin/", "/admin/login", "/admin/static/style.css"] {
        let resp = c.client.get(format!("{}{path}", c.base)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    c.scim(reqwest::Method::GET, "/Users", &c.token, None).await.expect(200);
    // And `console login` still makes links (for when the admin is on an allowed network).
    let _ = c.login_link(None).await;
}

#[tokio::test]
async fn console_login_needs_the_running_server_and_a_valid_for_within_ten_minutes() {
    let c = Console::start("").await;
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&c.config).args(["console", "login", "--valid-for", "601"]);
    let out = run_scimd(cmd).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("1 to 600 seconds"), "{}", out.stderr);
    drop(c.process);
    let mut cmd = scimd_command();
    cmd.arg("--config").arg(&c.config).args(["console", "login"]);
    let out = run_scimd(cmd).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("running server"), "{}", out.stderr);
}

/// The users rows of a console list page: the userNames its links show, in order.
fn listed(page: &str) -> Vec<String> {
    page.split("<a href=\"/admin/users/")
        .skip(1)
        .filter_map(|rest| rest.split_once("\">").and_then(|(_, r)| r.split_once("</a>")))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[tokio::test]
async fn searches_use_the_indexes_and_plain_text_finds_names_emails_and_display_names() {
    let c = Console::start("").await;
    for i in 0..30 {
        let body = user_body(&format!("u{i:02}"), json!({"displayName": format!("Person {i:02}")}));
        c.create("/Users", &body).await;
    }
    let zoe = json!({"displayName": "Zoë Ünal", "emails": [{"value": "z.unal@example.org", "primary": true}]});
    c.create("/Users", &user_body("zu", zoe)).await;
    let (cookie, _) = c.sign_in().await;
    let search = |q: &str| format!("/admin/users?q={}", urlencode(q));
    // Answered by the userName index (exact, then a prefix), in name order.
    assert_eq!(listed(&c.page(&search("userName eq \"U17\""), &cookie).await), ["u17"]);
    let prefix = listed(&c.page(&search("userName sw \"u1\""), &cookie).await);
    assert_eq!(prefix, (10..20).map(|i| format!("u{i}")).collect::<Vec<_>>());
    let desc =
        listed(&c.page(&format!("{}&order=desc", search("userName sw \"u1\"")), &cookie).await);
    assert_eq!(desc.first().map(String::as_str), Some("u19"));
    // Plain text: a displayName, ignoring case; a non-ASCII name; an email.
    let people = listed(&c.page(&search("person 2"), &cookie).await);
    assert_eq!(people, (20..30).map(|i| format!("u{i}")).collect::<Vec<_>>());
    assert_eq!(listed(&c.page(&search("ZOË"), &cookie).await), ["zu"]);
    assert_eq!(listed(&c.page(&search("unal@EXAMPLE"), &cookie).await), ["zu"]);
    // A quote in the text is searched for as text (and found nowhere), not parsed.
    assert!(listed(&c.page(&search("ünal\" or userName pr"), &cookie).await).is_empty());
}
