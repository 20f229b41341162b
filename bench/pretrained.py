"""Package a trained run's generator inside ganforge, as src/ganforge/pretrained/NAME/ (see ganforge.pretrained).

pretrained:fashion is remade, from nothing, by

    ganforge train --set train.precision=fp32 --set train.seed=0 --out runs/precision/fp32-seed0
    ganforge eval runs/precision/fp32-seed0 --metrics fid --n 10000 --extractor inception
    OMP_NUM_THREADS=1 python bench/pretrained.py runs/precision/fp32-seed0 --name fashion

(training: ~10 minutes on 2 CPU cores; the Inception's FID of 10,000 samples: ~30 minutes; this script: seconds;
`python bench/precision.py` trains and scores the same run as its row fp32-seed0). It writes, from the run's
latest checkpoint alone:

    weights.safetensors  the sampling network (the EMA of G where the run kept one), float tensors in fp16
    config.yaml, run.json  the run's own, byte for byte
    card.json            the training command, the step, each figure with its protocol and its source: the
                         Inception FID found in the run's eval.json for that step, the classifier's FD the
                         run's training logged, and the classifier's FD of the packaged fp16 weights,
                         measured here as `ganforge eval pretrained:NAME --metrics fid --extractor classifier
                         --n N --seed S` measures it (--n 2000 --seed 0 by default), on one thread

The same run gives the same bytes: no clock, no absolute path, figures rounded to 4 decimals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from ganforge import checkpoint as ckpt
from ganforge import pretrained, runs
from ganforge.config import load_config, preset_names, to_dict
from ganforge.data import DATASET_NAMES
from ganforge.evaluating import score_samples

ROUND = 4  # decimals of a figure on the card: below any run-to-run or thread-count difference worth a number


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def train_command(cfg, run_name: str) -> str:
    """The `ganforge train` line that makes the run's config: its preset (the one whose description it keeps),
    a --set for each key that differs from the preset, and always the seed."""
    preset = next((p for p in preset_names() if load_config(p).description == cfg.description), None)
    if preset is None:
        return f"ganforge train --config {run_name}/config.yaml --out {run_name}"
    base, own = flat(to_dict(runs.resolved(load_config(preset)))), flat(to_dict(cfg))
    changed = {k: v for k, v in own.items() if base.get(k) != v or k == "train.seed"}
    sets = "".join(f" --set {k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(changed.items()))
    return f"ganforge train{'' if preset == 'default' else f' --config {preset}'}{sets} --out {run_name}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_weights(run: Path, out: Path) -> tuple[int, dict]:
    """weights.safetensors from the run's latest checkpoint: (its step, what the file holds)."""
    family, _, _ = runs.load_family(run, device="cpu")  # checks the weights fit the config's networks
    source = ckpt.latest_checkpoint(run)
    model, _, _ = ckpt.load_checkpoint(source, model_only=True)
    weights, extra, averaged = ckpt.weights_parts(model, family.networks, family.SAMPLER)
    network = averaged or weights[family.SAMPLER]

    def half(t: torch.Tensor) -> torch.Tensor:
        return (t.half() if t.is_floating_point() else t).contiguous().clone()

    tensors = {f"{family.SAMPLER}.{k}": half(v) for k, v in network.items()}
    tensors.update({ckpt.EXTRA + k: half(v) for k, v in extra.items()})
    save_file(tensors, out / pretrained.WEIGHTS, metadata={"network": family.SAMPLER, "dtype": "float16"})
    (out / pretrained.WEIGHTS).chmod(0o644)  # safetensors writes 0600; the package's files are readable by all
    held = {"file": pretrained.WEIGHTS, "network": family.SAMPLER + (" (its EMA)" if averaged else ""),
            "dtype": "float16 (integer buffers as they are); cast to the network's fp32 when loaded",
            "parameters": sum(v.numel() for k, v in network.items() if v.is_floating_point()),
            "from": f"{source.relative_to(run).as_posix()}/model.safetensors, tensors "
                    f"{ckpt.averaged_prefix(family.SAMPLER) if averaged else family.SAMPLER + '.'}*",
            "from_sha256": sha256(source / "model.safetensors")}
    return ckpt.checkpoint_step(source), held


def inception_fid(run: Path, run_name: str, step: int) -> dict | None:
    """The Inception FID of the run's eval.json at `step` (the most samples where there are several)."""
    path = run / "eval.json"
    found = json.loads(path.read_text()).get("evaluations", []) if path.is_file() else []
    found = [e for e in found if e["protocol"].get("checkpoint_step") == step and "fid" in e["values"]
             and str(e["protocol"].get("extractor", "")).startswith("inception")]
    if not found:
        return None
    best = max(found, key=lambda e: e["protocol"]["n_fake"])
    p = best["protocol"]
    return {"value": round(best["values"]["fid"], ROUND), "n": p["n_fake"], "seed": p["seed"],
            "about": f"Inception FID of {p['n_fake']:,} samples (seed {p['seed']}) against {p['n_real']:,} images "
                     f"of {p['dataset']}, {p['split']}",
            "weights": "the run's fp32 EMA weights", "protocol": p,
            "source": f"{run_name}/eval.json, evaluation of {best['time']}: `ganforge eval RUN --metrics fid "
                      f"--n {p['n_fake']} --extractor inception`"}


def classifier_fd(name: str, n: int, seed: int) -> dict:
    """The classifier's FD of the packaged weights, as `ganforge eval pretrained:NAME --metrics fid --extractor
    classifier --n N --seed S` gives it (without writing its eval.json)."""
    g = runs.load_generator(pretrained.PREFIX + name, device="cpu")
    values, protocol, _ = score_samples(g, ("fid",), n, "test", "classifier", None, seed, False, False)
    return {"value": round(values["fd_classifier"], ROUND), "n": n, "seed": seed,
            "about": f"Frechet distance in the domain classifier's features of {n:,} samples (seed {seed}) against "
                     f"the first {protocol['n_real']:,} images of {protocol['dataset']}, {protocol['split']}",
            "weights": f"the packaged fp16 weights ({pretrained.WEIGHTS})",
            "protocol": {**protocol, "checkpoint_step": g.step, "seed": seed},
            "source": f"bench/pretrained.py: `ganforge eval {pretrained.PREFIX}{name} --metrics fid --extractor "
                      f"classifier --n {n} --seed {seed}`, one thread"}


def training_fd(run: Path, run_name: str, step: int) -> dict | None:
    """The classifier's FD the training loop logged at `step` (summary.json's final evaluation)."""
    path = run / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    value = summary.get("final", {}).get("eval_fd_classifier")
    if value is None or summary.get("steps") != step:
        return None
    cfg = runs.read_config(run)
    return {"value": round(value, ROUND), "n": cfg.eval.n,
            "about": f"the classifier's FD of {cfg.eval.n:,} samples, logged by training at step {step:,}",
            "weights": "the run's fp32 EMA weights", "source": f"{run_name}/summary.json (final.eval_fd_classifier)"}


def make(run: Path, name: str, n: int, seed: int) -> Path:
    out = pretrained.HERE / name
    out.mkdir(parents=True, exist_ok=True)
    cfg = runs.read_config(run)
    step, held = write_weights(run, out)
    for file in pretrained.COPIED:
        shutil.copyfile(run / file, out / file)
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    run_name = summary.get("run_dir") or run.name  # as training recorded it: the card holds no absolute path
    data = runs.read_data_description(run)
    card = {"name": name, "load": f'ganforge.load("{pretrained.PREFIX}{name}")',
            "about": f"{cfg.description or cfg.model.family}; sampling network at step {step:,}",
            "command": train_command(cfg, run_name), "step": step, "family": cfg.model.family,
            "dataset": f"{data['name']}: {DATASET_NAMES.get(data['name'], data['source'])}",
            "weights": {**held, "bytes": (out / pretrained.WEIGHTS).stat().st_size,
                        "sha256": sha256(out / pretrained.WEIGHTS)},
            "figures": {}, "remake": f"OMP_NUM_THREADS=1 python bench/pretrained.py {run_name} --name {name} "
                                     f"--n {n} --seed {seed}"}
    (out / pretrained.CARD).write_text(json.dumps(card, indent=1) + "\n")  # the name loads from here on
    figures = {"fid": inception_fid(run, run_name, step), "fd_classifier": classifier_fd(name, n, seed),
               "fd_classifier_training": training_fd(run, run_name, step)}
    card["figures"] = {k: v for k, v in figures.items() if v is not None}
    (out / pretrained.CARD).write_text(json.dumps(card, indent=1) + "\n")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the run folder (its latest checkpoint is packaged)")
    parser.add_argument("--name", default="fashion", help="the generator's name: pretrained:NAME (default fashion)")
    parser.add_argument("--n", type=int, default=2000, help="samples of the classifier's FD (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed of the classifier's FD (default 0)")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    torch.set_num_threads(1)  # the card's fd_classifier, the same on every machine to its 4 decimals
    out = make(runs.require_run(args.run), args.name, args.n, args.seed)
    card = json.loads((out / pretrained.CARD).read_text())
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote {out}/ ({size / 1e6:.2f} MB): {card['command']}, step {card['step']:,}")
    for key, f in card["figures"].items():
        print(f"  {key} {f['value']:.4f}: {f['about']} ({f['weights']})")


if __name__ == "__main__":
    main()
