import pytest
import torch
from safetensors.torch import load_file

from ganforge.cli import main
from ganforge.legacy import flatten_tensors


def test_flatten_nested_containers():
    flat = flatten_tensors({"G": {"w": torch.ones(2)}, "list": [torch.zeros(1), "text"], "step": 3})
    assert set(flat) == {"G.w", "list.0"}


def test_convert_needs_trust_pickle_and_then_reads_only_tensors(tmp_path, capsys):
    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    torch.save({"G": net.state_dict(), "epoch": 7}, tmp_path / "old.pt")
    out = tmp_path / "new.safetensors"
    assert main(["convert", str(tmp_path / "old.pt"), "--out", str(out)]) == 2
    assert "--trust-pickle" in capsys.readouterr().err and not out.exists()
    assert main(["convert", str(tmp_path / "old.pt"), "--out", str(out), "--trust-pickle"]) == 0
    loaded = load_file(str(out))
    assert set(loaded) == {"G.0.weight", "G.0.bias"}
    assert torch.equal(loaded["G.0.weight"], net[0].weight.detach())


class Payload:
    """Any class: unpickling it would import and run this module's code."""


def test_a_pickle_with_objects_is_refused_even_when_trusted(tmp_path, capsys):
    torch.save({"w": torch.ones(1), "odd": Payload()}, tmp_path / "odd.pt")
    out = tmp_path / "x.safetensors"
    assert main(["convert", str(tmp_path / "odd.pt"), "--out", str(out), "--trust-pickle"]) == 2
    err = capsys.readouterr().err
    assert "not plain PyTorch weights" in err and err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize(("content", "message"), [(None, "no such file"), (b"garbage", "not plain PyTorch")])
def test_missing_and_garbage_files(tmp_path, capsys, content, message):
    src = tmp_path / "w.pt"
    if content is not None:
        src.write_bytes(content)
    assert main(["convert", str(src), "--out", str(tmp_path / "o.safetensors"), "--trust-pickle"]) == 2
    assert message in capsys.readouterr().err
