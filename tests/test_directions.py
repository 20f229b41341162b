"""Directions in code space: class vectors from a code's own class to the target, by hand against the
generator's own samples and the classifier's readings, for runs without an encoder and with one."""

import pytest
import torch

import ganforge
from ganforge import directions
from ganforge.cli import main
from ganforge.explorer import Explorer

TINY = ["--quiet", "--steps", "2", "--set", "log.tensorboard=false", "--set", "train.batch_size=8", "--set",
        "eval.every=0"]


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("directions") / "gan"
    assert main(["train", "--out", str(run), *TINY, "--set", "family.g_width=8", "--set", "family.d_width=8"]) == 0
    return run


@pytest.fixture(scope="module")
def aae_run(tmp_path_factory):
    """An AAE on the embedded Fashion-MNIST: labelled data through an encoder, with a domain classifier."""
    run = tmp_path_factory.mktemp("directions") / "aae"
    assert main(["train", "--config", "aae-mnist", "--data", "fashion-mnist-10k", "--set", "data.holdout=0",
                 "--set", "family.hidden=[32,32]", "--out", str(run), *TINY]) == 0
    return run


def test_apply_attribute_moves_each_code_by_each_strength():
    v = torch.tensor([3.0, 4.0])
    assert directions.apply_attribute(torch.zeros(2, 2), v, [0.0, 2.0]).tolist() == [[0, 0], [6, 8], [0, 0], [6, 8]]
    per_row = torch.tensor([[1.0, 0.0], [0.0, -1.0]])  # one vector per code
    assert directions.apply_attribute(torch.ones(2, 2), per_row, [1.0, 3.0]).tolist() == [
        [2, 1], [4, 1], [1, 0], [1, -2]]


def test_class_vectors_go_from_each_codes_own_class_to_the_target(gan_run):
    ex = Explorer.load(gan_run)
    pool = ex.codes(0, directions.CLASS_POOL)["z"]
    probs = torch.softmax(ex.classifier().logits(ex.decode({"z": pool})), 1)
    k = directions.TYPICAL
    means = torch.stack([pool[probs[:, c].argsort(descending=True)[:k]].mean(0) for c in range(10)])
    edited = ex.codes(5, 6)
    own = ex.classifier().logits(ex.decode(edited)).argmax(1)
    kth_surest = probs.sort(0, descending=True).values[k - 1]  # per class
    target = int(kth_surest.argmax())
    got = directions.attribute_vectors(ex, str(target), edited)
    assert torch.allclose(got, means[target] - means[own], atol=1e-6)
    assert (got[own == target] == 0).all()  # a code already of the class stays put
    rare = int(kth_surest.argmin())
    if kth_surest[rare] <= 0.5:
        with pytest.raises(ganforge.api.UserError, match=f"fewer than {k} of"):
            directions.attribute_vectors(ex, str(rare), edited)



def test_encoder_class_vectors_go_between_the_typical_encoded_images_of_each_class(aae_run):
    ex = Explorer.load(aae_run)
    data, pool, encoded = directions.encoded_pool(ex)
    labels = data.y[pool]
    judge = ex.classifier()
    sure = torch.softmax(judge.logits(ex.decode({"z": encoded})), 1)
    means = []
    for k in range(10):  # each class: the mean of the TYPICAL images whose reconstructions read most surely as it
        members = [i for i in range(len(labels)) if labels[i] == k]
        members.sort(key=lambda i: -float(sure[i, k]))
        means.append(encoded[members[: directions.TYPICAL]].mean(0))
    means = torch.stack(means)
    assert not torch.allclose(means, torch.stack([encoded[labels == k].mean(0) for k in range(10)]), atol=1e-3)
    codes = {"z": ex.g.encode(data.x[:6])}
    own = ex.classifier().logits(ex.decode(codes)).argmax(1)
    got = directions.attribute_vectors(ex, "3", codes)
    assert torch.allclose(got, means[3] - means[own], atol=1e-5)
    assert (got[own == 3] == 0).all()
