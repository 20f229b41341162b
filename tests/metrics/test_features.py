"""The feature extractors and the features cache: computed once per content and extractor, resumed after an
interruption, never stale."""

import pytest
import torch

from ganforge.data import load_dataset
from ganforge.errors import UserError
from ganforge.metrics import frechet
from ganforge.metrics.classifier import ClassifierExtractor
from ganforge.metrics.features import build_extractor, cached_features, has_logits, reference_features


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


def test_reference_features_are_computed_once_and_cached(tmp_path):
    data = load_dataset("fashion-mnist-10k")
    extractor = ClassifierExtractor("fashion-mnist")
    calls = []
    original = extractor.features
    extractor.features = lambda x, progress=False: calls.append(len(x)) or original(x)
    a = reference_features(data, 300, extractor)
    b = reference_features(data, 300, extractor)
    c = cached_features(data.x[:300].clone(), extractor)  # same images from elsewhere: same entry
    assert calls == [300]
    assert torch.equal(a, b) and torch.equal(a, c) and a.shape == (300, 128)
    cached = list((tmp_path / "cache" / "features").glob("*.safetensors"))
    assert len(cached) == 1 and cached[0].name.startswith("300-") and "-fashion-mnist-classifier-" in cached[0].name
    changed = data.x[:300].clone()
    changed[0, 0, 0, 0] ^= 1  # one pixel differs: a new entry, never the stale one
    cached_features(changed, extractor)
    assert calls == [300, 300]


def test_uncached_features_are_the_same_and_leave_no_entry(tmp_path):
    images = load_dataset("fashion-mnist-10k").x[:130]
    extractor = ClassifierExtractor("fashion-mnist")
    extractor.batch_size = 64
    got = cached_features(images, extractor, cache=False)
    assert torch.allclose(got, extractor.features(images), atol=1e-5)
    assert not (tmp_path / "cache" / "features").exists()


def test_classifier_features_of_real_images_separate_classes():
    data = load_dataset("fashion-mnist-10k")
    feats = ClassifierExtractor("fashion-mnist").features(data.x[:1000])
    trousers, bags = feats[data.y[:1000] == 1], feats[data.y[:1000] == 8]
    between = frechet.fid_from_features(trousers, bags)
    within = frechet.fid_from_features(trousers[::2], trousers[1::2])
    assert between > 10 * within


def test_extractors_by_name_and_which_give_logits():
    extractor = build_extractor("auto", "fashion-mnist-10k")
    assert extractor.name == "fashion-mnist-classifier" and has_logits(extractor)
    assert not has_logits(object())
    with pytest.raises(UserError, match="no domain classifier"):
        build_extractor("classifier", "folder:/x")
    with pytest.raises(UserError, match="unknown extractor 'vgg'"):
        build_extractor("vgg", "fashion-mnist-10k")


def test_cached_features_resume_after_an_interruption(tmp_path):
    images = load_dataset("fashion-mnist-10k").x[:250]
    extractor = ClassifierExtractor("fashion-mnist")
    original, calls = extractor.features, []

    def failing_after_two(x, progress=False):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(x))
        return original(x)

    extractor.features = failing_after_two
    with pytest.raises(KeyboardInterrupt):
        cached_features(images, extractor, chunk=100)
    assert calls == [100, 100]
    partial = list((tmp_path / "cache" / "features").glob("*.partial.safetensors"))
    assert len(partial) == 1
    calls.clear()
    extractor.features = lambda x, progress=False: calls.append(len(x)) or original(x)
    feats = cached_features(images, extractor, chunk=100)
    assert calls == [50]  # only the last 50 images were left
    assert torch.allclose(feats, original(images), atol=1e-5)
    assert not partial[0].exists()


def test_cached_features_when_the_batch_does_not_divide_the_chunk(tmp_path):
    # Inception runs in batches of 64 and saves every 1,000 images: no image may be done twice or skipped
    images = load_dataset("fashion-mnist-10k").x[:250]
    extractor = ClassifierExtractor("fashion-mnist")
    extractor.batch_size, original, seen = 64, extractor.features, []
    extractor.features = lambda x, progress=False: seen.append(len(x)) or original(x)
    feats = cached_features(images, extractor, chunk=100)
    assert seen == [64, 36, 64, 36, 50]
    assert feats.shape[0] == 250
    assert torch.allclose(feats, original(images), atol=1e-5)
