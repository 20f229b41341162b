"""Run folders: one message for a folder that is not a run, continuing with a schedule kept continuous,
held-out examples, optimiser groups written out."""

import pytest
import torch

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import UserError
from ganforge.runs import continue_config, heldout_data, load_data, read_config, require_run, resolved
from ganforge.training.loop import train

TOY = ["data.n_toy=500", "train.batch_size=16", "log.tensorboard=false", "log.checkpoint_every=4"]


def test_one_message_for_a_folder_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(UserError, match="is not a ganforge run \\(no config.yaml\\)"):
        require_run(tmp_path)
    for argv in (["sample", str(tmp_path)], ["eval", str(tmp_path)], ["train", "--resume", str(tmp_path)]):
        assert main(argv) == 2
        assert "is not a ganforge run (no config.yaml); give the folder `ganforge train` made" in capsys.readouterr().err


def test_resume_refuses_to_stretch_a_decaying_schedule(tmp_path):
    run = tmp_path / "run"
    train(load_config("toy-ring", [*TOY, "train.steps=8", "optim.decay=linear"]), run, quiet=True)
    with pytest.raises(UserError, match="decays its learning rates .* over 8 steps; resuming to 12"):
        continue_config(run, ["train.steps=12"])
    assert read_config(run).train.steps == 8  # the run is untouched
    assert continue_config(run, ["train.steps=8"]).train.steps == 8
    plain = tmp_path / "plain"
    train(load_config("toy-ring", [*TOY, "train.steps=4"]), plain, quiet=True)
    assert continue_config(plain, ["train.steps=12"]).train.steps == 12  # no decay: any later target


def test_holdout_keeps_the_last_examples_out_of_training():
    cfg = load_config("default", ["data.holdout=1000"])
    train_part, held = load_data(cfg), heldout_data(cfg)
    full = load_data(load_config("default"))
    assert len(train_part.x) == 9000 and len(held.x) == 1000
    assert torch.equal(held.x, full.x[-1000:]) and torch.equal(train_part.y, full.y[:9000])
    with pytest.raises(UserError, match="'data.holdout' \\(10000\\) must be below"):
        load_data(load_config("default", ["data.holdout=10000"]))


def test_resolved_config_writes_every_group_and_accepts_any_case():
    cfg = resolved(load_config("aae-mnist", ["optim.AE.lr=3e-3"]))
    assert list(cfg.optim.groups) == ["d", "ae", "e"] or set(cfg.optim.groups) == {"ae", "d", "e"}
    assert cfg.optim.group("AE").lr == 3e-3 and cfg.optim.ae.lr == 3e-3
    default = resolved(load_config("default"))
    assert list(default.optim.groups) == ["g", "d"]


def test_a_subset_is_seeded_and_balanced_over_classes():
    from ganforge.config import load_config
    from ganforge.runs import load_data

    cfg = load_config(None, ["data.subset=1000"])
    a, b = load_data(cfg), load_data(cfg)
    assert len(a.x) == 1000 and torch.equal(a.x, b.x)  # the same seed, the same images
    assert torch.bincount(a.y).tolist() == [100] * 10
    other = load_data(load_config(None, ["data.subset=1000", "train.seed=1"]))
    assert not torch.equal(a.x, other.x)
    assert torch.bincount(load_data(load_config(None, ["data.subset=15"])).y).tolist() == [2] * 5 + [1] * 5
