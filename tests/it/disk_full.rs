//! A full disk, for real: the data directory on a small tmpfs, filled with a filler file.
//! Writes get `507 Insufficient Storage` naming the cause, reads keep working, `/healthz` and
//! `/metrics` show the degraded state, the log says "disk full" once; once space is freed,
//! writes succeed again without a restart; and after `kill -9` while full, the file reopens with
//! every acknowledged write in it.
//!
//! Mounting needs root (CI runs as root); otherwise the test says it is skipped and passes.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{Reply, ServeProcess, issue_token, scimd_command, send, user_body};
use scimd::store::TokenScope;

/// A tmpfs mounted on a directory for the test's lifetime; unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount tmpfs on {}: {status}", dir.display());
        Tmpfs { dir: dir.to_path_buf() }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process that still has a file open there does not keep the mount alive.
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:").map(|r| r.split_whitespace().next() == Some("0"))
            })
        })
        .unwrap_or(false)
}

/// Writes `path` until the file system has no room left; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    for chunk in [1 << 20, 4096, 512] {
        let block = vec![0xA5u8; chunk];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    let _ = file.sync_all();
    written
}

fn write_config(dir: &Path, data_dir: &Path) -> PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n[tls]\nmode = \"off\"\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n",
        data_dir.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

struct Scimd {
    process: ServeProcess,
    metrics_port: u16,
    client: reqwest::Client,
    token: String,
}

impl Scimd {
    async fn start(config: &Path, token: &str) -> Scimd {
        let mut cmd = scimd_command();
        cmd.arg("--config").arg(config).arg("serve");
        let mut process = ServeProcess::start(cmd).await;
        let line = process.stderr_line("serving /metrics");
        let (_, rest) = line.split_once("127.0.0.1:").unwrap();
        let metrics_port =
            rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
        Scimd { process, metrics_port, client: reqwest::Client::new(), token: token.to_string() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.process.port)
    }

    async fn create(&self, name: &str) -> Reply {
        let body = user_body(name, json!({"title": "Engineer", "department": "R&D"}));
        send(self.client.post(self.url("/scim/v2/Users")).bearer_auth(&self.token).json(&body))
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        send(self.client.get(self.url(&format!("/scim/v2{path}"))).bearer_auth(&self.token)).await
    }

    async fn health(&self) -> Reply {
        send(self.client.get(self.url("/healthz"))).await
    }

    async fn disk_full_gauge(&self) -> f64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        let text = self.client.get(url).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("scimd_disk_full "))
            .unwrap_or_else(|| panic!("no scimd_disk_full gauge in {text}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Creates users until one is refused; returns the acknowledged ids and the refusal.
    async fn create_until_refused(
        &self,
        prefix: &str,
        acknowledged: &mut Vec<(String, String)>,
    ) -> Reply {
        for i in 0..20_000 {
            let name = format!("{prefix}{i}@example.org");
            let r = self.create(&name).await;
            if r.status != 201 {
                return r;
            }
            acknowledged.push((r.body["id"].as_str().unwrap().to_string(), name));
        }
        panic!("20,000 creates on a full file system all succeeded");
    }

    fn log_lines(&mut self, needle: &str) -> usize {
        self.process.read_printed();
        self.process.stderr.iter().filter(|l| l.contains(needle)).count()
    }
}

fn assert_disk_full(r: &Reply) {
    assert_eq!(r.status.as_u16(), 507, "{}", r.text);
    assert_eq!(r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{}", r.text);
    assert_eq!(r.body["status"], "507", "{}", r.text);
    let detail = r.body["detail"].as_str().unwrap_or("");
    assert!(detail.contains("disk full") || detail.contains("no space"), "{}", r.text);
}

async fn assert_all_present(s: &Scimd, acknowledged: &[(String, String)]) {
    for (id, name) in acknowledged {
        let r = s.get(&format!("/Users/{id}")).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text);
        assert_eq!(r.body["userName"], name.as_str());
        assert_eq!(r.body["title"], "Engineer");
    }
    let total = s.get("/Users?count=0").await;
    assert_eq!(total.body["totalResults"], acknowledged.len() as u64, "{}", total.text);
}

#[tokio::test]
async fn a_full_disk_is_507_then_recovers_without_a_restart_and_survives_kill_9() {
    if !running_as_root() {
        eprintln!("skipped: mounting a small tmpfs for the full-disk test needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let _mount = Tmpfs::mount(&data_dir, "8m");
    let token = issue_token(&data_dir, "test", TokenScope::ReadWrite);
    let config = write_config(dir.path(), &data_dir);
    let filler = data_dir.join("filler");
    let mut s = Scimd::start(&config, &token).await;

    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let name = format!("before{i}@example.org");
        let r = s.create(&name).await;
        assert_eq!(r.status, 201, "{}", r.text);
        acknowledged.push((r.body["id"].as_str().unwrap().to_string(), name));
    }
    assert_eq!(s.health().await.body, json!({"status": "ok"}));
    assert_eq!(s.disk_full_gauge().await, 0.0);

    // Full: the first write that needs a new page is refused with 507, and so is the next.
    fill(&filler);
    let refused = s.create_until_refused("full", &mut acknowledged).await;
    assert_disk_full(&refused);
    for i in 0..5 {
        assert_disk_full(&s.create(&format!("again{i}@example.org")).await);
    }
    s.process.stderr_line("disk full");
    assert_eq!(s.log_lines("disk full"), 0, "the log says \"disk full\" once per episode");

    // Degraded, not down: reads answer, /healthz says why, the gauge is 1.
    let health = s.health().await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body, json!({"status": "degraded", "reason": "disk full"}));
    assert_eq!(s.disk_full_gauge().await, 1.0);
    assert_all_present(&s, &acknowledged).await;

    // Space again: writes succeed, without a restart. (While full, the file is tried again at
    // most twice a second, so the first retries may still meet the episode.)
    std::fs::remove_file(&filler).unwrap();
    let mut tries = 0;
    let first = loop {
        let r = s.create("first-after@example.org").await;
        if r.status != 507 || tries == 100 {
            break r;
        }
        tries += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(first.status, 201, "{}", first.text);
    acknowledged
        .push((first.body["id"].as_str().unwrap().to_string(), "first-after@example.org".into()));
    for i in 0..20 {
        let name = format!("after{i}@example.org");
        let r = s.create(&name).await;
        assert_eq!(r.status, 201, "{}", r.text);
        acknowledged.push((r.body["id"].as_str().unwrap().to_string(), name));
    }
    s.process.stderr_line("recovered");
    assert_eq!(s.log_lines("disk full"), 0, "{:?}", s.process.stderr);
    assert_eq!(s.health().await.body, json!({"status": "ok"}));
    assert_eq!(s.disk_full_gauge().await, 0.0);
    assert_all_present(&s, &acknowledged).await;

    // Full again, then kill -9: the file reopens (still full) with every acknowledged write.
    fill(&filler);
    let refused = s.create_until_refused("second", &mut acknowledged).await;
    assert_disk_full(&refused);
    s.process.kill();
    drop(s);
    let s = Scimd::start(&config, &token).await;
    assert_all_present(&s, &acknowledged).await;
    let _: Value = s.health().await.body;
}
