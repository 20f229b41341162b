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


def test_a_users_folder_against_samples_without_any_extractor(tmp_path, monkeypatch, capsys, user_folder):
    for name, value in (("GANFORGE_DATA", "data"), ("HOME", "home"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(name, str(tmp_path / value))
    monkeypatch.delenv("GANFORGE_INCEPTION", raising=False)
    folder = user_folder(tmp_path / "mine", 20)
    real = load_dataset(str(folder), resolution=32, on_bad_file="skip").x  # as a run trained on it reads it
    np.savez(tmp_path / "fake.npz", x=real.flip(-1)[:12].numpy())  # 12 mirrored images: fewer than the 20 real
    out = tmp_path / "cmp.json"
    argv = ["eval", "--real", str(folder), "--fake", str(tmp_path / "fake.npz"), "--out", str(out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    # by default as many of each as the smaller set holds; the 48x32 images read at the samples' 32x32
    assert lines[0] == (f"12 images of npz:{tmp_path / 'fake.npz'} vs 12 images of folder:{folder}, the whole folder "
                        "(no test split); features: none (pixel metrics only)")
    assert lines[1] == f"note: skipped 1 unreadable file of {folder}"
    assert lines[2].startswith(f"note: fid, kid, pr, dc skipped: they need image features (no domain classifier for "
                               f"folder:{folder} and no FID Inception: --inception not given, GANFORGE_INCEPTION not "
                               f"set, no pt_inception_fid_torchscript.pt in {tmp_path}/data/fid-inception, ")
    p = json.loads(out.read_text())["protocol"]
    assert p["n_real"] == p["n_fake"] == 12 and p["split"] == "the whole folder (no test split)"
    assert p["n"] == "12 against 12: as many of each as the smaller set holds, up to 10,000 (the default; --n N to choose)"
    assert p["skipped"].startswith("fid, kid, pr, dc: no feature extractor")
    assert "leave-one-out distances of 12 training images" in p["nn"]
    assert p["real_size"] == ("resized so the short side is 32 px and centre-cropped to 32x32, the generated "
                              "images' size, as training does") and p["real_skipped"][0].startswith("broken.png: ")
    values = json.loads(out.read_text())["values"]
    assert values["swd_avg"] > 0 and values["nn_pixel_nn_ratio"] > 0  # mirrored: no sample is an exact copy
    assert main([*argv, "--metrics", "kid"]) == 2  # asked for: refused, naming where the Inception was looked for
    assert f"no pt_inception_fid_torchscript.pt in {tmp_path}/data/fid-inception" in capsys.readouterr().err


def test_kid_subsets_and_counts_of_two_image_sets(tmp_path):
    real = load_dataset("fashion-mnist-10k").x
    np.savez(tmp_path / "other.npz", x=real[5000:5300].numpy())
    result = evaluate_sets("fashion-mnist-10k", str(tmp_path / "other.npz"), ("kid", "pr"), progress=False)
    p, v = result["protocol"], result["values"]
    assert p["n_real"] == p["n_fake"] == 300 and p["split"] == "the whole dataset (no test split)"
    assert p["kid"].endswith("100 random subset pairs of 150 images each, from 300 real and 300 generated")
    assert v["kd_classifier_std"] > 0 and result["notes"] == p["warnings"] and len(p["warnings"]) == 1
