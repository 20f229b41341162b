"""Run folders: one message for a folder that is not a run, continuing with a schedule kept continuous,
held-out examples, optimiser groups written out."""

import pytest
import torch

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import UserError
from ganforge.runs import continue_config, heldout_data, load_data, read_config, require_run, resolved
from ganforge.training.loop import train

TOY = ["data.n_toy=500", "train.batch_size=16", "log.tensorboard=false", "log.checkpoint_every=4"]


def test_one_message_for_a_folder_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(UserError, match="is not a ganforge run \\(no config.yaml\\)"):
        require_run(tmp_path)
    for argv in (["sample", str(tmp_path)], ["eval", str(tmp_path)], ["train", "--resume", str(tmp_path)]):
        assert main(argv) == 2
        assert "is not a ganforge run (no config.yaml); give the folder `ganforge train` made" in capsys.readouterr().err


def test_resume_refuses_to_stretch_a_decaying_schedule(tmp_path):
    run = tmp_path / "run"
    train(load_config("toy-ring", [*TOY, "train.steps=8", "optim.decay=linear"]), run, quiet=True)
    with pytest.raises(UserError, match="decays its learning rates .* over 8 steps; resuming to 12"):
        continue_config(run, ["train.steps=12"])
    assert read_config(run).train.steps == 8  # the run is untouched
    assert continue_config(run, ["train.steps=8"]).train.steps == 8
    plain = tmp_path / "plain"
    train(load_config("toy-ring", [*TOY, "train.steps=4"]), plain, quiet=True)
    assert continue_config(plain, ["train.steps=12"]).train.steps == 12  # no decay: any later target


def test_holdout_keeps_the_last_examples_out_of_training():
    cfg = load_config("default", ["data.holdout=1000"])
    train_part, held = load_data(cfg), heldout_data(cfg)
    full = load_data(load_config("default"))
    assert len(train_part.x) == 9000 and len(held.x) == 1000
    assert torch.equal(held.x, full.x[-1000:]) and torch.equal(train_part.y, full.y[:9000])
    with pytest.raises(UserError, match="'data.holdout' \\(10000\\) must be below"):
        load_data(load_config("default", ["data.holdout=10000"]))


def test_resolved_config_writes_every_group_and_accepts_any_case():
    cfg = resolved(load_config("aae-mnist", ["optim.AE.lr=3e-3"]))
    assert list(cfg.optim.groups) == ["d", "ae", "e"] or set(cfg.optim.groups) == {"ae", "d", "e"}
    assert cfg.optim.group("AE").lr == 3e-3 and cfg.optim.ae.lr == 3e-3
    default = resolved(load_config("default"))
    assert list(default.optim.groups) == ["g", "d"]


def test_a_subset_is_seeded_and_balanced_over_classes():
    from ganforge.config import load_config
    from ganforge.runs import load_data

    cfg = load_config(None, ["data.subset=1000"])
    a, b = load_data(cfg), load_data(cfg)
    assert len(a.x) == 1000 and torch.equal(a.x, b.x)  # the same seed, the same images
    assert torch.bincount(a.y).tolist() == [100] * 10
    other = load_data(load_config(None, ["data.subset=1000", "train.seed=1"]))
    assert not torch.equal(a.x, other.x)
    assert torch.bincount(load_data(load_config(None, ["data.subset=15"])).y).tolist() == [2] * 5 + [1] * 5


def test_a_class_filter_holds_in_every_split_and_a_subset_in_training_alone():
    from ganforge.runs import with_split

    cfg = load_config(None, ["data.classes=[7]", "data.subset=100"])
    trained, reference = load_data(cfg), load_data(with_split(cfg, "test"))
    assert len(trained.x) == 100 and set(trained.y.tolist()) == {7}
    full = load_data(load_config(None))
    assert torch.equal(reference.x, full.x[full.y == 7])  # evaluation: every image of the class, not 100
    assert len(load_data(with_split(load_config(None, ["data.subset=100"]), "test")).x) == 10_000
    two, kept = load_data(load_config(None, ["data.classes=[3, 1]"])), (full.y == 1) | (full.y == 3)
    assert torch.equal(two.x, full.x[kept]) and torch.equal(two.y, full.y[kept])  # in order, labels unchanged
    for bad in ("[10]", "[1, 1]"):
        with pytest.raises(UserError, match="'data.classes' .*give each class once, by index; .* 9 \\(Ankle boot\\)"):
            load_data(load_config(None, [f"data.classes={bad}"]))


def test_data_aspect_keep_is_refused_where_the_networks_build_squares():
    for config, sets, words in (
            ("progan-fashion", [], "progan builds square ones only; set data.aspect=crop"),
            (None, ["data.resolution=28"], "gan/dcgan28 builds square ones only; family.arch=dcgan builds them"),
            ("vae-fashion", [], "builds square ones only")):
        with pytest.raises(UserError) as info:
            load_config(config, ["data.aspect=keep", *sets])
        assert str(info.value).startswith("config key 'data.aspect': keep trains on rectangular images, and ")
        assert words in str(info.value) and "\n" not in str(info.value)
    for sets in (["family.arch=mlp"], ["family.arch=dcgan"], []):  # dcgan28 on a folder becomes the folder's dcgan
        assert load_config(None, ["data.aspect=keep", *sets]).data.aspect == "keep"
    with pytest.raises(UserError, match="data.aspect"):
        load_config(None, ["data.aspect=stretch"])


def test_a_rectangular_run_from_an_archive_trains_samples_evaluates_reports_and_exports(tmp_path, capsys, monkeypatch):
    """data.aspect=keep end to end: 48x36 images in a tar.gz train the DCGAN of their aspect at 32x24 (a 4x3 base
    doubled three times), and every tool after training works on the rectangle."""
    import io
    import json
    import tarfile

    import numpy as np
    from PIL import Image

    from ganforge.training import samples

    archive = tmp_path / "shots.tar.gz"
    rng = np.random.default_rng(0)
    with tarfile.open(archive, "w:gz") as t:
        for i in range(16):
            data = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (36, 48, 3), dtype=np.uint8)).save(data, format="PNG")
            info = tarfile.TarInfo(f"shots/{i:02d}.png")
            info.size = len(data.getvalue())
            t.addfile(info, io.BytesIO(data.getvalue()))
    titles = []
    labelled = samples.viz.save_labelled_grid
    monkeypatch.setattr(samples.viz, "save_labelled_grid", lambda *a, **k: titles.append(k["title"]) or labelled(*a, **k))
    run = tmp_path / "run"
    tiny = ["family.g_width=8", "family.d_width=8", "train.batch_size=8", "log.tensorboard=false", "data.aspect=keep"]
    assert main(["train", "--data", str(archive), "--steps", "2", "--out", str(run),
                 *(a for s in tiny for a in ("--set", s))]) == 0
    assert (f"note: {archive} holds 48x36 images (00.png): training family.arch=dcgan at 32x24 (data.resolution=32, "
            "the long side); set both to choose another size") in capsys.readouterr().out
    assert json.loads((run / "run.json").read_text())["data"]["shape"] == [3, 24, 32]
    assert titles == ["16 of 16 training images, as trained on: 48x36 images resized to 32x24 (data.aspect=keep)"]
    grid = Image.open(run / "samples.png").size  # 8 x 8 cells of 32x24, 2 px apart, doubled
    assert grid == (2 * (8 * 34 + 2), 2 * (8 * 26 + 2)) and Image.open(run / "reals.png").size[1] > grid[1] // 2

    assert main(["sample", str(run), "--n", "3", "--out", f"{tmp_path / 'drawn'}/"]) == 0
    assert [Image.open(p).size for p in sorted((tmp_path / "drawn").glob("*.png"))] == [(32, 24)] * 3
    assert main(["eval", str(run), "--metrics", "swd,nn", "--n", "16"]) == 0
    values = json.loads((run / "eval.json").read_text())["values"]
    assert "swd_24x32" in values and "nn_pixel_nn_ratio" in values
    assert main(["report", str(run)]) == 0 and (run / "report.html").is_file()
    assert main(["export", str(run)]) == 0
    assert "output: N x 3 x 24 x 32 float32" in capsys.readouterr().out
    exported = torch.jit.load(str(run / "generator.pt"))
    assert exported(torch.randn(2, 100)).shape == (2, 3, 24, 32)
