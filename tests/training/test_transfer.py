"""Fine-tuning (train.init, `ganforge train --init RUN`): every network starts as the source run left it, the
optimisers fresh; a source that does not fit is named before anything is written; run.json and the report say
where the run started; resume stays exact."""

import json

import pytest
import torch

from ganforge.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import UserError
from ganforge.reporting import render
from ganforge.runs import continue_config, load_data
from ganforge.training import transfer
from ganforge.training.build import build_trainer
from ganforge.training.log import RunningStats
from ganforge.training.loop import train

# the default preset (DCGAN 28x28 with an EMA of G), tiny
TINY = ["family.g_width=8", "family.d_width=8", "train.batch_size=8", "train.precision=fp32", "eval.every=0",
        "log.tensorboard=false", "log.sample_every=1000"]


def as_sets(items):
    return [a for item in items for a in ("--set", item)]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    run = tmp_path_factory.mktemp("transfer") / "source"
    train(load_config(None, [*TINY, "train.steps=2"]), run, quiet=True)
    return run


def test_every_network_and_the_average_start_as_the_source_left_them(source):
    cfg = load_config(None, [*TINY, f"train.init={source}"])
    trainer = build_trainer(cfg, load_data(cfg))
    record = transfer.start_from(trainer)
    model, _, _ = load_checkpoint(latest_checkpoint(source))
    for name, net in trainer.family.networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, model[f"{name}.{key}"]), f"{name}.{key}"
    averaged = {k.removeprefix("G_ema."): v for k, v in model.items() if k.startswith("G_ema.")}
    assert not all(torch.equal(averaged[k], model[f"G.{k}"]) for k in averaged)  # the average is its own
    shadow = trainer.ema.shadow.state_dict()
    assert shadow.keys() == averaged.keys() and all(torch.equal(shadow[k], averaged[k]) for k in shadow)
    assert trainer.ema.num_updates == 0  # the warm-up starts again
    assert all(not opt.state for opt in trainer.optimizers.values())  # no moments, no step counts
    assert record == {"run": str(source.resolve()), "checkpoint": "checkpoints/step_000002", "step": 2,
                      "averaged": True}
    # one of its checkpoint folders: the same start
    given = load_config(None, [*TINY, f"train.init={source / 'checkpoints' / 'step_000002'}"])
    assert transfer.source(given) == (source, source / "checkpoints" / "step_000002")


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_a_source_that_does_not_fit_is_named_and_nothing_is_written(source, tmp_path, capsys):
    out = tmp_path / "never"
    base = ["train", "--out", str(out), "--quiet", "--steps", "1"]
    wider = as_sets([*TINY, "family.g_width=16"])
    err = _error(capsys, [*base, "--init", str(source), *wider])
    assert "'train.init': weight G.0.weight is 784x100 in" in err and "1568x100 here" in err
    err = _error(capsys, [*base, "--init", str(source), "--config", "aae-mnist"])
    assert "is a run of the gan family and this one of the aae family" in err
    (tmp_path / "empty").mkdir()
    err = _error(capsys, [*base, "--init", str(tmp_path / "empty"), *as_sets(TINY)])
    assert "is not a ganforge run (no config.yaml)" in err
    assert "no such folder" in _error(capsys, [*base, "--init", str(tmp_path / "absent"), *as_sets(TINY)])
    assert not out.exists()
    err = _error(capsys, ["train", "--resume", str(source), "--init", str(source)])
    assert "drop --config, --out and --init" in err


def test_a_fine_tuned_run_records_its_source_and_resumes_exactly(source, tmp_path):
    sets = [*TINY, f"train.init={source}", "log.checkpoint_every=2"]
    straight = load_config(None, [*sets, "train.steps=4"])
    assert main(["train", "--out", str(tmp_path / "straight"), "--init", str(source), "--steps", "4", "--quiet",
                 *as_sets([*TINY, "log.checkpoint_every=2"])]) == 0
    train(load_config(None, [*sets, "train.steps=2"]), tmp_path / "resumed", quiet=True)
    train(continue_config(tmp_path / "resumed", ["train.steps=4"]), tmp_path / "resumed", resume=True, quiet=True)
    a_model, a_state, _ = load_checkpoint(latest_checkpoint(tmp_path / "straight"))
    b_model, b_state, b_meta = load_checkpoint(latest_checkpoint(tmp_path / "resumed"))
    assert b_meta["step"] == 4 and a_model.keys() == b_model.keys()
    assert all(torch.equal(a_model[k], b_model[k]) for k in a_model)
    assert all(torch.equal(a_state[k], b_state[k]) for k in a_state if k.startswith(("optim.", "data.", "noise.")))
    # the loop starts from the source: its step 2 is the source's weights, averaged G included, trained 2 steps
    trainer = build_trainer(straight, load_data(straight))
    model, _, _ = load_checkpoint(latest_checkpoint(source))
    for name, net in [*trainer.family.networks.items(), ("G_ema", trainer.ema.shadow)]:
        net.load_state_dict({k.removeprefix(f"{name}."): v for k, v in model.items() if k.startswith(f"{name}.")})
    stats = RunningStats()
    trainer.train_step(stats)
    trainer.train_step(stats)
    at_2, _, _ = load_checkpoint(list_checkpoints(tmp_path / "straight")[0])
    mine = trainer.model_tensors()
    assert mine.keys() == at_2.keys() and all(torch.equal(mine[k], at_2[k]) for k in mine)
    for run in ("straight", "resumed"):
        record = json.loads((tmp_path / run / "run.json").read_text())["init"]
        assert record == {"run": str(source.resolve()), "checkpoint": "checkpoints/step_000002", "step": 2,
                          "averaged": True}
    assert f"fine-tuned: every network started from {source.resolve()} at step 2" in render(tmp_path / "resumed")
    with pytest.raises(UserError, match="'train.init' says which run this one started from"):
        continue_config(tmp_path / "resumed", [f"train.init={tmp_path / 'straight'}"])


def test_srgans_own_start_and_train_init_are_not_both_taken():
    with pytest.raises(UserError, match="'family.init' .* and 'train.init' .* both start G; .* set family.init=''"):
        load_config("srgan-fashion-sr4", ["train.init=runs/srgan"])  # the preset starts G from an SRResNet run
    assert load_config("srgan-fashion-sr4", ["train.init=runs/srgan", "family.init="]).train.init == "runs/srgan"
