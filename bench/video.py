"""Next-frame prediction on generated Moving MNIST (Mathieu et al. 2016): L2 alone, L2 + gradient difference, and
L2 + gradient difference + GAN (the video-moving-mnist preset), the same network and steps, beside copy-the-last-
frame and the published 10-in/10-out figures.

Each row is a run under --out trained from the preset with the row's settings (a finished run is measured, not
trained again; one stopped part-way continues from its checkpoint), then measured by `ganforge eval` on the first
--n clips of the generated test set: per-frame MSE (squared error summed over the 64x64 pixels in [0, 1], as
OpenSTL), SSIM and Mathieu et al.'s sharpness difference (dB), over 10 frames predicted with feedback from 10.
Scores go to <out>/video.json; a table is printed and the comparison GIF (input | truth | L2 | adversarial) and
a frame strip are written.

    python bench/video.py [--steps N] [--n 1000] [--out runs/video] [--rows l2,l2+gdl,adversarial]
                          [--gif docs/images/video-moving-mnist.gif] [--strip docs/images/video-moving-mnist.png]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import runkeys
import torch

import ganforge

PRESET = "video-moving-mnist"
ROWS = {
    "l2": {"family.lambda_adv": 0.0, "family.lambda_gdl": 0.0},  # L2 alone, no D
    "l2+gdl": {"family.lambda_adv": 0.0},  # L2 + gradient difference, no D
    "adversarial": {},  # the preset: L2 + gradient difference + 0.01 x GAN
}
RUN_NAMES = {"l2": "l2", "l2+gdl": "l2gdl", "adversarial": "adv"}
# OpenSTL's Moving MNIST benchmark, 10 frames in, 10 out, on the usual test file: (MSE per frame, SSIM)
PUBLISHED = {"ConvLSTM (OpenSTL)": (46.3, 0.878), "PredRNN (OpenSTL)": (25.0, 0.944)}
SHOWN_CLIPS = 4


def comparison(runs: dict[str, Path], n_clips: int, gif: Path, strip: Path) -> None:
    """input | truth | L2 | adversarial as a GIF, and a PNG of every other predicted frame (rows: truth, L2,
    adversarial per clip), for the first test clips."""
    from ganforge import runs as run_files
    from ganforge import viz
    from ganforge.data import load_dataset
    from ganforge.data.moving_mnist import INPUT_FRAMES, sequences
    from ganforge.families.video import clip_panels, save_clip_gif

    clips = sequences(load_dataset("mnist", split="test").x, "test", n=n_clips).float().div(127.5).sub(1.0)
    predicted = {}
    for name, run in runs.items():
        family, _, _ = run_files.load_family(run, device="cpu")
        predicted[name] = family.predict(clips[:, :INPUT_FRAMES], clips.shape[1] - INPUT_FRAMES)
    frames = clip_panels(clips[:, :INPUT_FRAMES], [clips[:, INPUT_FRAMES:], predicted["l2"], predicted["adversarial"]])
    gif.parent.mkdir(parents=True, exist_ok=True)
    save_clip_gif(frames, gif)
    rows = [clips[:, INPUT_FRAMES::2], predicted["l2"][:, ::2], predicted["adversarial"][:, ::2]]
    cells = torch.stack(rows, 1).flatten(0, 2)[:, None]  # clip-major: truth, L2, adversarial rows of 5 frames
    viz.save_grid(cells, strip, nrow=rows[0].shape[1], upscale=2)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, help="training steps of each row (default: the preset's)")
    p.add_argument("--n", type=int, default=1000, help="test clips predicted and measured (at most 10,000)")
    p.add_argument("--out", default="runs/video")
    p.add_argument("--gif", default="docs/images/video-moving-mnist.gif", help="the comparison GIF")
    p.add_argument("--strip", default="docs/images/video-moving-mnist.png", help="the comparison frames")
    p.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows (l2 and adversarial always: the "
                                                          "target compares them)")
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    rows = {name: ROWS[name] for name in ROWS if name in args.rows.split(",")}
    if set(args.rows.split(",")) - set(ROWS) or not {"l2", "adversarial"} <= set(rows):
        p.error(f"--rows: some of {', '.join(ROWS)}, l2 and adversarial among them")
    out = Path(args.out)
    table_path = out / "video.json"
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    # runs and scores with --steps are named by it (runkeys): a run of other steps never stands in
    key = runkeys.run_key({"steps": runkeys.non_default(args.steps, runkeys.preset_steps(PRESET))})
    target = args.steps or runkeys.preset_steps(PRESET)
    runs = {}
    for name, settings in rows.items():
        run = runs[name] = out / runkeys.keyed(RUN_NAMES[name], key)
        if not runkeys.finished(run, target):
            runkeys.train_or_continue(PRESET, run, steps=args.steps, settings=settings, quiet=False)
        summary = json.loads((run / "summary.json").read_text())
        entry = runkeys.keyed(name, key)
        if runkeys.matches(table.get(entry), n=args.n, steps=summary["steps"]):
            continue  # measured already
        started = time.perf_counter()
        # `ganforge eval RUN --n N` may have measured this checkpoint already
        values = (runkeys.cached_eval(run, n_clips=args.n, checkpoint_step=summary["steps"])
                  or ganforge.evaluate(run, n=args.n, progress=True)["values"])
        table[entry] = {**values, "steps": summary["steps"], "train_seconds": summary["seconds"],
                        "eval_seconds": round(time.perf_counter() - started, 1), "n": args.n}
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table_path.write_text(json.dumps(table, indent=1))
    comparison(runs, SHOWN_CLIPS, Path(args.gif), Path(args.strip))

    table = {name: table[runkeys.keyed(name, key)] for name in rows}
    any_row = table["l2"]
    print(f"\nMoving MNIST (generated test set, first {args.n:,} clips), 10 frames in, 10 predicted with feedback")
    print(f"{'method':22s} {'steps':>6s} {'min':>5s} {'MSE f1':>8s} {'MSE mean':>9s} {'SSIM f1':>8s} "
          f"{'SSIM mean':>9s} {'sharp f1':>9s} {'sharp mean':>10s}")
    cells = ("mse_1", "mse_mean", "ssim_1", "ssim_mean", "sharpness_1", "sharpness_mean")
    formats = ("8.1f", "9.1f", "8.3f", "9.3f", "9.2f", "10.2f")

    def line(name: str, steps: str, minutes: str, get) -> None:
        print(f"{name:22s} {steps:>6s} {minutes:>5s} " + " ".join(f"{get(k):{f}}" for k, f in zip(cells, formats)))

    line("copy last frame", "-", "-", lambda k: any_row[f"copy_last_{k}"])
    for name in rows:
        r = table[name]
        line(name, str(r["steps"]), f"{r['train_seconds'] / 60:.1f}", lambda k, r=r: r[k])
    for name, (mse, ssim) in PUBLISHED.items():
        print(f"{name:22s} {'-':>6s} {'-':>5s} {'':8s} {mse:9.1f} {'':8s} {ssim:9.3f}   (the usual test file)")
    adv, l2 = table["adversarial"], table["l2"]
    print("\ntargets:")
    for name in rows:
        ratio = table[name]["mse_1"] / any_row["copy_last_mse_1"]
        print(f"  {name}: first-frame MSE {ratio:.2f} x copy-last's (target <= 0.5)")
    print(f"  adversarial vs L2: sharpness {adv['sharpness_mean'] - l2['sharpness_mean']:+.2f} dB (target >= +1), "
          f"mean MSE {100 * (adv['mse_mean'] / l2['mse_mean'] - 1):+.1f}% (target <= +10%)")
    print(f"wrote {table_path}, {args.gif}, {args.strip}")


if __name__ == "__main__":
    main()
