"""Text-to-image metrics: attribute agreement, matching top-1 and the distractor captions, by hand."""

import pytest
import torch

from ganforge.data import captions as cap
from ganforge.metrics.text import N_CHOICES, attribute_agreement, distractor_rows, matching_top1


def test_attribute_agreement_by_hand():
    measured = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1]])
    requested = torch.tensor([[1, 0, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1]])
    got = attribute_agreement(measured, requested)
    assert got["attribute_accuracy"] == pytest.approx(9 / 12)
    assert got["attribute_accuracy_darkness"] == 1.0
    assert got["attribute_accuracy_size"] == pytest.approx(3 / 4)
    assert got["attribute_accuracy_pattern"] == pytest.approx(2 / 4)


def test_matching_top1_counts_ties_as_misses():
    scores = torch.tensor([[0.9, 0.1, 0.2], [0.3, 0.5, 0.1], [0.4, 0.4, 0.0], [0.0, -1.0, -0.5]])
    assert matching_top1(scores) == pytest.approx(2 / 4)


def test_distractors_name_other_classes_each_once():
    y = torch.arange(10).repeat(20)
    rows = distractor_rows(y, torch.Generator().manual_seed(0))
    assert rows.shape == (200, N_CHOICES - 1)
    per_class = cap.COMBOS * len(cap.TEMPLATES)
    classes = rows // per_class
    assert (classes != y[:, None]).all()
    assert all(len(set(r)) == N_CHOICES - 1 for r in classes.tolist())  # 9 distinct other classes
    states = (rows % per_class) // len(cap.TEMPLATES)
    assert all(0 not in cap.code_states(int(c)) for c in states.flatten())  # every attribute named
    assert (rows % len(cap.TEMPLATES) < cap.SEEN).all()
    held = distractor_rows(y, torch.Generator().manual_seed(0), templates=(cap.SEEN, len(cap.TEMPLATES)))
    assert (held % len(cap.TEMPLATES) >= cap.SEEN).all()
