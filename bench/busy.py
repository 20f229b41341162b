"""ganforge on a shared machine: the default run's training time alone and beside a competing job, with
ganforge's own choice of threads and wait policy (`ganforge train`, train.threads=0: cpu_share.py) against
OpenMP's defaults.

    python bench/busy.py [--steps 300] [--out runs/busy] [--competitor train|matmul]

Each row trains the default recipe for N steps in a fresh process and reads the training time from its
summary.json (start-up and pictures excluded): through `ganforge train` (which looks at the machine before
torch loads) or through the Python API (`ganforge.train`, which keeps torch's and OpenMP's defaults: every
core, threads that spin while they wait). "beside" rows first start the competitor, a second process that
keeps every core busy for the whole row: another `ganforge train` started on the idle machine (every core) or
a loop of fp32 matrix products, and stop it after. A fair share of a 2-core machine shared with one other job
is half of it, so beside / alone = 2.0 is fair and more is lost to the contention itself. Measure on an
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

ROWS = (  # name, competitor running, through the command line (else the Python API), environment, --set
    ("alone: ganforge train", False, True, {}, []),
    ("alone: Python API (OpenMP defaults)", False, False, {}, []),
    ("beside: Python API (OpenMP defaults)", True, False, {}, []),
    ("beside: Python API, OMP_NUM_THREADS=1", True, False, {"OMP_NUM_THREADS": "1"}, []),
    ("beside: ganforge train (auto)", True, True, {}, []),
    ("beside: ganforge train, every core (passive wait)", True, True, {}, [f"train.threads={os.cpu_count()}"]),
)
API = "import sys\nfrom ganforge.api import train\ntrain(None, steps=int(sys.argv[1]), out=sys.argv[2], quiet=True)\n"
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


def timed_run(steps: int, out: Path, cli: bool, env: dict[str, str], extra: list[str]) -> float:
    run = out / "run"
    shutil.rmtree(run, ignore_errors=True)
    command = ([sys.executable, "-m", "ganforge", "train", "--steps", str(steps), "--quiet", "--out", str(run),
                *[item for kv in extra for item in ("--set", kv)]] if cli else
               [sys.executable, "-c", API, str(steps), str(run)])
    subprocess.run(command, check=True, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    return json.loads((run / "summary.json").read_text())["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--steps", type=int, default=300, help="default-recipe steps per row (default 300)")
    parser.add_argument("--out", default="runs/busy", help="scratch folder (default runs/busy)")
    parser.add_argument("--competitor", default="train", choices=("train", "matmul"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import torch

    from ganforge import hardware

    print(f"busy-machine study on {hardware.cpu_name()} ({os.cpu_count()} logical CPUs, torch "
          f"{torch.__version__}): {args.steps} default steps per row, competitor: {args.competitor}")
    times = {}
    for name, busy, cli, env, extra in ROWS:
        other = competitor(args.competitor, out) if busy else None
        try:
            times[name] = timed_run(args.steps, out, cli, env, extra)
        finally:
            if other is not None:
                other.kill()
                other.wait()
        print(f"  {name}: {times[name]:.1f} s", flush=True)
    alone = times[ROWS[0][0]]
    print(f"\n| {args.steps} default steps | training time | vs alone |\n|---|---:|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.1f} s | {seconds / alone:.2f}x |")


if __name__ == "__main__":
    main()
