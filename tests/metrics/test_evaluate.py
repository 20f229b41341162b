import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.data import load_dataset
from ganforge.errors import UserError
from ganforge.metrics import evaluate

INCEPTION = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fid-inception" / \
    "pt_inception_fid_torchscript.pt"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "--out", str(run), "--steps", "2", "--quiet", "--set", "log.tensorboard=false",
                 "--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "train.batch_size=8"]) == 0
    return run


def test_compare_identical_features():
    x = torch.randn(300, 16)
    values = evaluate.compare(x, x.clone())
    assert abs(values["fid"]) < 1e-6
    assert values["precision"] == 1.0 and values["recall"] == 1.0 and values["coverage"] == 1.0


def test_reference_features_are_computed_once_and_cached(tmp_path):
    data = load_dataset("fashion-mnist-10k")
    extractor = evaluate.ClassifierExtractor("fashion-mnist")
    calls = []
    original = extractor.features
    extractor.features = lambda x, progress=False: calls.append(len(x)) or original(x)
    a = evaluate.reference_features(data, 300, extractor)
    b = evaluate.reference_features(data, 300, extractor)
    c = evaluate.cached_features(data.x[:300].clone(), extractor)  # same images from elsewhere: same entry
    assert calls == [300]
    assert torch.equal(a, b) and torch.equal(a, c) and a.shape == (300, 128)
    cached = list((tmp_path / "cache" / "features").glob("*.safetensors"))
    assert len(cached) == 1 and cached[0].name.startswith("300-") and "-fashion-mnist-classifier-" in cached[0].name
    changed = data.x[:300].clone()
    changed[0, 0, 0, 0] ^= 1  # one pixel differs: a new entry, never the stale one
    evaluate.cached_features(changed, extractor)
    assert calls == [300, 300]


def test_classifier_features_of_real_images_separate_classes():
    data = load_dataset("fashion-mnist-10k")
    feats = evaluate.ClassifierExtractor("fashion-mnist").features(data.x[:1000])
    trousers, bags = feats[data.y[:1000] == 1], feats[data.y[:1000] == 8]
    between = evaluate.frechet.fid_from_features(trousers, bags)
    within = evaluate.frechet.fid_from_features(trousers[::2], trousers[1::2])
    assert between > 10 * within


def test_eval_writes_values_with_their_protocol(fashion_run, capsys):
    assert main(["eval", str(fashion_run), "--n", "200"]) == 0
    result = json.loads((fashion_run / "eval.json").read_text())
    # FID is the Inception's: in the domain classifier's features the distances carry the features' name
    assert set(result["values"]) == {"fd_classifier", "kd_classifier_mean", "kd_classifier_std", "precision",
                                     "recall", "density", "coverage"}
    p = result["protocol"]
    assert p["extractor"] == "fashion-mnist-classifier" and len(p["extractor_sha1"]) == 40
    assert p["n_real"] == 200 and p["n_fake"] == 200 and p["split"] == "test" and p["checkpoint_step"] == 2
    assert result["values"]["fd_classifier"] > 0
    out = capsys.readouterr().out
    assert "fd_classifier" in out and "fid" not in out and f"wrote {fashion_run / 'eval.json'}" in out


def test_eval_merges_into_eval_json_and_names_each_protocol(fashion_run, capsys):
    assert main(["eval", str(fashion_run), "--n", "100", "--metrics", "fd"]) == 0
    first = json.loads((fashion_run / "eval.json").read_text())["values"]["fd_classifier"]
    assert main(["eval", str(fashion_run), "--n", "100", "--metrics", "swd,nn"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {fashion_run / 'nearest.png'}" in out and f"wrote {fashion_run / 'eval.json'}" in out
    result = json.loads((fashion_run / "eval.json").read_text())
    assert result["values"]["fd_classifier"] == first and "swd_avg" in result["values"]  # the earlier value kept
    fd_entry = next(e for e in result["evaluations"] if "fd_classifier" in e["values"])
    assert "nn" in result["evaluations"][-1]["protocol"] and "nn" not in fd_entry["protocol"]
    assert fd_entry["protocol"]["n_fake"] == 100
    n_entries = len(result["evaluations"])
    assert main(["eval", str(fashion_run), "--n", "100", "--metrics", "fd", "--seed", "1"]) == 0
    result = json.loads((fashion_run / "eval.json").read_text())  # measured again: the old entry gives it up
    assert result["values"]["fd_classifier"] != first and len(result["evaluations"]) == n_entries
    assert result["evaluations"][-1]["protocol"]["seed"] == 1
    from ganforge.reporting import write_report  # the report shows each evaluation beside its own protocol

    page = write_report(fashion_run, force=True).read_text()
    assert page.count('<p class="note">eval.json') == n_entries


def test_values_print_aligned_with_integers_as_integers():
    from ganforge.cli import format_values

    lines = format_values({"modes_captured": 8, "high_quality": 0.9375, "reverse_kl": 0.01}).splitlines()
    assert lines[0].split() == ["modes_captured", "8"] and lines[1].split() == ["high_quality", "0.9375"]
    assert len({len(line) for line in lines}) == 1  # right-aligned in one column


def test_eval_errors(fashion_run, tmp_path, capsys):
    assert main(["eval", str(fashion_run), "--metrics", "fd,isc"]) == 2
    assert "unknown metric 'isc'" in capsys.readouterr().err
    assert main(["eval", str(tmp_path)]) == 2
    assert "not a ganforge run" in capsys.readouterr().err
    with pytest.raises(UserError, match="no domain classifier"):
        evaluate.build_extractor("classifier", "folder:/x")


def test_inception_eval_on_a_few_samples(fashion_run):
    if not INCEPTION.is_file():
        pytest.skip(f"FID Inception file not found at {INCEPTION}")
    result = evaluate.evaluate_run(fashion_run, ("fid", "pr"), n=6, extractor_name="inception",
                                   inception_path=str(INCEPTION), progress=False)
    assert result["protocol"]["extractor"] == "inception-v3-fid"
    assert result["protocol"]["extractor_sha1"] == "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
    assert result["values"]["fid"] > 0


def test_cached_features_resume_after_an_interruption(tmp_path):
    images = load_dataset("fashion-mnist-10k").x[:250]
    extractor = evaluate.ClassifierExtractor("fashion-mnist")
    original, calls = extractor.features, []

    def failing_after_two(x, progress=False):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(x))
        return original(x)

    extractor.features = failing_after_two
    with pytest.raises(KeyboardInterrupt):
        evaluate.cached_features(images, extractor, chunk=100)
    assert calls == [100, 100]
    partial = list((tmp_path / "cache" / "features").glob("*.partial.safetensors"))
    assert len(partial) == 1
    calls.clear()
    extractor.features = lambda x, progress=False: calls.append(len(x)) or original(x)
    feats = evaluate.cached_features(images, extractor, chunk=100)
    assert calls == [50]  # only the last 50 images were left
    assert torch.allclose(feats, original(images), atol=1e-5)
    assert not partial[0].exists()


def test_cached_features_when_the_batch_does_not_divide_the_chunk(tmp_path):
    # Inception runs in batches of 64 and saves every 1,000 images: no image may be done twice or skipped
    images = load_dataset("fashion-mnist-10k").x[:250]
    extractor = evaluate.ClassifierExtractor("fashion-mnist")
    extractor.batch_size, original, seen = 64, extractor.features, []
    extractor.features = lambda x, progress=False: seen.append(len(x)) or original(x)
    feats = evaluate.cached_features(images, extractor, chunk=100)
    assert seen == [64, 36, 64, 36, 50]
    assert feats.shape[0] == 250
    assert torch.allclose(feats, original(images), atol=1e-5)


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
    other = evaluate.evaluate_sets("fashion-mnist-10k", str(tmp_path / "nhwc.npz"), ("fid",), n=300, progress=False)
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


def test_toy_runs_are_scored_by_their_modes(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--config", "toy-ring", "--out", str(run), "--steps", "2", "--quiet",
                 "--set", "log.tensorboard=false", "--set", "data.n_toy=1000"]) == 0
    assert main(["eval", str(run)]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert set(result["values"]) == {"modes_captured", "high_quality", "reverse_kl", "n_samples"}
    assert result["values"]["n_samples"] == 2500 and result["protocol"]["modes"] == 8
    assert "8 modes" in capsys.readouterr().out


def test_eval_classifier_score_swd_and_nearest_neighbours(fashion_run):
    result = evaluate.evaluate_run(fashion_run, ("is", "swd", "nn"), n=200, progress=False)
    v, p = result["values"], result["protocol"]
    # 2 steps of training: far from real
    assert 1 <= v["classifier_score_mean"] <= 10 and v["classifier_score_real_mean"] > v["classifier_score_mean"]
    assert v["swd_avg"] > 0 and "swd_28" in v
    for space in ("pixel", "feature"):
        assert v[f"nn_{space}_nn_ratio"] > 0 and 0 <= v[f"nn_{space}_copy_rate"] <= 1
    assert v["nn_pixel_copy_rate"] < 0.05  # an untrained generator copies nothing
    assert "leave-one-out" in p["nn"] and "10 splits" in p["is"]
    from PIL import Image

    with Image.open(fashion_run / "nearest.png") as im:
        im.load()
        assert im.size[1] == 2 * (8 * 30 + 2)  # 8 rows of 28 px cells with 2 px gaps, shown twice as large


def test_nn_flags_copies_of_training_images(tmp_path):
    real = load_dataset("fashion-mnist-10k").x
    np.savez(tmp_path / "copies.npz", x=real[:200].numpy())
    result = evaluate.evaluate_sets("fashion-mnist-10k", str(tmp_path / "copies.npz"), ("nn",), n=1000,
                                    out=tmp_path / "e.json", progress=False)
    assert result["values"]["nn_pixel_copy_rate"] == 1.0 and result["values"]["nn_pixel_nn_ratio"] == 0.0
    assert (tmp_path / "nearest.png").is_file()


def test_inception_has_no_classifier_score(fashion_run):
    if not INCEPTION.is_file():
        pytest.skip(f"FID Inception file not found at {INCEPTION}")
    with pytest.raises(UserError, match="no logits"):
        evaluate.evaluate_run(fashion_run, ("is",), n=4, extractor_name="inception", inception_path=str(INCEPTION),
                              progress=False)
