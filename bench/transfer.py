"""Fine-tuning with little data: from the default Fashion-MNIST run to 100 and 1,000 MNIST digits and to 100
images of one Fashion-MNIST class, against training from scratch, with and without DiffAugment, and
fine-tuning with FreezeD (Mo et al. 2020), after 250, 500, 1,000 and 2,000 steps.

    GANFORGE_DATA=/path/to/data python bench/transfer.py [--source RUN | --source-steps 12000]
        [--steps 250,500,1000,2000] [--n 2000] [--targets mnist-100,mnist-1000,fashion-class-100]
        [--methods scratch,scratch+diffaugment,finetune,finetune+freezed] [--fashion-class 7] [--freeze-d 1]
        [--ref test] [--out runs/transfer] [--set KEY=VALUE ...]

The source is --source, or the default recipe (`ganforge train`) trained under <out>/source to --source-steps.
The targets read MNIST and Fashion-MNIST from data.root or $GANFORGE_DATA: a seeded, class-balanced
data.subset of the train split (data.classes for the one class). Every row is the default recipe with the
target's data; fine-tuned rows start every network from the source (train.init, optimisers fresh), FreezeD
rows also freeze D's first --freeze-d blocks. A row is one run trained to each --steps in turn (resumed from
the last: the same weights as a run of that length, the learning rate being constant) and scored at each by
`ganforge eval --metrics fd,nn --extractor classifier --n N`: fd_classifier of N samples against the target's
--ref images (the test split, data.classes kept), and the memorisation score against the run's own training
images (nn_ratio about 1 for samples as novel as new data, below 1 and copy_rate above 0.05: copies).
Scores are kept in each row's run folder (scores.json), so a row's step is never trained or scored twice;
runs made with --set or another source are named by them (bench/runkeys.py). The default source trains on
the Fashion-MNIST test split (fashion-mnist-10k), so for the one-class target the test images were seen by
the source: --ref train scores against the class's train-split images instead (the 100 trained on among
them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import runkeys

import ganforge
from ganforge import checkpoint as ckpt
from ganforge.files import write_text_atomic

STEPS, SOURCE_STEPS, N = "250,500,1000,2000", 12_000, 2000
TARGETS = {  # name -> settings (the class of a one-class target is --fashion-class)
    "mnist-100": {"data.name": "mnist", "data.subset": 100},
    "mnist-1000": {"data.name": "mnist", "data.subset": 1000},
    "fashion-class-100": {"data.name": "fashion-mnist", "data.subset": 100, "data.classes": None},
}
METHODS = ("scratch", "scratch+diffaugment", "finetune", "finetune+freezed")
ROW = {"eval.every": 0, "log.tensorboard": False}  # scored after training; no TensorBoard files per row
SHOWN = ("fd_classifier", "nn_pixel_nn_ratio", "nn_pixel_copy_rate")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    p.add_argument("--source", help="the trained run to fine-tune from (default: <out>/source, trained here)")
    p.add_argument("--source-steps", type=int, default=SOURCE_STEPS, help="steps of the source trained here")
    p.add_argument("--steps", default=STEPS, help=f"comma-separated steps to score each row at (default {STEPS})")
    p.add_argument("--n", type=int, default=N, help=f"samples scored, and real images (default {N})")
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--fashion-class", type=int, default=7, help="the one-class target's class (default 7: Sneaker)")
    p.add_argument("--freeze-d", type=int, default=1, help="FreezeD rows: D blocks frozen (default 1)")
    p.add_argument("--ref", default="test", choices=("test", "train"), help="the real images FD compares with")
    p.add_argument("--out", default="runs/transfer")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="for every run, the source too")
    return p


def step_list(text: str) -> list[int]:
    steps = sorted({int(s) for s in text.split(",") if s.strip()})
    if not steps or steps[0] < 1:
        raise SystemExit(f"--steps: give positive step counts, e.g. {STEPS}")
    return steps


def source_key(source: str | None, source_steps: int) -> str:
    """What names the source a fine-tuned row starts from, beyond the --set list the row shares with it: a
    given run by its path, one trained here by its steps (when not the default's)."""
    if source:
        return "src" + hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:8]
    return runkeys.run_key({"srcsteps": runkeys.non_default(source_steps, SOURCE_STEPS)})


def row_run(out: Path, target: str, method: str, fashion_class: int, freeze_d: int, src: str,
            overrides: list[str]) -> Path:
    """A row's run folder: <out>/<target>/<method>, then what differs from the defaults: the class, FreezeD's
    blocks, the source (fine-tuned rows only) and the --set list."""
    tuned = method.startswith("finetune")
    changed = {"class": runkeys.non_default(fashion_class, 7) if target.startswith("fashion-class") else None,
               "freeze": runkeys.non_default(freeze_d, 1) if method.endswith("freezed") else None}
    key = runkeys.run_key(changed, overrides)
    if tuned and src:
        key = "-".join(k for k in (key, src) if k)
    return out / target / runkeys.keyed(method, key)


def row_settings(target: str, method: str, source: Path, fashion_class: int, freeze_d: int) -> dict:
    settings = {**ROW, **TARGETS[target]}
    if "data.classes" in settings:
        settings["data.classes"] = [fashion_class]
    if method.endswith("diffaugment"):
        settings["train.augment"] = "diffaugment"
    if method.startswith("finetune"):
        settings["train.init"] = str(source)
    if method.endswith("freezed"):
        settings["family.freeze_d"] = freeze_d
    return settings


def score_key(step: int, n: int, ref: str) -> str:
    """A score's entry in its run's scores.json: the step, the samples and the reference."""
    return f"step{step}-n{n}-{ref}"


def read_scores(run: Path) -> dict:
    path = run / "scores.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def reached(run: Path) -> int:
    """The step of the run's latest checkpoint (0: none yet)."""
    found = ckpt.list_checkpoints(run)
    return ckpt.checkpoint_step(found[-1]) if found else 0


def plan(at: int, step: int, done: bool) -> str:
    """What a row's step needs: "cached" (scored before), "train" (the run is short of it, or stopped at it
    before its summary) or "score"; a run already past an unscored step cannot be scored there."""
    if done:
        return "cached"
    if at > step:
        raise SystemExit(f"the run is at step {at:,}, past step {step:,}, which was never scored: move the run "
                         "away to train it again, or leave that step out of --steps")
    return "train" if at < step else "score"


def finished_at(run: Path, step: int) -> bool:
    path = run / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    return summary.get("steps") == step and "stopped" not in summary


def source_run(args, out: Path) -> Path:
    if args.source:
        return Path(args.source)
    run = out / runkeys.keyed("source", runkeys.run_key(
        {"steps": runkeys.non_default(args.source_steps, SOURCE_STEPS)}, args.set))
    if not runkeys.finished(run, args.source_steps):
        ganforge.train(None, steps=args.source_steps, out=run, overrides=args.set, quiet=False,
                       resume=(run / "config.yaml").is_file())
    return run


def markdown(rows: list[dict], n: int, ref: str) -> str:
    """The table: a line per target, method and step, the memorisation score beside FD."""
    lines = [f"| target | method | steps | fd_classifier ({n:,} samples vs {ref}) | nn_ratio | copy_rate |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['target']} | {r['method']} | {r['step']:,} | {r['fd_classifier']:.2f} | "
              f"{r['nn_pixel_nn_ratio']:.3f} | {r['nn_pixel_copy_rate']:.3f} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    args = build_parser().parse_args()
    out, steps = Path(args.out), step_list(args.steps)
    unknown = [t for t in args.targets.split(",") if t not in TARGETS] + [
        m for m in args.methods.split(",") if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown target or method '{unknown[0]}'; targets: {', '.join(TARGETS)}; methods: "
                         f"{', '.join(METHODS)}")
    source = source_run(args, out).resolve()
    src = source_key(args.source, args.source_steps)
    rows = []
    for target in args.targets.split(","):
        for method in args.methods.split(","):
            run = row_run(out, target, method, args.fashion_class, args.freeze_d, src, args.set)
            scores = read_scores(run)
            for step in steps:
                key = score_key(step, args.n, args.ref)
                todo = plan(reached(run), step, key in scores)
                if todo == "train" or (todo == "score" and not finished_at(run, step)):
                    resume = (run / "config.yaml").is_file()
                    settings = {} if resume else row_settings(target, method, source, args.fashion_class,
                                                               args.freeze_d)
                    ganforge.train(None, steps=step, out=run, settings=settings, quiet=False, resume=resume,
                                   overrides=[] if resume else args.set)
                if todo != "cached":
                    result = ganforge.evaluate(run, metrics="fd,nn", n=args.n, ref=args.ref,
                                               extractor="classifier")
                    assert result["protocol"]["checkpoint_step"] == step, result["protocol"]["checkpoint_step"]
                    scores[key] = {k: result["values"][k] for k in SHOWN}
                    write_text_atomic(run / "scores.json", json.dumps(scores, indent=1))
                rows.append({"target": target, "method": method, "step": step, **scores[key]})
    print(f"\nfine-tuning from {source}; each target a seeded, class-balanced subset of its train split "
          f"(one-class target: class {args.fashion_class}); nn in pixel space against the row's training images")
    print(markdown(rows, args.n, args.ref))


if __name__ == "__main__":
    main()
