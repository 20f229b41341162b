"""Latent-space studies: VAE against VAE-GAN (Larsen et al. 2016), the smoothness of interpolations, attribute
vectors against random directions, and the truncation sweep.

    python bench/exploration.py vae [--steps N] [--n 10000] [--out runs/exploration]
        trains vae-fashion and vaegan-fashion (same networks, steps and batch) under OUT/vae/ (a stopped run
        continues from its checkpoint), then `ganforge eval`: classifier FD, precision and recall of prior
        samples, and the test images' reconstruction SSIM, PSNR and L1; a picture of both reconstructions
    python bench/exploration.py smoothness RUN [--paths 100] [--frames 16]
        interpolations between random pairs of codes; per path, the largest step between neighbouring frames
        over the mean step, in the domain classifier's features, against the same paths with each frame
        replaced by its nearest training image (in those features)
    python bench/exploration.py attribute RUN [--n 1000] [--strength 1.0]
        per class, `explore attribute`'s class vectors applied to --n samples at several strengths: the share of
        those not of the class that the classifier then reads as it, beside a random direction of the same length
    python bench/exploration.py truncation RUN [--n 10000]
        precision, recall and FD against psi (`ganforge explore truncation`)

Results go to OUT/<study>_<run name>.json and print as tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import runkeys
import torch

import ganforge
from ganforge import directions, exploring, runs, viz
from ganforge.generator import Encodes
from ganforge.latent import lerp, slerp
from ganforge.metrics.features import build_extractor
from ganforge.metrics.latent import path_jump_ratio, random_direction_like, share_changed_to
from ganforge.metrics.nearest import nearest_neighbours

STRENGTHS = (0.5, 1.0, 1.5, 2.0)


def study_vae(args) -> None:
    table_path = Path(args.out) / "vae.json"
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    settings = {"data.root": args.root} if args.root else {}
    rows = {}  # row -> (its table entry, its run): named by --steps when given (runkeys)
    for name, preset in (("vae", "vae-fashion"), ("vaegan", "vaegan-fashion")):
        key = runkeys.run_key({"steps": runkeys.non_default(args.steps, runkeys.preset_steps(preset))})
        entry, run = rows[name] = runkeys.keyed(name, key), Path(args.out) / "vae" / runkeys.keyed(name, key)
        if not runkeys.finished(run, args.steps or runkeys.preset_steps(preset)):
            runkeys.train_or_continue(preset, run, steps=args.steps, settings=settings, quiet=False)
        started = time.perf_counter()
        result = ganforge.evaluate(run, n=args.n)
        summary = json.loads((run / "summary.json").read_text())
        table[entry] = {**result["values"], "steps": summary["steps"], "train_seconds": summary["seconds"],
                        "eval_seconds": round(time.perf_counter() - started, 1), "n": args.n}
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table_path.write_text(json.dumps(table, indent=1))
    reconstructions_picture({name: run for name, (_, run) in rows.items()}, Path(args.out))
    shown = ("fd_classifier", "precision", "recall", "recon_ssim", "recon_psnr", "recon_l1")
    print(f"\nVAE vs VAE-GAN on Fashion-MNIST; {args.n:,} prior samples and test images per row")
    print(f"{'row':14s} {'steps':>6s} {'minutes':>7s} " + " ".join(f"{k:>13s}" for k in shown))
    for name, r in table.items():
        print(f"{name:14s} {r['steps']:6d} {r['train_seconds'] / 60:7.1f} " + " ".join(f"{r[k]:13.4f}" for k in shown))
    vae, vaegan = (table[entry]["fd_classifier"] for entry, _ in rows.values())
    print(f"VAE-GAN's FD / VAE's: {vaegan / vae:.3f}")


def reconstructions_picture(runs_of: dict[str, Path], out: Path) -> None:
    """Rows of 12 test images, the VAE's reconstructions, the VAE-GAN's, and 12 prior samples of each."""
    families = {name: runs.load_family(runs_of[name])[0] for name in ("vae", "vaegan")}
    test = runs.load_data(runs.with_split(runs.read_config(runs_of["vae"]), "test")).x[:12]
    rows = [test.float().div(127.5).sub(1)]
    with torch.no_grad():
        rows += [f.reconstruct(test).cpu() for f in families.values()]
        rows += [f.decode(f.noise(12, torch.Generator().manual_seed(0))).cpu() for f in families.values()]
    viz.save_grid(torch.cat(rows), out / "vae_vs_vaegan.png", nrow=12, upscale=2)
    print(f"wrote {out / 'vae_vs_vaegan.png'} (rows: test images, VAE, VAE-GAN reconstructions; VAE, VAE-GAN samples)")


def study_smoothness(args) -> None:
    ex = exploring.Explorer.load(args.run)
    extractor = build_extractor("classifier", ex.data["name"])
    codes = ex.codes(args.seed, 2 * args.paths)
    t = torch.linspace(0, 1, args.frames)
    table = {}
    for kind, move in (("lerp", lerp), ("slerp", slerp)):
        z = move(codes["z"][0::2], codes["z"][1::2], t).flatten(0, 1)
        frames = ex.decode({"z": z})
        feats = extractor.features(frames)
        table[f"generator_{kind}"] = path_jump_ratio(feats.view(args.paths, args.frames, -1))
        if kind == "lerp":
            train = runs.load_data(runs.read_config(ex.run_dir)).x
            train_feats = extractor.features(train)
            _, idx = nearest_neighbours(feats, train_feats)
            table["nearest_training_images"] = path_jump_ratio(train_feats[idx].view(args.paths, args.frames, -1))
            table["nearest_repeats"] = torch.tensor([float((idx.view(args.paths, -1)[:, 1:] ==
                                                            idx.view(args.paths, -1)[:, :-1]).float().mean())])
    result = {k: {"median": float(v.median()), "p10": float(v.quantile(0.1)), "p90": float(v.quantile(0.9))}
              for k, v in table.items() if k != "nearest_repeats"}
    result["protocol"] = {"paths": args.paths, "frames": args.frames, "seed": args.seed, "features": extractor.name,
                          "share_of_control_steps_that_stay_on_one_image": float(table["nearest_repeats"][0])}
    write(args, "smoothness", result)
    print(f"\nlargest / mean step along {args.paths} paths of {args.frames} frames ({extractor.name} features)")
    for k, v in result.items():
        if k != "protocol":
            print(f"{k:26s} median {v['median']:.3f}  (10%: {v['p10']:.3f}, 90%: {v['p90']:.3f})")


def study_attribute(args) -> None:
    ex = exploring.Explorer.load(args.run)
    extractor = build_extractor("classifier", ex.data["name"])
    names = list(ex.data["class_names"])
    z = ex.codes(args.seed + 1, args.n)["z"]  # the samples edited: not the pool the vectors come from
    before = extractor.logits(ex.decode({"z": z})).argmax(1)
    strengths = sorted({*STRENGTHS, args.strength})
    rows = {}
    for label, name in enumerate(names):
        if (before != label).sum() == 0:
            continue
        vector = directions.attribute_vectors(ex, str(label), {"z": z}, seed=args.seed)
        control = random_direction_like(vector, torch.Generator().manual_seed(args.seed + label), rows=True)
        moved = before != label  # the samples counted: a sample already of the class has no vector
        row = {"norm": float(vector[moved].norm(dim=1).mean())}
        for s in strengths:
            for kind, direction in (("vector", vector), ("random", control)):
                after = extractor.logits(ex.decode({"z": z + s * direction})).argmax(1)
                row[f"{kind}_{s:g}"] = share_changed_to(before.cpu(), after.cpu(), label)
        rows[name] = row
    mean = {k: sum(r[k] for r in rows.values()) / len(rows) for k in next(iter(rows.values()))}
    result = {"classes": rows, "mean": mean, "protocol": {"run": args.run, "n": args.n, "seed": args.seed,
                                                          "strength": args.strength,
              "vector": f"from each sample's own class to the target: means of the {directions.TYPICAL} "
              "encoded training images whose reconstructions read most surely as each class"
              if isinstance(ex.g, Encodes) else
              f"from each sample's own class to the target: means of the {directions.TYPICAL} surest of "
              f"{directions.CLASS_POOL} samples labelled by {extractor.name}", "features": extractor.name}}
    write(args, "attribute", result)
    s = f"{args.strength:g}"
    print(f"\nshare of {args.n:,} samples not of the class that read as it after the edit (strength {s})")
    print(f"{'class':14s} {'|vector|':>8s} {'vector':>8s} {'random':>8s}")
    for name, r in {**rows, "mean": mean}.items():
        print(f"{name:14s} {r['norm']:8.2f} {r[f'vector_{s}']:8.1%} {r[f'random_{s}']:8.1%}")
    print("mean over classes by strength: " + ", ".join(
        f"{x:g}: {mean[f'vector_{x:g}']:.1%} vs {mean[f'random_{x:g}']:.1%}" for x in strengths))


def study_truncation(args) -> None:
    out = Path(args.out) / f"truncation_{Path(args.run).name}.png"
    result = exploring.truncation_sweep(args.run, n=args.n, seed=args.seed, out=out, force=True)
    print("\n" + ", ".join(result["written"]))


def write(args, study: str, result: dict) -> None:
    path = Path(args.out) / f"{study}_{Path(args.run).name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study", choices=["vae", "smoothness", "attribute", "truncation"])
    p.add_argument("run", nargs="?", help="the run explored (smoothness, attribute, truncation)")
    p.add_argument("--out", default="runs/exploration")
    p.add_argument("--n", type=int, help="samples (vae, truncation: 10000; attribute: 1000)")
    p.add_argument("--steps", type=int, help="vae: training steps of each row (default: the presets')")
    p.add_argument("--root", help="vae: the Fashion-MNIST folder (default: the usual search)")
    p.add_argument("--paths", type=int, default=100)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--strength", type=float, default=1.0, help="attribute: the strength the target is read at")
    p.add_argument("--seed", type=int, default=0)
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    if args.study != "vae" and not args.run:
        p.error(f"{args.study} needs a RUN")
    args.n = args.n or (1000 if args.study == "attribute" else 10_000)
    {"vae": study_vae, "smoothness": study_smoothness, "attribute": study_attribute,
     "truncation": study_truncation}[args.study](args)


if __name__ == "__main__":
    main()
