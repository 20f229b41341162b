"""The options the run tools share."""

import argparse

import pytest

from ganforge.run_options import run_options


def test_the_shared_options_and_what_leaves_each_out():
    p = argparse.ArgumentParser()
    run_options(p, "FILE.png", "the picture")
    args = p.parse_args(["RUN", "--out", "a.png", "--force", "--checkpoint", "best", "--device", "cpu"])
    assert (args.run_dir, args.out, args.force, args.checkpoint, args.device) == ("RUN", "a.png", True, "best", "cpu")
    assert p.parse_args(["RUN"]).device == "auto"
    with pytest.raises(SystemExit):
        p.parse_args([])  # RUN_DIR is required

    bare = argparse.ArgumentParser()
    run_options(bare, force=None, checkpoint=False, device=False, run_help="a run, or give --real")
    assert vars(bare.parse_args([])) == {"run_dir": None}  # optional, and nothing else added
