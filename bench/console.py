#!/usr/bin/env python3
"""Admin console render time (issue 17; bench/README.md "Console render time").
Python 3.11, standard library only.

    python3 bench/console.py target/release/scimd [--users 100000] [--members 50000]
                                                  [--requests 300] [--quick]
    scripts/bench --console [options]          (builds the release binary, then calls this)

The issue's targets: the users page and a user's detail page on a 100,000-user directory
answer with p99 <= 20 ms, and a group page of a 50,000-member group with <= 50 ms.

Method:

1. Load. scimd (release binary, plain HTTP, `[tls] mode = "off"`, 127.0.0.1, public_url
   http://127.0.0.1:PORT, log level warn) gets --users Entra-shaped users (userName,
   displayName, emails, externalId, the enterprise extension; 2 in 3 with a userType, 1 in 20
   inactive) by concurrent POSTs (bench/run.py's worker pool), one group filled with the
   first --members users by PATCH add in chunks of 1,000 (as `--profile large` fills its big
   group), then a `replace title` PATCH on --updated random users, so that those have a
   create and an update in the provisioning log.
2. Restart on the loaded data file with `[log] level = "info"`: one access-log line per
   request on stderr, `INFO request method=GET path="/admin/..." status=200 ms=3.2 ...`,
   where ms is the server's time from request to response head (the page is rendered
   before the head goes out, so it is the render time; the log gives 0.1 ms steps).
3. Sign in as a browser does: `scimd console login` prints the one-time link, a POST
   /admin/login with its code (and our Origin) answers 303 with the session cookie.
4. Cells, one after the other, on one keep-alive connection, each 20 warm-up GETs then
   --requests timed GETs (p50, p99, max): the users list (first page; a page from the middle,
   reached through a Next link the server gave; Z to A); searches (plain text matching one
   user and `userName eq "..."`, each for a user among the first 5,000 by name so that the
   first page finds it; plain text matching nothing, for context); a user's detail page
   (a random user per request; a random updated user); the 50,000-member group's page (first
   100 members; 100 members from the middle, again through the server's Next link); the log;
   the overview. Server-side figures come from the access-log lines the cell's requests wrote
   (read from the server's stderr file, counted: every request of the cell must have its
   line), client-side ones from the time between sending the request and reading the whole
   body (Python's http.client on the same 2 cores: a few tenths of a ms more).
   Once, untimed: `userName eq` for the user in the middle of the name order, to show what
   its first page finds (a console search reads at most 5,000 rows per page, in name order).
5. Prints the table and, per target, met or missed (on the server-side p99).

Only 127.0.0.1 is contacted; every loop is bounded by a count or a timeout.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: Scimd, the worker pool, user bodies, pct)
from run import BenchError, log, pct  # noqa: E402

ACCESS = re.compile(r'\brequest method=(\S+) path="((?:[^"\\]|\\.)*)" status=(\d+) ms=([0-9.]+)')
# The users list and a group's members are `table.list`, the history `table.log`; neither
# nests a table (the attributes' `table.attrs` does).
LIST_TABLE = re.compile(r'<table class="list">.*?<tbody>(.*?)</tbody>', re.S)
LOG_TABLE = re.compile(r'<table class="log">.*?<tbody>(.*?)</tbody>', re.S)
USER_LINK = re.compile(r'<a href="/admin/users/([^"]+)">([^<]*)</a>')
NEXT_LINK = re.compile(r'<a href="([^"]+)">\s*(?:Next page|Search further|Next 100)')
WARMUP = 20
UPDATE_TASK = "console_update"
USER_TASK = "console_user"

# The targets, on the server-side p99 (ms), by the cell's group.
TARGETS = {
    "users": ("users page p99 <= 20 ms (100,000 users)", 20.0),
    "detail": ("user detail p99 <= 20 ms (100,000 users)", 20.0),
    "group": ("group page p99 <= 50 ms (50,000 members)", 50.0),
}


# ---- loading ----------------------------------------------------------------------------------


def console_user_body(i: int) -> dict:
    """run.user_body, with a userType on 2 users in 3 and 1 user in 20 inactive."""
    body = run.user_body(i)
    if i % 3 == 2:
        del body["userType"]
    if i % 20 == 19:
        body["active"] = False
    return body


def task_console_user(c: run.Client, i: int, st: run.Stats):
    status, payload = run.call(c, st, "POST", "/Users", console_user_body(i))
    if status == 201:
        return run.resource_id(payload)
    if status == 409:  # a retried create that had landed: find it
        s2, p2 = run.call(c, st, "GET", run.filter_path("Users", "userName", run.user_name(i)))
        if s2 == 200:
            res = json.loads(p2).get("Resources") or []
            return res[0]["id"] if res else None
    return None


def task_console_update(c: run.Client, k: int, st: run.Stats):
    uid = run._G["updated"][k]
    body = {"schemas": [run.PATCHOP],
            "Operations": [{"op": "replace", "path": "title", "value": f"Principal {k}"}]}
    status, _ = run.call(c, st, "PATCH", f"/Users/{uid}", body)
    return status


run.TASKS[USER_TASK] = task_console_user
run.TASKS[UPDATE_TASK] = task_console_update


@dataclass
class Loaded:
    ids: list[str]          # ids[k] has userName names[k]
    names: list[str]
    group: str
    members: list[str]
    updated: list[str]
    facts: dict


def load(target: run.Target, users: int, members: int, updated: int, conns: int) -> Loaded:
    facts: dict = {}
    log(f"  loading {users:,} users over {conns} connections ...")
    res, st, el = run.parallel(USER_TASK, users, conns, target, "users", keep_lat=False)
    kept = [i for i in range(users) if i in res]
    if len(kept) < users:
        raise BenchError(f"{users - len(kept)} users were not created: {st.failures[:3]}")
    ids = [res[i] for i in kept]
    names = [run.user_name(i) for i in kept]
    facts["users"] = {"n": users, "seconds": el, "rate": users / el}
    log(f"    {users:,} users in {el:.1f} s = {users / el:.0f}/s; statuses {st.counts}")

    c = run.Client(target)
    st = run.Stats()
    status, payload = run.call(c, st, "POST", "/Groups",
                               run.group_body("Console Big Group", [], True))
    group = run.resource_id(payload) if status == 201 else None
    c.close()
    if group is None:
        raise BenchError(f"creating the group: {status} {payload[:300]!r}")
    chunks = [ids[k:k + 1000] for k in range(0, members, 1000)]
    log(f"  filling the group: {members:,} members, PATCH add in {len(chunks)} chunks of 1,000 ...")
    res, st, el = run.parallel("bigfill", len(chunks), min(4, conns), target, "member chunks",
                               chunks=chunks, group=group)
    bad = [s for s in res.values() if s not in (200, 204)]
    if bad or len(res) < len(chunks):
        raise BenchError(f"filling the group: {len(bad)} chunks refused, {st.failures[:3]}")
    facts["group"] = {"members": members, "seconds": el}
    log(f"    {members:,} members in {el:.1f} s")

    rnd = random.Random(17)
    upd = rnd.sample(ids, min(updated, len(ids)))
    log(f"  updating {len(upd):,} random users (PATCH replace title) ...")
    res, st, el = run.parallel(UPDATE_TASK, len(upd), conns, target, "updates", keep_lat=False,
                               updated=upd)
    bad = [s for s in res.values() if s not in (200, 204)]
    if bad or len(res) < len(upd):
        raise BenchError(f"updating users: {len(bad)} refused, {st.failures[:3]}")
    facts["updates"] = {"n": len(upd), "seconds": el}
    log(f"    {len(upd):,} updates in {el:.1f} s")
    return Loaded(ids, names, group, ids[:members], upd, facts)


# ---- the console client -----------------------------------------------------------------------


class Console:
    """One keep-alive connection carrying the console's session cookie."""

    def __init__(self, port: int):
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.cookie: str | None = None
        self.conn: http.client.HTTPConnection | None = None

    def _conn(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, bytes, dict, float]:
        """One request; returns status, body, headers (lower-cased) and the seconds from
        sending to having read the whole body. A connection the server closed is reopened
        once (and that request is not the one timed)."""
        h = {"Accept": "text/html", **(headers or {})}
        if self.cookie:
            h["Cookie"] = self.cookie
        for attempt in range(2):
            conn = self._conn()
            try:
                t0 = time.perf_counter()
                conn.request(method, path, body=body, headers=h)
                r = conn.getresponse()
                payload = r.read()
                took = time.perf_counter() - t0
            except (http.client.HTTPException, OSError) as e:
                self.close()
                if attempt:
                    raise BenchError(f"{method} {path}: {e}") from e
                continue
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if r.will_close:
                self.close()
            return r.status, payload, hdrs, took
        raise AssertionError("unreachable")

    def sign_in(self, binary: Path, config: Path) -> None:
        out = subprocess.run([str(binary), "--config", str(config), "console", "login"],
                             capture_output=True, text=True, timeout=60)
        url = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        code = parse_qs(urlsplit(url).query).get("code", [""])[0]
        if out.returncode != 0 or not code:
            raise BenchError(f"scimd console login failed ({out.returncode}): {out.stderr.strip()}")
        status, payload, hdrs, _ = self.request(
            "POST", "/admin/login", f"code={quote(code, safe='')}".encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin})
        cookie = hdrs.get("set-cookie", "").split(";", 1)[0]
        if status != 303 or not cookie.startswith(("scimd_console=", "__Host-scimd_console=")):
            raise BenchError(f"POST /admin/login answered {status} ({cookie or 'no cookie'}): "
                             f"{payload[:300]!r}")
        self.cookie = cookie
        status, payload, _, _ = self.request("GET", "/admin/")
        if status != 200:
            raise BenchError(f"GET /admin/ with the session cookie answered {status}")


def rows_of(page: bytes) -> list[tuple[str, str]]:
    """(id, text) of each user link in the page's list table."""
    m = LIST_TABLE.search(page.decode())
    return [(i, html.unescape(t)) for i, t in USER_LINK.findall(m.group(1))] if m else []


def member_rows(page: bytes) -> int:
    m = LIST_TABLE.search(page.decode())
    return m.group(1).count("<tr") if m else 0


def history_rows(page: bytes) -> int:
    m = LOG_TABLE.search(page.decode())
    return m.group(1).count("<tr") if m else 0


def plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def next_link(page: bytes) -> str | None:
    m = NEXT_LINK.search(page.decode())
    return html.unescape(m.group(1)) if m else None


# ---- cells ------------------------------------------------------------------------------------


@dataclass
class Cell:
    group: str            # users, detail, group, context, other
    label: str
    paths: object         # a path, or a function (k) -> path
    check: object = None  # function (page) -> str: what the page showed (asserted once)
    server: list[float] = field(default_factory=list)
    client: list[float] = field(default_factory=list)
    shown: str = ""
    busy: bool = False

    def path(self, k: int) -> str:
        return self.paths(k) if callable(self.paths) else self.paths


class AccessLog:
    """The server's stderr file, read from where the last read ended."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def lines_since_mark(self) -> list[tuple[str, str, int, float]]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            text = f.read().decode(errors="replace")
        return [(m.group(1), m.group(2), int(m.group(3)), float(m.group(4)))
                for m in ACCESS.finditer(text)]


def measure(c: Console, alog: AccessLog, cell: Cell, n: int) -> None:
    page = b""
    alog.mark()
    sent = []
    for k in range(WARMUP + n):
        path = cell.path(k)
        status, page, _, took = c.request("GET", path)
        if status != 200:
            raise BenchError(f"{cell.label}: GET {path[:100]} answered {status}: {page[:300]!r}")
        sent.append(urlsplit(path).path)
        if k >= WARMUP:
            cell.client.append(took * 1e3)
        if cell.check is not None and k == WARMUP:
            cell.shown = cell.check(page)
    time.sleep(0.2)  # the line is written before the response goes out; this is a margin
    lines = [x for x in alog.lines_since_mark() if x[0] == "GET"]
    if len(lines) != len(sent) or any(p != s for (_, p, _, _), s in zip(lines, sent)):
        raise BenchError(f"{cell.label}: {len(sent)} requests but {len(lines)} access-log lines "
                         f"(or their paths differ), first {lines[:2]}")
    cell.server = [ms for (_, _, _, ms) in lines[WARMUP:]]


# ---- main -------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="scripts/bench --console",
                                description="Admin console render time (issue 17).")
    p.add_argument("binary", type=Path, help="the scimd release binary")
    p.add_argument("--quick", action="store_true",
                   help="10,000 users, a 5,000-member group, 100 requests per cell")
    p.add_argument("--users", type=int, help="users to load (default 100,000)")
    p.add_argument("--members", type=int, help="members of the big group (default 50,000)")
    p.add_argument("--updated", type=int, help="users given an update (default 2%% of the users)")
    p.add_argument("--requests", type=int,
                   help="timed requests per cell (default 300, --quick 100)")
    p.add_argument("--load-conns", type=int, default=32,
                   help="connections used to load (default 32)")
    p.add_argument("--wait-quiet", type=float, default=300,
                   help="before measuring, wait up to this many seconds while cargo or a CI run "
                        "is active (default 300); cells during which one ran are marked *busy")
    p.add_argument("--seed", type=int, default=42, help="seed of the random users picked")
    p.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    a = p.parse_args(argv)
    a.users = a.users or (10_000 if a.quick else 100_000)
    a.members = a.members if a.members is not None else (5_000 if a.quick else 50_000)
    a.requests = a.requests or (100 if a.quick else 300)
    a.updated = a.updated if a.updated is not None else max(1, a.users // 50)
    if not 1 <= a.members <= a.users:
        p.error(f"--members must be between 1 and --users ({a.users})")
    binary = a.binary.resolve()
    if not binary.exists():
        raise BenchError(f"{binary} not found (scripts/bench --console builds it)")

    version = subprocess.run([str(binary), "--version"], capture_output=True,
                             text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(run.REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(run.REPO), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    scimd = f"{version} (git {head}{', src/ modified' if dirty else ''})"
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    work = Path(tempfile.mkdtemp(prefix="scimd-bench-console-"))
    log(f"console benchmark: {scimd}; work dir {work}")
    t_all = time.monotonic()
    cells: list[Cell] = []
    facts: dict = {}
    s: run.Scimd | None = None
    try:
        data = work / "data"
        s = run.Scimd(binary, data, tls=False, log_level="warn", log_path=work / "load.log")
        token = s.create_token()
        s.start(token)
        d = load(s.target(token), a.users, a.members, a.updated, a.load_conns)
        facts.update(d.facts)
        s.stop()
        facts["file_bytes"] = s.data_file().stat().st_size

        server_log = work / "scimd.log"
        s = run.Scimd(binary, data, tls=False, log_level="info", log_path=server_log)
        b = run.wait_quiet(a.wait_quiet)
        if b:
            log(f"  still busy after {a.wait_quiet:.0f} s ({b[0]}): measuring anyway")
        st = s.start(token)
        facts["ready_s"] = st["ready_s"]
        facts["idle_rss"] = st["idle_rss"]
        log(f"  restarted with level info: ready in {st['ready_s'] * 1e3:.0f} ms, idle RSS "
            f"{run.fmt_bytes(st['idle_rss'])}")
        c = Console(s.port)
        c.sign_in(binary, s.config)
        alog = AccessLog(server_log)
        cells = plan(c, d, a)
        for cell in cells:
            cell.busy = bool(run.busy())
            t0 = time.monotonic()
            measure(c, alog, cell, a.requests)
            cell.busy = cell.busy or bool(run.busy())
            sv = sorted(cell.server)
            log(f"    {cell.label:50} server p50 {pct(sv, 50):6.1f} p99 {pct(sv, 99):6.1f} ms "
                f"({time.monotonic() - t0:.1f} s){'  (machine busy)' if cell.busy else ''}")
        c.close()
        stop = s.stop()
        facts["peak_rss"] = stop["peak_rss"]
        facts["exit"] = stop["exit"]
    finally:
        if s is not None and s.proc is not None:  # a failure left it running
            s.stop()
        if a.keep:
            log(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    facts["seconds"] = time.monotonic() - t_all
    report(a, scimd, started, cells, facts)
    if a.json:
        a.json.write_text(json.dumps({
            "scimd": scimd, "started": started, "args": {k: str(v) for k, v in vars(a).items()},
            "facts": facts,
            "cells": [{"group": x.group, "label": x.label, "shown": x.shown, "busy": x.busy,
                       "server_ms": x.server, "client_ms": x.client} for x in cells]}, indent=2))
    return 0


def plan(c: Console, d: Loaded, a) -> list[Cell]:
    """The cells, with the paths found by reading the pages a person would follow."""
    rnd = random.Random(a.seed)
    by_name = sorted(zip(d.names, d.ids))
    n = len(by_name)

    # A page from the middle: `after` the middle name, then the server's own Next link.
    mid = n // 2
    status, page, _, _ = c.request("GET", f"/admin/users?after={quote(by_name[mid][0], safe='')}")
    got = rows_of(page)
    if status != 200 or not got or got[0][1] != by_name[mid + 1][0]:
        raise BenchError(f"the page after {by_name[mid][0]!r} starts with {got[:1]} "
                         f"(status {status}), not {by_name[mid + 1][0]!r}")
    deep = next_link(page)
    if not deep:
        raise BenchError("the middle users page has no Next link")
    deep_at = mid + 2 + len(got)  # the 1-based position of the deep page's first row

    # Searches for users in the first 5,000 by name (a search looks at 5,000 rows per page).
    one = by_name[min(2_000, n // 4)][0]
    eq = by_name[min(2_500, n // 3)][0]
    eq_query = f'userName eq "{eq}"'
    nothing = "no-such-person-zzz"
    # For the record: the same filter for a user from the middle of the name order.
    far = by_name[mid][0]
    far_query = quote(f'userName eq "{far}"', safe="")
    status, page, _, _ = c.request("GET", f"/admin/users?q={far_query}")
    found = plural(len(rows_of(page)), "row") if status == 200 else f"status {status}"
    further = ", and Search further" if b"Search further" in page else ""
    a.far_eq = (f'q=userName eq "<the user at name position {mid + 1:,}>": its first page shows '
                f"{found}{further}")

    def listed(expect: int | None):
        def check(page: bytes) -> str:
            r = rows_of(page)
            if expect is not None and len(r) != expect:
                raise BenchError(f"expected {expect} rows, the page shows {len(r)}")
            further = " (Search further)" if b"Search further" in page else ""
            return f"{plural(len(r), 'row')}{further}"
        return check

    # Members from the middle of the group, in member-id order, then the server's Next link.
    members = sorted(d.members)
    after = members[len(members) // 2]
    status, page, _, _ = c.request("GET", f"/admin/groups/{d.group}?after={after}")
    if status != 200 or member_rows(page) == 0:
        raise BenchError(f"the group page after member {after} answered {status} with "
                         f"{member_rows(page)} rows")
    later = next_link(page) or f"/admin/groups/{d.group}?after={after}"

    def group_check(page: bytes) -> str:
        rows = member_rows(page)
        if rows != min(100, len(members)) and not (rows and "after=" in page.decode()):
            raise BenchError(f"the group page shows {rows} members")
        return f"{plural(rows, 'member')}, {plural(history_rows(page), 'history row')}"

    def detail_check(page: bytes) -> str:
        return f"{plural(history_rows(page), 'history row')}"

    users = [rnd.choice(d.ids) for _ in range(WARMUP + a.requests)]
    updated = [rnd.choice(d.updated) for _ in range(WARMUP + a.requests)]
    hist_random = Cell("detail", "user detail, random user", lambda k: f"/admin/users/{users[k]}",
                       detail_check)
    hist_updated = Cell("detail", "user detail, random updated user",
                        lambda k: f"/admin/users/{updated[k]}", detail_check)
    return [
        Cell("users", "users, first page", "/admin/users", listed(50)),
        Cell("users", f"users, rows from {deep_at:,} of {n:,} (Next link)", deep, listed(50)),
        Cell("users", "users, Z to A (order=desc)", "/admin/users?order=desc", listed(50)),
        Cell("users", "users, text search, 1 match", f"/admin/users?q={quote(one, safe='')}",
             listed(1)),
        Cell("users", 'users, q=userName eq "..." (1 match)',
             f"/admin/users?q={quote(eq_query, safe='')}", listed(1)),
        Cell("context", "users, text search, no match", f"/admin/users?q={nothing}", listed(0)),
        hist_random,
        hist_updated,
        Cell("group", f"group of {len(d.members):,}, first 100 members", f"/admin/groups/{d.group}",
             group_check),
        Cell("group", f"group of {len(d.members):,}, members from the middle", later, group_check),
        Cell("other", "log (100 newest entries)", "/admin/log"),
        Cell("other", "overview", "/admin/"),
    ]


def report(a, scimd: str, started: str, cells: list[Cell], facts: dict) -> None:
    print()
    print(f"scimd console render time — {scimd} — {started}")
    print(f"directory: {a.users:,} users, one group of {a.members:,} members, {a.updated:,} users "
          f"updated once; plain HTTP on 127.0.0.1, one keep-alive connection, {WARMUP} warm-up + "
          f"{a.requests} timed GETs per cell")
    print()
    hdr = (f"{'page':52} {'server p50':>10} {'p99':>7} {'max':>7}   {'client p50':>10} {'p99':>7}"
           f" {'max':>7}  {'target':>8}  shown")
    print(hdr)
    print("-" * len(hdr))
    for x in cells:
        sv, cv = sorted(x.server), sorted(x.client)
        tgt = TARGETS.get(x.group)
        mark = "-"
        if tgt:
            mark = ("met" if pct(sv, 99) <= tgt[1] else "MISSED") + f" {tgt[1]:g}"
        print(f"{x.label[:52]:52} {pct(sv, 50):10.1f} {pct(sv, 99):7.1f} {sv[-1]:7.1f}   "
              f"{pct(cv, 50):10.2f} {pct(cv, 99):7.2f} {cv[-1]:7.2f}  {mark:>8}  {x.shown}"
              f"{'  *busy' if x.busy else ''}")
    print("server: the access log's ms (request to response head; 0.1 ms steps); client: send to "
          "whole body read, Python on the same machine. ms throughout.")
    print()
    u = facts.get("users", {})
    print(f"load: {u.get('n', 0):,} users in {u.get('seconds', 0):.1f} s ({u.get('rate', 0):.0f}/s); "
          f"{facts.get('group', {}).get('members', 0):,} members in "
          f"{facts.get('group', {}).get('seconds', 0):.1f} s; data file "
          f"{run.fmt_bytes(facts.get('file_bytes', 0))}; ready on it in "
          f"{facts.get('ready_s', 0) * 1e3:.0f} ms; idle RSS {run.fmt_bytes(facts.get('idle_rss', 0))}, "
          f"peak while measuring {run.fmt_bytes(facts.get('peak_rss', 0))}; the whole run "
          f"{facts.get('seconds', 0):.0f} s")
    if getattr(a, "far_eq", None):
        print(a.far_eq)
    print()
    full = a.users >= 100_000 and a.members >= 50_000
    print("issue 17 targets (server-side p99; 2-core machine, client on the same machine):")
    for group, (name, limit) in TARGETS.items():
        mine = [x for x in cells if x.group == group]
        if not mine:
            continue
        worst = max(mine, key=lambda x: pct(sorted(x.server), 99))
        p99 = pct(sorted(worst.server), 99)
        ok = all(pct(sorted(x.server), 99) <= limit for x in mine)
        mark = ("PASS" if ok else "MISS") if full else "n/a "
        print(f"  [{mark}] {name:44} worst: {worst.label} p99 {p99:.1f} ms"
              + ("" if full else f" (at {a.users:,} users / {a.members:,} members)"))
    if any(x.busy for x in cells):
        print("  NOTE: cells marked *busy ran while cargo or a CI run was active on this machine.")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
