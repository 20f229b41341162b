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
