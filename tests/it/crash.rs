//! Crash durability with the real binary: cycles of concurrent creates, group member adds and
//! PATCHes, `kill -9` at a random moment, restart. After each restart every acknowledged write
//! is there, and every write that was in flight is all or nothing: a user exists with all its
//! attributes or not at all, a member add is present or not, a PATCH's fields are all applied
//! or none.
//!
//! `SCIMD_CRASH_CYCLES` sets the number of cycles (5 by default); `bench/crash.py` runs 100
//! against the release binary.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{issue_token, serve_process, urlencode, user_body};
use scimd::store::TokenScope;

const CLIENTS: usize = 4;

/// What a client did to one user, as far as it knows.
#[derive(Debug, Default, Clone)]
struct Tracked {
    group: String,
    /// Set once the create was answered 201.
    id: Option<String>,
    /// The last PATCH answered 200, and the one sent without an answer (if any).
    patch_acked: Option<u32>,
    patch_in_flight: Option<u32>,
    member_acked: bool,
    member_in_flight: bool,
}

/// Every user any client touched, by userName.
type Ledger = Arc<Mutex<BTreeMap<String, Tracked>>>;

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    creates: u64,
    member_adds: u64,
    patches: u64,
}

fn write_config(dir: &Path, data_dir: &Path) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n[tls]\nmode = \"off\"\n",
        data_dir.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

struct Api {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Api {
    fn new(port: u16, token: &str) -> Api {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Api { base: format!("http://127.0.0.1:{port}/scim/v2"), token: token.into(), client }
    }

    /// Sends a request; `None` when the connection broke (the server was killed).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Option<(u16, Value)> {
        let mut req =
            self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.header("content-type", "application/scim+json").body(body.to_string());
        }
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        let text = resp.text().await.ok()?;
        Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

fn patch_body(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// One client: creates a user, adds it to the group, PATCHes it, and again, until the server
/// goes away.
async fn client(
    api: Arc<Api>,
    ledger: Ledger,
    group: String,
    prefix: String,
    totals: Arc<Mutex<Totals>>,
) {
    for i in 0.. {
        let name = format!("{prefix}-{i}@example.org");
        ledger
            .lock()
            .unwrap()
            .insert(name.clone(), Tracked { group: group.clone(), ..Default::default() });
        let body = user_body(
            &name,
            json!({"title": "p0", "nickName": "p0", "userType": "employee",
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                       {"department": "R&D", "employeeNumber": format!("{i}")}}),
        );
        let Some((status, created)) = api.call(reqwest::Method::POST, "/Users", Some(&body)).await
        else {
            return;
        };
        if status == 429 {
            ledger.lock().unwrap().remove(&name);
            continue;
        }
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        ledger.lock().unwrap().get_mut(&name).unwrap().id = Some(id.clone());
        totals.lock().unwrap().creates += 1;

        ledger.lock().unwrap().get_mut(&name).unwrap().member_in_flight = true;
        let add = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
        let Some((status, r)) =
            api.call(reqwest::Method::PATCH, &format!("/Groups/{group}"), Some(&add)).await
        else {
            return;
        };
        assert!(status == 204 || status == 200, "{status} {r}");
        {
            let mut l = ledger.lock().unwrap();
            let t = l.get_mut(&name).unwrap();
            t.member_in_flight = false;
            t.member_acked = true;
        }
        totals.lock().unwrap().member_adds += 1;

        for n in 1..=2u32 {
            ledger.lock().unwrap().get_mut(&name).unwrap().patch_in_flight = Some(n);
            let value = format!("p{n}");
            let ops = json!([
                {"op": "replace", "path": "title", "value": value},
                {"op": "replace", "path": "nickName", "value": value},
            ]);
            let Some((status, r)) = api
                .call(reqwest::Method::PATCH, &format!("/Users/{id}"), Some(&patch_body(ops)))
                .await
            else {
                return;
            };
            assert!(status == 200 || status == 204, "{status} {r}");
            let mut l = ledger.lock().unwrap();
            let t = l.get_mut(&name).unwrap();
            t.patch_in_flight = None;
            t.patch_acked = Some(n);
            drop(l);
            totals.lock().unwrap().patches += 1;
        }
    }
}

/// Checks the restarted server against everything the clients were told or left in flight.
async fn verify(api: &Api, ledger: &Ledger) {
    let ledger = ledger.lock().unwrap().clone();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in ledger.values() {
        if !groups.contains_key(&t.group) {
            let (status, g) = api
                .call(reqwest::Method::GET, &format!("/Groups/{}", t.group), None)
                .await
                .unwrap();
            assert_eq!(status, 200, "{g}");
            let members = g["members"].as_array().cloned().unwrap_or_default();
            let ids =
                members.iter().filter_map(|m| m["value"].as_str().map(str::to_string)).collect();
            groups.insert(t.group.clone(), ids);
        }
    }
    for (name, t) in &ledger {
        let filter = format!("userName eq \"{name}\"");
        let path = format!("/Users?filter={}", urlencode(&filter));
        let (status, found) = api.call(reqwest::Method::GET, &path, None).await.unwrap();
        assert_eq!(status, 200, "{found}");
        let total = found["totalResults"].as_u64().unwrap();
        let Some(user) = found["Resources"].get(0) else {
            assert!(t.id.is_none(), "acknowledged create of {name} lost");
            assert_eq!(total, 0);
            continue;
        };
        assert_eq!(total, 1, "{found}");
        let id = user["id"].as_str().unwrap();
        if let Some(acked) = &t.id {
            assert_eq!(id, acked, "{name}");
        }
        // The create is whole: every attribute it sent is there.
        assert_eq!(user["userType"], "employee", "{user}");
        assert_eq!(user["name"]["givenName"], "Given", "{user}");
        assert_eq!(user["emails"][0]["value"], name.as_str(), "{user}");
        let ext = &user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(ext["department"], "R&D", "{user}");
        // A PATCH is whole: both fields carry the same value, the last acknowledged or the one
        // in flight.
        let title = user["title"].as_str().unwrap_or("");
        assert_eq!(Some(title), user["nickName"].as_str(), "half a PATCH: {user}");
        let stored: u32 = title.trim_start_matches('p').parse().unwrap();
        let acked = t.patch_acked.unwrap_or(0);
        assert!(
            stored == acked || Some(stored) == t.patch_in_flight,
            "{name}: stored p{stored}, acknowledged p{acked}, in flight {:?}",
            t.patch_in_flight
        );
        // A member add is there if acknowledged, and never without having been sent.
        let member = groups[&t.group].iter().any(|m| m == id);
        if t.member_acked {
            assert!(member, "acknowledged member add of {name} lost");
        } else if member {
            assert!(t.member_in_flight, "{name} is a member without an add");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_9_and_in_flight_writes_are_whole() {
    let cycles: u32 =
        std::env::var("SCIMD_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let token = issue_token(&data_dir, "crash", TokenScope::ReadWrite);
    let config = write_config(dir.path(), &data_dir);
    let ledger: Ledger = Arc::default();
    let totals: Arc<Mutex<Totals>> = Arc::default();
    let mut rng = fastrand_seed();

    for cycle in 0..cycles {
        let mut process = serve_process(&config).await;
        let api = Arc::new(Api::new(process.port, &token));
        verify(&api, &ledger).await;

        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                           "displayName": format!("crash-{cycle}")});
        let (status, g) = api.call(reqwest::Method::POST, "/Groups", Some(&group)).await.unwrap();
        assert_eq!(status, 201, "{g}");
        let group_id = g["id"].as_str().unwrap().to_string();

        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(client(
                    Arc::clone(&api),
                    Arc::clone(&ledger),
                    group_id.clone(),
                    format!("c{cycle}-{c}"),
                    Arc::clone(&totals),
                ))
            })
            .collect();
        // A random moment, somewhere in the middle of the writes.
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let wait = 100 + (rng >> 33) % 400;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        process.kill();
        for c in clients {
            c.await.unwrap();
        }
    }
    let process = serve_process(&config).await;
    let api = Api::new(process.port, &token);
    verify(&api, &ledger).await;
    let totals = *totals.lock().unwrap();
    eprintln!(
        "{cycles} kill -9 cycles: acknowledged {} creates, {} member adds, {} PATCHes; lost 0",
        totals.creates, totals.member_adds, totals.patches
    );
    assert!(totals.creates > 0 && totals.member_adds > 0 && totals.patches > 0, "{totals:?}");
}

/// A seed that differs per run (the moment of each kill is what varies).
fn fastrand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}
