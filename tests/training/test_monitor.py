import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge import viz
from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import UserError
from ganforge.metrics.frechet import fid_from_features
from ganforge.runs import load_data, load_generator, read_config, read_metrics, with_split
from ganforge.training import monitor
from ganforge.training.loop import train

TINY = ["family.g_width=8", "family.d_width=8", "train.batch_size=16", "log.tensorboard=false", "log.every=2",
        "log.sample_every=100", "log.checkpoint_every=3", "eval.n=200", "eval.every=0"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


def eval_records(run):
    return [r for r in read_metrics(run) if "eval_fd_classifier" in r]


def test_eval_every_logs_fid_and_keeps_the_best_weights(tmp_path, capsys):
    run = tmp_path / "run"
    summary = train(load_config(None, ["train.steps=6", *TINY, "eval.every=2"]), run, quiet=True)
    records = eval_records(run)
    assert [r["step"] for r in records] == [2, 4, 6]
    best = min(records, key=lambda r: r["eval_fd_classifier"])
    info = json.loads((run / "checkpoints" / "best" / "best.json").read_text())
    assert info["step"] == best["step"] and info["metric"] == "fd_classifier"
    assert info["value"] == pytest.approx(best["eval_fd_classifier"], rel=1e-5)
    assert summary["best"]["step"] == best["step"]
    # the best weights are those of that step: re-scoring them with the same protocol gives the logged value
    assert main(["eval", str(run), "--checkpoint", "best", "--metrics", "fid", "--n", "200", "--seed", "0"]) == 0
    assert json.loads((run / "eval.json").read_text())["protocol"]["checkpoint_step"] == best["step"]
    assert main(["sample", str(run), "--checkpoint", "best", "--out", str(tmp_path / "b.png")]) == 0
    assert "curves.png" in {p.name for p in run.iterdir()}
    capsys.readouterr()


def test_evaluating_during_training_changes_nothing_in_the_run(tmp_path):
    plain = train(load_config(None, ["train.steps=4", *TINY]), tmp_path / "plain", quiet=True)
    watched = train(load_config(None, ["train.steps=4", *TINY, "eval.every=2"]), tmp_path / "watched", quiet=True)
    assert plain["steps"] == watched["steps"] == 4
    a, _, _ = load_checkpoint(latest_checkpoint(tmp_path / "plain"))
    b, _, _ = load_checkpoint(latest_checkpoint(tmp_path / "watched"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_worse_score_leaves_the_best_checkpoint_untouched_across_a_resume(tmp_path, monkeypatch):
    import ganforge.metrics.toy

    script = iter([0.5, 0.9, 0.2])  # reverse KL at steps 2, 4 (worse: step 2 stays the best) and 6 (better)
    monkeypatch.setattr(ganforge.metrics.toy, "mode_metrics", lambda samples, modes, sigma: {
        "reverse_kl": next(script), "modes_captured": 8, "high_quality": 1.0, "n_samples": len(samples)})
    run, best = tmp_path / "run", tmp_path / "run" / "checkpoints" / "best"
    sets = ["eval.every=2", "data.n_toy=1000", "log.checkpoint_every=2", "log.tensorboard=false"]
    train(load_config("toy-ring", ["train.steps=2", *sets]), run, quiet=True)
    kept = {p.name: p.read_bytes() for p in best.iterdir()}
    assert json.loads(kept["best.json"])["step"] == 2
    train(load_config(str(run / "config.yaml"), ["train.steps=4"]), run, resume=True, quiet=True)
    assert {p.name: p.read_bytes() for p in best.iterdir()} == kept  # 0.9 after 0.5 (restored on resume)
    best_record = json.loads((run / "summary.json").read_text())["best"]
    assert (best_record["step"], best_record["metric"], best_record["value"]) == (2, "reverse_kl", 0.5)
    step_2, _, _ = load_checkpoint(run / "checkpoints" / "step_000002", model_only=True)
    weights, _, _ = load_checkpoint(best, model_only=True)
    assert weights.keys() == step_2.keys() and all(torch.equal(weights[k], step_2[k]) for k in weights)
    train(load_config(str(run / "config.yaml"), ["train.steps=6"]), run, resume=True, quiet=True)
    assert json.loads((best / "best.json").read_text())["step"] == 6  # 0.2: a new best replaces it
    assert [(r["step"], r["eval_reverse_kl"]) for r in read_metrics(run) if "eval_reverse_kl" in r] == [
        (2, 0.5), (4, 0.9), (6, 0.2)]


def test_toy_runs_track_the_reverse_kl(tmp_path):
    run = tmp_path / "ring"
    train(load_config("toy-ring", ["train.steps=4", "eval.every=2", "data.n_toy=1000", "log.tensorboard=false"]),
          run, quiet=True)
    records = [r for r in read_metrics(run) if "eval_reverse_kl" in r]
    assert [r["step"] for r in records] == [2, 4]
    assert all({"eval_modes_captured", "eval_high_quality"} <= set(r) for r in records)
    assert json.loads((run / "checkpoints" / "best" / "best.json").read_text())["metric"] == "reverse_kl"


def test_a_metric_the_data_lacks_is_refused_before_the_run_folder_exists(tmp_path):
    with pytest.raises(UserError, match="eval.metric"):
        train(load_config("toy-ring", ["eval.every=2", "eval.metric=fid"]), tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()
    with pytest.raises(UserError, match="eval.every"):
        load_config(None, ["eval.every=-1"])



def test_best_checkpoint_of_a_run_without_evaluation_is_a_clear_error(tmp_path, capsys):
    train(load_config(None, ["train.steps=1", *TINY]), tmp_path / "run", quiet=True)
    assert main(["sample", str(tmp_path / "run"), "--checkpoint", "best"]) == 2
    assert "no best checkpoint; it is kept when training with eval.every > 0" in capsys.readouterr().err


def test_auto_extractor_is_what_an_evaluation_can_afford():
    from ganforge.training.monitor import affordable_extractor

    cpu = torch.device("cpu")
    assert affordable_extractor(load_config(None), "fashion-mnist-10k", cpu) == "classifier"
    assert affordable_extractor(load_config(None), "mnist", cpu) == "classifier"
    assert affordable_extractor(load_config(None), "folder:/photos", cpu) is None  # Inception: minutes on a CPU
    forced = load_config(None, ["eval.extractor=inception"])
    assert affordable_extractor(forced, "folder:/photos", cpu) == "inception"


def test_evaluating_during_training_caches_the_reference_only(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    train(load_config(None, ["train.steps=4", *TINY, "eval.every=2", "eval.n=64"]), tmp_path / "run", quiet=True)
    entries = sorted(p.name for p in (tmp_path / "cache" / "features").iterdir())
    assert len(entries) == 1 and entries[0].startswith("64-")  # the 64 test images' features; no samples'
    assert len(eval_records(tmp_path / "run")) == 2


class BlockMeans:
    """A feature extractor for tests: each image's 4x4 block means in [0, 1] (no network, any image size)."""

    name, sha1, preprocess = "block-means", "0" * 40, "4x4 adaptive average pool of pixels / 255"

    def features(self, images):
        return F.adaptive_avg_pool2d(images.float() / 255, 4).flatten(1)


def test_an_image_to_image_run_is_scored_on_distinct_held_out_inputs(tmp_path, monkeypatch):
    # not the 16 showcase inputs in turn: eval.n inputs of the eval.ref split, each once, as `ganforge eval`
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("test", 40)):
        for i in range(n):
            a = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            for side, image in (("A", a), ("B", 255 - a)):
                (tmp_path / "data" / split / side).mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(tmp_path / "data" / split / side / f"{i:02d}.png")
    monkeypatch.setattr(monitor, "build_extractor", lambda *args, **kwargs: BlockMeans())
    run = tmp_path / "run"
    train(load_config("pix2pix-fashion-edges", [f"data.name={tmp_path / 'data'}", "family.g_width=8",
                                                "family.d_width=8", "train.batch_size=4", "train.steps=1",
                                                "log.tensorboard=false", "eval.every=1", "eval.n=100",
                                                "eval.extractor=inception"]), run, quiet=True)
    logged = eval_records(run)[-1]["eval_fd_classifier"]
    g = load_generator(run)
    test = load_data(with_split(read_config(run), "test"))
    fake = viz.to_uint8(g.translate(test.inputs.float().div(127.5).sub(1)).cpu())
    assert len({bytes(image) for image in fake.flatten(1).numpy()}) == 40  # eval.n=100: the 40 there are, once
    expected = fid_from_features(BlockMeans().features(test.x), BlockMeans().features(fake))
    assert logged == pytest.approx(expected, rel=1e-5)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best"]["step"] == 1
