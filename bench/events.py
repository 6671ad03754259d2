#!/usr/bin/env python3
"""scimd change-event benchmark (issue 15). Python 3.11, standard library only.

    python3 bench/events.py target/release/scimd --sink target/release/examples/event_sink
    scripts/bench --events [options]            (builds both, then calls this)

Four parts, each on its own scimd (plain HTTP on loopback, a copy of one loaded directory) and
the Rust sink (examples/event_sink.rs: an RFC 8935 receiver that answers 202 and records the
arrival time, sub_id.id and jti of every SET):

1. throughput  `POST /Users` with wrk at c=16 (bench/wrk/scim.lua's create workload) on three
               servers with 0, 1 and 4 push receivers, cells alternated 0,1,4,0,1,4,...;
               req/s per cell, the 1/0 and 4/0 ratios per round, how much the receivers had
               been sent by the cell's end, and how long they took to get the rest.
2. lag         an open-loop paced load of --rate POST /Users per second for --lag-seconds, one
               push receiver; lag = when the sink received the SET - when the POST's response
               arrived (and - when it was sent), matched by the user id in sub_id.id.
3. push        a backlog of --backlog creates made while the receiver's endpoint is down, then
               scimd is stopped, the sink started and scimd started again: SETs/s to drain.
4. poll        a backlog of --backlog creates for a poll receiver, then one client polls
               `POST /events/<name>` with maxEvents=1000, acknowledging what it got in its
               next poll: SETs/s end to end.

Only 127.0.0.1 is contacted; every loop is bounded by a count, a duration or a timeout.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (bench/run.py: the server wrapper, wrk runner and loaders)
from run import BenchError, CpuMeter, log, pct, proc_cpu  # noqa: E402

PARTS = ["throughput", "lag", "push", "poll"]
# run_wrk's data files: the create workload reads none.
NO_FILES = {"users": "-", "outside": "-"}
POLL_RECEIVER = "poller"
TARGETS = {  # issue 15's bench targets
    "throughput": "POST /Users c=16 with 4 push receivers >= 90% of none",
    "lag": "delivery lag p99 <= 1 s at 1,000 creates/s",
    "push": "push to one receiver >= 3,000 SETs/s",
    "poll": "poll maxEvents=1000 >= 20,000 SETs/s",
}


# ---- the sink ------------------------------------------------------------------------------


class Sink:
    """examples/event_sink: started on a port (0: any), stopped with SIGTERM."""

    def __init__(self, exe: Path, out: Path, log_path: Path, threads: int):
        self.exe = exe
        self.out = out
        self.log_path = log_path
        self.threads = threads
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self, port: int = 0) -> None:
        logf = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(self.exe), "--listen", f"127.0.0.1:{port}", "--out", str(self.out),
             "--threads", str(self.threads)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=logf)
        logf.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("listening "):
            raise BenchError(f"the sink did not start ({line!r}); see {self.log_path}")
        self.port = int(line.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def endpoint(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def stats(self) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/stats")
            r = conn.getresponse()
            return json.loads(r.read())
        finally:
            conn.close()

    def wait_for(self, want: dict[str, int], timeout: float) -> tuple[dict, float]:
        """Polls /stats until each path has at least its count, written to the file too;
        returns the last stats and the seconds waited."""
        t0 = time.monotonic()
        while True:
            s = self.stats()
            paths = s["paths"]
            if s["written"] >= s["received"] and all(paths.get(p, 0) >= n for p, n in want.items()):
                return s, time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                return s, time.monotonic() - t0
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def records(self) -> list[tuple[int, str, str, str]]:
        """(arrival ns, path, sub_id.id, jti) per SET received, in the order written."""
        out = []
        with self.out.open() as f:
            for line in f:
                ns, path, subject, jti = line.rstrip("\n").split("\t")
                out.append((int(ns), path, subject, jti))
        return out


# ---- scimd with receivers ------------------------------------------------------------------


def push_receiver(name: str, endpoint: str, work: Path) -> str:
    auth = work / f"{name}.auth"
    auth.write_text("Bearer bench-sink\n")
    auth.chmod(0o600)
    return (f'[[events.receivers]]\nname = "{name}"\ndelivery = "push"\nendpoint = "{endpoint}"\n'
            f'authorization_file = "{auth}"\npayload = "notice"\nresource_types = ["User", "Group"]\n')


def poll_receiver(name: str) -> str:
    return (f'[[events.receivers]]\nname = "{name}"\ndelivery = "poll"\npayload = "notice"\n'
            f'resource_types = ["User", "Group"]\n')


class EventScimd(run.Scimd):
    """run.Scimd (plain HTTP) with [[events.receivers]] appended to its config."""

    def __init__(self, binary: Path, data_dir: Path, log_level: str, log_path: Path,
                 receivers: list[str]):
        super().__init__(binary, data_dir, tls=False, log_level=log_level, log_path=log_path)
        self.receivers = receivers
        self.metrics_port = 0

    def write_config(self) -> None:
        super().write_config()
        self.metrics_port = run.free_port()
        with self.config.open("a") as f:
            f.write(f'\n[metrics]\nlisten = "127.0.0.1:{self.metrics_port}"\n\n')
            f.write("\n".join(self.receivers))

    def write_batches(self) -> tuple[float, float, float]:
        """(write transactions committed, changes in them, seconds the writer spent committing
        them, fsync included) so far, from /metrics: how many fsyncs and writer jobs (creates,
        and the receivers' cursor moves) a cell cost."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=10)
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        values = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            values[name] = value.split()[0] if value else "0"
        get = lambda name: float(values.get(name, 0))  # noqa: E731
        return (get("scimd_write_batch_size_count"), get("scimd_write_batch_size_sum"),
                get("scimd_write_batch_commit_duration_seconds_sum"))

    def poll_token(self, receiver: str) -> str:
        self.write_config()
        out = subprocess.run([str(self.binary), "--config", str(self.config), "token", "create",
                              "--name", f"{receiver}-poll", "--events", receiver],
                             capture_output=True, text=True, timeout=120)
        lines = out.stdout.strip().splitlines()
        if out.returncode != 0 or not lines:
            raise BenchError(f"scimd token create --events failed ({out.returncode}): "
                             f"{out.stderr.strip()}")
        return lines[-1].strip()

    def launch(self) -> float:
        """Starts `serve` and returns as soon as /healthz answers (run.Scimd.start also waits
        a second for the idle RSS and makes a first authenticated request: a backlog would be
        half drained by then). Returns the time.time_ns() of the process start."""
        self.write_config()
        logf = self.log_path.open("ab")
        started = time.time_ns()
        self.proc = subprocess.Popen([str(self.binary), "--config", str(self.config), "serve"],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     env={**os.environ, **run.SERVICE_ENVIRONMENT})
        logf.close()
        run.wait_ready("http", self.port, "/healthz", {}, self.proc)
        return started

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def total_users(target: run.Target) -> int:
    c = run.Client(target)
    try:
        status, payload, _ = c.request("GET", "/Users?count=0")
    finally:
        c.close()
    if status != 200:
        raise BenchError(f"GET /Users?count=0 answered {status}")
    return int(json.loads(payload)["totalResults"])


def create_users(target: run.Target, n: int, conns: int, tag: str) -> tuple[list[str], float]:
    """n Entra-shaped users over `conns` connections (bench/run.py's loader)."""
    res, st, el = run.parallel("user", n, conns, target, tag, keep_lat=False, tag=tag)
    ids = [res[i] for i in range(n) if i in res]
    if len(ids) != n:
        raise BenchError(f"{n - len(ids)} of {n} creates failed: {st.failures[:3]}")
    return ids, el


def payload_of(set_token: str) -> dict:
    part = set_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Perf:
    """`perf record` of one process while a part is measured (--perf DIR): where the time goes.
    Call graphs by DWARF unwinding (the release binary keeps line tables, not frame pointers)."""

    def __init__(self, directory: Path | None, name: str, pid: int):
        self.proc: subprocess.Popen | None = None
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{name}.perf.data"
        self.proc = subprocess.Popen(["perf", "record", "-q", "-F", "499", "--call-graph",
                                      "dwarf,32768", "-p", str(pid), "-o", str(self.path)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # perf attaches

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        log(f"      perf: {self.path} (perf report -i {self.path} --no-children)")


def busy_now(args) -> bool:
    return bool(run.wait_quiet(args.wait_quiet))


# ---- 1. POST /Users with 0, 1, 4 receivers -------------------------------------------------


def part_throughput(args, work: Path, base: Path, token: str, sink: Sink) -> dict:
    servers: dict[int, EventScimd] = {}
    out: dict = {"cells": [], "rounds": []}
    try:
        for n in args.receiver_counts:
            data = work / f"tp-{n}"
            shutil.copytree(base, data)
            receivers = [push_receiver(f"r{n}-{k}", sink.endpoint(f"r{n}-{k}"), work)
                         for k in range(n)]
            s = EventScimd(args.binary, data, args.log_level, work / f"tp-{n}.log", receivers)
            s.start(token)
            servers[n] = s
        for rnd in range(args.rounds):
            by_n = {}
            for n in args.receiver_counts:
                s = servers[n]
                target = s.target(token)
                noisy = busy_now(args)
                run.settle(s.pid)
                run.settle(sink.pid)
                before_total = total_users(target)
                before = sink.stats()["paths"]
                paths = [f"/r{n}-{k}" for k in range(n)]
                cpu = CpuMeter(s.pid)
                sink_cpu0 = proc_cpu(sink.pid)
                srv_cpu0 = proc_cpu(s.pid)
                batches0, jobs0, _ = s.write_batches()
                t0 = time.perf_counter()
                r = run.run_wrk(target, "create", args.conns, args.duration_s, NO_FILES, "-")
                wall = time.perf_counter() - t0
                srv_cpu, gen_cpu = cpu.stop()
                sink_cpu = 100 * (proc_cpu(sink.pid) - sink_cpu0) / wall
                ended_ns = time.time_ns()
                at_end = sink.stats()["paths"]
                run.settle(s.pid)
                # CPU per create, the deliveries after the cell included: load does not move it
                # as it moves req/s (a busy machine shares the cores, not the work).
                srv_cpu_seconds = proc_cpu(s.pid) - srv_cpu0
                batches1, jobs1, _ = s.write_batches()
                created = total_users(target) - before_total
                want = {p: before.get(p, 0) + created for p in paths}
                final, _ = sink.wait_for(want, timeout=300)
                # The rest was sent while settle() waited: its end is the last SET's arrival.
                waited = max(0.0, (final["last_ns"] - ended_ns) / 1e9) if n else 0.0
                sent_by_end = min((at_end.get(p, 0) - before.get(p, 0) for p in paths), default=0)
                delivered = {p: final["paths"].get(p, 0) - before.get(p, 0) for p in paths}
                noisy = noisy or bool(run.busy())
                cell = {"round": rnd, "receivers": n, "rps": r["rps"], "p50_ms": r["p50"] / 1e3,
                        "p99_ms": r["p99"] / 1e3, "counts": r["counts"], "created": created,
                        "sent_by_end": sent_by_end, "delivered": delivered,
                        "all_delivered": all(v == created for v in delivered.values()),
                        "drain_after_s": waited, "srv_cpu": srv_cpu, "gen_cpu": gen_cpu,
                        "sink_cpu": sink_cpu, "busy": noisy,
                        "srv_cpu_us_per_create": 1e6 * srv_cpu_seconds / max(1, created),
                        "commits": batches1 - batches0, "writer_jobs": jobs1 - jobs0}
                out["cells"].append(cell)
                by_n[n] = cell
                share = f"{100 * sent_by_end / created:.0f}%" if n and created else "-"
                log(f"    round {rnd + 1} receivers={n}: {r['rps']:7.0f} req/s  p50 "
                    f"{cell['p50_ms']:6.2f} ms  p99 {cell['p99_ms']:7.2f} ms  srv {srv_cpu:3.0f}% "
                    f"({cell['srv_cpu_us_per_create']:.0f} µs/create) "
                    f"sink {sink_cpu:3.0f}%  sent by the end {share}, rest in {waited:.2f} s; "
                    f"{cell['commits']:.0f} commits, {cell['writer_jobs'] - created:.0f} cursor writes"
                    + ("" if cell["all_delivered"] else f"  DELIVERED {delivered} of {created}")
                    + ("  (machine busy)" if noisy else ""))
            if 0 in by_n and by_n[0]["rps"]:
                out["rounds"].append({f"r{n}": by_n[n]["rps"] / by_n[0]["rps"]
                                      for n in by_n if n})
    finally:
        for s in servers.values():
            s.stop()
    for n in args.receiver_counts:
        if n == 0:
            continue
        ratios = [r[f"r{n}"] for r in out["rounds"] if f"r{n}" in r]
        medians = {m: statistics.median(c["rps"] for c in out["cells"] if c["receivers"] == m)
                   for m in (0, n)} if 0 in args.receiver_counts else {}
        out[f"ratio_{n}"] = {"per_round": ratios,
                             "median_of_ratios": statistics.median(ratios) if ratios else None,
                             "ratio_of_medians": medians[n] / medians[0] if medians.get(0) else None}
    out["all_delivered"] = all(c["all_delivered"] for c in out["cells"])
    return out


# ---- 2. lag at a paced rate ----------------------------------------------------------------


def paced_creates(target: run.Target, rate: float, seconds: float, threads: int,
                  tag: str) -> tuple[list, float]:
    """Open loop: request k is due at t0 + k/rate, whatever the answers before it. Returns
    (id, sent ns, answered ns, status, seconds late) per request and the seconds it took."""
    n = int(rate * seconds)
    bodies = [json.dumps(run.user_body(i, tag), separators=(",", ":")).encode() for i in range(n)]
    headers = {"Authorization": f"Bearer {target.token}", "Accept": "application/scim+json",
               "Content-Type": "application/scim+json"}
    results: list = [None] * n
    lock = threading.Lock()
    nxt = [0]
    t0 = time.perf_counter() + 0.2

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
        try:
            while True:
                with lock:
                    k = nxt[0]
                    nxt[0] += 1
                if k >= n:
                    return
                due = t0 + k / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                late = time.perf_counter() - due
                sent = time.time_ns()
                try:
                    conn.request("POST", target.prefix + "/Users", body=bodies[k], headers=headers)
                    r = conn.getresponse()
                    payload = r.read()
                    answered = time.time_ns()
                    location = r.getheader("Location") or ""
                    if r.will_close:
                        conn.close()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    results[k] = (None, sent, time.time_ns(), 0, late)
                    continue
                uid = location.rsplit("/", 1)[-1] if location else run.resource_id(payload)
                results[k] = (uid if r.status == 201 else None, sent, answered, r.status, late)
        finally:
            conn.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results, time.perf_counter() - start


def part_lag(args, work: Path, base: Path, token: str, sink: Sink) -> dict:
    data = work / "lag"
    shutil.copytree(base, data)
    s = EventScimd(args.binary, data, args.log_level, work / "lag.log",
                   [push_receiver("lag", sink.endpoint("lag"), work)])
    s.start(token)
    try:
        noisy = busy_now(args)
        run.settle(s.pid)
        before = sink.stats()["paths"].get("/lag", 0)
        commits0, _, commit_s0 = s.write_batches()
        cpu = CpuMeter(s.pid)
        results, el = paced_creates(s.target(token), args.rate, args.lag_seconds,
                                    args.pacer_threads, "lag-")
        srv_cpu, _ = cpu.stop()
        ok = [r for r in results if r and r[0]]
        final, waited = sink.wait_for({"/lag": before + len(ok)}, timeout=120)
        commits1, _, commit_s1 = s.write_batches()
        noisy = noisy or bool(run.busy())
    finally:
        s.stop()
    arrival: dict[str, int] = {}
    for ns, path, subject, _ in sink.records():
        if path == "/lag":
            arrival.setdefault(subject, ns)
    lag_resp = sorted((arrival[r[0]] - r[2]) / 1e6 for r in ok if r[0] in arrival)
    lag_sent = sorted((arrival[r[0]] - r[1]) / 1e6 for r in ok if r[0] in arrival)
    post = sorted((r[2] - r[1]) / 1e6 for r in ok)
    late = sorted(r[4] * 1e3 for r in results if r)
    out = {"target_rate": args.rate, "seconds": args.lag_seconds, "sent": len(results),
           "created": len(ok), "achieved_rate": sending_rate(results),
           "statuses": {}, "missing": len(ok) - len(lag_resp), "srv_cpu": srv_cpu,
           "lag_after_response_ms": summary(lag_resp), "lag_after_send_ms": summary(lag_sent),
           "post_ms": summary(post), "pacer_late_ms": summary(late), "busy": noisy,
           "drain_after_s": waited, "commits": commits1 - commits0,
           "commit_ms_mean": 1e3 * (commit_s1 - commit_s0) / max(1.0, commits1 - commits0)}
    for r in results:
        if r:
            out["statuses"][r[3]] = out["statuses"].get(r[3], 0) + 1
    la = out["lag_after_response_ms"]
    log(f"    {len(ok)} creates at {out['achieved_rate']:.0f}/s (target {args.rate:g}); lag after "
        f"the response p50 {la['p50']:.1f} ms, p99 {la['p99']:.1f} ms, max {la['max']:.1f} ms; "
        f"POST p99 {out['post_ms']['p99']:.1f} ms; pacer late p99 {out['pacer_late_ms']['p99']:.1f} ms; "
        f"{out['commits']:.0f} commits of {out['commit_ms_mean']:.1f} ms on average (fsync included)"
        + (f"; {out['missing']} NOT DELIVERED" if out["missing"] else "")
        + ("  (machine busy)" if noisy else ""))
    return out


def sending_rate(results: list) -> float:
    """Requests per second between the first and the last send (the schedule's rate when the
    pacer kept up)."""
    sent = [r[1] for r in results if r]
    if len(sent) < 2 or max(sent) == min(sent):
        return 0.0
    return (len(sent) - 1) / ((max(sent) - min(sent)) / 1e9)


def summary(vals: list[float]) -> dict:
    if not vals:
        return {"n": 0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    return {"n": len(vals), "p50": pct(vals, 50), "p90": pct(vals, 90), "p99": pct(vals, 99),
            "max": vals[-1]}


# ---- 3. push: drain a backlog ---------------------------------------------------------------


def part_push(args, work: Path, base: Path, token: str, sink_exe: Path) -> dict:
    data = work / "push"
    shutil.copytree(base, data)
    sink = Sink(sink_exe, work / "push-sets.tsv", work / "push-sink.log", args.sink_threads)
    port = run.free_port()  # nothing listens there until the sink starts
    endpoint = f"http://127.0.0.1:{port}/drain"
    s = EventScimd(args.binary, data, args.log_level, work / "push.log",
                   [push_receiver("drain", endpoint, work)])
    s.start(token)
    try:
        log(f"    {args.backlog} creates while the receiver is down ...")
        ids, el = create_users(s.target(token), args.backlog, args.load_conns, "push-")
        log(f"      made in {el:.1f} s ({args.backlog / el:.0f}/s)")
        s.stop()
        sink.start(port)
        noisy = busy_now(args)
        sink_cpu0 = proc_cpu(sink.pid)
        t_start = s.launch()
        perf = Perf(args.perf, "push", s.pid)
        final, waited = sink.wait_for({"/drain": len(ids)}, timeout=max(120.0, len(ids) / 100))
        perf.stop()
        # CPU over the server's whole life (its start-up is a few ms of it).
        srv_seconds = proc_cpu(s.pid)
        sink_seconds = proc_cpu(sink.pid) - sink_cpu0
        noisy = noisy or bool(run.busy())
    finally:
        s.stop()
        sink.stop()
    records = [r for r in sink.records() if r[1] == "/drain"]
    got = {r[2] for r in records}
    first, last = (records[0][0], records[-1][0]) if records else (0, 0)
    span = (last - first) / 1e9
    out = {"backlog": len(ids), "received": len(records), "distinct": len(got),
           "missing": len(set(ids) - got), "duplicates": len(records) - len(got),
           "first_to_last_s": span, "rate": (len(records) - 1) / span if span > 0 else 0,
           "start_to_last_s": (last - t_start) / 1e9 if records else 0,
           "start_to_first_s": (first - t_start) / 1e9 if records else 0,
           "srv_cpu_s": srv_seconds, "sink_cpu_s": sink_seconds, "busy": noisy}
    out["rate_from_start"] = len(records) / out["start_to_last_s"] if out["start_to_last_s"] else 0
    us = 1e6 / max(1, len(records))
    out["srv_cpu_us_per_set"] = srv_seconds * us
    out["sink_cpu_us_per_set"] = sink_seconds * us
    log(f"    drained {len(records)} SETs in {span:.2f} s = {out['rate']:.0f} SETs/s (first SET "
        f"{out['start_to_first_s'] * 1e3:.0f} ms after scimd started; {out['rate_from_start']:.0f}/s "
        f"from the start); CPU per SET: scimd {out['srv_cpu_us_per_set']:.0f} µs, sink "
        f"{out['sink_cpu_us_per_set']:.0f} µs"
        + (f"; {out['missing']} MISSING" if out["missing"] else "")
        + ("  (machine busy)" if noisy else ""))
    return out


# ---- 4. poll: maxEvents=1000 with acks -----------------------------------------------------


def part_poll(args, work: Path, base: Path, token: str) -> dict:
    data = work / "poll"
    shutil.copytree(base, data)
    s = EventScimd(args.binary, data, args.log_level, work / "poll.log",
                   [poll_receiver(POLL_RECEIVER)])
    poll_token = s.poll_token(POLL_RECEIVER)
    s.start(token)
    polls: list[tuple[float, int, int]] = []  # (seconds, SETs, response bytes)
    got: dict[str, str] = {}
    try:
        log(f"    {args.backlog} creates for the poll receiver ...")
        ids, el = create_users(s.target(token), args.backlog, args.load_conns, "poll-")
        log(f"      made in {el:.1f} s ({args.backlog / el:.0f}/s)")
        noisy = busy_now(args)
        run.settle(s.pid)
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        headers = {"Authorization": f"Bearer {poll_token}", "Content-Type": "application/json",
                   "Accept": "application/json"}
        ack: list[str] = []
        perf = Perf(args.perf, "poll", s.pid)
        cpu = CpuMeter(s.pid)
        client0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(10 * (args.backlog // args.max_events + 2)):  # bounded
            body = json.dumps({"ack": ack, "maxEvents": args.max_events,
                               "returnImmediately": True}).encode()
            p0 = time.perf_counter()
            conn.request("POST", f"/events/{POLL_RECEIVER}", body=body, headers=headers)
            r = conn.getresponse()
            payload = r.read()
            if r.status != 200:
                raise BenchError(f"poll answered {r.status}: {payload[:300]!r}")
            answer = json.loads(payload)
            sets = answer.get("sets") or {}
            polls.append((time.perf_counter() - p0, len(sets), len(payload)))
            got.update(sets)
            ack = list(sets)
            if not sets and not answer.get("moreAvailable"):
                break
        elapsed = time.perf_counter() - t0
        client_cpu = 100 * (time.process_time() - client0) / elapsed
        srv_cpu, _ = cpu.stop()
        perf.stop()
        conn.close()
        noisy = noisy or bool(run.busy())
    finally:
        s.stop()
    subjects = {payload_of(v)["sub_id"]["id"] for v in got.values()}
    lat = sorted(p[0] * 1e3 for p in polls if p[1])
    full = [p for p in polls if p[1] == args.max_events]
    out = {"backlog": len(ids), "received": len(got), "missing": len(set(ids) - subjects),
           "polls": len(polls), "seconds": elapsed, "rate": len(got) / elapsed if elapsed else 0,
           "poll_ms": summary(lat), "bytes_per_full_poll": statistics.mean(p[2] for p in full) if full else 0,
           "srv_cpu": srv_cpu, "client_cpu": client_cpu, "busy": noisy,
           "srv_cpu_us_per_set": srv_cpu / 100 * elapsed * 1e6 / max(1, len(got))}
    log(f"    {len(got)} SETs in {len(polls)} polls, {elapsed:.2f} s = {out['rate']:.0f} SETs/s; "
        f"a full poll p50 {out['poll_ms']['p50']:.0f} ms; scimd {srv_cpu:.0f}% of a core "
        f"({out['srv_cpu_us_per_set']:.0f} µs per SET), client {client_cpu:.0f}%"
        + (f"; {out['missing']} MISSING" if out["missing"] else "")
        + ("  (machine busy)" if noisy else ""))
    return out


# ---- the run -------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/bench --events", description="Benchmark scimd's change-event delivery "
        "(issue 15) on loopback, with the Rust sink examples/event_sink.",
        epilog="Example: scripts/bench --events --quick; scripts/bench --events --parts push,poll")
    p.add_argument("binary", type=Path, help="the scimd release binary")
    p.add_argument("--sink", type=Path, help="the event_sink binary (default: "
                   "target/release/examples/event_sink beside the scimd binary)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"which parts (default {','.join(PARTS)})")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 1,000 users, 2 rounds of 2 s, 3 s of paced load, backlogs of 2,000")
    p.add_argument("--users", type=int, help="users loaded before every part (default 10,000)")
    p.add_argument("--rounds", type=int, help="rounds of the 0,1,4 receivers cells (default 3)")
    p.add_argument("--receivers", default="0,1,4", help="receiver counts to alternate (default 0,1,4)")
    p.add_argument("--conns", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--duration", help="wrk duration per cell (default 5s)")
    p.add_argument("--rate", type=float, default=1000, help="paced creates per second (default 1000)")
    p.add_argument("--lag-seconds", type=float, help="seconds of paced load (default 10)")
    p.add_argument("--pacer-threads", type=int, default=64,
                   help="connections of the paced load (default 64: enough that a slow answer "
                        "does not hold back the requests due after it)")
    p.add_argument("--backlog", type=int, help="events in the push and poll backlogs (default 20,000)")
    p.add_argument("--max-events", type=int, default=1000, help="maxEvents per poll (default 1000)")
    p.add_argument("--sink-threads", type=int, default=1, help="the sink's worker threads (default 1)")
    p.add_argument("--load-conns", type=int, default=16, help="connections used to load (default 16)")
    p.add_argument("--log-level", default="warn", help="scimd's [log] level (default warn)")
    p.add_argument("--wait-quiet", type=float, default=300,
                   help="before each measurement, wait up to this many seconds while cargo or a "
                        "CI run is active (default 300; 0: do not wait, only mark it busy)")
    p.add_argument("--perf", type=Path, metavar="DIR",
                   help="record scimd with perf while the push and poll backlogs drain, into "
                        "DIR/push.perf.data and DIR/poll.perf.data (slows the drains: their "
                        "figures are then not the benchmark's)")
    p.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    p.add_argument("--json", type=Path, help="also write every result to this JSON file")
    a = p.parse_args(argv)
    if a.perf is not None:
        a.perf = a.perf.resolve()
    a.users = a.users if a.users is not None else (1000 if a.quick else 10_000)
    a.rounds = a.rounds or (2 if a.quick else 3)
    a.duration_s = run.parse_duration(a.duration or ("2s" if a.quick else "5s"))
    a.lag_seconds = a.lag_seconds or (3 if a.quick else 10)
    a.backlog = a.backlog or (2000 if a.quick else 20_000)
    a.parts_list = [x.strip() for x in a.parts.split(",") if x.strip()]
    a.receiver_counts = [int(x) for x in a.receivers.split(",") if x.strip()]
    for part in a.parts_list:
        if part not in PARTS:
            p.error(f"--parts: unknown part {part!r} (known: {', '.join(PARTS)})")
    if not 1 <= a.max_events <= 1000:
        p.error("--max-events must be 1 to 1000 (scimd refuses more)")
    a.binary = a.binary.resolve()
    a.sink = (a.sink or a.binary.parent / "examples" / "event_sink").resolve()
    return a


def main(argv: list[str]) -> int:
    args = parse_args(argv[1:])
    for exe, what in ((args.binary, "scimd"), (args.sink, "event_sink")):
        if not exe.exists():
            raise BenchError(f"{exe} not found ({what}: scripts/bench --events builds it)")
    if "throughput" in args.parts_list and shutil.which("wrk") is None:
        raise BenchError("wrk not found: install it (Debian: apt-get install wrk) or use scripts/bench")
    work = Path(tempfile.mkdtemp(prefix="scimd-bench-events-"))
    version = subprocess.run([str(args.binary), "--version"], capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(run.REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    report: dict = {"command": " ".join(["scripts/bench --events", *argv[1:]]),
                    "scimd": f"{version} (git {head})", "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    log(f"scimd event benchmark: {report['scimd']}; work dir {work}")
    results: dict = {}
    sink = Sink(args.sink, work / "sets.tsv", work / "sink.log", args.sink_threads)
    try:
        run.wait_quiet(args.wait_quiet)
        base = work / "base"
        s = EventScimd(args.binary, base, args.log_level, work / "base.log", [])
        token = s.create_token()
        s.start(token)
        log(f"  loading {args.users} users ...")
        if args.users:
            create_users(s.target(token), args.users, args.load_conns, "base-")
        s.stop()
        sink.start()
        if "throughput" in args.parts_list:
            log(f"  1. POST /Users, c={args.conns}, {args.duration_s:g} s cells, receivers "
                f"{args.receiver_counts} alternated, {args.rounds} rounds")
            results["throughput"] = part_throughput(args, work, base, token, sink)
        if "lag" in args.parts_list:
            log(f"  2. lag: {args.rate:g} creates/s for {args.lag_seconds:g} s, one push receiver")
            results["lag"] = part_lag(args, work, base, token, sink)
        sink.stop()
        if "push" in args.parts_list:
            log(f"  3. push: drain a backlog of {args.backlog} to one receiver")
            results["push"] = part_push(args, work, base, token, args.sink)
        if "poll" in args.parts_list:
            log(f"  4. poll: a backlog of {args.backlog}, maxEvents={args.max_events}, acked")
            results["poll"] = part_poll(args, work, base, token)
    finally:
        sink.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"  kept {work}")
    print_report(results)
    if args.json:
        report["results"] = results
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def print_report(results: dict) -> None:
    print()
    tp = results.get("throughput")
    if tp:
        print("POST /Users req/s per cell (receivers: req/s, share sent by the cell's end, rest in s):")
        for c in tp["cells"]:
            share = f"{100 * c['sent_by_end'] / c['created']:.0f}%" if c["receivers"] and c["created"] else "-"
            print(f"  round {c['round'] + 1}  {c['receivers']}: {c['rps']:8.0f}  p99 {c['p99_ms']:7.2f} ms"
                  f"  sent {share:>4}  rest {c['drain_after_s']:5.2f} s  srv {c['srv_cpu']:3.0f}%"
                  f" ({c['srv_cpu_us_per_create']:4.0f} µs/create)  wrk {c['gen_cpu']:3.0f}%  sink {c['sink_cpu']:3.0f}%"
                  f"  commits/create {c['commits'] / max(1, c['created']):.2f}" + ("  *busy" if c["busy"] else "")
                  + ("" if c["all_delivered"] else "  NOT ALL DELIVERED"))
        for key in sorted(k for k in tp if k.startswith("ratio_")):
            r = tp[key]
            per = ", ".join(f"{x:.2f}" for x in r["per_round"])
            mor = r["median_of_ratios"]
            print(f"  {key[6:]} receivers / none: per round {per}; median {mor:.2f}" if mor is not None
                  else f"  {key[6:]} receivers / none: n/a")
    lag = results.get("lag")
    if lag:
        la, ls = lag["lag_after_response_ms"], lag["lag_after_send_ms"]
        print(f"lag at {lag['achieved_rate']:.0f} creates/s ({lag['created']} creates): after the response "
              f"p50 {la['p50']:.1f} / p90 {la['p90']:.1f} / p99 {la['p99']:.1f} / max {la['max']:.1f} ms; "
              f"after the send p99 {ls['p99']:.1f} ms; not delivered {lag['missing']}; sends late "
              f"p99 {lag['pacer_late_ms']['p99']:.1f} ms"
              + ("  *busy" if lag["busy"] else ""))
    push = results.get("push")
    if push:
        print(f"push drain: {push['received']} SETs in {push['first_to_last_s']:.2f} s = {push['rate']:.0f} "
              f"SETs/s; missing {push['missing']}, duplicates {push['duplicates']}"
              + ("  *busy" if push["busy"] else ""))
    poll = results.get("poll")
    if poll:
        print(f"poll: {poll['received']} SETs in {poll['seconds']:.2f} s = {poll['rate']:.0f} SETs/s "
              f"({poll['polls']} polls); missing {poll['missing']}" + ("  *busy" if poll["busy"] else ""))
    print()
    print("issue 15's targets:")
    r4 = (tp or {}).get("ratio_4", {}).get("median_of_ratios")
    checks = {
        "throughput": (r4 >= 0.9 if r4 is not None else None,
                       f"{r4:.2f}" if r4 is not None else "-"),
        "lag": ((lag["lag_after_response_ms"]["p99"] <= 1000 and lag["missing"] == 0
                 and lag["achieved_rate"] >= 0.95 * lag["target_rate"]) if lag else None,
                f"p99 {lag['lag_after_response_ms']['p99']:.0f} ms at {lag['achieved_rate']:.0f}/s" if lag else "-"),
        "push": ((push["rate"] >= 3000 and push["missing"] == 0) if push else None,
                 f"{push['rate']:.0f} SETs/s" if push else "-"),
        "poll": ((poll["rate"] >= 20000 and poll["missing"] == 0) if poll else None,
                 f"{poll['rate']:.0f} SETs/s" if poll else "-"),
    }
    for part, (ok, got) in checks.items():
        print(f"  {verdict(ok):4}  {TARGETS[part]}: {got}")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BenchError as e:
        log(f"events.py: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
