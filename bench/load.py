"""Load test of a served instance: throughput and p50/p95/p99 latency at 1, 8 and 32 concurrent clients.

    .venv/bin/python -m bench.load --data-dir DIR [--workers N]   # starts `discovery serve` on a free loopback port
    .venv/bin/python -m bench.load --url http://127.0.0.1:8000    # an instance that is already running

Bounded: each concurrency level sends at most --requests requests (default 200) and stops starting
new ones after --seconds (default 60); only loopback addresses are accepted, so it cannot be pointed
at someone else's server. Each client thread sends a fixed mix, every query distinct (so the query
cache does not flatter semantic search): hybrid, keyword and semantic work searches through the API,
the HTML search page, people search, and an unknown route (a 404 that does no search at all, which
shows how long a request waits for the server rather than for the engine). Queries are made from
words of titles the instance itself serves. The machine's load average is printed before and after
each level: on a shared machine it is part of the result.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import httpx

from bench.machine import describe
from evaluation.metrics import percentile

LEVELS = (1, 8, 32)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MIX = (  # (name, method building the request from a distinct query)
    ("hybrid", lambda q: ("/api/search", {"q": q, "mode": "hybrid"})),
    ("keyword", lambda q: ("/api/search", {"q": q, "mode": "keyword"})),
    ("semantic", lambda q: ("/api/search", {"q": q, "mode": "semantic"})),
    ("page", lambda q: ("/search", {"q": q})),
    ("people", lambda q: ("/api/search", {"q": q, "kind": "people"})),
    ("not-found", lambda q: (f"/no-such-page/{abs(hash(q))}", {})),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(data_dir: Path, workers: int) -> Iterator[str]:
    """`discovery serve` over `data_dir` on a free loopback port, stopped on exit."""
    port = free_port()
    env = {**os.environ, "DISCOVERY_DATA_DIR": str(data_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(1200):  # the model loads at start-up: up to ~10 minutes on a busy machine
                if server.poll() is not None:
                    raise SystemExit(f"discovery serve exited with {server.returncode}")
                try:
                    if client.get("/api/status").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            else:
                raise SystemExit("discovery serve did not answer")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def query_words(client: httpx.Client) -> list[str]:
    """Words of titles the instance serves (a browse of its works), so queries match something."""
    words: set[str] = set()
    for page in (1, 2, 3):
        answer = client.get("/api/search", params={"q": "", "per_page": 100, "page": page})
        answer.raise_for_status()
        for hit in answer.json()["hits"]:
            title = hit.get("title") or ""
            words.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", title))
    if len(words) < 10:
        raise SystemExit("the instance serves too few works to build queries from; index a corpus first")
    return sorted(words)


def level(client: httpx.Client, clients: int, queries: Iterator[str], requests: int, seconds: float) -> dict:
    """`clients` threads sending the mix until `requests` were sent or `seconds` passed."""
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    sent = itertools.count()
    latencies: dict[str, list[float]] = {name: [] for name, _ in MIX}
    statuses: Counter = Counter()

    def client_loop(_: int) -> None:
        while True:
            step = next(sent)  # one shared count picks the kind, so every kind is sent whatever the timing
            if time.monotonic() > deadline or step >= requests:
                return
            name, build = MIX[step % len(MIX)]
            with lock:
                query = next(queries)
            path, params = build(query)
            start = time.perf_counter()
            try:
                status = client.get(path, params=params).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies[name].append(elapsed)
                statuses[str(status)] += 1

    load_before = os.getloadavg()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_loop, range(clients)))
    wall = time.perf_counter() - started
    every = [v for values in latencies.values() for v in values]

    def summary(values: list[float]) -> dict:
        return {"n": len(values), **{f"p{q}": round(percentile(values, q), 1) for q in (50, 95, 99)}}

    return {
        "clients": clients,
        "requests": len(every),
        "seconds": round(wall, 2),
        "throughput": round(len(every) / wall, 2) if wall else 0.0,
        "all": summary(every),
        "by_kind": {name: summary(values) for name, values in latencies.items() if values},
        "statuses": dict(statuses),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def run(url: str, requests: int, seconds: float, levels: tuple[int, ...], seed: int = 7) -> dict:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"{url}: only loopback addresses are load-tested ({', '.join(sorted(LOOPBACK))})")
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    with httpx.Client(base_url=url, timeout=120, limits=limits) as client:
        words = query_words(client)
        rng = random.Random(seed)

        def distinct() -> Iterator[str]:
            for n in itertools.count():
                yield f"{' '.join(rng.sample(words, 2))} {words[n % len(words)]}"

        queries = distinct()
        return {"url": url, "machine": describe(), "levels": [level(client, c, queries, requests, seconds) for c in levels]}


def text(result: dict) -> str:
    lines = [f"load test of {result['url']} on {result['machine']}",
             f"{'clients':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  load 1-min before/after  statuses"]
    for row in result["levels"]:
        a = row["all"]
        lines.append(f"{row['clients']:>7} {row['requests']:>8} {row['throughput']:>7} {a['p50']:>8} {a['p95']:>8} "
                     f"{a['p99']:>8}  {row['load_before'][0]:>6} / {row['load_after'][0]:<6}  {row['statuses']}")
        for name, s in row["by_kind"].items():
            lines.append(f"{'':>7} {name:>10}: n {s['n']}, p50 {s['p50']}, p95 {s['p95']}, p99 {s['p99']} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running instance on loopback")
    where.add_argument("--data-dir", type=Path, help="serve this data directory for the test")
    parser.add_argument("--workers", type=int, default=1, help="with --data-dir: serve processes")
    parser.add_argument("--requests", type=int, default=200, help="at most this many requests per level")
    parser.add_argument("--seconds", type=float, default=60.0, help="no new requests after this long per level")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent clients per level")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    levels = tuple(int(x) for x in args.levels.split(","))
    if args.data_dir:
        with served(args.data_dir, args.workers) as url:
            result = run(url, args.requests, args.seconds, levels)
        result["workers"] = args.workers
    else:
        result = run(args.url, args.requests, args.seconds, levels)
    print(text(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
