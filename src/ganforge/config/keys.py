"""The key table of `ganforge presets --keys`: every shared key, the keys of an optimiser group, and each
family's own keys. Descriptions are the comments beside the dataclass fields, read from the source, so each
key is documented in one place."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import json
import shutil
import textwrap
import tokenize
import types
import typing
from typing import Any

from ganforge.config.family import family_keys
from ganforge.config.schema import Config, OptimConfig, OptimizerConfig


def field_docs(cls: type) -> dict[str, str]:
    """Each field of dataclass `cls` -> its comment in the source: the comment lines immediately above the
    field and the trailing comment on its line(s), joined; "" for a field with neither."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    comments = {tok.start[0]: tok.string.lstrip("#").strip()  # line number (1-based) -> text
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    own_line = {n for n in comments if lines[n - 1].lstrip().startswith("#")}  # not trailing some code
    (node,) = ast.parse(source).body
    docs = {}
    for stmt in node.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        above = []
        n = stmt.lineno - 1
        while n in own_line:  # a block of comment lines directly above (a trailing comment ends it)
            above.insert(0, comments[n])
            n -= 1
        trailing = [comments[n] for n in range(stmt.lineno, stmt.end_lineno + 1) if n in comments]
        docs[stmt.target.id] = " ".join(above + trailing)
    return docs


def _type_name(hint: Any) -> str:
    """A user's name for a field's type: int, list[int], str or null, ..."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names + ["null"] * (type(None) in args))
    if typing.get_origin(hint) is list:
        return f"list[{_type_name(args[0])}]"
    return hint.__name__


def _rows(cls: type, prefix: str) -> list[tuple[str, str, str, str]]:
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    rows = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            rows += _rows(hint, f"{prefix}{f.name}.")
        elif cls is OptimConfig and f.name == "groups":  # one OptimizerConfig per group: optim.g, optim.d, ...
            rows += _rows(OptimizerConfig, f"{prefix}<group>.")
        elif typing.get_origin(hint) is dict:  # an open section (family): its owners' keys are listed apart
            continue
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            choices = f.metadata.get("choices")
            allowed = ", ".join(choices) if choices else _type_name(hint)
            rows.append((prefix + f.name, json.dumps(default), allowed, docs[f.name]))
    return rows


def key_table(family_options: dict[str, type | None] | None = None) -> list[tuple[str, str, str, str]]:
    """Every config key as (key, default as JSON, allowed values, description): the Config tree, the keys of
    an optimiser group as optim.<group>.*, then each family's own options as family.*, family by family
    (`family_options`: family name -> its Options dataclass or None; default: every family's). A family
    option's description starts with the family that reads it: "model.family=gan: ...". A key several
    families read is listed under each, with that family's default, values and meaning."""
    rows = _rows(Config, "")
    for name, options in (family_keys() if family_options is None else family_options).items():
        for key, default, allowed, doc in _rows(options, "family.") if options is not None else []:
            rows.append((key, default, allowed, f"model.family={name}" + (f": {doc}" if doc else "")))
    return rows


def _section(row: tuple[str, str, str, str]) -> str:
    """A row's section: its key's first part, and for a family's own key the family."""
    key, *_, doc = row
    return doc.partition(":")[0] if key.startswith("family.") else key.split(".")[0]


def format_key_table(rows: list[tuple[str, str, str, str]], width: int | None = None) -> str:
    """The key table for a terminal of `width` columns (default: the terminal's): a line per key with its
    default and allowed values in aligned columns, its description wrapped and indented below; a blank
    line between sections (each family's keys a section of their own)."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    header = ("KEY", "DEFAULT", "ALLOWED")
    key_w = max(len(r[0]) for r in rows + [header]) + 2
    default_w = max(len(r[1]) for r in rows + [header]) + 2
    allowed_wrap = max(width - key_w - default_w, 20)  # a long list of choices continues under itself
    out = [f"{header[0]:{key_w}s}{header[1]:{default_w}s}{header[2]}"]
    section = None
    for row in rows:
        key, default, allowed, doc = row
        if _section(row) != section and section is not None:
            out.append("")
        section = _section(row)
        first, *more = textwrap.wrap(allowed, allowed_wrap) or [""]
        out.append(f"{key:{key_w}s}{default:{default_w}s}{first}".rstrip())
        out += [" " * (key_w + default_w) + line for line in more]
        out += textwrap.wrap(doc, width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(out) + "\n"
