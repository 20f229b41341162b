"""Checkpoints: tensors in safetensors, everything else in JSON; never pickle.

A checkpoint is a folder checkpoints/step_NNNNNN/ holding
  model.safetensors   the networks' weights and buffers ("G.<name>", "D.<name>"): all `ganforge sample` needs
  state.safetensors   optimiser moments, RNG states, the data order
  state.json          counters, optimiser hyper-parameters, non-tensor state
  manifest.json       the sha256 of each file above
It is written into a temporary folder, flushed to disk, and renamed into place, so a folder named step_*
is always complete; only the newest `keep` are kept. A checkpoint whose files do not match its manifest
(a disk error, a copy cut short) is reported and skipped in favour of the one before.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.errors import UserError

STEP_DIR = re.compile(r"^step_(\d+)$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path))
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _write_manifest(folder: Path) -> None:
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "manifest.json")
    _write_json(folder / "manifest.json", {"sha256": {name: _sha256(folder / name) for name in files}})


def predates_manifests(path: Path) -> bool:
    """model.safetensors but no manifest.json: written before checkpoints carried one (a new one cannot lack
    it: the folder is renamed into place only once its manifest is written). Accepted unverified."""
    return not (path / "manifest.json").exists() and (path / "model.safetensors").is_file()


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with a checkpoint folder (a missing file, a sha256 mismatch), or None if it is sound."""
    path = Path(path)
    if predates_manifests(path):
        return None
    try:
        expected = json.loads((path / "manifest.json").read_text())["sha256"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return "manifest.json missing or unreadable"
    for name, digest in expected.items():
        if not (path / name).is_file():
            return f"{name} is missing"
        if _sha256(path / name) != digest:
            return f"{name} does not match its sha256"
    return None


def flatten_optimizer(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser's state_dict into safetensors-able tensors and a JSON-able rest."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim.{name}.{pid}.{key}"] = value
            else:
                plain.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "state": plain}


def unflatten_optimizer(name: str, tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {int(pid): dict(v) for pid, v in meta["state"].items()}
    prefix = f"optim.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, field = key[len(prefix) :].split(".", 1)
            state.setdefault(int(pid), {})[field] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = np.random.get_state()
    plain = {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }
    return tensors, plain


def set_rng_state(tensors: dict[str, torch.Tensor], plain: dict) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    v, state, gauss = plain["python"]
    random.setstate((v, tuple(state), gauss))
    kind, keys, *rest = plain["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def _remove_dir(path: Path) -> None:
    """Delete a folder so that a kill midway never leaves a half-deleted step_* behind: rename it out of the
    step_* namespace first (atomic), then delete."""
    doomed = path.with_name(f".del-{path.name}")
    shutil.rmtree(doomed, ignore_errors=True)
    os.replace(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def _clear_leftovers(root: Path) -> None:
    """Temporary and half-deleted folders left by a process that was killed."""
    for p in root.iterdir():
        if p.name.startswith((".tmp-", ".del-")) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def save_checkpoint(run_dir: Path, step: int, model: dict[str, torch.Tensor], state: dict[str, torch.Tensor],
                    meta: dict, keep: int) -> Path:
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(root)
    final = root / f"step_{step:06d}"
    tmp = root / f".tmp-step_{step:06d}"
    try:
        tmp.mkdir()
        _save_tensors(model, tmp / "model.safetensors")
        _save_tensors(state, tmp / "state.safetensors")
        _write_json(tmp / "state.json", meta)
        _write_manifest(tmp)
        _fsync_dir(tmp)
    except OSError as e:  # a full disk, a quota, a read-only mount: the earlier checkpoints stay as they were
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"cannot write checkpoint {final}: {e.strerror or e}; free space (or fix the folder's "
                        f"permissions) and continue with --resume {run_dir}") from None
    if final.exists():  # a re-save of the same step (a resumed run that stops at once)
        _remove_dir(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    for old in list_checkpoints(run_dir)[:-keep]:
        _remove_dir(old)
    return final


def save_best(run_dir: Path, step: int, model: dict[str, torch.Tensor], record: dict) -> Path:
    """checkpoints/best/: the weights with the best evaluation score so far (model.safetensors + best.json).

    Outside the step_* rotation, so it is never pruned; replaced atomically like the others.
    """
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final, tmp, old = root / "best", root / ".tmp-best", root / ".del-best"
    _clear_leftovers(root)
    tmp.mkdir()
    _save_tensors(model, tmp / "model.safetensors")
    _write_json(tmp / "best.json", {"step": step, **record})
    _write_manifest(tmp)
    _fsync_dir(tmp)
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    _fsync_dir(root)
    shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_step(path: Path) -> int:
    """The training step a checkpoint folder holds (step_N, or best/ from its best.json); -1 if unknown."""
    path = Path(path)
    if m := STEP_DIR.match(path.name):
        return int(m.group(1))
    info = path / "best.json"
    if info.is_file():
        return int(json.loads(info.read_text()).get("step", -1))
    return -1


def resolve_checkpoint(run_dir: Path, which: str | os.PathLike | None) -> Path:
    """None: the latest; "best": checkpoints/best; otherwise a checkpoint folder path."""
    if which is None:
        return latest_checkpoint(run_dir)
    if str(which) == "best":
        best = Path(run_dir) / "checkpoints" / "best"
        if not best.is_dir():
            raise UserError(f"{run_dir} has no best checkpoint; it is kept when training with eval.every > 0")
        return best
    path = Path(which)
    if not (path / "model.safetensors").is_file():
        raise UserError(f"{path} is not a checkpoint folder (no model.safetensors); use a checkpoints/step_* "
                        "folder or 'best'")
    return path


def load_checkpoint(path: Path, model_only: bool = False) -> tuple[dict, dict, dict]:
    """(model tensors, state tensors, meta) of one checkpoint folder."""
    path = Path(path)
    problem = checkpoint_problem(path)
    if problem:
        raise UserError(f"checkpoint {path} is damaged ({problem}); remove it to fall back to an earlier one")
    if predates_manifests(path):
        print(f"ganforge: checkpoint {path} has no manifest.json (written by an older ganforge); "
              "its files are read unverified", file=sys.stderr)
    try:
        model = load_file(str(path / "model.safetensors"))
        if model_only:
            return model, {}, {}
        state = load_file(str(path / "state.safetensors"))
        meta = json.loads((path / "state.json").read_text())
    except (OSError, SafetensorError, json.JSONDecodeError) as e:
        raise UserError(f"checkpoint {path} is unreadable ({e}); remove it to fall back to an earlier one") from None
    return model, state, meta


def latest_checkpoint(run_dir: Path) -> Path:
    """The newest sound checkpoint; damaged ones are reported on stderr and passed over."""
    found = list_checkpoints(run_dir)
    if not found:
        raise UserError(f"{run_dir} holds no checkpoint (checkpoints/step_*); train it first or pick another run")
    for path in reversed(found):
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        print(f"ganforge: checkpoint {path} is damaged ({problem}); using an earlier one", file=sys.stderr)
    raise UserError(f"every checkpoint of {run_dir} is damaged; the run cannot be resumed or sampled")


def split_prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


# -- the one naming scheme of model.safetensors: "<network>.<key>" for every network of the family,
# "extra.<key>" for the tensors sampling needs beyond them (Family.sampling_tensors), and
# "<sampler>_ema.<key>" for the average of the sampling network when the run keeps one (train.ema)

EXTRA = "extra."


def averaged_prefix(sampler: str) -> str:
    return f"{sampler}_ema."


def weights_tensors(networks: dict[str, torch.nn.Module], extra: dict[str, torch.Tensor], sampler: str,
                    averaged: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """model.safetensors' tensors: each network's state, the extra tensors, the sampler's average if any."""
    tensors = {f"{name}.{k}": v for name, net in networks.items() for k, v in net.state_dict().items()}
    tensors.update({EXTRA + k: v for k, v in extra.items()})
    tensors.update({averaged_prefix(sampler) + k: v for k, v in (averaged or {}).items()})
    return tensors


def weights_parts(model: dict[str, torch.Tensor], names, sampler: str) -> tuple[dict[str, dict], dict, dict]:
    """model.safetensors' tensors split back: ({network: state}, extra tensors, the sampler's average or {})."""
    return ({name: split_prefixed(model, f"{name}.") for name in names}, split_prefixed(model, EXTRA),
            split_prefixed(model, averaged_prefix(sampler)))

