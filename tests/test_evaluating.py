"""`ganforge eval RUN`: a run's Generator measured against real data, each value with its protocol, merged
into RUN/eval.json."""

import json
from pathlib import Path

import pytest
import torch

from ganforge.cli import main
from ganforge.errors import UserError
from ganforge.evaluating import evaluate_run
from ganforge.metrics.scoring import reconstruction_scores
from ganforge.runs import load_data, load_generator, read_config, with_split

INCEPTION = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fid-inception" / \
    "pt_inception_fid_torchscript.pt"


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "--out", str(run), "--steps", "2", "--quiet", "--set", "log.tensorboard=false",
                 "--set", "family.g_width=8", "--set", "family.d_width=8", "--set", "train.batch_size=8"]) == 0
    return run


def test_eval_writes_values_with_their_protocol(fashion_run, capsys):
    assert main(["eval", str(fashion_run), "--n", "200"]) == 0
    result = json.loads((fashion_run / "eval.json").read_text())
    # FID is the Inception's: in the domain classifier's features the distances carry the features' name
    assert set(result["values"]) == {"fd_classifier", "kd_classifier_mean", "kd_classifier_std", "precision",
                                     "recall", "density", "coverage"}
    p = result["protocol"]
    assert p["extractor"] == "fashion-mnist-classifier" and len(p["extractor_sha1"]) == 40
    assert p["n_real"] == 200 and p["n_fake"] == 200 and p["checkpoint_step"] == 2
    # the embedded Fashion-MNIST 10k is one split: the run trained on the very images it is compared with
    assert p["split"] == "the whole dataset (no test split; the training images)"
    assert p["n"] == "--n 200: 200 generated against 200 real (the first 200, or all there are)"
    assert result["values"]["fd_classifier"] > 0
    out = capsys.readouterr().out
    assert "fd_classifier" in out and "fid" not in out and f"wrote {fashion_run / 'eval.json'}" in out
    assert out.startswith(f"200 samples of {fashion_run} at step 2 vs 200 images of fashion-mnist-10k, the whole "
                          "dataset (no test split; the training images); features: fashion-mnist-classifier (sha1 ")
    assert "note: pr (k=3) and dc (k=5) on 200 images per set, below the 1,000 where their estimates steady" in out


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


def test_the_samples_scored_are_the_generators_own(fashion_run, monkeypatch):
    from ganforge import evaluating, viz

    seen = {}
    original = evaluating.score_images
    monkeypatch.setattr(evaluating, "score_images", lambda real, fake, *a, **k: seen.update(fake=fake) or
                        original(real, fake, *a, **k))
    evaluate_run(fashion_run, ("fid",), n=50, seed=3, progress=False)
    assert torch.equal(seen["fake"], viz.to_uint8(load_generator(fashion_run).sample(50, seed=3)))


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
    assert main(["eval", str(fashion_run), "--metrics", "acc"]) == 2
    assert "score class-conditional runs" in capsys.readouterr().err
    with pytest.raises(UserError, match="--ref must be train or test"):
        evaluate_run(fashion_run, ref="val", progress=False)
    assert main(["eval", str(fashion_run), "--n", "5", "--metrics", "fd,dc"]) == 2  # k-NN balls of 5 need 6 images
    assert capsys.readouterr().err == ("ganforge eval: error: dc needs more than k=5 images in each set (each image's 5 "
                                       "nearest neighbours), got 5 real and 5 fake: use a larger --n or drop dc from "
                                       "--metrics\n")


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory, user_folder):
    """2 steps of a tiny GAN on a user's own folder: 24 images 48x32, gray and RGB, JPEG and PNG, one corrupt."""
    base = tmp_path_factory.mktemp("own")
    folder = user_folder(base / "mine", 24)
    run = base / "run"
    assert main(["train", "--data", str(folder), "--out", str(run), "--steps", "2", "--quiet",
                 *[f"--set={s}" for s in ("data.on_bad_file=skip", "family.g_width=8", "family.d_width=8",
                                          "train.batch_size=8", "log.tensorboard=false")]]) == 0
    return run, folder


def looked_for(folder, root) -> str:
    """Why a folder run under the no_inception fixture (rooted at `root`) has no feature extractor."""
    return (f"no domain classifier for folder:{folder} and no FID Inception: --inception not given, "
            f"GANFORGE_INCEPTION not set, no pt_inception_fid_torchscript.pt in {root}/data/fid-inception, "
            f"{root}/home/.cache/ganforge/data/fid-inception, {root}/cache/ganforge/inception")


def test_plain_eval_of_a_folder_run_without_any_extractor_measures_pixels_and_says_what_it_skipped(
        folder_run, no_inception, capsys):
    run, folder = folder_run
    (run / "eval.json").unlink(missing_ok=True)
    assert main(["eval", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # n follows the real set: its 24 images, not 10,000 samples against 24
    assert lines[0] == (f"24 samples of {run} at step 2 vs 24 images of folder:{folder}, the whole folder (no test "
                        "split; the training images); features: none (pixel metrics only)")
    looked = looked_for(folder, no_inception)
    assert lines[1] == (f"note: fid, kid, pr, dc skipped: they need image features ({looked}); measured swd, nn in "
                        "pixel space instead. For fid, kid, pr, dc: pass --inception PATH or put "
                        "pt_inception_fid_torchscript.pt in $GANFORGE_DATA/fid-inception/")
    assert lines[-2:] == [f"wrote {run / 'eval.json'}", f"wrote {run / 'nearest.png'}"]
    result = json.loads((run / "eval.json").read_text())
    assert {k for k in result["values"] if not k.startswith("swd_")} == {
        "nn_pixel_nn_ratio", "nn_pixel_copy_rate", "nn_pixel_copy_threshold", "nn_pixel_copy_rate_expected"}
    p = result["protocol"]
    assert p["skipped"] == f"fid, kid, pr, dc: no feature extractor ({looked})"
    assert p["n_real"] == p["n_fake"] == 24 and p["split"] == "the whole folder (no test split; the training images)"
    assert p["n"] == "24 generated against 24 real: min(10,000, the 24 real images), the default; --n N to choose"
    assert p["nn"].startswith("Euclidean nearest of 24 training images to each of 24 generated, in pixel space "
                              "([0, 1]) only (no extractor); calibrated by the leave-one-out distances of 24 "
                              "training images")
    assert p["swd"].endswith("24 images of each set")


def test_feature_metrics_asked_for_without_an_extractor_fail_naming_every_place(folder_run, no_inception, capsys):
    run, _ = folder_run
    assert main(["eval", str(run), "--metrics", "fid"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"ganforge eval: error: FID Inception weights not found (--inception not given, GANFORGE_INCEPTION not set, "
        f"no pt_inception_fid_torchscript.pt in {no_inception}/data/fid-inception, "
        f"{no_inception}/home/.cache/ganforge/data/fid-inception, {no_inception}/cache/ganforge/inception); fetch it by hand")


def test_the_reference_of_a_folder_with_held_out_images_is_those_images(folder_run, tmp_path):
    import shutil

    import yaml

    run = shutil.copytree(folder_run[0], tmp_path / "held")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["data"]["holdout"] = 4
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    p = evaluate_run(run, ("swd", "nn"), progress=False)["protocol"]
    assert p["split"] == "the last 4 images of the folder, which data.holdout kept out of training (it has no test split)"
    assert p["n_real"] == p["n_fake"] == 4
    assert p["nn"].startswith("Euclidean nearest of 20 training images to each of 4 generated")
    assert "the leave-one-out distances of 20 training images" in p["nn"]


def test_a_folder_run_finds_the_inception_in_ganforge_data(folder_run, monkeypatch, capsys):
    if not INCEPTION.is_file():
        pytest.skip(f"FID Inception file not found at {INCEPTION}")
    run, folder = folder_run
    monkeypatch.delenv("GANFORGE_INCEPTION", raising=False)
    monkeypatch.setenv("GANFORGE_DATA", str(INCEPTION.parent.parent))
    assert main(["eval", str(run), "--n", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"6 samples of {run} at step 2 vs 6 images of folder:{folder}, the whole folder (no test split; "
                        "the training images); features: inception-v3-fid (sha1 a16e4d89c0ec)")
    assert lines[1].startswith("note: pr (k=3) and dc (k=5) on 6 images per set, below the 1,000")
    result = json.loads((run / "eval.json").read_text())
    v, p = result["values"], result["protocol"]
    assert p["extractor_sha1"] == "a16e4d89c0ecbc17a915dd76ea9e41211aa82562" and "skipped" not in p
    assert v["fid"] > 0 and v["kid_std"] > 0 and 0 <= v["precision"] <= 1
    assert p["kid"].endswith("over 100 random subset pairs of 3 images each, from 6 real and 6 generated")
    assert p["warnings"] == [lines[1].removeprefix("note: ")]


def test_an_autoencoder_is_also_scored_by_its_reconstructions(tmp_path):
    run = tmp_path / "aae"
    assert main(["train", "--config", "aae-mnist", "--out", str(run), "--steps", "3", "--quiet",
                 *[f"--set={s}" for s in ("data.name=fashion-mnist-10k", "data.holdout=0", "family.hidden=[64]",
                                          "train.batch_size=32", "log.tensorboard=false")]]) == 0
    result = evaluate_run(run, ("fid",), n=100, progress=False)
    real = load_data(with_split(read_config(run), "test")).x[:100]
    expected = reconstruction_scores(load_generator(run).reconstruct, real)
    assert {k: result["values"][k] for k in expected} == pytest.approx(expected, rel=1e-6)
    assert "the first 100 reference images" in result["protocol"]["reconstruction"]


def test_eval_classifier_score_swd_and_nearest_neighbours(fashion_run):
    result = evaluate_run(fashion_run, ("is", "swd", "nn"), n=200, progress=False)
    v, p = result["values"], result["protocol"]
    # 2 steps of training: far from real
    assert 1 <= v["classifier_score_mean"] <= 10 and v["classifier_score_real_mean"] > v["classifier_score_mean"]
    assert v["swd_avg"] > 0 and "swd_28" in v
    for space in ("pixel", "feature"):
        assert v[f"nn_{space}_nn_ratio"] > 0 and 0 <= v[f"nn_{space}_copy_rate"] <= 1
    assert v["nn_pixel_copy_rate"] < 0.05  # an untrained generator copies nothing
    assert "leave-one-out" in p["nn"] and "10 splits" in p["is"]
    from PIL import Image

    from ganforge.metrics.nearest import CAPTION_BAND

    with Image.open(fashion_run / "nearest.png") as im:
        im.load()
        # the column captions' band, then 8 rows of 28 px cells with 2 px gaps, shown twice as large
        assert im.size[1] == CAPTION_BAND + 2 * (8 * 30 + 2)


def test_inception_has_no_classifier_score(fashion_run):
    if not INCEPTION.is_file():
        pytest.skip(f"FID Inception file not found at {INCEPTION}")
    with pytest.raises(UserError, match="no logits"):
        evaluate_run(fashion_run, ("is",), n=4, extractor_name="inception", inception_path=str(INCEPTION),
                     progress=False)


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory, user_folder):
    """2 steps of a tiny class-conditional GAN on a user's labelled folder: day/ (6 images) and night/ (8), 48x32,
    gray and RGB, JPEG and PNG, and a corrupt file in each."""
    base = tmp_path_factory.mktemp("labelled")
    folder = base / "mine"
    user_folder(folder / "day", 6)
    for path in sorted(user_folder(folder / "night", 14).glob("00[0-5].*")):  # other pictures than day's
        path.unlink()
    run = base / "run"
    assert main(["train", "--data", str(folder), "--out", str(run), "--steps", "2", "--quiet",
                 *[f"--set={s}" for s in ("family.condition=cgan", "data.on_bad_file=skip", "family.g_width=8",
                                          "family.d_width=8", "train.batch_size=8", "log.tensorboard=false")]]) == 0
    return run, folder


def acc_note(folder, instead: str = "") -> str:
    return (f"acc skipped: it needs a domain classifier to label the samples' classes, and ganforge has one for "
            f"mnist, fashion-mnist, mnist-colour only, not for folder:{folder}; {instead}`ganforge sample RUN --class "
            "NAME` shows one class's samples")


def test_plain_eval_of_a_labelled_folder_run_without_any_extractor_skips_what_needs_one(labelled_run, no_inception,
                                                                                        capsys):
    run, folder = labelled_run
    assert main(["eval", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"14 samples of {run} at step 2 vs 14 images of folder:{folder}, the whole folder (no test "
                        "split; the training images); features: none (pixel metrics only)")
    looked = looked_for(folder, no_inception)
    # one line per reason: intra_fid needs features as fid does; acc needs a classifier that an Inception is not
    assert lines[1:3] == [(f"note: fid, kid, pr, dc, intra_fid skipped: they need image features ({looked}); "
                           "measured swd, nn in pixel space instead. For fid, kid, pr, dc, intra_fid: pass --inception "
                           "PATH or put pt_inception_fid_torchscript.pt in $GANFORGE_DATA/fid-inception/"),
                          f"note: {acc_note(folder)}"]
    result = json.loads((run / "eval.json").read_text())
    assert {k.split("_")[0] for k in result["values"]} == {"swd", "nn"}
    assert result["protocol"]["skipped"] == (
        f"fid, kid, pr, dc, intra_fid: no feature extractor ({looked}); acc: no domain classifier for "
        f"folder:{folder} (ganforge has one for mnist, fashion-mnist, mnist-colour only)")
    assert "conditional" not in result["protocol"]


class QuarterMeans:
    """A stand-in for the FID Inception: 4 features per image, the mean of each quarter (a cheap FD)."""

    name, sha1, preprocess = "quarter-means", "0" * 40, "uint8, the mean of each quarter"

    def features(self, images):
        return torch.nn.functional.adaptive_avg_pool2d(images.float().mean(1, keepdim=True), 2).flatten(1)


def test_plain_eval_of_a_labelled_folder_run_with_features_measures_intra_fid_and_skips_acc(
        labelled_run, no_inception, monkeypatch, capsys):
    from ganforge import evaluating
    from ganforge.metrics.conditional import intra_fid

    run, folder = labelled_run
    found = no_inception / "data" / "fid-inception" / "pt_inception_fid_torchscript.pt"  # the Inception is there...
    found.parent.mkdir(parents=True)
    found.write_bytes(b"weights")
    monkeypatch.setattr(evaluating, "extractor_for", lambda *a: QuarterMeans())  # ...and measured by a stand-in
    seen = {}
    original = evaluating.score_images
    monkeypatch.setattr(evaluating, "score_images", lambda real, fake, *a, **k: seen.update(fake=fake) or
                        original(real, fake, *a, **k))
    assert main(["eval", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"note: {acc_note(folder, 'intra_fid measures each class instead, and ')}"
    result = json.loads((run / "eval.json").read_text())
    v, p = result["values"], result["protocol"]
    real = load_data(read_config(run))
    assert real.class_names == ["day", "night"] and real.y.bincount().tolist() == [6, 8]
    extractor = QuarterMeans()
    expected = intra_fid(extractor.features(real.x), real.y, extractor.features(seen["fake"]), real.y, 2)
    assert {k: v[k.replace("intra_fid", "intra_fd_classifier")] for k in expected} == pytest.approx(expected)
    assert not any(k.startswith("class_") for k in v)
    assert p["skipped"] == f"acc: no domain classifier for folder:{folder} (ganforge has one for mnist, " \
                          "fashion-mnist, mnist-colour only)"
    assert p["conditional"] == "14 samples generated for the classes of the first 14 reference images"
    assert p["intra_fid"] == ("mean over the 2 classes of the quarter-means FD within each class: 6-8 real and 6-8 "
                              "generated images per class (biased upwards at small counts: compare only values of "
                              "the same counts)")
    assert "acc" not in p


def test_acc_asked_for_without_a_domain_classifier_fails_before_any_sampling(labelled_run, monkeypatch, capsys):
    from ganforge import evaluating

    run, folder = labelled_run
    (run / "eval.json").unlink(missing_ok=True)
    monkeypatch.setattr(evaluating.Generator, "__call__", lambda *a, **k: pytest.fail("sampled"))
    assert main(["eval", str(run), "--metrics", "swd,acc"]) == 2
    assert capsys.readouterr().err == (f"ganforge eval: error: acc needs a domain classifier, and there is none for "
                                       f"folder:{folder} (have: mnist, fashion-mnist, mnist-colour); drop acc from "
                                       "--metrics\n")
    assert not (run / "eval.json").exists()


@pytest.mark.slow
def test_plain_eval_of_a_labelled_folder_run_with_the_inception_measures_intra_fid(labelled_run, monkeypatch,
                                                                                  capsys):
    if not INCEPTION.is_file():
        pytest.skip(f"FID Inception file not found at {INCEPTION}")
    run, folder = labelled_run
    monkeypatch.delenv("GANFORGE_INCEPTION", raising=False)
    monkeypatch.setenv("GANFORGE_DATA", str(INCEPTION.parent.parent))
    assert main(["eval", str(run), "--n", "12"]) == 0  # one 2048-d Frechet distance per class, beside fid's
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"note: {acc_note(folder, 'intra_fid measures each class instead, and ')}"
    v, p = (json.loads((run / "eval.json").read_text())[k] for k in ("values", "protocol"))
    assert v["fid"] > 0 and v["intra_fid"] == pytest.approx((v["intra_fid_0"] + v["intra_fid_1"]) / 2)
    # the first 12 images of the folder: day's 6 and 6 of night's 8
    assert p["conditional"] == "12 samples generated for the classes of the first 12 reference images"
    assert p["intra_fid"].startswith("mean over the 2 classes of the inception-v3-fid FD within each class: 6 real "
                                     "and 6 generated images per class")
