"""Every command the README and docs/ show parses: each `ganforge ...` line through ganforge's own argument
parser, each `python bench/NAME.py ...` line through that script's parser, and every preset they name exists.

Commands are read from shell code blocks (continuation lines joined, comments dropped) and from inline code
that starts with a command (`GANFORGE_DATA=... ganforge ...`, `python -m ganforge ...` and `torchrun ... -m
ganforge ...` included). The docs' notation is understood, not skipped: `[--flag VALUE]` is an optional part,
each alternative of `[--a ...|--b ...]` is parsed on its own, `...` stands for more of the same, and a word in
capitals (RUN, N, PSI) is a placeholder that any typed option accepts. An inline span that only names a
command (`ganforge explore`) must name one that exists.
"""

from __future__ import annotations

import argparse
import functools
import re
import shlex
from pathlib import Path

import pytest

import ganforge
from ganforge.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PRESETS = {p.stem for p in (Path(ganforge.__file__).parent / "presets").glob("*.yaml")}
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")
FENCE = re.compile(r"^\s*```\s*(\S*)")
SHELLS = {"", "bash", "sh", "shell", "console"}
# an inline code span: no backtick inside, and no blank line (a span never crosses a paragraph)
SPAN = re.compile(r"`((?:[^`\n]|\n(?![ \t]*\n))+)`")
ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


# -- reading commands out of Markdown --------------------------------------------------------------------------


def command_lines(text: str) -> list[tuple[int, str, bool]]:
    """(line number, text, whole) of each candidate command: the lines of shell code blocks, continuations
    joined (whole: True), and every inline code span outside code blocks (whole: False)."""
    found, prose, block, language, start = [], [], None, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if fence:
            if block is None:
                block, language = [], fence.group(1).lower()
            else:
                if language in SHELLS:
                    joined = ""
                    for at, code in block:
                        if not joined:
                            start = at
                        if code.rstrip().endswith("\\"):
                            joined += code.rstrip()[:-1] + " "
                            continue
                        found.append((start, joined + code, True))
                        joined = ""
                    if joined:
                        found.append((start, joined, True))
                block = None
            prose.append("")
        elif block is not None:
            block.append((number, line))
            prose.append("")
        else:
            prose.append(line)
    text = "\n".join(prose)
    for span in SPAN.finditer(text):
        found.append((text.count("\n", 0, span.start()) + 1, " ".join(span.group(1).split()), False))
    return sorted(found, key=lambda f: f[0])  # stable: spans of a line stay in their order


def program(tokens: list[str]) -> tuple[str, list[str]] | None:
    """('ganforge' or 'bench/NAME.py', its arguments) when the tokens run one, else None (pip, pytest, ...)."""
    while tokens and ENV.match(tokens[0]):
        tokens = tokens[1:]  # GANFORGE_DATA=... OMP_NUM_THREADS=1
    if not tokens:
        return None
    if tokens[0] == "ganforge":
        return "ganforge", tokens[1:]
    if tokens[0] in ("python", "python3", "torchrun"):
        for i in range(1, len(tokens) - 1):
            if tokens[i] == "-m" and tokens[i + 1] == "ganforge":
                return "ganforge", tokens[i + 2:]
        if tokens[0] != "torchrun" and len(tokens) > 1 and tokens[1].startswith("bench/"):
            return tokens[1], tokens[2:]
    return None


def variants(args: list[str]) -> list[list[str]]:
    """The argument lists a documented command stands for: the line without its optional [...] parts, then
    the line with each alternative of each part in turn; `...` is dropped, or after a flag inside [...] is
    that flag's VALUE."""
    base, optional, group = [], [], None
    for token in args:
        if group is None and token.startswith("["):
            group, token = [], token[1:]
        if group is None:
            if token != "...":
                base.append(token)
            continue
        closed = token.endswith("]")
        group.append(token[:-1] if closed else token)
        if closed:
            optional.append(group)
            group = None
    if group is not None:
        raise ValueError("an optional part [ is not closed")
    out = [base]
    for part in optional:
        for alternative in " ".join(part).split("|"):
            words = alternative.split()
            filled = [("VALUE" if i and words[i - 1].startswith("-") else None) if w == "..." else w
                      for i, w in enumerate(words)]
            out.append(base + [w for w in filled if w])
    return out


# -- checking them ------------------------------------------------------------------------------------------


class Refused(Exception):
    pass


def parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from parsers(sub)


def checking(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser, and each of its subcommands' parsers, raising Refused instead of exiting, with every
    typed option also taking a placeholder."""
    def refuse(message):
        raise Refused(message)

    def or_placeholder(convert):
        @functools.wraps(convert)  # argparse names the type in its message: "invalid int value"
        def take(value):
            return value if PLACEHOLDER.fullmatch(value) else convert(value)
        return take

    for p in parsers(parser):
        p.error = refuse
        for action in p._actions:
            if callable(action.type):
                action.type = or_placeholder(action.type)
    return parser


def names_a_command(parser: argparse.ArgumentParser, words: list[str]) -> bool:
    """Whether the words are a chain of (sub)command names: `ganforge classifier train` names a command."""
    for word in words:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            return False
        parser = subs[0].choices[word]
    return bool(words)


def problem(line: str, whole: bool, bench) -> str | None:
    """What is wrong with one documented command line (None: it parses); `bench` loads bench/NAME.py."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as e:
        return f"cannot be split into words: {e}"
    found = program(tokens)
    if found is None:
        return None
    name, args = found
    if name == "ganforge":
        make = build_parser
    else:
        if not (ROOT / name).is_file():
            return f"{name} does not exist"
        try:
            script = bench(Path(name).stem)
        except ImportError as e:  # a script that no longer imports: its commands cannot run either
            return f"{name} cannot be imported: {type(e).__name__}: {e}"
        make = getattr(script, "build_parser", None)
        if make is None:  # a script without an importable parser: that it exists is all that can be checked
            return None
    if not whole and name == "ganforge" and names_a_command(make(), args):
        return None
    try:
        expanded = variants(args)
    except ValueError as e:
        return str(e)
    for argv in expanded:
        try:
            parsed = checking(make()).parse_args(argv)
        except (Refused, SystemExit) as e:
            return f"{' '.join(argv)}: {e}"
        for option in ("config", "show"):  # --config PRESET, presets --show PRESET
            value = getattr(parsed, option, None)
            if (isinstance(value, str) and value not in PRESETS and not PLACEHOLDER.fullmatch(value)
                    and not value.endswith((".yaml", ".yml"))):
                return f"no preset named {value!r}"
    return None


def words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return []


def problems(text: str, bench) -> list[tuple[int, str, str]]:
    return [(number, line, why) for number, line, whole in command_lines(text)
            if (why := problem(line, whole, bench)) is not None]


# -- the tests ----------------------------------------------------------------------------------------------


def test_every_command_in_the_readme_and_docs_parses(bench):
    failures, seen = [], 0
    for page in PAGES:
        text = page.read_text()
        seen += sum(program(words(line)) is not None for _, line, _ in command_lines(text))
        failures += [f"{page.relative_to(ROOT)}:{n}: {line}\n    {why}" for n, line, why in problems(text, bench)]
    assert seen > 100  # the pages were read: a reader that finds nothing passes nothing
    assert not failures, "\n" + "\n".join(failures)


def known_options(bench) -> set[str]:
    """Every option of ganforge's commands and of the bench scripts (those that import: the test above names
    any that does not)."""
    makers = [build_parser]
    for script in sorted((ROOT / "bench").glob("*.py")):
        try:
            makers.append(getattr(bench(script.stem), "build_parser", None))
        except ImportError:  # named by the test above
            pass
    found = set()
    for make in filter(None, makers):
        for parser in parsers(make()):
            for action in parser._actions:
                found.update(action.option_strings)
    return found


# other programs' options the docs name on their own (torchrun's, in many-gpus.md)
FOREIGN = {"--nnodes", "--rdzv-*"}


def test_every_option_named_on_its_own_exists(bench):
    """An option in inline code without its command (`--preset mnist-30min`) is still one of ganforge's."""
    known = known_options(bench) | FOREIGN
    stale = [f"{page.relative_to(ROOT)}:{n}: {line}" for page in PAGES
             for n, line, whole in command_lines(page.read_text())
             if not whole and line.startswith("--") and line.split()[0].split("=")[0] not in known]
    assert not stale, "\n" + "\n".join(stale)
    assert "--preset" not in known and {"--config", "--steps", "--rows", "--score-only"} <= known


WRONG = """
Train it with `ganforge train --preset fashion-30min` and then `ganforge sample RUN --truncation high`.

```bash
ganforge eval runs/x \\
    --metircs fid                                  # a misspelt option on a continuation line
GANFORGE_DATA=/data ganforge train --config no-such-preset
python bench/translation.py pix2pix --stesp 10000
python bench/no-such-script.py
ganforge explore attribute RUN --attr trouser [--colour ...]
```

Or `ganforge evaluate RUN`, and `torchrun --nproc_per_node=2 -m ganforge train --config toy-ring
--steps many`.
"""

RIGHT = """
Every `ganforge explore` command; `ganforge classifier train` makes one.

```bash
ganforge eval runs/x \\
    --metrics fid                                  # the same, spelt right
GANFORGE_DATA=/data ganforge train --config fashion-30min --steps N
python bench/translation.py pix2pix [--steps N] [--rows l1,l1+cgan]
OMP_NUM_THREADS=1 python -m ganforge train --config toy-ring
pip install -e ".[dev]"                            # not a ganforge command: not checked
```

`ganforge explore attribute RUN --attr trouser [--seeds ...|--images ...] [--strength ...]` and
`torchrun --nproc_per_node=2 -m ganforge train --config toy-ring
--steps 100`.
"""


def test_wrong_lines_are_caught_and_right_ones_pass(bench):
    wrong = problems(WRONG, bench)
    assert [n for n, _, _ in wrong] == [2, 2, 5, 7, 8, 9, 10, 13, 13]
    why = [w for _, _, w in wrong]
    assert "--preset" in why[0] and "high" in why[1] and "--metircs" in why[2]
    assert "no preset named 'no-such-preset'" in why[3] and "--stesp" in why[4] and "does not exist" in why[5]
    assert "--colour" in why[6] and "evaluate" in why[7] and "many" in why[8]
    assert problems(RIGHT, bench) == []


def test_commands_are_read_as_a_reader_reads_them():
    lines = command_lines(RIGHT)
    joined = [line for _, line, whole in lines if whole and "eval" in line]
    assert len(joined) == 1 and joined[0].split() == ["ganforge", "eval", "runs/x", "--metrics", "fid", "#",
                                                      "the", "same,", "spelt", "right"]
    assert (14, "torchrun --nproc_per_node=2 -m ganforge train --config toy-ring --steps 100", False) in lines
    assert program(shlex.split("GANFORGE_DATA=/d OMP_NUM_THREADS=1 ganforge sample RUN")) == ("ganforge",
                                                                                              ["sample", "RUN"])
    assert program(["pip", "install", "."]) is None and program(["python", "-m", "pytest"]) is None
    assert variants(["explore", "RUN", "--seeds", "0", "1", "...", "[--slerp]", "[--a", "...|--b", "X]"]) == [
        ["explore", "RUN", "--seeds", "0", "1"], ["explore", "RUN", "--seeds", "0", "1", "--slerp"],
        ["explore", "RUN", "--seeds", "0", "1", "--a", "VALUE"], ["explore", "RUN", "--seeds", "0", "1", "--b", "X"]]


@pytest.mark.parametrize("argv", [["sample", "RUN", "--truncation", "PSI"], ["train", "--steps", "N"]])
def test_placeholders_stand_for_values_and_nothing_else(argv):
    checking(build_parser()).parse_args(argv)
    with pytest.raises(Refused):
        checking(build_parser()).parse_args([*argv[:-1], "psi"])  # lower case: a value, and not a number
