"""fp32 against bf16 autocast: the default recipe trained to the same steps in each precision, and the fp32
run-to-run spread (two seeds) to judge the difference by.

    python bench/precision.py [--out runs/precision] [--steps 12000] [--n 10000] [--extractor inception]
                              [--set KEY=VALUE ...]

Rows: fp32 seeds 0-2, bf16 seeds 0-1 (`ganforge train --set train.precision=P --set train.seed=S`).
Each run is kept under --out in a folder named by the row and by what differs from the defaults (steps, --set:
bench/runkeys.py), so a finished run is scored and never trained again, and a run stopped part-way resumes.
Scores come from `ganforge eval RUN --metrics fid --n N --extractor E`, read back from the run's eval.json
when an evaluation of the same checkpoint step, count and extractor is there. The Inception's FID of 10k
samples costs about half an hour on 2 CPU cores per run; --n 2000 --extractor classifier screens in a minute.
The wall time is the run's own (summary.json): measure it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from runkeys import finished, keyed, non_default, preset_steps, run_key

from ganforge import hardware
from ganforge.config import load_config
from ganforge.evaluating import evaluate_run
from ganforge.training.loop import train

ROWS = (("fp32-seed0", "fp32", 0), ("fp32-seed1", "fp32", 1), ("bf16-seed0", "bf16", 0),
        ("bf16-seed1", "bf16", 1), ("fp32-seed2", "fp32", 2))


def trained(out: Path, name: str, precision: str, seed: int, steps: int | None, overrides: list[str]) -> Path:
    target = steps or preset_steps(None, overrides)
    run = out / keyed(name, run_key({"steps": non_default(steps, preset_steps(None, overrides))}, overrides))
    if not finished(run, target):
        cfg = load_config(None, [*overrides, f"train.precision={precision}", f"train.seed={seed}",
                                 f"train.steps={target}"])
        train(cfg, run, resume=(run / "config.yaml").is_file())
        if not finished(run, target):  # stopped part-way (Ctrl-C): the next call resumes it
            raise SystemExit(f"{run} stopped before step {target:,}; run again to resume it")
    return run


def scored(run: Path, n: int, extractor: str, inception: str | None) -> tuple[str, float]:
    """(the value's name, the value) of FID (or the classifier's FD) of n samples of the run's last step."""
    summary = json.loads((run / "summary.json").read_text())
    eval_file = run / "eval.json"
    if eval_file.is_file():
        for entry in json.loads(eval_file.read_text()).get("evaluations", []):
            p = entry["protocol"]
            name = "fid" if extractor == "inception" else "fd_classifier"
            if (p.get("checkpoint_step") == summary["steps"] and p.get("n_fake") == n
                    and str(p.get("extractor", "")).startswith(extractor) and name in entry["values"]):
                return name, entry["values"][name]
    result = evaluate_run(run, ("fid",), n, "test", extractor, inception)
    name = next(k for k in result["values"] if k in ("fid", "fd_classifier"))
    return name, result["values"][name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--out", default="runs/precision", help="where the runs are kept (default runs/precision)")
    parser.add_argument("--steps", type=int, help="training steps (default: the default recipe's)")
    parser.add_argument("--n", type=int, default=10_000, help="samples scored (default 10000)")
    parser.add_argument("--extractor", default="inception", choices=("inception", "classifier"))
    parser.add_argument("--inception", help="the FID Inception file (default: where `ganforge eval` looks)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    args = parser.parse_args()
    import torch

    machine = hardware.describe(torch.device("cpu"))
    print(f"precision study on {machine['device']} (bf16 units: {machine['bf16_units']}, {machine['threads']} "
          f"threads), torch {torch.__version__}")
    rows = []
    for name, precision, seed in ROWS:
        run = trained(Path(args.out), name, precision, seed, args.steps, args.set)
        summary = json.loads((run / "summary.json").read_text())
        metric, value = scored(run, args.n, args.extractor, args.inception)
        rows.append((name, precision, seed, summary, metric, value))
    print(f"| run | precision | seed | steps | training time | images/s | {rows[0][4]} ({args.n:,} samples) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, precision, seed, s, _, value in rows:
        print(f"| {name} | {precision} | {seed} | {s['steps']:,} | {s['seconds'] / 60:.1f} min | "
              f"{s['images_per_s']:,.0f} | {value:.2f} |")
    for precision in ("fp32", "bf16"):
        values = [r[5] for r in rows if r[1] == precision]
        minutes = [r[3]["seconds"] / 60 for r in rows if r[1] == precision]
        print(f"{precision}: {len(values)} seeds, {rows[0][4]} {min(values):.2f}-{max(values):.2f} (mean "
              f"{sum(values) / len(values):.2f}), training {min(minutes):.1f}-{max(minutes):.1f} min")


if __name__ == "__main__":
    main()
