"""`ganforge explore`'s arguments: every option reaches its ganforge.exploring function by name."""

import argparse
import inspect

import pytest

from ganforge import explore_command, exploring
from ganforge.errors import UserError

FUNCTIONS = {"interpolate": exploring.interpolate, "arithmetic": exploring.arithmetic,
             "attribute": exploring.attribute, "truncation": exploring.truncation_sweep, "mix": exploring.style_mix}


def parser():
    p = argparse.ArgumentParser()
    explore_command.add_arguments(p)
    return p


def subparsers(p):
    return next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_action_option_is_a_keyword_of_its_exploring_function():
    actions = subparsers(parser())
    assert set(actions) == set(FUNCTIONS)
    for name, sub in actions.items():
        keywords = set(inspect.signature(FUNCTIONS[name]).parameters) - {"run_dir"}
        dests = {a.dest for a in sub._actions if a.dest not in ("help", "run_dir")}
        assert dests <= keywords, (name, dests - keywords)
        assert {"out", "force", "checkpoint", "device"} <= dests  # the shared run options


def test_arguments_parse_to_the_functions_names_and_two_sources_are_refused():
    args = parser().parse_args(["interpolate", "RUN", "--slerp", "--seeds", "0", "1", "--steps", "4"])
    assert (args.action, args.run_dir, args.spherical, args.seeds, args.steps) == ("interpolate", "RUN", True, [0, 1], 4)
    args = parser().parse_args(["attribute", "RUN", "--attr", "trouser", "--seeds", "1", "--codes", "x.npz"])
    with pytest.raises(UserError, match="give one of --seeds, --codes"):
        explore_command.main(args)  # refused before the run is read
