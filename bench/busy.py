"""ganforge on a shared machine: the default run's training time alone and beside a competing job, under each
OpenMP thread count and wait policy.

    python bench/busy.py [--steps 300] [--out runs/busy] [--competitor train|matmul]

Each row trains `ganforge train --steps N` (the default recipe) in a fresh process and reads the training time
from its summary.json (start-up and pictures excluded). "beside" rows first start the competitor, a second
process that keeps every core busy for the whole row: another `ganforge train` (default) or a loop of fp32
matrix products, both with torch's default threads, and stop it after. A fair share of a 2-core machine shared
with one other job is half of it, so beside / alone = 2.0 is fair and more is lost to the contention itself
(OpenMP threads that spin while they wait take the cores the other job's threads need). Measure on an
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROWS = (  # name, competitor running, environment
    ("alone", False, {}),
    ("alone, OMP_WAIT_POLICY=PASSIVE", False, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("alone, 1 thread", False, {"OMP_NUM_THREADS": "1"}),
    ("beside", True, {}),
    ("beside, OMP_WAIT_POLICY=PASSIVE", True, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("beside, 1 thread", True, {"OMP_NUM_THREADS": "1"}),
    ("beside, 1 thread, PASSIVE", True, {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}),
)
MATMUL = "import torch\na = torch.randn(1024, 1024)\nwhile True:\n    a = (a @ a).tanh_()\n"


def competitor(kind: str, out: Path) -> subprocess.Popen:
    if kind == "matmul":
        command = [sys.executable, "-c", MATMUL]
    else:
        shutil.rmtree(out / "competitor", ignore_errors=True)
        command = [sys.executable, "-m", "ganforge", "train", "--steps", "1000000", "--quiet", "--out",
                   str(out / "competitor")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(8)  # past its start-up: the row is timed against a running job
    return process


def timed_run(steps: int, out: Path, env: dict[str, str], extra: list[str]) -> float:
    run = out / "run"
    shutil.rmtree(run, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "ganforge", "train", "--steps", str(steps), "--quiet", "--out", str(run),
                    *extra], check=True, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    return json.loads((run / "summary.json").read_text())["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--steps", type=int, default=300, help="default-recipe steps per row (default 300)")
    parser.add_argument("--out", default="runs/busy", help="scratch folder (default runs/busy)")
    parser.add_argument("--competitor", default="train", choices=("train", "matmul"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config key for the measured runs, e.g. train.threads=auto")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = [item for kv in args.set for item in ("--set", kv)]
    import torch

    from ganforge import hardware

    print(f"busy-machine study on {hardware.cpu_name()} ({os.cpu_count()} logical CPUs, torch "
          f"{torch.__version__}): {args.steps} default steps per row, competitor: {args.competitor}")
    times = {}
    for name, busy, env in ROWS:
        other = competitor(args.competitor, out) if busy else None
        try:
            times[name] = timed_run(args.steps, out, env, extra)
        finally:
            if other is not None:
                other.kill()
                other.wait()
        print(f"  {name}: {times[name]:.1f} s", flush=True)
    alone = times["alone"]
    print(f"\n| {args.steps} default steps | training time | vs alone |\n|---|---:|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.1f} s | {seconds / alone:.2f}x |")


if __name__ == "__main__":
    main()
