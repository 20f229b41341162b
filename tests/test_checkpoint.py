import json

import pytest
import torch

from ganforge import checkpoint as ckpt
from ganforge.errors import UserError


def test_optimizer_state_round_trips_through_safetensors_and_json():
    w = torch.nn.Parameter(torch.randn(3, 2))
    opt = torch.optim.Adam([w], lr=0.01, betas=(0.5, 0.9))
    for _ in range(3):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    tensors, meta = ckpt.flatten_optimizer("G", opt)
    meta = json.loads(json.dumps(meta))  # must be plain JSON
    w2 = torch.nn.Parameter(w.detach().clone())
    opt2 = torch.optim.Adam([w2], lr=1.0)
    opt2.load_state_dict(ckpt.unflatten_optimizer("G", tensors, meta))
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2.param_groups[0]["betas"] == [0.5, 0.9]
    for key in ("exp_avg", "exp_avg_sq", "step"):
        assert torch.equal(opt2.state[w2][key], opt.state[w][key])


def test_save_keeps_the_newest_and_leaves_no_temporary_folder(tmp_path):
    for step in (10, 20, 30):
        ckpt.save_checkpoint(tmp_path, step, {"G.w": torch.full((2,), float(step))}, {"x": torch.zeros(1)},
                             {"step": step}, keep=2)
    names = [p.name for p in ckpt.list_checkpoints(tmp_path)]
    assert names == ["step_000020", "step_000030"]
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))
    model, _, meta = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path))
    assert meta["step"] == 30 and model["G.w"].tolist() == [30.0, 30.0]


def test_unfinished_temporary_folders_are_ignored(tmp_path):
    (tmp_path / "checkpoints" / ".tmp-step_000050").mkdir(parents=True)
    with pytest.raises(UserError, match="holds no checkpoint"):
        ckpt.latest_checkpoint(tmp_path)


def test_corrupt_checkpoint_is_a_user_error(tmp_path):
    path = ckpt.save_checkpoint(tmp_path, 1, {"G.w": torch.zeros(2)}, {}, {"step": 1}, keep=1)
    (path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match=r"damaged \(model.safetensors does not match its sha256\)"):
        ckpt.load_checkpoint(path)


def test_manifest_records_every_file_and_catches_a_flipped_byte(tmp_path):
    import json

    first = ckpt.save_checkpoint(tmp_path, 1, {"G.w": torch.ones(4)}, {"s": torch.zeros(3)}, {"step": 1}, keep=3)
    second = ckpt.save_checkpoint(tmp_path, 2, {"G.w": torch.ones(4) * 2}, {"s": torch.zeros(3)}, {"step": 2}, keep=3)
    manifest = json.loads((second / "manifest.json").read_text())["sha256"]
    assert set(manifest) == {"model.safetensors", "state.safetensors", "state.json"}
    assert ckpt.checkpoint_problem(second) is None
    data = bytearray((second / "state.safetensors").read_bytes())
    data[-1] ^= 0xFF  # one flipped bit pattern in the tensor payload: still loadable, but not what was saved
    (second / "state.safetensors").write_bytes(bytes(data))
    assert ckpt.checkpoint_problem(second) == "state.safetensors does not match its sha256"
    assert ckpt.latest_checkpoint(tmp_path) == first  # the damaged newest one is passed over
    (first / "state.json").unlink()
    assert ckpt.checkpoint_problem(first) == "state.json is missing"
    with pytest.raises(UserError, match="every checkpoint"):
        ckpt.latest_checkpoint(tmp_path)


def test_a_checkpoint_from_before_manifests_loads_unverified(tmp_path, capsys):
    path = ckpt.save_checkpoint(tmp_path, 7, {"G.w": torch.ones(3)}, {"s": torch.zeros(1)}, {"step": 7}, keep=1)
    (path / "manifest.json").unlink()
    assert ckpt.checkpoint_problem(path) is None
    assert ckpt.latest_checkpoint(tmp_path) == path
    model, _, meta = ckpt.load_checkpoint(path)
    assert meta["step"] == 7 and model["G.w"].tolist() == [1.0, 1.0, 1.0]
    assert "has no manifest.json (written by an older ganforge)" in capsys.readouterr().err
    (path / "model.safetensors").unlink()  # without its weights it is no checkpoint at all
    assert ckpt.checkpoint_problem(path) == "manifest.json missing or unreadable"


def test_rng_state_round_trip():
    import random

    import numpy as np

    tensors, plain = ckpt.rng_state()
    plain = json.loads(json.dumps(plain))
    a = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.set_rng_state(tensors, plain)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all() and a[2] == b[2]


@pytest.fixture(scope="module")
def damaged_run(tmp_path_factory):
    """A tiny DCGAN run with checkpoints at steps 2 and 4, a best one, and the newest (step 4) damaged."""
    from ganforge.cli import main

    run = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "--out", str(run), "--steps", "4", "--quiet", "--checkpoint-every", "2", "--set",
                 "log.tensorboard=false", "--set", "family.g_width=8", "--set", "family.d_width=8", "--set",
                 "train.batch_size=8", "--set", "eval.every=2", "--set", "eval.n=200"]) == 0
    assert [p.name for p in ckpt.list_checkpoints(run)] == ["step_000002", "step_000004"]
    (run / "checkpoints" / "step_000004" / "model.safetensors").write_bytes(b"\0" * 64)  # a disk error
    return run


@pytest.mark.parametrize("command", [["sample", "--n", "4", "--out", "{out}/s.png"], ["eval", "--n", "200"],
                                     ["export", "--out", "{out}/g.pt"],
                                     ["explore", "interpolate", "--seeds", "0", "1", "--steps", "3", "--out",
                                      "{out}/i.png"]])
def test_every_command_passes_over_a_damaged_checkpoint_and_says_so(damaged_run, command, tmp_path, capsys):
    from ganforge.cli import main

    argv = [a.format(out=tmp_path) for a in command]
    at = 2 if argv[0] == "explore" else 1  # the run folder follows the command (and explore's action)
    assert main([*argv[:at], str(damaged_run), *argv[at:]]) == 0
    out, err = capsys.readouterr()
    assert (f"checkpoint {damaged_run / 'checkpoints' / 'step_000004'} is damaged (model.safetensors does not "
            "match its sha256); using an earlier one") in err
    if argv[0] == "eval":  # its values go to the run's eval.json, from step 2's weights
        assert f"samples of {damaged_run} at step 2 " in out
    else:
        assert list(tmp_path.iterdir())


def test_a_damaged_best_checkpoint_is_refused_by_name(damaged_run, tmp_path, capsys):
    import shutil

    from ganforge.cli import main

    copy = tmp_path / "run"
    shutil.copytree(damaged_run, copy)
    (copy / "checkpoints" / "best" / "model.safetensors").write_bytes(b"\0" * 64)
    assert main(["sample", str(copy), "--checkpoint", "best", "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "checkpoints/best is damaged" in err and "remove it" in err
    assert not (tmp_path / "s.png").exists()
