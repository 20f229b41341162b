"""Image-to-image studies: pix2pix's loss ablation and PatchGAN sweep (Isola et al. 2017, Tables 1 and 2) on
fashion-edges, CycleGAN with and without its identity loss on mnist-colour, and 4x super-resolution on
fashion-sr4 (SRResNet, SRGAN from it and SRGAN from random weights, beside bicubic interpolation).

Each row is a run under --out trained from its preset with the row's settings, then measured by `ganforge
eval` on --n translated test images (l1, psnr, ssim to the true targets; the domain classifier's accuracy
against the source label and its FD to the targets; CycleGAN both ways with the cycle L1). A finished run is
measured, not trained again, and one stopped part-way continues from its last checkpoint, so a study can be
stopped and restarted; each row's scores go to <out>/<study>.json and a table is printed. Runs and scores
made with --steps or --set are named by them (<out>/pix2pix/l1-steps10000), beside the preset's.

    python bench/translation.py pix2pix  [--steps N] [--n 10000] [--out runs/translation] [--rows a,b]
    python bench/translation.py patch    [...]
    python bench/translation.py cyclegan [...]
    python bench/translation.py sr       [...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import runkeys

import ganforge

P2P, CYCLE, SR = "pix2pix-fashion-edges", "cyclegan-mnist-colour", "srgan-fashion-sr4"
# study -> row -> (preset, settings); a row whose preset names another study's row reuses that run, a setting
# "run:STUDY/ROW" is that row's run folder (with the same --steps and --set), and a row's train.steps is its
# default in place of the preset's
STUDIES = {
    "pix2pix": {
        "l1": (P2P, {"family.gan": 0.0}),  # L1 alone: D trains, G ignores it
        "cgan": (P2P, {"family.l1": 0.0}),  # cGAN alone
        "l1+cgan": (P2P, {}),  # the preset: L1 weight 100 + cGAN on 16x16 patches
    },
    "patch": {
        "pixel": (P2P, {"family.patch_layers": 0}),  # 1x1 PixelGAN
        "patch16": ("pix2pix/l1+cgan", {}),  # the preset
        "patch34": (P2P, {"family.patch_layers": 2}),  # 34x34: more than the 32x32 image, convolved with padding
        "image": (P2P, {"family.patch_layers": -1}),  # one verdict for the whole image
    },
    "cyclegan": {
        "identity": (CYCLE, {"family.identity": 0.5}),  # the paper's identity loss, 0.5 x cycle
        "no-identity": (CYCLE, {}),  # the preset
    },
    "sr": {
        "srresnet": (SR + "-mse", {}),  # pixel MSE alone (bicubic: every row's *_bicubic)
        "srgan": (SR, {"family.init": "run:sr/srresnet"}),  # from SRResNet: content + 1e-3 x GAN
        "srgan-random": (SR, {"family.init": "", "train.steps": 4000}),  # the same losses from random weights
    },
}
SHOWN = {
    "pix2pix": ("l1", "psnr", "ssim", "class_accuracy", "fd_classifier"),
    "patch": ("l1", "psnr", "ssim", "class_accuracy", "fd_classifier"),
    "cyclegan": ("class_accuracy", "class_accuracy_ba", "cycle_l1_aba", "cycle_l1_bab", "l1_ba", "flip_rate",
                 "flip_rate_ba", "fd_classifier", "fd_classifier_ba"),
    "sr": ("psnr", "ssim", "class_accuracy", "fd_classifier", "psnr_bicubic", "fd_classifier_bicubic"),
}


def row_run(out: Path, study: str, name: str, steps: int | None, overrides: list[str]) -> tuple[str, str, Path, int]:
    """(preset, key, run folder, the step it trains to) of a row: the folder and the row's table entry are
    named by the row and the key, which holds the steps and the --set overrides when given (runkeys), so a
    run with other settings never stands in for this one."""
    preset, settings = STUDIES[study][name]
    if "/" in preset:  # another study's row: its run, under the same key
        _, key, run, target = row_run(out, *preset.split("/"), steps, overrides)
        return preset, key, run, target
    default = settings.get("train.steps") or runkeys.preset_steps(preset)
    key = runkeys.run_key({"steps": runkeys.non_default(steps, default)}, overrides)
    target = steps or settings.get("train.steps") or runkeys.preset_steps(preset, overrides)
    return preset, key, out / study / runkeys.keyed(name, key), target


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study", choices=sorted(STUDIES))
    p.add_argument("--steps", type=int, help="training steps of each row (default: the preset's)")
    p.add_argument("--n", type=int, default=10_000, help="test pairs translated and measured")
    p.add_argument("--out", default="runs/translation")
    p.add_argument("--rows", help="comma-separated rows to run (default: all)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="for every row")
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    rows = STUDIES[args.study]
    wanted = args.rows.split(",") if args.rows else list(rows)
    unknown = set(wanted) - set(rows)
    if unknown:
        p.error(f"unknown rows {', '.join(sorted(unknown))}; {args.study} has {', '.join(rows)}")
    out = Path(args.out)
    table_path = out / f"{args.study}.json"
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    for name in wanted:
        preset, key, run, target = row_run(out, args.study, name, args.steps, args.set)
        if "/" in preset and not runkeys.finished(run, target):
            raise SystemExit(f"{name} is the run {run}: run its study first")
        if not runkeys.finished(run, target):  # a row stopped part-way continues from its checkpoint
            settings = {k: str(row_run(out, *v[4:].split("/"), args.steps, args.set)[2])
                        if isinstance(v, str) and v.startswith("run:") else v
                        for k, v in rows[name][1].items() if k != "train.steps"}
            runkeys.train_or_continue(preset, run, steps=target, settings=settings, overrides=args.set, quiet=False)
        started = time.perf_counter()
        result = ganforge.evaluate(run, n=args.n)
        summary = json.loads((run / "summary.json").read_text())
        table[runkeys.keyed(name, key)] = {**result["values"], "steps": summary["steps"],
                                           "train_seconds": summary["seconds"],
                                           "eval_seconds": round(time.perf_counter() - started, 1), "n": args.n}
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table_path.write_text(json.dumps(table, indent=1))
    shown = SHOWN[args.study]
    print(f"\n{args.study}; {args.n:,} translated test images per row")
    print(f"{'row':12s} {'steps':>6s} {'minutes':>7s} " + " ".join(f"{k:>16s}" for k in shown))
    for name in rows:
        entry = runkeys.keyed(name, row_run(out, args.study, name, args.steps, args.set)[1])
        if entry in table:
            r = table[entry]
            print(f"{entry:12s} {r['steps']:6d} {r['train_seconds'] / 60:7.1f} "
                  + " ".join(f"{r.get(k, float('nan')):16.4f}" for k in shown))


if __name__ == "__main__":
    main()
