"""fashion-captions: the measuring rules on hand-made images, the per-class thresholds on real images, the
caption grammar and its vocabulary, and captions.csv."""

import csv

import pytest
import torch

from ganforge.data import captions as cap
from ganforge.data.registry import load_dataset
from ganforge.errors import UserError


def block(value, size=10, pattern=None):
    """A 28x28 uint8 image: a size x size item at the centre, of `value` (or `pattern`), on black."""
    x = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    top = (28 - size) // 2
    x[0, 0, top:top + size, top:top + size] = value if pattern is None else pattern
    return x


def test_measuring_rules_by_hand():
    plain = block(100)
    assert cap.darkness(plain).item() == pytest.approx(255 - 100)
    assert cap.size(plain).item() == 100
    assert cap.pattern(plain).item() == 0  # flat inside its outline
    checks = (torch.arange(10)[:, None] + torch.arange(10)[None, :]) % 2 * 100 + 100  # 100/200 checkerboard
    patterned = block(0, pattern=checks.to(torch.uint8))
    assert cap.pattern(patterned).item() == pytest.approx(400)  # |4 x 200 - 4 x 100| at every interior pixel
    assert cap.darkness(patterned).item() == pytest.approx(255 - 150)
    faint = block(20)  # below ITEM_LEVEL: background
    assert cap.size(faint).item() == 0 and cap.darkness(faint).item() == 255
    both = torch.cat([plain, block(250, size=20)])
    assert cap.measure(both).tolist() == [[155.0, 100.0, 0.0], [5.0, 400.0, 0.0]]
    with pytest.raises(TypeError):
        cap.measure(both.float())


def test_thresholds_split_every_class_about_evenly():
    data = load_dataset("fashion-mnist-10k")
    x, y = data.x[:4000], data.y[:4000]
    thresholds = cap.class_thresholds(x, y)
    assert thresholds.shape == (10, 3)
    attrs = cap.attributes(x, y, thresholds)
    for k in range(10):
        rates = attrs[y == k].float().mean(0)
        assert ((rates > 0.4) & (rates <= 0.5)).all(), (k, rates)  # above the median: just under half
    # the thresholds differ between classes: a bag's size is not a sandal's
    assert thresholds[8, 1] > 1.5 * thresholds[5, 1]


def test_captions_name_class_and_attributes():
    assert cap.caption(7, (2, 1, 0), 0) == "a dark, small sneaker"
    assert cap.caption(9, (0, 0, 0), 0) == "an ankle boot"
    assert cap.caption(0, (1, 2, 2), 3) == "a t-shirt that is light, large and patterned"
    assert cap.caption(0, (0, 0, 0), 3) == "a t-shirt"
    assert cap.caption(3, (0, 0, 2), 6) == "this dress looks patterned"
    captions = cap.all_captions()
    # naming no attribute, templates 3 and 5 lose their clause and read as 0 and 1: two repeats per class
    assert len(captions) == 10 * 27 * 8 == len(set(captions)) + 10 * 2
    rows = cap.caption_rows(torch.tensor([7, 9]), torch.tensor([[2, 1, 0], [0, 0, 0]]), torch.tensor([0, 0]))
    assert [captions[i] for i in rows.tolist()] == ["a dark, small sneaker", "an ankle boot"]


def test_held_out_templates_use_training_words_only():
    seen = cap.training_words()
    held = {w for i, text in enumerate(cap.all_captions()) if i % len(cap.TEMPLATES) >= cap.SEEN
            for w in cap.words_of(text)}
    assert held <= seen
    held_texts = {cap.caption(7, (2, 2, 2), t) for t in range(cap.SEEN, len(cap.TEMPLATES))}
    seen_texts = {cap.caption(7, (2, 2, 2), t) for t in range(cap.SEEN)}
    assert not held_texts & seen_texts


def test_tokenize_and_unknown_words():
    vocab = cap.vocabulary()
    tokens = cap.tokenize(["A dark sneaker.", "an ankle boot"], vocab)
    assert tokens.shape == (2, 3)
    assert [vocab[i] for i in tokens[0].tolist()] == ["a", "dark", "sneaker"]
    assert [vocab[i] for i in tokens[1].tolist()] == ["an", "ankle", "boot"]
    assert cap.tokenize(["a t-shirt"], vocab, length=5)[0, 2:].tolist() == [0, 0, 0]
    with pytest.raises(UserError, match="'purple' is not in this run's vocabulary; known words: a, an"):
        cap.tokenize(["a purple sneaker"], vocab)
    with pytest.raises(UserError, match="no words"):
        cap.tokenize(["?!"], vocab)


def test_draw_states_names_each_attribute_with_its_probability():
    attrs = torch.randint(2, (20000, 3))
    states = cap.draw_states(attrs, 0.75, torch.Generator().manual_seed(0))
    named = states > 0
    assert named.float().mean().item() == pytest.approx(0.75, abs=0.01)
    assert torch.equal(states[named] - 1, attrs[named])


def test_write_captions_csv(tmp_path):
    data = load_dataset("fashion-mnist-10k")
    x, y = data.x[:50], data.y[:50]
    thresholds = cap.class_thresholds(data.x[:2000], data.y[:2000])
    out = cap.write_captions(x, y, thresholds, tmp_path / "captions.csv", seed=3)
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["file", "caption"] and len(rows) == 51 and rows[1][0] == "000000.png"
    attrs = cap.attributes(x, y, thresholds)
    for (_, text), k, a in zip(rows[1:], y.tolist(), attrs.tolist(), strict=True):
        words = set(cap.words_of(text))
        assert set(cap.words_of(cap.CLASS_NOUNS[k])) <= words
        for i, (_, on, off) in enumerate(cap.ATTRIBUTES):
            assert (on if a[i] else off) in words and (off if a[i] else on) not in words
