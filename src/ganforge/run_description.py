"""A run described from its own files, in one line: the family and its settings (config.yaml), the data it
trained on (run.json), the steps it reached (summary.json, checkpoints/, metrics.jsonl), how long that took
and what it evaluated during training (metrics.jsonl).

The preset a run started from is named only where the run is that preset as written: its description speaks
of the preset's data, length and evaluation, which a run on other data or of other length does not share.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import yaml

from ganforge import checkpoint as ckpt
from ganforge.config import Config, from_dict, load_config, preset_names, to_dict
from ganforge.errors import UserError
from ganforge.families import family_class
from ganforge.runs import resolved
from ganforge.wording import plural

OPTIMISERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
AUGMENTS = {"diffaugment": "DiffAugment", "ada": "ADA"}
# keys that say where and how a run was computed, not what it trained: a preset run keeps its name with them
NOT_THE_RECIPE = {"log": None, "description": None, "data": {"root"}, "train": {"device", "compile", "precision"}}


def describe_run(run: Path) -> list[str]:
    """One line on what the run trained and did; a second, the preset's own description, where the run is
    that preset (a config description of the user's own comes as such)."""
    raw = _yaml(run / "config.yaml")
    cfg, settings = _config(raw)
    data = (_json(run / "run.json") or {}).get("data")
    data = data if isinstance(data, dict) else None
    records = _metrics(run / "metrics.jsonl")
    summary = _json(run / "summary.json") or {}
    reached, images, saved = _reached(run, summary, records)
    name = (data or {}).get("name") or (raw.get("data") or {}).get("name") or "unknown data"
    head = f"{settings[0]} on {describe_data(data, _skipped(run)) if data else name}"
    what = [head, _steps(reached, images, saved, cfg), *settings[1:]]
    if cfg is not None:
        what += _shared_settings(cfg)
    line = ", ".join(what)
    time = _time(summary, reached)
    line += (f"; {time}" if time else "") + f"; {_evaluation(records, summary)}"
    lines = [line]
    description = str(raw.get("description") or "")
    if description and cfg is not None:
        preset = _preset_named(description)
        if preset is None:
            lines.append(f"config's description: {description}")
        elif reached == cfg.train.steps and _is_preset(cfg, preset):
            lines.append(f"preset {preset}: {description}")
    return lines


def describe_data(data: dict, skipped: int = 0) -> str:
    """run.json's data description: where the data came from, then how much of what shape."""
    name, source, kind = str(data.get("name", "")), str(data.get("source") or ""), data.get("kind")
    prefix, _, _ = name.partition(":")
    if ":" in name:  # read from a path: folder:..., folders:A+B, idx:...
        where = f"{ {'idx': 'IDX file'}.get(prefix, prefix)} {source or name.split(':', 1)[1]}"
    elif source and source not in ("embedded", "generated") and not source.startswith("generated"):
        where = f"{name} from {source}"
    else:
        where = name
    n, shape = int(data.get("n") or 0), [int(s) for s in data.get("shape") or ()]
    inputs = data.get("input_shape")
    if kind == "toy":
        facts = [f"{n:,} points in {shape[0] if shape else '?'}-D"]
    elif kind == "video":
        facts = [f"{n:,} clips of {shape[0]} frames {'x'.join(map(str, shape[1:]))}"]
    elif inputs:
        arrow = "->" if data.get("paired", True) else "<->"
        facts = [(f"{n:,} {'pairs' if data.get('paired', True) else 'unpaired images'}, "
                 f"{_shape(inputs)} {arrow} {_shape(shape)}")]
    else:
        facts = [f"{n:,} images, {_shape(shape)}"]
    if data.get("attr_names"):
        facts.append(f"{len(data['attr_names'])} attributes")
    elif data.get("n_classes"):
        facts.append(f"{data['n_classes']} classes")
    if data.get("captions"):
        facts.append(f"{len(data['captions']):,} distinct captions")
    if skipped:
        facts.append(f"{plural(skipped, 'unreadable file')} skipped")
    return f"{where} ({', '.join(facts)})"


# -- the parts of the line -----------------------------------------------------------------------------------


def _config(raw: dict) -> tuple[Config | None, list[str]]:
    """The run's config and its family's words (describe_settings); for a config this version cannot read,
    None and the family's name as written."""
    try:
        cfg = from_dict(raw) if raw else None
        if cfg is not None:
            family = family_class(cfg.model.family)
            return cfg, family.describe_settings(family.read_options(cfg), cfg)
    except (UserError, TypeError, ValueError, AttributeError):
        pass
    model = raw.get("model")
    return None, [str(model.get("family") if isinstance(model, dict) and model.get("family") else "a model")]


def _reached(run: Path, summary: dict, records: list[dict]) -> tuple[int, int | None, int | None]:
    """(the last step trained, the images seen by then where logged, the step of the last checkpoint)."""
    logged = [r for r in records if isinstance(r.get("step"), int) and "event" not in r]
    saved = ckpt.checkpoint_step(ckpt.list_checkpoints(run)[-1]) if ckpt.list_checkpoints(run) else None
    steps = [s for s in (summary.get("steps"), logged[-1]["step"] if logged else None, saved) if isinstance(s, int)]
    reached = max(steps, default=0)
    images = summary.get("images_seen") if summary.get("steps") == reached else None
    if images is None:
        images = next((r.get("images") for r in reversed(logged) if r["step"] == reached), None)
    return reached, images, saved


def _steps(reached: int, images: int | None, saved: int | None, cfg: Config | None) -> str:
    """"300 steps of batch 32"; the target where the run stopped short of it; the images seen where the batch
    varied (or a step drew several batches); the last checkpoint where it lags."""
    if reached == 0:
        return "not trained yet"
    planned = cfg.train.steps if cfg is not None else reached
    out = f"{reached:,} steps" if reached >= planned else f"{reached:,} of {planned:,} steps"
    batch = cfg.train.batch_size if cfg is not None else None
    if batch and images in (None, reached * batch):
        out += f" of batch {batch}"
    elif images:
        out += f" ({images:,} images)"
    if saved is None:
        out += " (no checkpoint)"
    elif saved < reached:
        out += f" (last checkpoint at step {saved:,})"
    return out


def _shared_settings(cfg: Config) -> list[str]:
    """The optimisers, the averaged sampler and the augmentation, as the shared config sets them."""
    groups = cfg.optim.groups
    names = {OPTIMISERS.get(g.name, g.name) for g in groups.values()}
    if len(names) == 1 and len({g.lr for g in groups.values()}) == 1:
        opt = f"{names.pop()} {_rate(next(iter(groups.values())).lr)}"
    else:
        opt = ", ".join(f"{OPTIMISERS.get(g.name, g.name)} {name.upper()} {_rate(g.lr)}" for name, g in groups.items())
    words = [opt] if groups else []
    if cfg.optim.decay != "none":
        words.append(f"{cfg.optim.decay} rate decay from {cfg.optim.decay_start:.0%} of the steps")
    if cfg.train.ema > 0:
        words.append(f"EMA of {family_class(cfg.model.family).SAMPLER}")
    if cfg.train.augment != "none":
        words.append(AUGMENTS.get(cfg.train.augment, cfg.train.augment))
    return words


def _time(summary: dict, reached: int) -> str | None:
    """The wall time and images/s of summary.json, where it describes the last step; after a resume they
    count the last session only, and say so."""
    seconds, rate, images = summary.get("seconds"), summary.get("images_per_s"), summary.get("images_seen")
    if summary.get("steps") != reached or not isinstance(seconds, (int, float)) or not isinstance(rate, (int, float)):
        return None
    out = f"{_duration(seconds)} at {rate:,.1f} images/s"
    # both are rounded to 0.1: a product that cannot reach the images seen means earlier sessions drew the rest
    if isinstance(images, int) and (rate + 0.05) * (seconds + 0.05) < images - 0.5:
        out += " (its last session)"
    return out


def _evaluation(records: list[dict], summary: dict) -> str:
    """What metrics.jsonl shows was evaluated during training, how often, and the best value kept."""
    evals = [r for r in records if any(k.startswith("eval_") for k in r)]
    if not evals:
        return "no evaluation during training"
    steps = sorted({r["step"] for r in evals if isinstance(r.get("step"), int)})
    best = summary.get("best") if isinstance(summary.get("best"), dict) else {}
    what = best.get("eval") or ", ".join(dict.fromkeys(k.removeprefix("eval_") for r in evals for k in r
                                                       if k.startswith("eval_")))
    if len(steps) > 1:
        every = Counter(b - a for a, b in itertools.pairwise(steps)).most_common(1)[0][0]
        when = f"every {every:,} steps ({len(steps)} evaluations)"
    else:
        when = f"at step {steps[0]:,}" if steps else "once"
    out = f"evaluated during training: {what} {when}"
    if isinstance(best.get("value"), (int, float)) and isinstance(best.get("step"), int):
        out += f", best {best['value']:.4g} at step {best['step']:,}"
    return out


# -- the preset ----------------------------------------------------------------------------------------------


def _preset_named(description: str) -> str | None:
    return next((name for name, text in preset_names().items() if text == description), None)


def _is_preset(cfg: Config, preset: str) -> bool:
    """Whether the run trained what preset `preset` says, as written (where its files live and how the run
    was computed and logged aside)."""
    try:
        theirs = resolved(load_config(preset))
    except UserError:
        return False
    return _recipe(cfg) == _recipe(theirs)


def _recipe(cfg: Config) -> dict:
    tree = to_dict(cfg)
    for section, keys in NOT_THE_RECIPE.items():
        if keys is None:
            tree.pop(section, None)
        else:
            for key in keys:
                tree[section].pop(key, None)
    return tree


# -- reading the run folder ----------------------------------------------------------------------------------


def _shape(shape) -> str:
    return "x".join(str(int(s)) for s in shape)


def _rate(lr: float) -> str:
    """A learning rate as written in a paper: 5e-4, 2.5e-4, 0.1."""
    if lr >= 0.1:
        return f"{lr:g}"
    mantissa, exponent = f"{lr:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _duration(seconds: float) -> str:
    if seconds < 100:
        return f"{seconds:.3g} s"
    if round(seconds) < 3600:
        return "{} min {} s".format(*divmod(round(seconds), 60))
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min"


def _skipped(run: Path) -> int:
    """Unreadable files the run's data skipped (data.on_bad_file=skip lists them in skipped_files.txt)."""
    path = run / "skipped_files.txt"
    return sum(1 for line in path.read_text(errors="replace").splitlines() if line.strip()) if path.is_file() else 0


def _yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _metrics(path: Path) -> list[dict]:
    """metrics.jsonl's records; a line cut short by a crash is passed over."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
