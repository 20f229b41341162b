"""Scoring image sets: the feature metrics, value names by extractor, the metric list, reconstructions, and the
results file that keeps every metric's latest value."""

import json
import math
from types import SimpleNamespace

import pytest
import torch

from ganforge.errors import UserError
from ganforge.metrics.scoring import (
    compare,
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
