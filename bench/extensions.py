#!/usr/bin/env python3
"""Custom attributes benchmark (issue 16; bench/README.md "Custom attributes").

Two scimd servers (release binary, plain HTTP on loopback) load the same users, Entra-shaped:
one with no extension declared, one with an extension of 5 attributes (a `uniqueness =
"server"` badge number, a string, an integer, a boolean, a dateTime) that every user carries.
Then:

1. data file bytes per user, for each, after a stop and `scimd compact` (a file that grew
   under load holds free pages; compacted, it holds the rows, their indexes and the outbox);
2. on the server with the extension: `userName eq` and `<badge> eq` filters (each a user that
   exists), wrk at c=16, cells alternated userName, badge, userName, badge, ... so the ratio
   is taken in one run.

    python3 bench/extensions.py target/release/scimd [--users 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the shared harness: Scimd, Client, run_wrk)

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
BADGE = f"{ACME}:badgeNumber"

EXTENSION = f"""
[[schemas.extensions]]
id = "{ACME}"
name = "Acme user"

[[schemas.extensions.attributes]]
name = "badgeNumber"
uniqueness = "server"

[[schemas.extensions.attributes]]
name = "costCode"

[[schemas.extensions.attributes]]
name = "floor"
type = "integer"

[[schemas.extensions.attributes]]
name = "contractor"
type = "boolean"

[[schemas.extensions.attributes]]
name = "startDate"
type = "dateTime"
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def body(i: int, custom: bool) -> dict:
    user = run.user_body(i)
    if custom:
        user["schemas"] = list(user.get("schemas", [])) + [ACME]
        user[ACME] = {"badgeNumber": f"B-{i:07d}", "costCode": f"CC-{i % 977}",
                      "floor": i % 40, "contractor": i % 7 == 0,
                      "startDate": f"20{10 + i % 16:02d}-0{1 + i % 9}-1{i % 10}T09:00:00Z"}
    return user


def load(target: run.Target, users: int, custom: bool, conns: int) -> list[tuple[str, int]]:
    """Creates `users` users over `conns` connections; returns (id, i) of each."""
    def worker(k: int) -> list[tuple[str, int]]:
        c = run.Client(target)
        out = []
        for i in range(k, users, conns):
            status, payload, _ = c.request("POST", "/Users", body(i, custom))
            if status != 201:
                raise run.BenchError(f"create {i}: {status} {payload[:300]!r}")
            out.append((run.resource_id(payload) or "", i))
        c.close()
        return out

    with cf.ThreadPoolExecutor(conns) as pool:
        return [x for part in pool.map(worker, range(conns)) for x in part]


def server(binary: Path, work: Path, name: str, extra: str) -> tuple[run.Scimd, str]:
    s = run.Scimd(binary, work / name, False, "warn", work / f"{name}.log")
    token = s.create_token()
    original = s.write_config

    def write_config() -> None:
        original()
        s.config.write_text(s.config.read_text() + extra)

    s.write_config = write_config  # type: ignore[method-assign]
    s.start(token)
    return s, token


def compacted_size(binary: Path, s: run.Scimd) -> int:
    """The data file's size after `scimd compact` (the server is stopped)."""
    out = run.subprocess.run([str(binary), "--config", str(s.config), "compact"],
                             capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise run.BenchError(f"scimd compact failed: {out.stderr.strip()}")
    return s.data_file().stat().st_size


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("binary", type=Path)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per filter cell")
    p.add_argument("--conns", type=int, default=16)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="scimd-bench-ext-"))
    results = {}
    for name, custom in [("plain", False), ("custom", True)]:
        s, token = server(args.binary, work, name, EXTENSION if custom else "")
        t0 = time.perf_counter()
        created = load(s.target(token), args.users, custom, args.conns)
        took = time.perf_counter() - t0
        log(f"  {name}: {args.users} users loaded in {took:.1f} s ({args.users / took:.0f}/s)")
        results[name] = {"server": s, "token": token, "created": created}
        if not custom:
            s.stop()
            results[name]["bytes"] = compacted_size(args.binary, s)
    custom = results["custom"]
    s, token = custom["server"], custom["token"]
    target = s.target(token)
    names = work / "names.tsv"
    badges = work / "badges.tsv"
    with names.open("w") as fn, badges.open("w") as fb:
        for rid, i in custom["created"][: 100_000]:
            fn.write(f"{rid}\t{run.user_name(i)}\n")
            fb.write(f"{rid}\tB-{i:07d}\n")
    rps = {"userName": [], "badge": []}
    p99 = {"userName": [], "badge": []}
    for rnd in range(args.rounds):
        for label, mode, datafile, extra in [("userName", "filter", names, "-"),
                                             ("badge", "filter_attr", badges, BADGE)]:
            r = run.run_wrk(target, mode, args.conns, args.duration,
                            {"users": datafile, "outside": datafile}, extra)
            bad = {k: v for k, v in r["counts"].items() if k != 200}
            if bad:
                raise run.BenchError(f"{label} filter answered {bad}")
            rps[label].append(r["rps"])
            p99[label].append(r["p99"] / 1e3)
            log(f"  round {rnd + 1} {label:8}: {r['rps']:7.0f} req/s  p99 {r['p99'] / 1e3:5.2f} ms")
    s.stop()
    custom["bytes"] = compacted_size(args.binary, s)
    n = args.users
    plain_b, custom_b = results["plain"]["bytes"] / n, custom["bytes"] / n
    ratios = [b / u for u, b in zip(rps["userName"], rps["badge"])]
    print(f"\ncustom attributes, {n} users (bench/extensions.py):")
    print(f"  data file per user: {plain_b:.0f} B without the extension, {custom_b:.0f} B with "
          f"5 custom attributes (+{custom_b - plain_b:.0f} B)")
    print(f"  userName eq: {statistics.median(rps['userName']):.0f} req/s (p99 "
          f"{statistics.median(p99['userName']):.2f} ms); {BADGE} eq: "
          f"{statistics.median(rps['badge']):.0f} req/s (p99 {statistics.median(p99['badge']):.2f} ms)")
    print(f"  custom / userName per round: {', '.join(f'{x:.2f}' for x in ratios)}; median "
          f"{statistics.median(ratios):.2f} (goal: within 10%, >= 0.90)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
