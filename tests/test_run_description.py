"""A run's one-line description (the report's subtitle), from run folders written here file by file: the
preset's description only where the run is that preset, the steps and time it reached, the family's words."""

import json

import pytest

from ganforge.config import dump_yaml, load_config
from ganforge.run_description import describe_data, describe_run
from ganforge.runs import resolved

RING = {"name": "toy-ring", "kind": "toy", "source": "generated", "n": 100000, "shape": [2], "n_classes": 0}
RING_PRESET = ("preset toy-ring: MLP GAN on the PacGAN ring of 8 Gaussians (radius 1, sigma 0.01), samples drawn "
               "over the modes")


def make_run(folder, preset="toy-ring", sets=(), data=RING, summary=None, metrics=(), checkpoints=()):
    """A run folder as training leaves it: config.yaml (resolved), run.json, and what else is given."""
    cfg = resolved(load_config(preset, list(sets)))
    folder.mkdir()
    (folder / "config.yaml").write_text(dump_yaml(cfg))
    (folder / "run.json").write_text(json.dumps({"data": data}))
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in metrics))
    for step in checkpoints:
        (folder / "checkpoints" / f"step_{step:06d}").mkdir(parents=True)
    return folder


def test_a_run_that_is_its_preset_keeps_the_presets_description(tmp_path):
    done = {"steps": 2000, "images_seen": 2000 * 256, "seconds": 125.0, "images_per_s": 4096.0}
    run = make_run(tmp_path / "ring", summary=done, checkpoints=[1000, 2000],
                   sets=["log.tensorboard=false", "train.device=cpu"])  # how it ran, not what it trained
    assert describe_run(run) == [
        ("gan/mlp on toy-ring (100,000 points in 2-D), 2,000 steps of batch 256, non-saturating loss, Adam 1e-3; "
        "2 min 5 s at 4,096.0 images/s; no evaluation during training"), RING_PRESET]
    # other data, or the preset's length not reached: the preset's words would describe another run
    other = make_run(tmp_path / "other", sets=["data.n_toy=500"], data={**RING, "n": 500}, summary=done,
                     checkpoints=[2000])
    assert len(describe_run(other)) == 1 and "(500 points in 2-D)" in describe_run(other)[0]
    short = make_run(tmp_path / "short", summary={**done, "steps": 300, "images_seen": 300 * 256},
                     checkpoints=[300])
    (line,) = describe_run(short)
    assert "300 of 2,000 steps of batch 256," in line


def test_a_description_of_the_users_own_is_labelled_as_theirs(tmp_path):
    run = make_run(tmp_path / "mine", sets=["description=rings for my thesis", "train.steps=4"],
                   summary={"steps": 4, "images_seen": 1024, "seconds": 0.4, "images_per_s": 2560.0},
                   checkpoints=[4])
    assert describe_run(run)[1:] == ["config's description: rings for my thesis"]


def test_the_families_words_and_each_optimiser_group(tmp_path):
    sets = ["family.objective=hinge", "family.spectral_norm=d", "family.r1=0.1", "family.r1_every=16",
            "family.d_steps=2", "optim.d.lr=4e-4", "optim.g.lr=1e-4", "train.ema=0.999", "train.augment=diffaugment",
            "optim.decay=linear", "train.steps=10"]
    run = make_run(tmp_path / "run", "default", sets, data={"name": "fashion-mnist-10k", "kind": "image",
                   "source": "embedded", "n": 10000, "shape": [1, 28, 28], "n_classes": 10}, checkpoints=[10])
    (line,) = describe_run(run)
    assert line == ("gan/dcgan28 on fashion-mnist-10k (10,000 images, 1x28x28, 10 classes), 10 steps of batch 32, "
                    "hinge loss, 2 D steps per G step, R1 0.1 every 16 D steps, spectral norm in D, Adam G 1e-4, "
                    "Adam D 4e-4, linear rate decay from 50% of the steps, EMA of G, DiffAugment; "
                    "no evaluation during training")


def test_steps_reached_checkpoint_lag_resumed_time_and_varying_batches(tmp_path):
    # stopped at step 6 by a crash, last checkpoint at 4: metrics.jsonl reached further than the weights
    metrics = [{"step": 2, "images": 16, "loss_d": 1.0}, {"step": 4, "images": 32}, {"step": 6, "images": 48}]
    run = make_run(tmp_path / "crashed", sets=["train.steps=10", "train.batch_size=8"], metrics=metrics,
                   checkpoints=[2, 4])
    assert "6 of 10 steps of batch 8 (last checkpoint at step 4), " in describe_run(run)[0]
    # resumed: this session drew 200 of the 1,000 images, so its time is not the run's
    summary = {"steps": 10, "images_seen": 1000, "seconds": 2.0, "images_per_s": 100.0}
    run = make_run(tmp_path / "resumed", sets=["train.steps=10", "train.batch_size=100"], summary=summary,
                   checkpoints=[10])
    assert "; 2 s at 100.0 images/s (its last session); " in describe_run(run)[0]
    whole = make_run(tmp_path / "whole", sets=["train.steps=10", "train.batch_size=100"],
                     summary={**summary, "seconds": 10.0}, checkpoints=[10])
    assert "; 10 s at 100.0 images/s; " in describe_run(whole)[0]
    # a batch that changed over training (progressive growing): the images seen, not one batch size
    grown = make_run(tmp_path / "grown", sets=["train.steps=10", "train.batch_size=8"],
                     summary={"steps": 10, "images_seen": 120}, checkpoints=[10])
    assert "10 steps (120 images), " in describe_run(grown)[0]
    never = make_run(tmp_path / "new", sets=["train.steps=10"])
    assert "gan/mlp on toy-ring (100,000 points in 2-D), not trained yet, " in describe_run(never)[0]


def test_what_was_evaluated_during_training(tmp_path):
    metrics = [{"step": s, "images": 8 * s, "eval_modes": m} for s, m in ((5, 3), (10, 6), (15, 8), (17, 8))]
    summary = {"steps": 17, "images_seen": 136, "best": {"step": 15, "metric": "modes", "value": 8,
                                                           "eval": "modes on 2,500 points"}}
    run = make_run(tmp_path / "run", sets=["train.steps=17", "train.batch_size=8"], metrics=metrics, summary=summary,
                   checkpoints=[17])
    assert describe_run(run)[0].endswith("; evaluated during training: modes on 2,500 points every 5 steps "
                                         "(4 evaluations), best 8 at step 15")
    (run / "summary.json").unlink()  # stopped before the end: the metric's name as metrics.jsonl has it
    assert describe_run(run)[0].endswith("; evaluated during training: modes every 5 steps (4 evaluations)")


def test_a_config_this_version_cannot_read_still_names_its_family_and_data(tmp_path):
    run = make_run(tmp_path / "odd", sets=["train.steps=10"], checkpoints=[10])
    (run / "config.yaml").write_text("model: {family: diffusion}\ndata: {name: toy-ring}\n")
    assert describe_run(run) == [("diffusion on toy-ring (100,000 points in 2-D), 10 steps; "
                                 "no evaluation during training")]


@pytest.mark.parametrize(("data", "words"), [
    ({"name": "folder:/d/mine", "kind": "image", "source": "/d/mine", "n": 300, "shape": [3, 32, 32]},
     "folder /d/mine (300 images, 3x32x32)"),
    ({"name": "mnist", "kind": "image", "source": "/data/mnist/train-images-idx3-ubyte", "n": 60000,
      "shape": [1, 28, 28], "n_classes": 10}, ("mnist from /data/mnist/train-images-idx3-ubyte (60,000 images, "
                                              "1x28x28, 10 classes)")),
    ({"name": "idx:/d/x", "kind": "image", "source": "/d/x", "n": 5, "shape": [1, 28, 28]},
     "IDX file /d/x (5 images, 1x28x28)"),
    ({"name": "fashion-edges", "kind": "image", "source": "embedded", "n": 9000, "shape": [1, 32, 32],
      "input_shape": [1, 32, 32], "paired": True}, "fashion-edges (9,000 pairs, 1x32x32 -> 1x32x32)"),
    ({"name": "folders:/a+/b", "kind": "image", "source": "/a + /b", "n": 40, "shape": [3, 64, 64],
      "input_shape": [1, 64, 64], "paired": False}, "folders /a + /b (40 unpaired images, 1x64x64 <-> 3x64x64)"),
    ({"name": "moving-mnist", "kind": "video", "source": "generated from embedded", "n": 1000, "shape": [10, 32, 32]},
     "moving-mnist (1,000 clips of 10 frames 32x32)"),
    ({"name": "folder:/c", "kind": "image", "source": "/c", "n": 100, "shape": [3, 64, 64], "n_classes": 0,
      "attr_names": ["smiling", "glasses"], "captions": ["a b", "c d", "e"]},
     "folder /c (100 images, 3x64x64, 2 attributes, 3 distinct captions)"),
])
def test_the_data_as_run_json_describes_it(data, words):
    assert describe_data(data) == words


def test_skipped_files_are_counted(tmp_path):
    run = make_run(tmp_path / "run", sets=["train.steps=10"], checkpoints=[10])
    (run / "skipped_files.txt").write_text("a.png: not an image\nb.jpg: truncated\n")
    assert describe_run(run)[0].startswith("gan/mlp on toy-ring (100,000 points in 2-D, 2 unreadable files skipped)")
