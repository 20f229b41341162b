"""How fast and how sound `ganforge studio` is: a 64-sample grid drawn through the view function and through the
live server's HTTP endpoint (median of repeats; the target is under 100 ms on 2 CPU cores), then a load test:
several clients at once for a while against localhost, every picture checked against the generator's own.

    OMP_NUM_THREADS=2 python bench/studio.py [RUN] [--repeats 30] [--clients 8] [--seconds 60]

RUN defaults to pretrained:fashion, the generator shipped with ganforge. In the load test each client asks, in a
loop, for a sample of one of its own 8 seeds (with and without truncation at 0.7), and every fourth request a
64-sample grid of its first seed; each answer's pixels are compared with g.sample for that seed and psi (a
grid's with `ganforge sample`'s). Prints one table; the CPU, torch's threads and the cores other work kept busy
are named above it, since a shared machine's numbers depend on them.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import numpy as np
import torch
from PIL import Image

import ganforge
from ganforge import cpu_share, viz
from ganforge.hardware import cpu_name
from ganforge.studio_app import DEFAULT_RUN, running, views

PSIS = (None, 0.7)


def pixels(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def get(url: str, path: str) -> tuple[int, dict]:
    u = urlsplit(url)
    connection = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def median_ms(fn, repeats: int) -> tuple[float, float]:
    """(median, 95th percentile) of fn's wall time in ms, after a second of warm-up calls (the first calls of a
    process run several times slower: allocations, kernels chosen)."""
    warm = time.monotonic() + 1
    while time.monotonic() < warm:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times), percentile(times, 95)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def load_test(url: str, g, clients: int, seconds: float) -> dict:
    """`clients` threads for `seconds`, each checking every picture it gets."""
    seeds = {c: [1000 * c + k for k in range(8)] for c in range(clients)}
    singles = {(s, psi): viz.to_uint8(g.sample(1, s, truncation=psi))[0, 0].numpy()
               for c in seeds for s in seeds[c] for psi in PSIS}
    grids = {seeds[c][0]: viz.make_grid(g.sample(64, seeds[c][0])) for c in seeds}
    latencies, errors, checked = [], [], [0]
    lock = threading.Lock()

    def client(c: int) -> None:
        rng, k = random.Random(c), 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            k += 1
            grid = k % 4 == 0
            seed, psi = (seeds[c][0], None) if grid else (rng.choice(seeds[c]), rng.choice(PSIS))
            query = f"seed={seed}" + (f"&psi={psi}" if psi is not None else "")
            start = time.perf_counter()
            try:
                status, answer = get(url, f"/api/run/0/view/{'grid' if grid else 'sample'}?{query}")
            except OSError as e:
                status, answer = None, {"error": str(e)}
            ms = 1000 * (time.perf_counter() - start)
            if status == 200:
                shown = pixels(answer["image"])
                good = np.array_equal(shown[::2, ::2], grids[seed]) if grid else np.array_equal(shown,
                                                                                               singles[seed, psi])
            else:
                good = False
            with lock:
                latencies.append(ms)
                checked[0] += status == 200
                if not good:
                    errors.append(f"client {c}, seed {seed}, psi {psi}: {status} {answer.get('error', 'wrong pixels')}")

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return {"served": len(latencies), "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "errors": errors, "checked": checked[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", default=DEFAULT_RUN)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    busy = cpu_share.other_busy_cores()
    g = ganforge.load(args.run, device="cpu")
    print(f"ganforge studio bench: {args.run} ({g.name}, step {g.step:,}) on {cpu_name()}, torch on "
          f"{torch.get_num_threads()} thread(s); other work kept {busy if busy is not None else '?':.2g} "
          f"core(s) busy when it started")
    with running([args.run], device="cpu") as url:
        # the server first: a process's first seconds of torch calls run several times slower, whichever thread
        rows = [("64-sample grid, HTTP GET /api/run/0/view/grid",
                 *median_ms(lambda: get(url, "/api/run/0/view/grid?seed=0"), args.repeats)),
                ("64-sample grid, view function (views.grid)",
                 *median_ms(lambda: views.grid(g, args.run, 0), args.repeats)),
                ("one sample, HTTP GET /api/run/0/view/sample",
                 *median_ms(lambda: get(url, "/api/run/0/view/sample?seed=0"), args.repeats))]
        load = load_test(url, g, args.clients, args.seconds)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what':{width}s}  {'median ms':>9s}  {'p95 ms':>7s}   (target: grid under 100 ms on 2 cores)")
    for name, median, p95 in rows:
        print(f"{name:{width}s}  {median:9.1f}  {p95:7.1f}")
    print(f"\nload test: {args.clients} clients x {args.seconds:g} s against localhost (samples of their own seeds, "
          "every 4th request a 64-sample grid)")
    print(f"  requests served {load['served']:,} ({load['served'] / args.seconds:.1f}/s), latency p50 "
          f"{load['p50']:.1f} ms, p95 {load['p95']:.1f} ms, errors: {len(load['errors'])}, images checked against "
          f"g.sample: {load['checked']:,} ({'all equal' if not load['errors'] else 'NOT all equal'})")
    for line in load["errors"][:5]:
        print(f"  {line}")
    return 1 if load["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
