"""The `family:` section: the chosen family's own settings, each key checked against its Options dataclass.

A key the family does not read is refused with the family's name and where its settings live. Keys written
before each family owned its settings (model.arch, loss.objective, train.d_steps, ...) move to the option that
names them (`was=`); one the family never read is dropped where it never had an effect, refused elsewhere
(config/legacy.py).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from ganforge.config.legacy import is_old_default
from ganforge.errors import UserError
from ganforge.families import FAMILIES, family_class
from ganforge.families.base import not_read
from ganforge.options import build_options, convert_field, was


def resolve_family(name: str, given: dict, old: dict[str, Any], sets: list[tuple[str, Any]] = (),
                   saved: bool = False) -> Any:
    """The Options of family `name` (None for a family without any) from its `family:` section `given`, the
    file's keys of before (`old`: key -> value) and the `--set` overrides in order (`sets`: family.* or old
    keys). `saved`: the file is a run folder's config.yaml, whose unread old keys never had an effect."""
    cls = family_class(name).Options
    fields = {f.name: f for f in dataclasses.fields(cls)} if cls is not None else {}
    hints = typing.get_type_hints(cls) if cls is not None else {}
    claims = {was(f): f for f in fields.values() if was(f)}
    if not isinstance(given, dict):
        raise UserError(f"config section 'family' must be a mapping, got {given!r}")

    def moved(key: str, value: Any) -> tuple[str, Any]:
        f = claims[key]
        return f.name, convert_field(f, hints[f.name], value, key)  # messages name the key as written

    data: dict[str, Any] = {}
    for key, value in old.items():
        if key in claims:
            field_name, value = moved(key, value)
            if field_name in given and given[field_name] != value:
                raise UserError(f"config keys '{key}' and 'family.{field_name}' are one setting, given twice with "
                                f"different values; keep family.{field_name}")
            data[field_name] = value
        elif not (saved or is_old_default(key, value)):
            raise not_read(key, name, cls)
    data.update(given)
    for key, value in sets:
        if key.startswith("family."):
            data[key.removeprefix("family.")] = value
        elif key in claims:
            field_name, value = moved(key, value)
            data[field_name] = value
        else:
            raise not_read(key, name, cls)
    for key in data:
        if key not in fields:
            raise not_read(f"family.{key}", name, cls)
    return build_options(cls, data, "family.") if cls is not None else None


def family_options(cfg) -> Any:
    """The Options of `cfg`'s family (None for a family without any), its own checks passed."""
    return family_class(cfg.model.family).read_options(cfg)


def family_keys() -> dict[str, type | None]:
    """Each family's name -> its Options dataclass (None: no settings of its own)."""
    return {name: cls.Options for name, cls in FAMILIES.items()}


__all__ = ["family_keys", "family_options", "resolve_family"]
