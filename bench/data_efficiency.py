"""Data efficiency: the same recipe on 1,000 Fashion-MNIST images, without augmentation, with DiffAugment,
with ADA, at an equal number of steps.

The 1,000 images are a seeded, class-balanced subset of the 60k train split (data.subset, read from
data.root or $GANFORGE_DATA); each run is scored with fd_classifier of --n samples against the first --n
test images, and with the nearest-neighbour copy rate against its 1,000 training images (a model of 1,000
images can memorise them). Runs are kept under --out, so a finished one is scored, not trained again; runs
made with other --steps, --subset or --set than the defaults are named by them (runkeys), and so is the
table, by those and by --n (the same runs scored on other samples): table.json holds the defaults only, and
each entry records its steps, subset and n.

    python bench/data_efficiency.py [--steps 3000] [--subset 1000] [--n 2000] [--out runs/data-efficiency]
                                    [--variants none,diffaugment,ada] [--set KEY=VALUE ...] [--plot PNG]

With --set eval.every=N each run tracks its FD along training: the curves are printed beside D's output on real
images (D memorising them drives it towards 1), and drawn with --plot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import runkeys

import ganforge
from ganforge import runs as runs_module
from ganforge.files import write_text_atomic

STEPS, SUBSET, N = 3000, 1000, 2000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--subset", type=int, default=SUBSET)
    p.add_argument("--n", type=int, default=N)
    p.add_argument("--out", default="runs/data-efficiency")
    p.add_argument("--variants", default="none,diffaugment,ada")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="for every variant")
    p.add_argument("--plot", metavar="PNG", help="where the runs tracked their FD (--set eval.every=N): the curves")
    return p


def curves(runs: dict[str, Path]) -> dict[str, list[tuple[int, float, float]]]:
    """Per variant, (step, fd_classifier, D's mean output on its real batches, augmented where the variant
    augments, over the log records since the last evaluation) at each evaluation the run made along training;
    empty for a run made with eval.every=0."""
    result = {}
    for variant, run in runs.items():
        points, d_real = [], []
        for record in runs_module.read_metrics(run):
            if "d_real" in record:
                d_real.append(record["d_real"])
            if "eval_fd_classifier" in record:
                points.append((record["step"], record["eval_fd_classifier"], sum(d_real) / max(len(d_real), 1)))
                d_real = []
        result[variant] = points
    return result


def print_and_plot_curves(found: dict[str, list[tuple[int, float, float]]], plot: str | None, subset: int) -> None:
    steps = sorted({step for points in found.values() for step, _, _ in points})
    if not steps:
        return
    at = {variant: {step: (fd, d) for step, fd, d in points} for variant, points in found.items()}
    print("\nfd_classifier as each run evaluated it along training (eval.n samples vs test; D(x): D's mean output "
          "on real images since the last evaluation)")
    print(f"{'step':>7s} " + " ".join(f"{v + ' FD':>14s} {v + ' D(x)':>14s}" for v in found))
    for step in steps:
        print(f"{step:7d} " + " ".join(f"{at[v][step][0]:14.2f} {at[v][step][1]:14.3f}" if step in at[v]
                                        else f"{'-':>14s} {'-':>14s}" for v in found))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for variant, points in found.items():
            ax.plot([s for s, _, _ in points], [fd for _, fd, _ in points], marker="o", label=variant)
        ax.set(xlabel="training step", ylabel="fd_classifier (the run's own evaluations)",
               title=f"{subset:,} Fashion-MNIST images: augmentation against none")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        Path(plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=100, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {plot}")


def keys(steps: int, subset: int, n: int, sets: list[str]) -> tuple[str, str]:
    """The runs' key, and the table's: the runs do not depend on --n, the scores in the table do."""
    changed = {"steps": runkeys.non_default(steps, STEPS), "subset": runkeys.non_default(subset, SUBSET)}
    return runkeys.run_key(changed, sets), runkeys.run_key(changed | {"n": runkeys.non_default(n, N)}, sets)


def table_name(steps: int, subset: int, n: int, sets: list[str]) -> str:
    return f"{runkeys.keyed('table', keys(steps, subset, n, sets)[1])}.json"


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if any(item.split("=", 1)[0] == "train.augment" for item in args.set):
        raise SystemExit("--set train.augment: the variants set it; give --variants instead")
    key = keys(args.steps, args.subset, args.n, args.set)[0]
    rows, runs = {}, {}
    given = {item.split("=", 1)[0] for item in args.set}
    for variant in args.variants.split(","):
        run = runs[variant] = Path(args.out) / runkeys.keyed(variant, key)
        if not runkeys.finished(run, args.steps):
            # the bench's defaults give way to --set (eval.every=N tracks the FD along the run); the variant does not
            settings = {k: v for k, v in {"data.name": "fashion-mnist", "data.subset": args.subset, "eval.every": 0,
                                          "log.tensorboard": False}.items() if k not in given}
            settings["train.augment"] = variant
            runkeys.train_or_continue(None, run, steps=args.steps, settings=settings, overrides=args.set, quiet=False)
        result = ganforge.evaluate(run, metrics="fd,nn", n=args.n)
        rows[variant] = {k: result["values"][k] for k in ("fd_classifier", "nn_pixel_nn_ratio", "nn_pixel_copy_rate")}
        rows[variant] |= {"seconds": json.loads((run / "summary.json").read_text())["seconds"],
                          "steps": args.steps, "subset": args.subset, "n": args.n}
    write_text_atomic(Path(args.out) / table_name(args.steps, args.subset, args.n, args.set),
                      json.dumps(rows, indent=1))
    base = rows.get("none", {}).get("fd_classifier")
    print(f"\n{args.subset:,} Fashion-MNIST train images (seeded, class-balanced), {args.steps:,} steps each; "
          f"fd_classifier of {args.n:,} samples vs {args.n:,} test images")
    print(f"{'augment':12s} {'fd_classifier':>14s} {'vs none':>8s} {'nn_ratio':>9s} {'copy_rate':>10s} {'seconds':>8s}")
    for variant, r in rows.items():
        ratio = f"{r['fd_classifier'] / base:.2f}x" if base else "-"
        print(f"{variant:12s} {r['fd_classifier']:14.2f} {ratio:>8s} {r['nn_pixel_nn_ratio']:9.3f} "
              f"{r['nn_pixel_copy_rate']:10.4f} {r['seconds']:8.0f}")
    print_and_plot_curves(curves(runs), args.plot, args.subset)


if __name__ == "__main__":
    main()
