"""Building a Config: from a preset or YAML file, then `--set key=value` overrides; every key and type checked,
a mistyped key named with the closest valid one, the family's own keys checked by the family."""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from pathlib import Path
from typing import Any

import yaml

from ganforge.config.family import family_keys, family_options, resolve_family
from ganforge.config.legacy import OLD_DEFAULTS, is_old_key, split_old_keys
from ganforge.config.schema import PRESET_DIR, Config, OptimConfig, OptimizerConfig, to_dict
from ganforge.errors import UserError
from ganforge.options import as_dict, build_options, convert_field

OPEN_SECTIONS = ("optim", "family")  # sections whose keys a family names: optimiser groups, the family's options


def _all_keys(cls: type, prefix: str = "", old: bool = True) -> list[str]:
    """Every key a config may hold: the shared sections', each family's family.* and (`old`) the keys that
    left the shared sections, which still load."""
    keys = []
    for name, hint in typing.get_type_hints(cls).items():
        if cls is OptimConfig and name == "groups":  # the GAN's groups stand for any family's
            keys += [f"{prefix}{g}.{k}" for g in ("g", "d") for k in _all_keys(OptimizerConfig)] + [prefix + "g"]
            continue
        keys.append(prefix + name)
        if dataclasses.is_dataclass(hint):
            keys += _all_keys(hint, prefix + name + ".")
    if cls is Config:
        keys += sorted({f"family.{f.name}" for options in family_keys().values() if options is not None
                        for f in dataclasses.fields(options)})
        keys += list(OLD_DEFAULTS) if old else []
    return keys


def _unknown_key(key: str, section_keys: list[str] = ()) -> UserError:
    """An unknown key, with the closest valid one: among its own section's keys, then the families' options
    (model.arhc: family.arch now), then any key."""
    valid = [k for k in _all_keys(Config, old=False) if "." in k]
    leaves = {k.removeprefix("family."): k for k in valid if k.startswith("family.")}
    moved = [leaves[m] for m in difflib.get_close_matches(key.split(".")[-1], list(leaves), n=1, cutoff=0.7)
             if "." in key]
    section = key.split(".")[0]
    own = list(section_keys) or [k for k in valid if k.split(".")[0] == section]
    if section in ("model", "loss") and moved:  # sections whose settings moved to the families
        own = []
    close = (difflib.get_close_matches(key, own, n=1, cutoff=0.5) or moved
             or difflib.get_close_matches(key, valid, n=1, cutoff=0.5))
    hint = f"; did you mean '{close[0]}'?" if close else "; run `ganforge presets --keys` to list valid keys"
    return UserError(f"unknown config key {key!r}{hint}")


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"config section '{prefix.rstrip('.') or '<top>'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    if cls is OptimConfig:  # every mapping beside the schedule keys is an optimiser group
        data = dict(data)
        kwargs["groups"] = {str(name).lower(): build_options(OptimizerConfig, data.pop(name), f"{prefix}{name}.")
                            for name in list(data) if name not in fields and isinstance(data[name], dict)}
    for name, value in data.items():
        key = prefix + str(name)
        if name not in fields or (cls is OptimConfig and name == "groups"):
            raise _unknown_key(key, [prefix + f for f in fields])
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, key + ".")
        elif typing.get_origin(hint) is dict:  # an open section, checked by its owner (the family)
            if not isinstance(value, dict):
                raise UserError(f"config section '{key}' must be a mapping, got {value!r}")
            kwargs[name] = dict(value)
        else:
            kwargs[name] = convert_field(fields[name], hint, value, key)
    return cls(**kwargs)


def build_section(cls: type, data: dict, prefix: str) -> Any:
    """A dataclass `cls` from the mapping `data`, every key and type checked; `prefix` names the section in
    messages ("family."). For options that live beside their owner, such as a family's."""
    return build_options(cls, data, prefix)


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _set_path(tree: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None and i == 1 and parts[0] == "optim":  # a new optimiser group: optim.<group>.<key>
            child = node[part] = {}
        if not isinstance(child, dict):
            raise _unknown_key(key)
        node = child
    if parts[-1] not in node and not (parts[0] == "optim" and len(parts) == 3):
        raise _unknown_key(key)
    node[parts[-1]] = value


def parse_set(item: str) -> tuple[str, Any]:
    """Parse one `--set key=value`; the value is read as YAML (numbers, lists, true/false, null)."""
    if "=" not in item:
        raise UserError(f"--set expects key=value, got {item!r}")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def preset_names() -> dict[str, str]:
    """Named presets and their one-line descriptions."""
    out = {}
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        out[path.stem] = str(data.get("description", ""))
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_bytes())  # bytes: PyYAML decodes UTF-8, or UTF-16 after a BOM
    except OSError as e:
        raise UserError(f"cannot read config file {path}: {e.strerror}") from None
    except yaml.reader.ReaderError as e:
        if e.encoding != "unicode":  # bytes the codec could not decode: another encoding, or not text
            raise UserError(f"config file {path} is not UTF-8 text (byte {e.position}); save it as UTF-8") from None
        raise UserError(f"config file {path} is not valid YAML: it holds the control character "
                        f"{chr(e.character)!r} (character {e.position}); delete it") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"config file {path} is not valid YAML{where}; fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of sections (data:, model:, train:, ...)")
    return data


def load_config(source: str | None = None, overrides: list[str] | tuple[str, ...] = (), saved: bool = False) -> Config:
    """Build a Config from a preset name or YAML path (None: the default preset), then `key=value` overrides.
    `saved`: the file is a run folder's config.yaml (keys of before that its family never read are dropped)."""
    if source is None:
        source = "default"
    path = Path(source)
    # a folder that happens to share a preset's name (a run called toy-ring, say) does not hide the preset
    if path.suffix in (".yaml", ".yml") or (path.exists() and not (PRESET_DIR / f"{source}.yaml").is_file()):
        if not path.is_file():
            raise UserError(f"config file {path} not found; give a preset name (ganforge presets) or a YAML path")
        data = _read_yaml(path)
    else:
        preset = PRESET_DIR / f"{source}.yaml"
        if not preset.is_file():
            names = list(preset_names())
            close = difflib.get_close_matches(source, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UserError(f"unknown preset '{source}'; {hint}presets: {', '.join(names)}")
        data = _read_yaml(preset)
    return _from_tree(data, overrides, saved)


def from_dict(data: dict) -> Config:
    """Rebuild a Config from a resolved dict (as saved in a run's config.yaml, of any ganforge version)."""
    return _from_tree(data, (), saved=True)


def _from_tree(data: dict, overrides, saved: bool) -> Config:
    data, old = split_old_keys(data)
    given = data.pop("family", None) or {}
    tree = _merge(to_dict(Config()), data)
    sets = []  # the family's keys, in order: checked by the family once it is known
    for item in overrides:
        key, value = parse_set(item)
        if key == "family":
            given = value if value is not None else {}
        elif key.startswith("family.") or is_old_key(key):
            sets.append((key, value))
        else:
            _set_path(tree, key, value)
    for key in tree:
        if key not in {f.name for f in dataclasses.fields(Config)}:
            raise _unknown_key(key)
    cfg = _build(Config, tree, "")
    options = resolve_family(cfg.model.family, given, old, sets, saved)
    cfg = dataclasses.replace(cfg, family=as_dict(options))
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Checks that span several keys or need a range; then the family's own (families/<family>.py)."""
    positive = {
        "train.steps": cfg.train.steps,
        "train.batch_size": cfg.train.batch_size,
        "log.every": cfg.log.every,
        "log.sample_every": cfg.log.sample_every,
        "log.checkpoint_every": cfg.log.checkpoint_every,
        "log.keep_checkpoints": cfg.log.keep_checkpoints,
        "log.n_samples": cfg.log.n_samples,
        "log.n_points": cfg.log.n_points,
        "data.n_toy": cfg.data.n_toy,
    }
    for key, value in positive.items():
        if value < 1:
            raise UserError(f"config key '{key}' must be at least 1, got {value}")
    for name, opt in cfg.optim.groups.items():
        if opt.lr <= 0:
            raise UserError(f"config key 'optim.{name}.lr' must be positive, got {opt.lr}")
        if len(opt.betas) != 2 or not all(0 <= b < 1 for b in opt.betas):
            raise UserError(f"config key 'optim.{name}.betas' must be two numbers in [0, 1), got {opt.betas}")
    if not 0 <= cfg.train.ema < 1:
        raise UserError(f"config key 'train.ema' must be in [0, 1) (0 turns it off), got {cfg.train.ema}")
    if cfg.train.max_rollbacks < 0 or not 0 < cfg.train.rollback_lr <= 1:
        raise UserError("config keys 'train.max_rollbacks' (>= 0) and 'train.rollback_lr' (in (0, 1]) are out "
                        f"of range: {cfg.train.max_rollbacks}, {cfg.train.rollback_lr}")
    cores = os.cpu_count() or 1
    if not 0 <= cfg.train.threads <= cores:
        raise UserError(f"config key 'train.threads' must be 0 (auto) or 1..{cores} (this machine's cores), got "
                        f"{cfg.train.threads}")
    if not 0 <= cfg.optim.decay_start < 1:
        raise UserError(f"config key 'optim.decay_start' must be in [0, 1), got {cfg.optim.decay_start}")
    if cfg.data.holdout < 0:
        raise UserError(f"config key 'data.holdout' must be >= 0 (0 keeps every example), got {cfg.data.holdout}")
    if cfg.eval.every < 0:
        raise UserError(f"config key 'eval.every' must be >= 0 (0 turns it off), got {cfg.eval.every}")
    if cfg.eval.n < 10:
        raise UserError(f"config key 'eval.n' must be at least 10, got {cfg.eval.n}")
    if cfg.data.channels not in (None, 1, 3):
        raise UserError(f"config key 'data.channels' must be 1 or 3, got {cfg.data.channels}")
    res = cfg.data.resolution
    if res is not None and res < 4:
        raise UserError(f"config key 'data.resolution' must be at least 4, got {res}")
    dev = cfg.train.device
    if not (dev in ("auto", "cpu", "cuda") or dev.startswith("cuda:")):
        raise UserError(f"config key 'train.device' must be auto, cpu, cuda or cuda:N, got {dev!r}")
    family_options(cfg)


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
