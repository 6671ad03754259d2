#!/usr/bin/env python3
"""scimd benchmark driver (issue 5). Python 3.11, standard library only.

    python3 bench/run.py target/release/scimd [options]      (scripts/bench builds and calls this)

What it does, in order:

1. Starts scimd on loopback (plain HTTP, a fresh temp data directory and config, a token from
   `scimd token create`), measures the time to ready (process start -> /healthz answers 200)
   and the idle RSS.
2. Loads a directory through the SCIM API with a concurrent client (processes x threads, one
   keep-alive connection per thread): Entra-shaped users with the enterprise extension, groups of
   a few members, one big group filled by PATCH add in chunks, one 10-member group. Reports the
   load rate, the peak RSS while loading and the data file's bytes per user.
3. Copies the loaded data directory and restarts scimd on it, plain HTTP and/or HTTPS (TLS 1.3,
   self-signed), each on a pristine copy, measuring time to ready with the directory loaded.
4. Runs the workloads with wrk (bench/wrk/scim.lua) at each connection count, plus the
   Entra-shaped initial sync with this driver's own client, and samples the RSS.
5. With --compare, loads and runs the same against the Python reference server scim2-server
   (plain HTTP, from the .venv-bench virtualenv) and prints scimd/peer ratios.
6. Prints the tables, a check of the issue's targets, and optionally writes everything as JSON.

Only 127.0.0.1 is ever contacted. Every loop is bounded by a count or a duration.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "scim.lua"
REPO = HERE.parent

def service_environment() -> dict:
    """The `Environment=` settings of packaging/scimd.service: scimd is measured as the
    packaged service runs it (MALLOC_ARENA_MAX=2 among them)."""
    env = {}
    unit = REPO / "packaging" / "scimd.service"
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            for pair in line[len("Environment="):].split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


SERVICE_ENVIRONMENT = service_environment()

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
UUID_NS = uuid.UUID("6f1c2b1e-5d59-4c4b-9a43-0d5b2c7e9a10")

PROFILES = {
    # users, groups, big group members (None: users // 2), sync users, duration
    "quick": dict(users=2_000, groups=200, big=None, sync=500, duration="2s"),
    "default": dict(users=10_000, groups=1_000, big=None, sync=3_000, duration="5s"),
    "large": dict(users=60_000, groups=1_000, big=50_000, sync=3_000, duration="5s"),
}

# The wrk workloads, in the order they run: reads first, then writes, so that every read runs on
# the directory as loaded. (number, wrk mode, label)
WRK_WORKLOADS = [
    ("1", "probe", "Entra probe: userName eq <random GUID>, no hit"),
    ("2", "filter", 'filter userName eq "<existing>"'),
    ("3", "get", "GET /Users/{id}"),
    ("4", "list", "GET /Users?startIndex=<rand>&count=100"),
    ("6", "patch_user", "PATCH user: title + work email (Entra)"),
    ("7b", "patch_group", "group PATCH +1/-1 member, BIG members"),
    ("7s", "patch_group", "group PATCH +1/-1 member, 10 members"),
    ("5", "create", "POST /Users (unique userName)"),
]
SYNC = ("8", "sync", "initial sync: lookup+POST; groups+PATCH")
ALL_WORKLOADS = [w[0] for w in WRK_WORKLOADS] + ["8"]

GIVEN = ["Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni", "Lee",
         "Lidia", "Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep"]
FAMILY = ["Vance", "Wilber", "Siciliani", "Archie", "Mueller", "Langer", "Lorenz", "Sherman",
          "Gu", "Holloway", "Robbins", "Bowen", "Graham", "Wilke", "Fernandez"]
TITLES = ["Engineer", "Senior Engineer", "Accountant", "Sales Manager", "Designer",
          "Support Specialist", "Product Manager", "Analyst"]
DEPTS = ["Engineering", "Finance", "Sales", "Marketing", "Operations", "Support"]
USER_TYPES = ["employee"] * 8 + ["operations", "manager"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---- request bodies (Entra-shaped) --------------------------------------------------------


def user_name(i: int, tag: str = "") -> str:
    g, f = GIVEN[i % len(GIVEN)], FAMILY[(i // len(GIVEN)) % len(FAMILY)]
    return f"{g}.{f}.{tag}{i}@contoso.example".lower()


def user_body(i: int, tag: str = "") -> dict:
    """A user as Entra ID provisions it with its default mappings, plus the enterprise extension."""
    g, f = GIVEN[i % len(GIVEN)], FAMILY[(i // len(GIVEN)) % len(FAMILY)]
    upn = user_name(i, tag)
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": str(uuid.uuid5(UUID_NS, f"{tag}{i}")),
        "userName": upn,
        "active": True,
        "displayName": f"{g} {f}",
        "title": TITLES[i % len(TITLES)],
        "userType": USER_TYPES[i % len(USER_TYPES)],
        "preferredLanguage": "en-US",
        "emails": [{"primary": True, "type": "work", "value": upn}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{g} {f}", "familyName": f, "givenName": g},
        "phoneNumbers": [{"type": "work", "value": f"+1 425 555 {i % 10000:04d}"},
                         {"type": "mobile", "value": f"+1 206 555 {(i * 7) % 10000:04d}"}],
        "addresses": [{"type": "work", "streetAddress": f"{i % 9000 + 1} Main St",
                       "locality": "Redmond", "region": "WA", "postalCode": "98052",
                       "country": "US", "primary": True}],
        "roles": [],
        ENTERPRISE: {"employeeNumber": str(100000 + i), "department": DEPTS[i % len(DEPTS)],
                     "organization": "Contoso", "division": "Cloud",
                     "costCenter": f"CC-{i % 100}"},
    }


def group_body(name: str, members: list[str], ms_schema: bool) -> dict:
    body = {
        "schemas": [CORE_GROUP, MS_GROUP] if ms_schema else [CORE_GROUP],
        "externalId": str(uuid.uuid5(UUID_NS, name)),
        "displayName": name,
        "meta": {"resourceType": "Group"},
    }
    if members:
        body["members"] = [{"value": m} for m in members]
    return body


def patch_members(op: str, ids: list[str]) -> dict:
    return {"schemas": [PATCHOP],
            "Operations": [{"op": op, "path": "members", "value": [{"value": i} for i in ids]}]}


def filter_path(resource: str, attr: str, value: str) -> str:
    return f"/{resource}?filter=" + quote(f'{attr} eq "{value}"', safe="")


# ---- a small keep-alive HTTP client --------------------------------------------------------


@dataclass
class Target:
    label: str          # "scimd http", "scimd https", "scim2-server http"
    scheme: str
    port: int
    prefix: str         # "/scim/v2" or "/v2"
    token: str | None
    ms_group_schema: bool = True   # send Entra's ADSCIM group schema URN on group creates
    remove_by_filter: bool = False  # remove members with members[value eq "id"], not a value list

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, target: Target, timeout: float = 60.0):
        self.t = target
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.headers = {"Accept": "application/scim+json"}
        if target.token:
            self.headers["Authorization"] = f"Bearer {target.token}"

    def _connect(self) -> None:
        if self.t.scheme == "https":
            ctx = ssl._create_unverified_context()  # scimd's self-signed certificate
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.t.port, context=ctx,
                                                    timeout=self.timeout)
        else:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.t.port, timeout=self.timeout)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes, dict]:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/scim+json"
        last: Exception | None = None
        for attempt in range(5):
            try:
                if self.conn is None:
                    self._connect()
                assert self.conn is not None
                self.conn.request(method, self.t.prefix + path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if r.will_close:
                    self.close()
                return r.status, payload, hdrs
            except (http.client.HTTPException, OSError) as e:
                self.close()
                last = e
                time.sleep(0.05 * (attempt + 1))
        raise BenchError(f"{method} {path}: {last}")


@dataclass
class Stats:
    counts: dict[int, int] = field(default_factory=dict)
    lat: list[float] = field(default_factory=list)
    retried_429: int = 0
    failures: list[str] = field(default_factory=list)

    def merge(self, o: "Stats") -> None:
        for k, v in o.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        self.lat.extend(o.lat)
        self.retried_429 += o.retried_429
        self.failures.extend(o.failures[: max(0, 20 - len(self.failures))])

    @property
    def requests(self) -> int:
        return sum(self.counts.values())


def call(c: Client, st: Stats, method: str, path: str, body: dict | None = None,
         ok: tuple[int, ...] = (200, 201, 204)) -> tuple[int, bytes]:
    """One request, timed and counted; a 429 is counted, waited for (Retry-After) and retried."""
    for _ in range(50):
        t0 = time.perf_counter()
        status, payload, hdrs = c.request(method, path, body)
        st.lat.append(time.perf_counter() - t0)
        st.counts[status] = st.counts.get(status, 0) + 1
        if status != 429:
            if status not in ok and len(st.failures) < 20:
                st.failures.append(f"{method} {path[:80]} -> {status} {payload[:200]!r}")
            return status, payload
        st.retried_429 += 1
        try:
            wait = float(hdrs.get("retry-after", "0.05"))
        except ValueError:
            wait = 0.05
        time.sleep(min(max(wait, 0.01), 2.0))
    return 429, b""


def resource_id(payload: bytes) -> str | None:
    try:
        return json.loads(payload).get("id")
    except (ValueError, AttributeError):
        return None


# ---- tasks run by the worker pool; state comes from _G, inherited at fork -----------------

_G: dict = {}


def task_user(c: Client, i: int, st: Stats):
    status, payload = call(c, st, "POST", "/Users", user_body(i, _G.get("tag", "")))
    if status == 201:
        return resource_id(payload)
    if status == 409:  # a retried create that had landed: find it
        s2, p2 = call(c, st, "GET", filter_path("Users", "userName", user_name(i, _G.get("tag", ""))))
        if s2 == 200:
            res = json.loads(p2).get("Resources") or []
            return res[0]["id"] if res else None
    return None


def task_group(c: Client, g: int, st: Stats):
    ids = _G["ids"]
    rnd = random.Random(g)
    members = [ids[rnd.randrange(len(ids))] for _ in range(rnd.randint(3, 7))]
    name = f"Bench Group {g:05d}"
    status, payload = call(c, st, "POST", "/Groups", group_body(name, sorted(set(members)),
                                                                 _G["target"].ms_group_schema))
    return resource_id(payload) if status == 201 else None


def task_bigfill(c: Client, k: int, st: Stats):
    chunk = _G["chunks"][k]
    t: Target = _G["target"]
    status, _ = call(c, st, "PATCH", f"/Groups/{_G['group']}", patch_members("Add", chunk))
    return status


def task_sync_user(c: Client, i: int, st: Stats):
    """Entra's create path: look the user up by userName, create it when there is no hit."""
    tag = _G["tag"]
    status, payload = call(c, st, "GET", filter_path("Users", "userName", user_name(i, tag)))
    if status == 200 and json.loads(payload).get("totalResults", 0) > 0:
        return None
    status, payload = call(c, st, "POST", "/Users", user_body(i, tag))
    return resource_id(payload) if status == 201 else None


def task_sync_group(c: Client, g: int, st: Stats):
    """Entra's group path: lookup by displayName, create empty, PATCH the members in."""
    t: Target = _G["target"]
    name = f"Sync {_G['tag']} Group {g:05d}"
    status, payload = call(c, st, "GET", filter_path("Groups", "displayName", name)
                           + "&excludedAttributes=members")
    if status == 200 and json.loads(payload).get("totalResults", 0) > 0:
        return None
    status, payload = call(c, st, "POST", "/Groups", group_body(name, [], t.ms_group_schema))
    gid = resource_id(payload) if status == 201 else None
    members = [m for m in _G["group_members"](g) if m]
    if gid and members:
        call(c, st, "PATCH", f"/Groups/{gid}", patch_members("Add", members))
    return gid


TASKS = {"user": task_user, "group": task_group, "bigfill": task_bigfill,
         "sync_user": task_sync_user, "sync_group": task_sync_group}


def _worker(args: tuple) -> tuple[dict, Stats]:
    task, lo, hi, nthreads, keep_lat = args
    fn = TASKS[task]
    target: Target = _G["target"]
    it = iter(range(lo, hi))
    lock = threading.Lock()
    results: dict[int, object] = {}
    stats: list[Stats] = []
    progress = _G.get("progress")

    def run() -> None:
        c = Client(target)
        st = Stats()
        stats.append(st)
        done = 0
        try:
            while True:
                with lock:
                    i = next(it, None)
                if i is None:
                    break
                try:
                    r = fn(c, i, st)
                except BenchError as e:
                    st.failures.append(str(e))
                    r = None
                if r is not None:
                    results[i] = r
                done += 1
                if progress is not None and done % 50 == 0:
                    with progress.get_lock():
                        progress.value += 50
        finally:
            c.close()
            if progress is not None:
                with progress.get_lock():
                    progress.value += done % 50

    ts = [threading.Thread(target=run) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = Stats()
    for st in stats:
        total.merge(st)
    if not keep_lat:
        total.lat = sorted(total.lat)[:: max(1, len(total.lat) // 2000)]  # a sample is enough
    return results, total


def parallel(task: str, n: int, conns: int, target: Target, what: str = "",
             keep_lat: bool = True, **shared) -> tuple[dict, Stats, float]:
    """Runs task(i) for i in range(n) over `conns` keep-alive connections spread over up to
    max(2, cpus) processes (the GIL would cap one process). Returns results, stats, seconds."""
    if n <= 0:
        return {}, Stats(), 0.0
    conns = max(1, min(conns, n))
    procs = min(conns, max(2, os.cpu_count() or 2))
    ctx = mp.get_context("fork")
    progress = ctx.Value("q", 0)
    _G.clear()
    _G.update(shared, target=target, progress=progress)
    bounds = [n * k // procs for k in range(procs + 1)]
    jobs = [(task, bounds[k], bounds[k + 1], conns // procs + (1 if k < conns % procs else 0),
             keep_lat) for k in range(procs)]
    stop = threading.Event()

    def report() -> None:
        t0 = time.monotonic()
        while not stop.wait(10):
            v = progress.value
            el = time.monotonic() - t0
            log(f"    {what or task}: {v}/{n} ({v / el:.0f}/s)")

    rep = threading.Thread(target=report, daemon=True)
    rep.start()
    t0 = time.perf_counter()
    with ctx.Pool(procs) as pool:
        outs = pool.map(_worker, jobs)
    elapsed = time.perf_counter() - t0
    stop.set()
    results: dict = {}
    total = Stats()
    for r, st in outs:
        results.update(r)
        total.merge(st)
    _G.clear()
    return results, total, elapsed


# ---- processes: scimd, scim2-server, RSS ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class CpuMeter:
    """Cores used by the server and by the load generator (wrk, or the driver's forked client)
    during one cell, in percent of one core: tells a server-bound cell from a client-bound one."""

    def __init__(self, pid: int):
        self.pid = pid
        self.t0 = time.perf_counter()
        self.s0 = proc_cpu(pid)
        self.c0 = children_cpu()

    def stop(self) -> tuple[float, float]:
        wall = time.perf_counter() - self.t0
        if wall <= 0:
            return 0.0, 0.0
        return (100 * (proc_cpu(self.pid) - self.s0) / wall, 100 * (children_cpu() - self.c0) / wall)


class RssSampler:
    """Polls /proc/<pid>/status; VmHWM (the kernel's high-water mark) catches peaks between polls."""

    def __init__(self, pid: int, every: float = 0.1):
        self.pid = pid
        self.peak = 0
        self.cell_peak = 0  # highest VmRSS sampled since begin_cell()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._t.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.sample()

    def sample(self) -> int:
        s = proc_status(self.pid)
        self.peak = max(self.peak, s.get("VmRSS", 0), s.get("VmHWM", 0))
        self.cell_peak = max(self.cell_peak, s.get("VmRSS", 0))
        return s.get("VmRSS", 0)

    def begin_cell(self) -> None:
        self.cell_peak = 0
        self.sample()

    def end_cell(self) -> int:
        self.sample()
        return self.cell_peak

    def stop(self) -> int:
        self.sample()
        self._stop.set()
        return self.peak


def wait_ready(scheme: str, port: int, path: str, headers: dict, proc: subprocess.Popen,
               timeout: float = 60.0) -> float:
    """Polls until `path` answers 200; returns seconds since the caller's t0 was taken."""
    deadline = time.monotonic() + timeout
    ctx = ssl._create_unverified_context()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited with status {proc.returncode} before it was ready")
        try:
            if scheme == "https":
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=2)
            else:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status == 200:
                return time.perf_counter()
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.002)
    raise BenchError(f"server not ready on port {port} within {timeout:.0f}s")


CONFIG = """\
# Written by bench/run.py.
listen = "127.0.0.1:{port}"
public_url = "{scheme}://127.0.0.1:{port}"
data_dir = "{data_dir}"

[tls]
mode = "{tls_mode}"

[limits]
max_connections = 4096

[log]
level = "{log_level}"
"""


class Scimd:
    def __init__(self, binary: Path, data_dir: Path, tls: bool, log_level: str, log_path: Path):
        self.binary = binary
        self.data_dir = data_dir
        self.tls = tls
        self.log_level = log_level
        self.log_path = log_path
        self.config = data_dir.parent / f"{data_dir.name}-{'https' if tls else 'http'}.toml"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.rss: RssSampler | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def write_config(self) -> None:
        self.port = free_port()
        self.config.write_text(CONFIG.format(
            port=self.port, scheme=self.scheme, data_dir=self.data_dir,
            tls_mode="self-signed" if self.tls else "off", log_level=self.log_level))

    def create_token(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        out = subprocess.run([str(self.binary), "--config", str(self.config), "token", "create",
                              "--name", "bench"], capture_output=True, text=True, timeout=120)
        lines = out.stdout.strip().splitlines()
        if out.returncode != 0 or not lines:
            raise BenchError(f"scimd token create failed ({out.returncode}): {out.stderr.strip()}")
        return lines[-1].strip()

    def start(self, token: str) -> dict:
        """Starts `serve`; returns time to ready (/healthz), first authenticated request, RSS."""
        self.write_config()
        logf = self.log_path.open("ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([str(self.binary), "--config", str(self.config), "serve"],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     env={**os.environ, **SERVICE_ENVIRONMENT})
        logf.close()
        t_ready = wait_ready(self.scheme, self.port, "/healthz", {}, self.proc)
        ready = t_ready - t0
        self.rss = RssSampler(self.proc.pid)
        # The first authenticated request pays the token verification (argon2) once.
        c = Client(self.target(token))
        t1 = time.perf_counter()
        status, _, _ = c.request("GET", "/ServiceProviderConfig")
        first_auth = time.perf_counter() - t1
        tls_version = None
        if self.tls and c.conn is not None and c.conn.sock is not None:
            tls_version = c.conn.sock.version()
        c.close()
        if status != 200:
            raise BenchError(f"authenticated request answered {status}; see {self.log_path}")
        time.sleep(1.0)
        idle = proc_status(self.proc.pid).get("VmRSS", 0)
        return {"ready_s": ready, "first_auth_s": first_auth, "idle_rss": idle,
                "tls_version": tls_version}

    def target(self, token: str) -> Target:
        return Target(f"scimd {self.scheme}", self.scheme, self.port, "/scim/v2", token)

    def stop(self) -> dict:
        out = {"peak_rss": self.rss.stop() if self.rss else 0, "exit": None}
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out["exit"] = self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out["exit"] = f"killed after 60 s ({self.proc.wait()})"
        elif self.proc is not None:
            out["exit"] = f"had exited with {self.proc.returncode}"
        self.proc = None
        return out

    def data_file(self) -> Path:
        return self.data_dir / "scimd.redb"


class Peer:
    """scim2-server from .venv-bench: in memory, plain HTTP, static bearer token."""

    def __init__(self, venv: Path, log_path: Path):
        self.exe = venv / "bin" / "scim2-server"
        if not self.exe.exists():
            raise BenchError(f"{self.exe} not found: run scripts/bench --compare (it installs "
                             f"bench/requirements.txt into .venv-bench)")
        self.log_path = log_path
        self.token = uuid.uuid4().hex
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.rss: RssSampler | None = None

    def start(self) -> dict:
        self.port = free_port()
        logf = self.log_path.open("ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([str(self.exe), "--hostname", "127.0.0.1", "--port",
                                      str(self.port), "--bearer-token", self.token],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        t_ready = wait_ready("http", self.port, "/v2/ServiceProviderConfig",
                             {"Authorization": f"Bearer {self.token}"}, self.proc)
        self.rss = RssSampler(self.proc.pid)
        time.sleep(1.0)
        return {"ready_s": t_ready - t0, "idle_rss": proc_status(self.proc.pid).get("VmRSS", 0)}

    def target(self) -> Target:
        return Target("scim2-server http", "http", self.port, "/v2", self.token,
                      ms_group_schema=False, remove_by_filter=True)

    def stop(self) -> dict:
        out = {"peak_rss": self.rss.stop() if self.rss else 0}
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return out


# ---- machine noise -------------------------------------------------------------------------


def busy() -> list[str]:
    """Builds or CI runs on this shared machine make timings noise."""
    found = []
    for pattern, args in (("cargo", ["pgrep", "-a", "cargo"]), ("ci/run", ["pgrep", "-af", "ci/run"])):
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        for line in out.splitlines():
            if "pgrep" not in line and str(os.getpid()) != line.split()[0]:
                found.append(line.strip()[:120])
    return found


def wait_quiet(max_wait: float) -> list[str]:
    b = busy()
    if not b or max_wait <= 0:
        return b
    log(f"  machine busy ({b[0]}); waiting up to {max_wait:.0f}s for it to finish")
    deadline = time.monotonic() + max_wait
    while b and time.monotonic() < deadline:
        time.sleep(5)
        b = busy()
    return b


# ---- load the directory --------------------------------------------------------------------


@dataclass
class Directory:
    ids: list[str]               # ids of the users created
    names: list[str]             # names[k] is the userName of ids[k]
    group_ids: list[str]
    big_group: str | None
    big_members: int
    small_group: str | None
    outside: list[str]           # users in neither the big nor the small group
    load: dict


def load_directory(target: Target, users: int, groups: int, big: int, conns: int,
                   chunk: int) -> Directory:
    info: dict = {}
    log(f"  loading {users} users over {conns} connections ...")
    res, st, el = parallel("user", users, conns, target, "users", keep_lat=False)
    ids = [res[i] for i in range(users) if i in res]
    names = [user_name(i) for i in range(users) if i in res]
    missing = users - len(ids)
    info["users"] = {"n": users, "seconds": el, "rate": users / el if el else 0,
                     "counts": st.counts, "retried_429": st.retried_429,
                     "failed": missing, "failures": st.failures[:5]}
    log(f"    {users} users in {el:.1f}s = {users / el:.0f}/s; statuses {st.counts}"
        + (f"; {missing} FAILED: {st.failures[:2]}" if missing else ""))
    if not ids:
        raise BenchError("no user could be created; see the failures above")

    log(f"  loading {groups} groups (3-7 members each) ...")
    res, st, el = parallel("group", groups, conns, target, "groups", keep_lat=False, ids=ids)
    group_ids = [res[g] for g in range(groups) if g in res]
    info["groups"] = {"n": groups, "seconds": el, "rate": groups / el if el else 0,
                      "counts": st.counts, "failures": st.failures[:5]}
    log(f"    {groups} groups in {el:.1f}s = {groups / el:.0f}/s; statuses {st.counts}")

    big = min(big, len(ids) - 20)
    c = Client(target)
    st = Stats()
    status, payload = call(c, st, "POST", "/Groups",
                           group_body("Bench Big Group", [], target.ms_group_schema))
    big_id = resource_id(payload) if status == 201 else None
    if big_id is None:
        raise BenchError(f"creating the big group: {status} {payload[:300]!r}")
    chunks = [ids[k:k + chunk] for k in range(0, big, chunk)]
    log(f"  filling the big group: {big} members, PATCH add in {len(chunks)} chunks of {chunk} ...")
    res, st2, el = parallel("bigfill", len(chunks), min(4, conns), target, "member chunks",
                            chunks=chunks, group=big_id)
    bad = [s for s in res.values() if s not in (200, 204)]
    lat = sorted(st2.lat)
    info["big_group"] = {"members": big, "chunk": chunk, "seconds": el, "counts": st2.counts,
                         "patch_p50_ms": pct(lat, 50) * 1e3, "patch_max_ms": (lat[-1] if lat else 0) * 1e3,
                         "failures": st2.failures[:5]}
    log(f"    {big} members in {el:.1f}s; chunk PATCH p50 {pct(lat, 50) * 1e3:.1f} ms, "
        f"max {(lat[-1] if lat else 0) * 1e3:.1f} ms; statuses {st2.counts}" + (f" ({len(bad)} bad)" if bad else ""))

    small_members = ids[:10]
    status, payload = call(c, st, "POST", "/Groups",
                           group_body("Bench Small Group", small_members, target.ms_group_schema))
    small_id = resource_id(payload) if status == 201 else None
    c.close()
    if small_id is None:
        raise BenchError(f"creating the 10-member group: {status} {payload[:300]!r}")
    outside = ids[big:]
    return Directory(ids, names, group_ids, big_id, big, small_id, outside, info)


def write_wrk_files(d: Directory, work: Path, tag: str, users_total: int) -> dict:
    rnd = random.Random(42)
    idx = list(range(len(d.ids)))
    if len(idx) > 100_000:  # a random sample keeps each wrk thread's Lua state small
        idx = rnd.sample(idx, 100_000)
    users = work / f"{tag}-users.tsv"
    with users.open("w") as f:
        for i in idx:
            f.write(f"{d.ids[i]}\t{d.names[i]}\n")
    outside = work / f"{tag}-outside.txt"
    cand = d.outside if len(d.outside) <= 100_000 else rnd.sample(d.outside, 100_000)
    outside.write_text("".join(f"{x}\n" for x in cand))
    return {"users": users, "outside": outside, "n": users_total}


# ---- wrk -----------------------------------------------------------------------------------


def parse_duration(s: str) -> float:
    s = s.strip()
    mult = {"ms": 0.001, "s": 1, "m": 60}
    for suf in ("ms", "s", "m"):
        if s.endswith(suf):
            return float(s[: -len(suf)]) * mult[suf]
    return float(s)


def run_wrk(target: Target, mode: str, conns: int, duration: float, files: dict,
            extra: str) -> dict:
    threads = max(1, min(conns, os.cpu_count() or 2))
    datafile = {"filter": files["users"], "filter_attr": files["users"], "get": files["users"],
                "patch_user": files["users"],
                "patch_group": files["outside"]}.get(mode, "-")
    nonce = uuid.uuid4().hex[:10]
    cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration:g}s", "--timeout", "10s",
           "-s", str(LUA), target.origin, "--", mode, target.token or "-", target.prefix,
           str(datafile), extra, nonce, "remove_by_filter" if target.remove_by_filter else "-"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            r = json.loads(line[len("BENCH_RESULT "):])
            r["counts"] = {int(k): v for k, v in r["counts"].items()}
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0
            return r
    raise BenchError(f"wrk gave no result (exit {out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


# ---- results -------------------------------------------------------------------------------


def pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


@dataclass
class Row:
    target: str
    num: str
    label: str
    conns: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    counts: dict
    sock_errors: int = 0
    noisy: bool = False
    rss: int = 0  # the server's highest VmRSS sampled during the cell
    srv_cpu: float = 0.0  # % of one core used by the server during the cell
    gen_cpu: float = 0.0  # % of one core used by the load generator
    extra: dict = field(default_factory=dict)

    def non2xx(self) -> int:
        return sum(v for k, v in self.counts.items() if not 200 <= k < 300)

    def code(self, c: int) -> int:
        return self.counts.get(c, 0)

    def c5xx(self) -> int:
        return sum(v for k, v in self.counts.items() if k >= 500)


def settle(pid: int, limit: float = 180.0) -> float:
    """Waits until the server is idle (under 10% of a core over two 0.2 s windows in a row), so
    that a backlog left by the previous cell (requests wrk gave up on at the end of its duration
    but the server still works through) does not eat into the next cell. Returns seconds waited."""
    t0 = time.monotonic()
    quiet = 0
    while time.monotonic() - t0 < limit and quiet < 2:
        c0 = proc_cpu(pid)
        time.sleep(0.2)
        quiet = quiet + 1 if proc_cpu(pid) - c0 < 0.02 else 0
    return time.monotonic() - t0


def run_workloads(target: Target, files: dict, d: Directory, args, conns_list: list[int],
                  which: list[str], wait_for_quiet: float, rss: RssSampler) -> list[Row]:
    rows: list[Row] = []
    dur = args.duration_s
    for num, mode, label in WRK_WORKLOADS:
        if num not in which:
            continue
        extra = "-"
        lab = label
        if mode == "list":
            extra = str(files["n"])
        elif num == "7b":
            extra = d.big_group or "-"
            lab = label.replace("BIG", f"{d.big_members:,}")
        elif num == "7s":
            extra = d.small_group or "-"
        for c in conns_list:
            noisy = bool(wait_quiet(wait_for_quiet))
            waited = settle(rss.pid)
            if waited > 2:
                log(f"    ({target.label} needed {waited:.1f}s to drain the previous cell's backlog)")
            rss.begin_cell()
            cpu = CpuMeter(rss.pid)
            r = run_wrk(target, mode, c, dur, files, extra)
            srv_cpu, gen_cpu = cpu.stop()
            cell_rss = rss.end_cell()
            noisy = noisy or bool(busy())
            row = Row(target.label, num, lab, c, r["rps"], r["p50"] / 1e3, r["p99"] / 1e3,
                      r["max"] / 1e3, r["requests"], r["counts"],
                      r["connect"] + r["read"] + r["write"] + r["timeout"], noisy, cell_rss,
                      srv_cpu, gen_cpu,
                      {"p90_ms": r["p90"] / 1e3, "p999_ms": r["p999"] / 1e3, "settle_s": waited})
            rows.append(row)
            log(f"    {target.label:17} {num:>3} c={c:<3} {row.rps:10.0f} req/s  p50 {row.p50_ms:7.2f} ms"
                f"  p99 {row.p99_ms:8.2f} ms  non-2xx {row.non2xx()}" + ("  (machine busy)" if noisy else ""))
    if "8" in which:
        for c in conns_list:
            noisy = bool(wait_quiet(wait_for_quiet))
            settle(rss.pid)
            rss.begin_cell()
            cpu = CpuMeter(rss.pid)
            n = args.peer_sync_users if target.label.startswith("scim2-server") else args.sync_users
            rows.append(run_sync(target, n, c))
            rows[-1].srv_cpu, rows[-1].gen_cpu = cpu.stop()
            rows[-1].rss = rss.end_cell()
            rows[-1].noisy = noisy or bool(busy())
    return rows


def run_sync(target: Target, n: int, conns: int) -> Row:
    tag = f"s{uuid.uuid4().hex[:6]}c{conns}-"
    ngroups = max(1, n // 10)
    res, st_u, el_u = parallel("sync_user", n, conns, target, "sync users", tag=tag)
    uids = [res.get(i) for i in range(n)]

    def members(g: int) -> list[str]:
        return [u for u in uids[g * 10:(g + 1) * 10] if u]

    _, st_g, el_g = parallel("sync_group", ngroups, conns, target, "sync groups", tag=tag,
                             group_members=members)
    st = Stats()
    st.merge(st_u)
    st.merge(st_g)
    lat = sorted(st.lat)
    total = el_u + el_g
    row = Row(target.label, "8", SYNC[2], conns, st.requests / total if total else 0,
              pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, (lat[-1] if lat else 0) * 1e3,
              st.requests, st.counts,
              extra={"users": n, "groups": ngroups, "seconds": total, "users_per_s": n / total if total else 0,
                     "user_phase_s": el_u, "group_phase_s": el_g, "created": sum(1 for u in uids if u),
                     "retried_429": st.retried_429, "failures": st.failures[:5]})
    log(f"    {target.label:17}   8 c={conns:<3} {n} users + {ngroups} groups in {total:.1f}s = "
        f"{n / total:.0f} users/s ({row.rps:.0f} req/s), p99 {row.p99_ms:.1f} ms, statuses {st.counts}")
    return row


def fmt_bytes(b: float) -> str:
    return f"{b / 1048576:.1f} MiB" if b >= 1048576 else f"{b / 1024:.1f} KiB"


def print_table(rows: list[Row], args_duration: float) -> None:
    hdr = (f"{'target':17} {'#':>3} {'workload':46} {'c':>3} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
           f" {'max ms':>8} {'non2xx':>6} {'409':>5} {'429':>5} {'5xx':>5} {'sock':>4} {'RSS MiB':>7}"
           f" {'srv%':>5} {'gen%':>5}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r.requests == 0:
            print(f"{r.target:17} {r.num:>3} {r.label[:46]:46} {r.conns:>3} {'-':>9}  no response within the cell"
                  f" ({args_duration:g} s)")
            continue
        print(f"{r.target:17} {r.num:>3} {r.label[:46]:46} {r.conns:>3} {r.rps:9.0f} {r.p50_ms:8.2f}"
              f" {r.p99_ms:8.2f} {r.max_ms:8.1f} {r.non2xx():6d} {r.code(409):5d} {r.code(429):5d}"
              f" {r.c5xx():5d} {r.sock_errors:4d} {r.rss / 1048576:7.1f} {r.srv_cpu:5.0f} {r.gen_cpu:5.0f}"
              f"{'  *busy' if r.noisy else ''}")


def find(rows: list[Row], target: str, num: str, c: int) -> Row | None:
    for r in rows:
        if r.target == target and r.num == num and r.conns == c:
            return r
    return None


# ---- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/bench", description="Benchmark scimd on loopback (issue 5).",
        epilog="Example: scripts/bench --quick; scripts/bench --compare; scripts/bench --profile large; "
               "scripts/bench --users 1000000 --tls off --workloads 1,2,3")
    p.add_argument("binary", type=Path, help="the scimd release binary")
    p.add_argument("--profile", choices=["default", "large"], default="default",
                   help="default: 10,000 users, 1,000 groups, big group = half the users; "
                        "large: 60,000 users and a 50,000-member group")
    p.add_argument("--quick", action="store_true",
                   help="2,000 users, 200 groups, 2 s per cell, 200-user sync: a smoke run")
    p.add_argument("--users", type=int, help="users to load (the scale profile: 1000000)")
    p.add_argument("--groups", type=int, help="groups of 3-7 members to load")
    p.add_argument("--big-group", type=int,
                   help="members of the big group (default: 50,000 in the large profile or from "
                        "100,000 users on, else half the users)")
    p.add_argument("--duration", help="wrk duration per cell, e.g. 5s (default 5s, --quick 2s)")
    p.add_argument("--conns", default="1,4,16", help="connection counts (default 1,4,16)")
    p.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                   help=f"which workloads (default all: {','.join(ALL_WORKLOADS)})")
    p.add_argument("--tls", choices=["both", "on", "off"], default="both",
                   help="run the workloads over plain HTTP, HTTPS or both (default both)")
    p.add_argument("--sync-users", type=int,
                   help="users per initial-sync run (workload 8; default 3,000, --quick 500)")
    p.add_argument("--peer-sync-users", type=int,
                   help="users per initial-sync run against scim2-server (default: at most 1,000)")
    p.add_argument("--load-conns", type=int, default=32, help="connections used to load (default 32)")
    p.add_argument("--chunk", type=int, default=1000, help="members per PATCH filling the big group")
    p.add_argument("--compare", action="store_true",
                   help="also run against scim2-server (from .venv-bench) and print ratios")
    p.add_argument("--peer-users", type=int,
                   help="users loaded into scim2-server (default: the same as scimd, at most 10,000)")
    p.add_argument("--peer-venv", type=Path, default=REPO / ".venv-bench")
    p.add_argument("--log-level", default="warn",
                   help="scimd's [log] level during the run (default warn: no per-request line)")
    p.add_argument("--wait-quiet", type=float, default=300,
                   help="before each cell, wait up to this many seconds while cargo or a CI run is "
                        "active (default 300; 0: do not wait, only mark the cell)")
    p.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    p.add_argument("--json", type=Path, help="also write every result to this JSON file")
    a = p.parse_args(argv)
    prof = dict(PROFILES["quick" if a.quick else a.profile])
    a.users = a.users or prof["users"]
    a.groups = a.groups if a.groups is not None else min(prof["groups"], a.users)
    if a.big_group is None:
        a.big_group = prof["big"] or (50_000 if a.users >= 100_000 else a.users // 2)
    if a.big_group > a.users - 20:
        p.error(f"the big group ({a.big_group}) needs at least {a.big_group + 20} users")
    a.duration_s = parse_duration(a.duration or prof["duration"])
    a.sync_users = a.sync_users or prof["sync"]
    a.conns_list = [int(x) for x in a.conns.split(",") if x.strip()]
    a.which = [w.strip() for w in a.workloads.split(",") if w.strip()]
    if "7" in a.which:
        a.which += ["7b", "7s"]
    a.peer_users = a.peer_users or min(a.users, 10_000)
    a.peer_sync_users = a.peer_sync_users or min(a.sync_users, 1_000)
    return a


def main(argv: list[str]) -> int:
    args = parse_args(argv[1:])
    binary = args.binary.resolve()
    if not binary.exists():
        raise BenchError(f"{binary} not found (scripts/bench builds it)")
    if shutil.which("wrk") is None:
        raise BenchError("wrk not found: install it (Debian: apt-get install wrk) or use scripts/bench")
    work = Path(tempfile.mkdtemp(prefix="scimd-bench-"))
    report: dict = {"command": " ".join(["scripts/bench", *argv[1:]]), "args": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
        }, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    report["scimd"] = f"{version} (git {head}{', src/ modified' if dirty else ''})"
    log(f"scimd benchmark: {report['scimd']}; work dir {work}")
    env_text = " ".join(f"{k}={v}" for k, v in SERVICE_ENVIRONMENT.items()) or "none"
    log(f"  scimd's environment from packaging/scimd.service: {env_text}")
    log(f"  {args.users} users, {args.groups} groups, big group {args.big_group}, "
        f"{args.duration_s:g}s per cell, connections {args.conns_list}, tls {args.tls}")
    rows: list[Row] = []
    facts: dict = {}
    try:
        wait_quiet(args.wait_quiet)
        # -- 1. fresh start, idle RSS, load (plain HTTP) --
        data_a = work / "data-http"
        s = Scimd(binary, data_a, tls=False, log_level=args.log_level, log_path=work / "scimd.log")
        token = s.create_token()
        st = s.start(token)
        facts["ready_empty_s"] = st["ready_s"]
        facts["first_auth_s"] = st["first_auth_s"]
        facts["idle_rss_empty"] = st["idle_rss"]
        log(f"  ready (empty) in {st['ready_s'] * 1e3:.0f} ms; first authenticated request "
            f"{st['first_auth_s'] * 1e3:.0f} ms; idle RSS {fmt_bytes(st['idle_rss'])}")
        d = load_directory(s.target(token), args.users, args.groups, args.big_group,
                           args.load_conns, args.chunk)
        facts["load"] = d.load
        stop = s.stop()
        facts["peak_rss_load"] = stop["peak_rss"]
        size = s.data_file().stat().st_size
        facts["file_bytes"] = size
        facts["file_bytes_per_user"] = size / len(d.ids)
        log(f"  loaded: peak RSS {fmt_bytes(stop['peak_rss'])}; data file {fmt_bytes(size)} = "
            f"{size / len(d.ids):.0f} bytes/user (users, groups, memberships, log rows); stop: {stop['exit']}")
        files = write_wrk_files(d, work, "scimd", len(d.ids))
        data_b = work / "data-https"
        if args.tls == "both":
            shutil.copytree(data_a, data_b)
        elif args.tls == "on":
            data_a.rename(data_b)

        # -- 2. the workloads, each transport on a pristine copy of the loaded directory --
        for tls in ([False, True] if args.tls == "both" else [args.tls == "on"]):
            s = Scimd(binary, data_b if tls else data_a, tls=tls, log_level=args.log_level,
                      log_path=work / "scimd.log")
            wait_quiet(args.wait_quiet)
            st = s.start(token)
            key = "https" if tls else "http"
            facts[f"ready_loaded_{key}_s"] = st["ready_s"]
            facts[f"idle_rss_loaded_{key}"] = st["idle_rss"]
            if tls:
                facts["tls_version"] = st["tls_version"]
            log(f"  scimd {key}: ready with {len(d.ids)} users in {st['ready_s'] * 1e3:.0f} ms; idle RSS "
                f"{fmt_bytes(st['idle_rss'])}" + (f"; {st['tls_version']}" if tls else ""))
            rows += run_workloads(s.target(token), files, d, args, args.conns_list, args.which,
                                  args.wait_quiet, s.rss)
            stop = s.stop()
            facts[f"peak_rss_{key}"] = stop["peak_rss"]
            facts[f"exit_{key}"] = stop["exit"]
            log(f"  scimd {key}: peak RSS {fmt_bytes(stop['peak_rss'])}; stop: {stop['exit']}")

        # -- 3. the peer --
        if args.compare:
            peer = Peer(args.peer_venv, work / "scim2-server.log")
            pst = peer.start()
            facts["peer_ready_s"] = pst["ready_s"]
            facts["peer_idle_rss"] = pst["idle_rss"]
            pt = peer.target()
            pbig = min(args.big_group, args.peer_users // 2)
            log(f"  scim2-server: ready in {pst['ready_s'] * 1e3:.0f} ms; loading {args.peer_users} users, "
                f"{min(args.groups, args.peer_users)} groups, big group {pbig}")
            pd = load_directory(pt, args.peer_users, min(args.groups, args.peer_users), pbig,
                                min(args.load_conns, 8), args.chunk)
            facts["peer_load"] = pd.load
            pfiles = write_wrk_files(pd, work, "peer", len(pd.ids))
            wait_quiet(args.wait_quiet)
            rows += run_workloads(pt, pfiles, pd, args, args.conns_list, args.which, args.wait_quiet,
                                  peer.rss)
            facts["peer_peak_rss"] = peer.stop()["peak_rss"]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"  kept {work}")

    print_report(args, rows, facts, report)
    if args.json:
        report.update(facts=facts, rows=[r.__dict__ for r in rows])
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


def print_report(args, rows: list[Row], facts: dict, report: dict) -> None:
    print()
    print(f"scimd benchmark — {report['scimd']} — {report['started']}")
    print(f"command: {report['command']}")
    print(f"directory: {args.users:,} users (enterprise extension), {args.groups:,} groups of 3-7, "
          f"one {args.big_group:,}-member group, one 10-member group; {args.duration_s:g} s per cell; "
          f"wrk on the same 2-core machine; scimd log level {args.log_level}")
    print()
    print_table(rows, args.duration_s)
    print("RSS: the server's highest VmRSS during the cell. srv% / gen%: CPU used by the server / by the "
          "load generator during the cell, in % of one core (2 cores = 200%).")
    print()
    for r in rows:
        if r.num == "8":
            x = r.extra
            print(f"sync {r.target:17} c={r.conns:<3}: {x['users']} users + {x['groups']} groups "
                  f"(lookup, create; group lookup, create, PATCH 10 members) in {x['seconds']:.1f} s "
                  f"= {x['users_per_s']:.0f} users/s")
    ld = facts.get("load", {})
    print()
    if ld:
        u = ld["users"]
        print(f"load: {u['n']:,} users in {u['seconds']:.1f} s = {u['rate']:.0f} users/s over "
              f"{args.load_conns} connections (429 retried: {u['retried_429']}, failed: {u['failed']}); "
              f"{ld['groups']['n']:,} groups at {ld['groups']['rate']:.0f}/s; big group "
              f"{ld['big_group']['members']:,} members in {ld['big_group']['seconds']:.1f} s "
              f"(PATCH of {ld['big_group']['chunk']} members: p50 {ld['big_group']['patch_p50_ms']:.1f} ms)")
    print(f"time to ready: empty {facts.get('ready_empty_s', 0) * 1e3:.0f} ms"
          + "".join(f"; loaded {k} {facts[f'ready_loaded_{k}_s'] * 1e3:.0f} ms"
                    for k in ("http", "https") if f"ready_loaded_{k}_s" in facts)
          + f"; first authenticated request {facts.get('first_auth_s', 0) * 1e3:.0f} ms")
    print(f"idle RSS: {fmt_bytes(facts.get('idle_rss_empty', 0))} (empty, after start)"
          + "".join(f"; {fmt_bytes(facts[f'idle_rss_loaded_{k}'])} ({k}, loaded, after restart)"
                    for k in ("http", "https") if f"idle_rss_loaded_{k}" in facts))
    peaks = {k: facts[f"peak_rss_{k}"] for k in ("load", "http", "https") if f"peak_rss_{k}" in facts}
    print("peak RSS: " + "; ".join(f"{fmt_bytes(v)} ({k})" for k, v in peaks.items()))
    if "file_bytes" in facts:
        print(f"data file: {fmt_bytes(facts['file_bytes'])} after loading = "
              f"{facts['file_bytes_per_user']:.0f} bytes per user")
    if facts.get("tls_version"):
        print(f"HTTPS: {facts['tls_version']} (self-signed), keep-alive")
    for c in args.conns_list:
        a, b = find(rows, "scimd http", "2", c), find(rows, "scimd https", "2", c)
        if a and b and a.rps:
            print(f"HTTPS/plain ratio, filter workload, c={c}: {b.rps / a.rps:.2f}")
    for k in ("exit_http", "exit_https"):
        if facts.get(k) not in (0, None):
            print(f"scimd {k[5:]} stop: {facts[k]}")

    if args.compare:
        print()
        pl = facts.get("peer_load", {})
        pu = pl.get("users", {})
        print(f"scim2-server (Python reference, in memory, plain HTTP, HTTP/1.0 one request per "
              f"connection): {pu.get('n', 0):,} users loaded at {pu.get('rate', 0):.0f}/s "
              f"(scimd had {args.users:,}); big group {pl.get('big_group', {}).get('members', 0):,}; "
              f"sync runs of {args.peer_sync_users:,} users (scimd {args.sync_users:,}); "
              f"idle RSS {fmt_bytes(facts.get('peer_idle_rss', 0))}, peak {fmt_bytes(facts.get('peer_peak_rss', 0))}")
        print(f"{'#':>3} {'workload':46} {'c':>3} {'scimd req/s':>12} {'peer req/s':>11} {'ratio':>8}"
              f" {'scimd p99':>10} {'peer p99':>10}")
        base = "scimd http" if any(r.target == "scimd http" for r in rows) else "scimd https"
        if base == "scimd https":
            print("(scimd ran over HTTPS only in this run; the peer over plain HTTP)")
        for r in rows:
            if r.target != base:
                continue
            p = find(rows, "scim2-server http", r.num, r.conns)
            if p is None:
                continue
            if not p.rps:
                print(f"{r.num:>3} {r.label[:46]:46} {r.conns:>3} {r.rps:12.0f} {'-':>11} {'-':>8}"
                      f" {r.p99_ms:8.1f}ms   (the peer answered nothing within {args.duration_s:g} s)")
                continue
            ratio = r.rps / p.rps
            print(f"{r.num:>3} {r.label[:46]:46} {r.conns:>3} {r.rps:12.0f} {p.rps:11.1f} {ratio:7.1f}x"
                  f" {r.p99_ms:8.1f}ms {p.p99_ms:8.1f}ms"
                  + ("  (peer errors: %d non-2xx)" % p.non2xx() if p.non2xx() else ""))
    print_targets(args, rows, facts)


def print_targets(args, rows: list[Row], facts: dict) -> None:
    print()
    print("issue 5 targets (2-core machine, loopback, load generator on the same machine):")

    def line(name: str, ok: bool | None, got: str) -> None:
        mark = "n/a " if ok is None else ("PASS" if ok else "MISS")
        print(f"  [{mark}] {name:58} {got}")

    def peer_ratio(num: str, c: int) -> float | None:
        a, p = find(rows, "scimd http", num, c), find(rows, "scim2-server http", num, c)
        return a.rps / p.rps if a and p and p.rps else None

    f16 = find(rows, "scimd http", "2", 16)
    if f16:
        line("filter userName eq, c=16: >= 25,000 req/s, p99 <= 5 ms", f16.rps >= 25000 and f16.p99_ms <= 5,
             f"{f16.rps:,.0f} req/s, p99 {f16.p99_ms:.2f} ms ({args.users:,} users)")
        r = peer_ratio("2", 16)
        line("filter c=16 >= 50x scim2-server", None if r is None else r >= 50, "-" if r is None else f"{r:.0f}x")
    g16 = find(rows, "scimd http", "3", 16)
    if g16:
        line("GET /Users/{id}, c=16: >= 30,000 req/s", g16.rps >= 30000, f"{g16.rps:,.0f} req/s")
    l16 = find(rows, "scimd http", "4", 16)
    if l16:
        line("list count=100, c=16: >= 2,000 req/s", l16.rps >= 2000, f"{l16.rps:,.0f} req/s")
        r = peer_ratio("4", 16)
        line("list c=16 >= 200x scim2-server", None if r is None else r >= 200, "-" if r is None else f"{r:.0f}x")
    p16 = find(rows, "scimd http", "5", 16)
    if p16:
        line("POST /Users durable, c=16: >= 5,000 req/s", p16.rps >= 5000, f"{p16.rps:,.0f} req/s")
        r = peer_ratio("5", 16)
        line("POST c=16 >= 10x scim2-server", None if r is None else r >= 10, "-" if r is None else f"{r:.0f}x")
    b4, s4 = find(rows, "scimd http", "7b", 4), find(rows, "scimd http", "7s", 4)
    if b4:
        big_ok = args.big_group >= 50_000
        line(f"group PATCH 1 member on a 50,000-member group, c=4: p99 <= 5 ms",
             (b4.p99_ms <= 5) if big_ok else None,
             f"p99 {b4.p99_ms:.2f} ms on a {args.big_group:,}-member group"
             + ("" if big_ok else " (run --profile large for 50,000)"))
    if b4 and s4 and s4.rps:
        ratio = s4.rps / b4.rps if b4.rps else float("inf")
        line("  ... and <= 1.5x the same op on a 10-member group", ratio <= 1.5 and b4.p99_ms <= 1.5 * max(s4.p99_ms, 0.001),
             f"time per op {ratio:.2f}x, p99 {b4.p99_ms:.2f} vs {s4.p99_ms:.2f} ms")
    if args.users >= 1_000_000:
        line("1M users: ready <= 1 s after start", facts.get("ready_loaded_http_s", 99) <= 1,
             f"{facts.get('ready_loaded_http_s', 0) * 1e3:.0f} ms")
        peak = max(facts.get(k, 0) for k in ("peak_rss_load", "peak_rss_http", "peak_rss_https"))
        line("1M users: peak RSS <= 150 MB", peak <= 150e6, fmt_bytes(peak))
        line("1M users: <= 1.5 KB of file per user", facts.get("file_bytes_per_user", 1e9) <= 1536,
             f"{facts.get('file_bytes_per_user', 0):.0f} bytes")
        if f16:
            line("1M users: filter p99 <= 2x the 10k figure", None,
                 f"p99 {f16.p99_ms:.2f} ms here; compare with a 10,000-user run")
    else:
        line("file per user (target at 1M: <= 1.5 KB)", None, f"{facts.get('file_bytes_per_user', 0):.0f} bytes at {args.users:,}")
    for c in (16,):
        a, b = find(rows, "scimd http", "2", c), find(rows, "scimd https", "2", c)
        if a and b and a.rps:
            line(f"HTTPS >= 70% of plain, filter c={c}", b.rps / a.rps >= 0.7, f"{b.rps / a.rps:.0%}")
    idle = facts.get("idle_rss_empty", 0)
    line("idle server RSS <= 30 MB", idle <= 30e6 if idle else None,
         f"{fmt_bytes(idle)} empty" + "".join(f", {fmt_bytes(facts[f'idle_rss_loaded_{k}'])} loaded ({k})"
                                                for k in ("http",) if f"idle_rss_loaded_{k}" in facts))
    if any(r.noisy for r in rows):
        print("  NOTE: cells marked *busy ran while cargo or a CI run was active on this machine.")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
