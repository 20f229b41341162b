"""Typed settings: dataclass fields with their allowed values, and a dataclass built from plain data with every
key and type checked. The run config (ganforge.config) and each family's own options (`family:`) use them.

A family option that used to live in a shared section names that key with `was=` (e.g. `was="loss.objective"`),
so configs and run folders written before each family owned its settings load with the value in its new place.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import field
from typing import Any

from ganforge.errors import UserError


def choice(default: str, *choices: str, was: str | None = None) -> Any:
    """A string field restricted to `choices`; `was`: the key it had before it became a family's own."""
    return field(default=default, metadata={"choices": choices, **({"was": was} if was else {})})


def setting(default: Any, *, was: str) -> Any:
    """A family option that used to be the shared key `was` (a list: `field(default_factory=...,
    metadata={"was": ...})`)."""
    return field(default=default, metadata={"was": was})


def was(f: dataclasses.Field) -> str | None:
    """The key a field had before it became a family's own, or None."""
    return f.metadata.get("was")


def at_least(options: Any, minimum: int, *keys: str) -> None:
    """Refuse a family option `key` below `minimum` (0: for a key where 0 turns something off)."""
    for key in keys:
        if getattr(options, key) < minimum:
            raise UserError(f"config key 'family.{key}' must be at least {minimum}"
                            f"{' (0 turns it off)' if minimum == 0 else ''}, got {getattr(options, key)}")


def convert(value: Any, hint: Any, key: str) -> Any:
    """Check `value` against the type annotation `hint`, converting int -> float where harmless."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return convert(value, inner, key)
    if origin is list:
        (inner,) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise UserError(f"config key '{key}' must be a list, got {value!r}")
        return [convert(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "2e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"unsupported annotation {hint} for {key}")
    name = getattr(hint, "__name__", str(hint))
    raise UserError(f"config key '{key}' must be {name}, got {value!r}")


def convert_field(f: dataclasses.Field, hint: Any, value: Any, key: str) -> Any:
    """`value` for field `f` (annotation `hint`): typed, and one of its choices where it has them."""
    choices = f.metadata.get("choices")
    if isinstance(value, bool) and choices and ("on" if value else "off") in choices:
        value = "on" if value else "off"  # YAML 1.1 reads a bare on/off as a boolean
    value = convert(value, hint, key)
    if choices and value not in choices:
        raise UserError(f"config key '{key}' must be one of {', '.join(choices)}; got {value!r}")
    return value


def build_options(cls: type, data: Any, prefix: str, unknown=None) -> Any:
    """The flat dataclass `cls` from the mapping `data`, every key and type checked; `prefix` names the section
    in messages ("family."). `unknown(key)` makes the error for a key `cls` lacks (default: the closest one)."""
    if not isinstance(data, dict):
        raise UserError(f"config section '{prefix.rstrip('.')}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        key = prefix + str(name)
        if name not in fields:
            if unknown is not None:
                raise unknown(key)
            close = difflib.get_close_matches(key, [prefix + f for f in fields], n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else "; run `ganforge presets --keys` to list valid keys"
            raise UserError(f"unknown config key {key!r}{hint}")
        kwargs[name] = convert_field(fields[name], hints[name], value, key)
    return cls(**kwargs)


def as_dict(options: Any) -> dict[str, Any]:
    """Options as plain data (as a config file holds them)."""
    return dataclasses.asdict(options) if options is not None else {}
