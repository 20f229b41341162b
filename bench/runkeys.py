"""What a bench study's runs and scores depend on, spelled out, so that a cache is never read for other settings.

A study keeps its runs under --out and reuses a finished one instead of training it again. The folder is
named by the row and by every setting given that changes the result: the training steps when they are not
the preset's, a study's own options (a data subset), and the --set overrides (a hash of the list, in order:
a later --set of the same key wins). With the defaults the name is the row's alone. So `--steps 10000` trains
its own run beside the 4,000-step one instead of scoring that one again, and a table entry is keyed the same
way. A finished run whose step count is not the one asked for is refused, never scored in its place.

A study that trains in memory (no run folder) caches each measured row instead: one JSON per row, written
as soon as the row is measured, named by the row and a digest of its key (the resolved recipe, steps, seed,
evaluation protocol), so an interrupted study resumes with the rows still missing and a changed recipe or
protocol is measured again beside the old result rather than read in its place.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

# where a run is made, not what: a digest without them lets the same MNIST under another path, or the same
# recipe on another device, read a cached row (the device each row ran on is the study's to record)
WHERE = ("description", "data.root", "train.device")


def non_default(value, default):
    """`value` when it was given and differs from the default, else None (the default needs no key)."""
    return None if value is None or value == default else value


def run_key(changed: Mapping[str, object], overrides: Sequence[str] = ()) -> str:
    """The part of a run's name that says how it differs from the study's defaults: each setting of `changed`
    whose value is not None, as name and value (`steps10000`), then `set` and 8 hex digits of the --set list;
    joined by '-', '' when nothing differs."""
    parts = [f"{name}{value}" for name, value in changed.items() if value is not None]
    if overrides:
        parts.append("set" + hashlib.sha256("\n".join(overrides).encode()).hexdigest()[:8])
    return "-".join(parts)


def keyed(name: str, key: str) -> str:
    """A row's run folder or table entry: its name, then the key when there is one."""
    return f"{name}-{key}" if key else name


def preset_steps(preset: str | None, overrides: Sequence[str] = ()) -> int:
    """train.steps of a preset with the --set overrides applied: what a run trains to without --steps."""
    from ganforge.config import load_config

    return load_config(preset, list(overrides)).train.steps


def finished(run: Path, steps: int) -> bool:
    """Whether `run` holds a finished run of `steps` steps (False: none there yet, or one stopped part-way
    with a signal, which training with resume continues). A run that finished at another step count was made
    with other settings: SystemExit naming both counts."""
    path = run / "summary.json"
    if not path.is_file():
        return False
    summary = json.loads(path.read_text())
    if summary["steps"] == steps:
        return True
    if summary.get("stopped", {}).get("target") == steps:
        return False
    target = summary.get("stopped", {}).get("target", summary["steps"])
    raise SystemExit(f"{run} is a run of {target:,} steps, not the {steps:,} asked for: move it away, or ask "
                     "for the settings it was made with")


def train_or_continue(preset: str | None, run: Path, **options):
    """`ganforge.train` of a study's row: from `preset` into `run`, or, where `run` already holds checkpoints
    (a row stopped part-way), continued from the latest with the run's own config (a resumed run takes no
    preset). `options`: the rest of ganforge.train's keywords (steps, settings, overrides, quiet)."""
    import ganforge

    resume = (Path(run) / "checkpoints").is_dir()
    return ganforge.train(None if resume else preset, out=run, resume=resume, **options)


def matches(record: dict | None, **fields) -> bool:
    """Whether a cached record (a table entry, an eval.json protocol) has each of `fields` with that value."""
    return record is not None and all(k in record and record[k] == v for k, v in fields.items())


def cached_eval(run: Path, **protocol) -> dict | None:
    """The values of the run's eval.json when its protocol is the one asked for (e.g. n_clips=1000,
    checkpoint_step=6000), else None: an evaluation of another checkpoint or size is never reused."""
    path = run / "eval.json"
    if not path.is_file():
        return None
    done = json.loads(path.read_text())
    return done["values"] if matches(done.get("protocol"), **protocol) else None


def digest(data: object) -> str:
    """16 hex digits of sha256 over `data` as sorted JSON: the same settings give the same digest anywhere."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """16 hex digits of sha256 over a file's bytes (a classifier's weights: they decide a score)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def config_digest(cfg, section: str | None = None, ignore: Iterable[str] = WHERE) -> str:
    """digest() of a resolved Config (a preset with its overrides), or of one of its sections, less the dotted
    keys of `ignore`. The resolved values, not the preset's text: a changed default of ganforge counts too,
    a comment does not."""
    from ganforge.config.schema import to_dict

    tree = to_dict(cfg)
    for key in ignore:
        *parents, last = key.split(".")
        node = tree
        for name in parents:
            node = node.get(name, {})
        node.pop(last, None)
    return digest(tree[section] if section else tree)


def row_file(folder: Path, name: str, key: Mapping) -> Path:
    return Path(folder) / f"{name}-{digest(key)}.json"


def cached_row(folder: Path, name: str, key: Mapping, measure: Callable[[], dict]) -> tuple[dict, bool]:
    """(result, True) from `folder` when the row `name` was measured under this very key, else (measure(),
    False) with the result written there at once, atomically: a study stopped after it keeps it. The stored
    key is compared whole, so a digest's collision or a hand-edited file is measured again, not trusted."""
    from ganforge.files import write_text_atomic

    path = row_file(folder, name, key)
    plain = json.loads(json.dumps(key, default=str))  # as it reads back: tuples are lists
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError:
            stored = None
        if isinstance(stored, dict) and stored.get("key") == plain and "result" in stored:
            return stored["result"], True
    result = measure()
    # the machine is recorded, not keyed: a row is a fact about the CPU and torch that measured it
    import torch

    from ganforge.hardware import cpu_name

    record = {"key": plain, "result": result, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
              "machine": {"cpu": cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads()}}
    write_text_atomic(path, json.dumps(record, indent=1, default=str) + "\n")
    return result, False
