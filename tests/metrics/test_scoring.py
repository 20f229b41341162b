"""Scoring image sets: the feature metrics, value names by extractor, the metric list, reconstructions, and the
results file that keeps every metric's latest value."""

import json
import math
from types import SimpleNamespace

import pytest
import torch

from ganforge.errors import UserError
from ganforge.metrics.scoring import (
    choose_metrics,
    compare,
    feature_protocol,
    merge_json,
    parse_metrics,
    reconstruction_scores,
    score_images,
    value_name,
)


def test_compare_identical_features():
    x = torch.randn(300, 16)
    values = compare(x, x.clone())
    assert abs(values["fid"]) < 1e-6
    assert values["precision"] == 1.0 and values["recall"] == 1.0 and values["coverage"] == 1.0


def test_values_are_named_for_the_features_they_were_measured_in():
    classifier, inception = SimpleNamespace(name="fashion-mnist-classifier"), SimpleNamespace(name="inception-v3-fid")
    assert [value_name(k, classifier) for k in ("fid", "kid_mean", "intra_fid", "is_mean", "precision")] == [
        "fd_classifier", "kd_classifier_mean", "intra_fd_classifier", "classifier_score_mean", "precision"]
    assert value_name("fid", inception) == "fid" and value_name("kid_mean", None) == "kid_mean"


def test_metric_names_and_aliases():
    assert parse_metrics("fd, kd,pr,fid") == ("fid", "kid", "pr")
    assert parse_metrics(("swd", "nn")) == ("swd", "nn")
    with pytest.raises(UserError, match="unknown metric 'isc'"):
        parse_metrics("fid,isc")
    with pytest.raises(UserError, match="unknown metric"):
        parse_metrics(" , ")


def test_the_inception_score_needs_logits_before_any_features_are_computed():
    no_logits = SimpleNamespace(name="inception-v3-fid")  # features() would fail if it were called
    images = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    with pytest.raises(UserError, match="no logits"):
        score_images(images, images, ("is",), no_logits)


def test_reconstruction_scores_by_hand():
    images = torch.zeros(2, 1, 16, 16, dtype=torch.uint8)
    images[1] = 255
    same = reconstruction_scores(lambda x: x.float() / 127.5 - 1, images)
    assert same["recon_l1"] == 0 and same["recon_ssim"] == pytest.approx(1.0)
    # every pixel off by one half: 0 -> 127.5 rounds to 128 (half to even), 255 -> 127.5 -> 128
    half = reconstruction_scores(lambda x: torch.zeros(x.shape), images)
    l1 = (128 / 255 + 127 / 255) / 2
    assert half["recon_l1"] == pytest.approx(l1, abs=1e-6)
    psnr = (10 * math.log10(1 / (128 / 255) ** 2) + 10 * math.log10(1 / (127 / 255) ** 2)) / 2
    assert half["recon_psnr"] == pytest.approx(psnr, abs=1e-4)


def test_results_file_keeps_the_latest_value_of_every_metric(tmp_path):
    path = tmp_path / "eval.json"
    merge_json(path, {"values": {"fid": 3.0, "swd": 1.0}, "protocol": {"n": 1}, "time": "t1"})
    merge_json(path, {"values": {"fid": 2.0}, "protocol": {"n": 2}, "time": "t2"})
    result = json.loads(path.read_text())
    assert result["values"] == {"swd": 1.0, "fid": 2.0} and result["protocol"] == {"n": 2}
    assert [e["values"] for e in result["evaluations"]] == [{"swd": 1.0}, {"fid": 2.0}]
    merge_json(path, {"values": {"swd": 0.5}, "protocol": {"n": 3}, "time": "t3"})  # the first entry gives up all
    assert [e["time"] for e in json.loads(path.read_text())["evaluations"]] == ["t2", "t3"]
    path.write_text("{not json")
    merge_json(path, {"values": {"fid": 1.0}, "protocol": {}, "time": "t4"})  # unreadable: replaced
    assert json.loads(path.read_text())["values"] == {"fid": 1.0}


def test_without_any_extractor_the_defaults_become_the_pixel_metrics_and_say_so(no_inception):
    defaults = ("fid", "kid", "pr", "dc")
    metrics, protocol, notes = choose_metrics(None, defaults, "auto", "folder:mine", None)
    assert metrics == ("swd", "nn")
    looked = (f"no domain classifier for folder:mine and no FID Inception: --inception not given, GANFORGE_INCEPTION "
              f"not set, no pt_inception_fid_torchscript.pt in {no_inception}/data/fid-inception, "
              f"{no_inception}/home/.cache/ganforge/data/fid-inception, {no_inception}/cache/ganforge/inception")
    assert protocol == {"skipped": f"fid, kid, pr, dc: no feature extractor ({looked})"}
    assert notes == [(f"fid, kid, pr, dc skipped: they need image features ({looked}); measured swd, nn in pixel "
                     "space instead. For fid, kid, pr, dc: pass --inception PATH or put pt_inception_fid_torchscript.pt "
                     "in $GANFORGE_DATA/fid-inception/")]
    # metrics asked for are measured or refused, never swapped; a classifier or an Inception keeps the defaults
    assert choose_metrics("fd,swd", defaults, "auto", "folder:mine", None) == (("fid", "swd"), {}, [])
    assert choose_metrics(None, defaults, "auto", "fashion-mnist-10k", None) == (defaults, {}, [])
    assert choose_metrics(None, defaults, "inception", "folder:mine", None) == (defaults, {}, [])
    (no_inception / "data" / "fid-inception").mkdir(parents=True)
    (no_inception / "data" / "fid-inception" / "pt_inception_fid_torchscript.pt").write_bytes(b"w")
    assert choose_metrics(None, defaults, "auto", "folder:mine", None) == (defaults, {}, [])


def test_feature_protocol_prints_the_counts_used():
    protocol = feature_protocol(("fid", "kid", "pr", "dc"), 300, 250)
    assert protocol["fid"].startswith("Frechet distance of 300 real and 250 generated feature vectors")
    assert "100 random subset pairs of 125 images each, from 300 real and 250 generated" in protocol["kid"]
    assert protocol["pr"] == "k=3 nearest neighbours among 300 real and 250 generated" and protocol["pr_k"] == 3
    assert protocol["dc"] == "k=5 nearest neighbours of each of 300 real, 250 generated" and protocol["dc_k"] == 5
    assert protocol["warnings"] == [("pr (k=3) and dc (k=5) on 250 images per set, below the 1,000 where their "
                                    "estimates steady: read them as rough, and compare them only between "
                                    "evaluations of the same n")]
    assert "warnings" not in feature_protocol(("fid", "kid", "pr", "dc"), 2000, 2000)


def test_sets_too_small_for_a_metric_are_refused_before_any_features(no_inception):
    images = torch.zeros(5, 1, 8, 8, dtype=torch.uint8)
    never = SimpleNamespace(name="x")  # features() would fail if it were called
    with pytest.raises(UserError, match="dc needs more than k=5 images in each set"):
        score_images(images, images, ("dc",), never)
    with pytest.raises(UserError, match="kid needs at least 4 images in each set"):
        score_images(images[:3], images, ("kid",), never)


def test_swd_refuses_images_below_its_smallest_level_and_measures_rectangles():
    small = torch.randint(0, 256, (4, 3, 12, 16), dtype=torch.uint8)
    with pytest.raises(UserError, match="swd compares Laplacian pyramids down to 16 px, and these images are 16x12: "
                                        "measure nn instead"):
        score_images(small, small, ("swd",), None)
    wide = torch.randint(0, 256, (4, 3, 24, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    values, _ = score_images(wide, wide.flip(0), ("swd",), None)
    assert set(values) == {"swd_24x32", "swd_avg"}


def test_nn_on_a_folder_of_duplicates_is_one_line(tmp_path):
    """Training images mostly present twice (the same pictures under two class folders): the leave-one-out
    distances have median 0, so nn says why it cannot judge copies instead of failing inside the metric."""
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (20, 1, 8, 8), dtype=torch.uint8, generator=g).repeat(2, 1, 1, 1)
    fake = torch.randint(0, 256, (10, 1, 8, 8), dtype=torch.uint8, generator=g)
    with pytest.raises(UserError, match="exact duplicate") as caught:
        score_images(train, fake, ("nn",), None, train, tmp_path / "nearest.png")
    assert "\n" not in str(caught.value) and "drop nn from --metrics" in str(caught.value)
    assert not (tmp_path / "nearest.png").exists()
