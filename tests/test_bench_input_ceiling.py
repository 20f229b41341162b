"""bench/input_ceiling.py: a task's inputs become the classifier's 28 x 28 images without new detail, and a
measured task is read from its cache, not trained again, unless the recipe asked for differs."""

import json
import sys

import torch

from ganforge.data.translation import pad_to


def test_inputs_are_cropped_or_enlarged_by_repeating_pixels(bench):
    ceiling = bench("input_ceiling")
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    assert torch.equal(ceiling.as_classifier_input(pad_to(images, 32)), images)
    small = torch.randint(0, 256, (2, 1, 7, 7), dtype=torch.uint8)
    big = ceiling.as_classifier_input(small)
    assert big.shape == (2, 1, 28, 28) and big.dtype == torch.uint8
    assert torch.equal(big[:, :, ::4, ::4], small) and torch.equal(big[:, :, 3::4, 3::4], small)


def test_a_cached_task_is_read_and_another_recipe_measured_again(bench, tmp_path, monkeypatch, capsys):
    ceiling = bench("input_ceiling")
    measured = []

    def measure(task, epochs, progress=True):
        measured.append((task, epochs))
        return {"task": task, "input_accuracy": 0.5 + epochs / 100, "recipe": {"epochs": epochs},
                "train_seconds": 1.0}

    monkeypatch.setattr(ceiling, "measure", measure)
    for epochs in ("15", "15", "2"):
        monkeypatch.setattr(sys, "argv", ["input_ceiling.py", "--out", str(tmp_path), "--epochs", epochs])
        ceiling.main()
    assert measured == [("fashion-edges", 15), ("fashion-edges", 2)]
    assert json.loads((tmp_path / "fashion-edges.json").read_text())["input_accuracy"] == 0.52
    assert "52.00%" in capsys.readouterr().out
