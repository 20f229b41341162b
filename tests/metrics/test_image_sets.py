"""`ganforge eval --real A --fake B`: two image sets compared like pytorch-fid, with what can go wrong said
in one line."""

import json

import numpy as np

from ganforge.cli import main
from ganforge.data import load_dataset
from ganforge.metrics.image_sets import evaluate_sets


def test_eval_compares_two_image_sets_like_pytorch_fid(tmp_path, capsys):
    real = load_dataset("fashion-mnist-10k").x
    np.savez(tmp_path / "same.npz", x=real[:300].numpy())
    np.savez(tmp_path / "nhwc.npz", real[300:600].permute(0, 2, 3, 1).numpy())  # one unnamed array, N x H x W x C
    out = tmp_path / "res" / "cmp.json"
    assert main(["eval", "--real", "fashion-mnist-10k", "--fake", str(tmp_path / "same.npz"), "--n", "300",
                 "--metrics", "fid,pr", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert abs(result["values"]["fd_classifier"]) < 1e-6 and result["values"]["precision"] == 1.0
    p = result["protocol"]
    assert p["real"] == "fashion-mnist-10k" and p["fake"].endswith("same.npz") and p["n_fake"] == 300
    assert p["extractor"] == "fashion-mnist-classifier"
    other = evaluate_sets("fashion-mnist-10k", str(tmp_path / "nhwc.npz"), ("fid",), n=300, progress=False)
    assert 0 < other["values"]["fd_classifier"] < 5  # real vs other real images: small but not zero
    assert "fd_classifier" in capsys.readouterr().out


def test_eval_sets_errors(tmp_path, capsys):
    np.savez(tmp_path / "float.npz", x=np.zeros((4, 1, 28, 28), np.float32))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "pickled.npz").write_bytes((tmp_path / "obj.npy").read_bytes())
    cases = [
        (["--real", "fashion-mnist-10k", "--fake", str(tmp_path / "float.npz")], "must be uint8"),
        (["--real", "fashion-mnist-10k", "--fake", str(tmp_path / "missing.npz")], "no such file"),
        (["--real", "fashion-mnist-10k", "--fake", str(tmp_path / "pickled.npz")], "not a readable .npz"),
        (["--real", "fashion-mnist-10k"], "--real NAME|PATH and --fake PATH"),
        (["--real", "toy-ring", "--fake", str(tmp_path / "float.npz")], "toy data"),
    ]
    for argv, message in cases:
        assert main(["eval", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_nn_flags_copies_of_training_images(tmp_path):
    real = load_dataset("fashion-mnist-10k").x
    np.savez(tmp_path / "copies.npz", x=real[:200].numpy())
    result = evaluate_sets("fashion-mnist-10k", str(tmp_path / "copies.npz"), ("nn",), n=1000,
                           out=tmp_path / "e.json", progress=False)
    assert result["values"]["nn_pixel_copy_rate"] == 1.0 and result["values"]["nn_pixel_nn_ratio"] == 0.0
    assert (tmp_path / "nearest.png").is_file()
