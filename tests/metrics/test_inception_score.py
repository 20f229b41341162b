import math

import pytest
import torch

from ganforge.errors import UserError
from ganforge.metrics.inception_score import inception_score


def test_confident_and_balanced_predictions_score_the_number_of_classes():
    logits = torch.full((100, 10), -1e4)
    logits[torch.arange(100), torch.arange(100) % 10] = 0.0  # one-hot, each class 10 times
    result = inception_score(logits, n_splits=10)
    assert result["is_mean"] == pytest.approx(10.0, rel=1e-9) and result["is_std"] == pytest.approx(0.0, abs=1e-9)


def test_uniform_predictions_score_one():
    assert inception_score(torch.zeros(50, 10), n_splits=5)["is_mean"] == pytest.approx(1.0, abs=1e-12)


def test_collapse_onto_one_class_scores_one_even_when_confident():
    logits = torch.full((40, 10), -1e4)
    logits[:, 3] = 0.0
    assert inception_score(logits, n_splits=4)["is_mean"] == pytest.approx(1.0, abs=1e-9)


def test_hand_computed_two_sample_case():
    # p(y|x1) = (0.75, 0.25), p(y|x2) = (0.25, 0.75): p(y) = (0.5, 0.5), KL = 0.75 ln 1.5 + 0.25 ln 0.5 for both
    logits = torch.log(torch.tensor([[0.75, 0.25], [0.25, 0.75]], dtype=torch.float64))
    expected = math.exp(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert inception_score(logits, n_splits=1)["is_mean"] == pytest.approx(expected, rel=1e-9)


def test_splits_are_scored_separately():
    logits = torch.full((20, 2), -1e4)
    logits[:10, 0] = 0.0  # first half all class 0 (score 1), second half balanced (score 2)
    logits[10:, 0] = torch.tensor([0.0, -1e4] * 5)
    logits[10:, 1] = torch.tensor([-1e4, 0.0] * 5)
    result = inception_score(logits, n_splits=2)
    assert result["is_mean"] == pytest.approx(1.5) and result["is_std"] == pytest.approx(0.5)


def test_bad_inputs():
    with pytest.raises(UserError, match="K >= 2"):
        inception_score(torch.zeros(10))
    with pytest.raises(UserError, match="n_splits=10"):
        inception_score(torch.zeros(5, 3))
