"""`ganforge eval RUN` on runs measured by their own protocols: toy mixtures by their modes, image-to-image runs
against true targets, text-to-image runs by their captions; each protocol says which data it read."""

import json

import pytest

from ganforge.cli import main
from ganforge.evaluating import evaluate_run
from ganforge.runs import load_generator


def test_toy_runs_are_scored_by_their_modes(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--config", "toy-ring", "--out", str(run), "--steps", "2", "--quiet",
                 "--set", "log.tensorboard=false", "--set", "data.n_toy=1000"]) == 0
    assert main(["eval", str(run)]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert set(result["values"]) == {"modes_captured", "high_quality", "reverse_kl", "n_samples"}
    assert result["values"]["n_samples"] == 2500 and result["protocol"]["modes"] == 8
    assert "8 modes" in capsys.readouterr().out
    assert main(["eval", str(run), "--ref", "train"]) == 2  # the mixture is the reference: --ref would do nothing
    assert capsys.readouterr().err == ("ganforge eval: error: toy runs are measured against their mixture's modes; "
                                       "drop --ref\n")


@pytest.fixture(scope="module")
def pairs_run(tmp_path_factory):
    """2 steps of a tiny pix2pix on a user's paired folder without test pairs: A/ and B/ of 8 16x16 images."""
    import numpy as np
    from PIL import Image

    base = tmp_path_factory.mktemp("pairs")
    folder = base / "pairs"
    rng = np.random.default_rng(0)
    for side in ("A", "B"):
        (folder / side).mkdir(parents=True)
    for i in range(8):
        a = rng.integers(0, 256, (16, 16), dtype=np.uint8)
        Image.fromarray(a).save(folder / "A" / f"{i}.png")
        Image.fromarray(255 - a).save(folder / "B" / f"{i}.png")
    run = base / "run"
    assert main(["train", "--config", "pix2pix-fashion-edges", "--data", str(folder), "--steps", "2", "--out",
                 str(run), "--quiet", *[f"--set={s}" for s in ("family.g_width=8", "family.d_width=8",
                                                               "train.batch_size=4", "log.tensorboard=false")]]) == 0
    return run, folder


def test_a_paired_folder_without_test_pairs_is_measured_on_its_pairs_and_says_which(pairs_run, tmp_path, capsys):
    import shutil

    import yaml

    from ganforge.data import load_dataset
    from ganforge.metrics.translation_eval import pair_scores, translate_all

    run, folder = pairs_run
    assert main(["eval", str(run)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{run} at step 2: 8 translated inputs of folder:{folder}, the whole folder (no test split; the training "
        "pairs), against their true targets (the centre 16x16)")
    p = json.loads((run / "eval.json").read_text())["protocol"]
    assert p["split"] == "the whole folder (no test split; the training pairs)" and p["n_pairs"] == 8
    # data.holdout's pairs, where the run kept some out of training
    held = shutil.copytree(run, tmp_path / "held")
    cfg = yaml.safe_load((held / "config.yaml").read_text())
    cfg["data"]["holdout"] = 3
    (held / "config.yaml").write_text(yaml.safe_dump(cfg))
    result = evaluate_run(held, progress=False)
    assert result["protocol"]["split"] == ("the last 3 pairs of the folder, which data.holdout kept out of training "
                                           "(it has no test split)")
    pairs = load_dataset(str(folder))
    expected = pair_scores(translate_all(load_generator(held), pairs.inputs[-3:]), pairs.x[-3:])
    assert result["protocol"]["n_pairs"] == 3 and {k: result["values"][k] for k in expected} == pytest.approx(expected)
    p = evaluate_run(held, ref="train", progress=False)["protocol"]
    assert p["split"] == "train (the split the run trained on, 3 of them held out of training)" and p["n_pairs"] == 8


def test_a_text_to_image_run_on_a_captioned_folder_says_its_captions_are_the_training_images(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "mine"
    folder.mkdir()
    rows = ["file,caption"]
    for i in range(8):  # 48x32, gray and colour, four captions
        image = Image.new("RGB", (48, 32), (30 * i, 200, 30))
        (image.convert("L") if i % 2 else image).save(folder / f"{i}.png")
        rows.append(f"{i}.png,a {('gray', 'green')[i % 2]} {('disc', 'square')[i // 4]}")
    (folder / "captions.csv").write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    assert main(["train", "--config", "text2image-fashion", "--data", str(folder), "--steps", "1", "--out", str(run),
                 "--quiet", *[f"--set={s}" for s in ("family.g_width=8", "family.d_width=8", "family.z_dim=8",
                                                     "family.pretrain_steps=2", "family.pretrain_batch=8",
                                                     "train.batch_size=8", "log.tensorboard=false")]]) == 0
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{run} at step 1: caption matching of the first 8 images of folder:{folder}, the whole folder (no test "
        "split; the training images), and of a sample drawn for each one's first caption")
    p = json.loads((run / "eval.json").read_text())["protocol"]
    assert p["split"] == "the whole folder (no test split; the training images)" and p["n_captions"] == 8
    assert p["matching_top1"].startswith("each reference image's first caption among 4, the distractors")
