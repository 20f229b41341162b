"""text2image (GAN-INT-CLS): D's matching-aware loss and G's interpolation term by hand, the matching objective,
what it refuses, sampling from captions, and a short run that is sampled from text and measured by `eval`."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganforge
from ganforge import viz
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import captions as cap
from ganforge.data.registry import load_dataset
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families import Step, build_family
from ganforge.families.text_encoder import caption_true_of, multi_positive_nll

SPEC = DataSpec((1, 28, 28), True, n_classes=10)
SMALL = ["family.g_width=8", "family.d_width=8", "family.z_dim=8", "log.tensorboard=false"]


def text2image(*sets):
    torch.manual_seed(0)
    f = build_family(load_config("text2image-fashion", [*SMALL, *sets]), SPEC)
    data = load_dataset("fashion-mnist-10k")
    f.thresholds = cap.class_thresholds(data.x[:2000], data.y[:2000])
    return f


def real_batch(n=8):
    data = load_dataset("fashion-mnist-10k")
    return data.x[:n].float() / 127.5 - 1, data.y[:n]


def matching_aware_d_loss(f, x, right, wrong, z):
    """D's loss by hand for caption-table rows right and wrong: weights 1 (real, right), 0.5 (fake, right), 0.5
    (real, wrong); and D's logits for (real, wrong)."""
    table = f.table()
    with torch.no_grad():
        fake = f.G(z, table[right])
    s_real, s_fake, s_wrong = f.D(x, table[right]), f.D(fake, table[right]), f.D(x, table[wrong])
    loss = F.softplus(-s_real).mean() + 0.5 * F.softplus(s_fake).mean() + 0.5 * F.softplus(s_wrong).mean()
    return loss, s_wrong


def test_d_loss_is_the_matching_aware_loss_by_hand():
    f = text2image("family.wrong=0.5")
    x, y = real_batch()
    step = Step(0, 0, 8, torch.Generator().manual_seed(5), torch.device("cpu"))
    loss, stats = f.loss("D", Batch(x, y), step)
    # the same draws again: captions (right, wrong), then z
    g = torch.Generator().manual_seed(5)
    right, wrong = f.draw_captions(y, cap.attributes(cap.to_uint8(x), y, f.thresholds), g)
    expected, s_wrong = matching_aware_d_loss(f, x, right, wrong, torch.randn(8, f.z_dim, generator=g))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert stats["d_wrong"].item() == pytest.approx(torch.sigmoid(s_wrong).mean().item(), rel=1e-5)
    # the right caption is true of its image; the wrong one names another class
    rows = cap.all_captions()
    for i in range(8):
        assert set(cap.words_of(cap.CLASS_NOUNS[y[i]])) <= set(cap.words_of(rows[right[i]]))
    assert ((wrong // (cap.COMBOS * len(cap.TEMPLATES))) != y).all()
    assert (right % len(cap.TEMPLATES) < cap.SEEN).all() and (wrong % len(cap.TEMPLATES) < cap.SEEN).all()


def test_g_loss_adds_the_interpolation_term():
    f = text2image("family.interpolate=2", "family.beta=0.25")
    x, y = real_batch()
    f.loss("D", Batch(x, y), Step(0, 0, 8, torch.Generator().manual_seed(1), torch.device("cpu")))
    e = f._right
    loss, stats = f.loss("G", Batch(x, y), Step(0, 0, 8, torch.Generator().manual_seed(2), torch.device("cpu")))
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(8, f.z_dim, generator=g), torch.randn(8, f.z_dim, generator=g)
    e_int = 0.25 * e + 0.75 * e.roll(1, 0)
    main_term = F.softplus(-f.D(f.G(z1, e), e)).mean()
    int_term = F.softplus(-f.D(f.G(z2, e_int), e_int)).mean()
    assert loss.item() == pytest.approx((main_term + 2 * int_term).item(), rel=1e-5)
    assert stats["loss_g_int"].item() == pytest.approx(int_term.item(), rel=1e-5)


def test_matching_objective_by_hand():
    y = torch.tensor([0, 0, 1])
    attrs = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 1, 1]])
    c_y = torch.tensor([0, 1, 0])
    states = torch.tensor([[2, 0, 0], [0, 0, 0], [0, 1, 0]])  # "dark" / any / "small"
    true = caption_true_of(y, attrs, c_y, states)
    assert true.tolist() == [[True, False, True], [False, False, True], [False, True, False]]
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
    positive = torch.tensor([[True, False, True], [False, False, False], [False, True, False]])
    e = torch.tensor(1.0).exp()
    expected = (-torch.log((e**2 + e) / (e**2 + 1 + e)) - torch.log(e**3 / (e + e**3 + 1))) / 2
    assert multi_positive_nll(logits, positive).item() == pytest.approx(expected.item(), rel=1e-6)


def test_pretraining_learns_to_match_captions():
    from ganforge.metrics.text import caption_matching

    f = text2image("family.pretrain_steps=120", "family.pretrain_batch=128")
    data = load_dataset("fashion-mnist-10k")
    test_x, test_y = data.x[8000:8500], data.y[8000:8500]
    before = caption_matching(f.generator(), test_x, test_y)
    history = f.pretrain(data.x[:6000], data.y[:6000], progress=False)
    after = caption_matching(f.generator(), test_x, test_y)
    assert sum(history[-10:]) < 0.6 * sum(history[:10])
    assert before < 0.3 and after > 0.7, (before, after)
    assert not any(p.requires_grad for p in f.T.parameters())  # fixed during the GAN


@pytest.mark.parametrize(("sets", "message"), [
    (("data.name=fashion-mnist",), "data.name=fashion-captions"),
    (("family.arch=mlp",), "'family.arch': the text2image family does not read it"),  # the 28x28 DCGAN only
    (("loss.gp=10",), "'loss.gp': the text2image family does not read it"),
    (("family.mention=2",), "family.mention"),
])
def test_refuses_what_it_cannot_train(sets, message):
    with pytest.raises(UserError, match=message):
        text2image(*sets)


def test_sample_inputs_from_captions(tmp_path):
    f = text2image().eval()
    inputs, columns = f.sample_inputs(5, torch.Generator().manual_seed(0), picture=True, text="a dark sneaker")
    assert inputs["z"].shape == (5, 8) and columns == 5
    assert torch.allclose(inputs["e"], f.embed(["a dark sneaker"]).expand(5, -1))
    lines = tmp_path / "captions.txt"
    lines.write_text("a bag\n\nthe coat is light\nan ankle boot that is large\n")
    inputs, columns = f.sample_inputs(4, torch.Generator().manual_seed(0), picture=True, text_file=str(lines))
    assert inputs["e"].shape == (12, 64) and columns == 4
    assert torch.allclose(inputs["e"][4:8], f.embed(["the coat is light"]).expand(4, -1))
    with pytest.raises(UserError, match="'purple'"):
        f.sample_inputs(4, torch.Generator(), text="a purple bag")
    with pytest.raises(UserError, match="not both"):
        f.sample_inputs(4, torch.Generator(), text="a bag", text_file=str(lines))
    with pytest.raises(UserError, match="no such file"):
        f.sample_inputs(4, torch.Generator(), text_file=str(tmp_path / "none.txt"))
    assert f.decode(inputs).shape == (12, 1, 28, 28)
    with pytest.raises(UserError, match="--text CAPTION"):
        f.decode({"z": inputs["z"]})
    assert f.generate_for(["a bag", "a coat"], n=3).shape == (6, 1, 28, 28) and not f.training


def test_each_row_of_a_picture_is_named_by_its_caption(tmp_path):
    g = text2image().eval().generator()
    inputs, columns = g.inputs(24, torch.Generator().manual_seed(0), picture=True)
    names = g.row_labels(inputs, columns)
    assert columns == 8 and len(names) == 3
    for r, text in enumerate(names):  # classes in turn, and the caption each row's embedding is T's of
        assert cap.CLASS_NOUNS[r] in cap.words_of(text)
        assert torch.allclose(g.embed([text])[0], inputs["e"][8 * r], atol=1e-5)
        assert not torch.allclose(g.embed([text])[0], inputs["e"][8 * ((r + 1) % 3)], atol=1e-3)
    lines = tmp_path / "captions.txt"
    lines.write_text("a bag\n\nthe coat is light\n")
    inputs, columns = g.inputs(3, torch.Generator().manual_seed(0), picture=True, text_file=str(lines))
    assert g.row_labels(inputs, columns, text_file=str(lines)) == ["a bag", "the coat is light"]
    assert g.row_labels(inputs, None) is None  # no grid, no rows


def test_a_short_run_samples_from_text_and_is_measured(shared, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANFORGE_DATA", str(shared("fashion-mnist").parent))
    run = tmp_path / "run"
    assert main(["train", "--config", "text2image-fashion", "--steps", "400", "--out", str(run),
                 "--set", "family.g_width=16", "--set", "family.d_width=16", "--set", "log.tensorboard=false",
                 "--set", "family.pretrain_steps=80", "--set", "family.pretrain_batch=128",
                 "--set", "optim.g.lr=5e-4", "--set", "optim.d.lr=5e-4",
                 "--set", "log.sample_every=200", "--set", "train.batch_size=32", "--quiet"]) == 0
    with Image.open(run / "samples.png") as img:  # one caption per row of 8, written beside it
        width, height = img.size
        assert width > 2 * (8 * 30 + 2) + 60 and (height - 4) % 60 == 0
    assert main(["sample", str(run), "--text", "a dark sneaker", "--n", "6"]) == 0
    path = capsys.readouterr().out.split("wrote ")[1].strip()
    g = ganforge.load(run)
    inputs, _ = g.inputs(6, torch.Generator().manual_seed(0), picture=True, text="a dark sneaker")
    expected = viz.labelled(viz.Grid.of(g(inputs), nrow=6), rows=["a dark sneaker"])  # one row of 6, captioned
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(expected))
    lines = tmp_path / "lines.txt"
    lines.write_text("a bag\nthe trousers are dark\n")
    assert main(["sample", str(run), "--text-file", str(lines)]) != 0
    assert "the word 'are' is not in this run's vocabulary" in capsys.readouterr().err
    assert main(["eval", str(run), "--n", "200"]) == 0
    assert "captions of 200 fashion-captions images" in capsys.readouterr().out
    values = json.loads((run / "eval.json").read_text())["values"]
    # 400 small steps: the caption's class and attributes already show, far above chance (0.1 and 0.5)
    assert values["class_accuracy_seen"] > 0.3 and values["class_accuracy_heldout"] > 0.3
    assert values["attribute_accuracy_seen"] > 0.65
    assert values["matching_top1"] > 0.6 and values["sample_matching_top1_seen"] > 0.3
    assert 0.3 < values["real_attribute_rate"] < 0.6


def caption_folder(root, n=600, per_image=("a {}", "a photo of a {}")):
    """The first n embedded Fashion-MNIST images as PNG files, with a captions.csv naming each one's class in
    every phrasing of `per_image`."""
    data = load_dataset("fashion-mnist-10k")
    root.mkdir()
    rows = ["file,caption"]
    for i in range(n):
        Image.fromarray(data.x[i, 0].numpy()).save(root / f"{i:04d}.png")
        rows += [f"{i:04d}.png,{phrase.format(cap.CLASS_NOUNS[data.y[i]])}" for phrase in per_image]
    (root / "captions.csv").write_text("\n".join(rows) + "\n")
    return root, data.y[:n]


def test_own_captions_d_loss_draws_a_right_and_a_wrong_caption(tmp_path):
    from ganforge import runs
    from ganforge.data.spec import data_spec

    root, _ = caption_folder(tmp_path / "folder", n=40)
    cfg = load_config("text2image-fashion", [*SMALL, f"data.name={root}"])
    data = runs.load_data(cfg)
    torch.manual_seed(0)
    f = build_family(cfg, data_spec(data))
    assert f.own_captions and len(f.tokens) == len(data.caption_texts) and not f.sampling_tensors()
    assert f.vocab == [cap.PAD, *sorted({w for text in data.caption_texts for w in cap.words_of(text)})]
    assert {"a", "photo", "of"} <= set(f.vocab)
    own = data.captions[:40]
    x = data.x[:40].float() / 127.5 - 1
    right, wrong = f.draw_own_captions(own, torch.Generator().manual_seed(3))
    assert (own == right[:, None]).any(1).all()  # one of the image's own captions
    assert not (own == wrong[:, None]).any(1).any()  # never one of them
    assert len(set(right.tolist())) > 2
    step = Step(0, 0, 40, torch.Generator().manual_seed(3), torch.device("cpu"))
    loss, _ = f.loss("D", Batch(x, None, caption=own), step)
    g = torch.Generator().manual_seed(3)
    right, wrong = f.draw_own_captions(own, g)
    expected, _ = matching_aware_d_loss(f, x, right, wrong, torch.randn(40, f.z_dim, generator=g))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_run_on_an_image_folder_with_its_own_captions(tmp_path, capsys):
    root, _ = caption_folder(tmp_path / "folder")
    run = tmp_path / "run"
    assert main(["train", "--config", "text2image-fashion", "--steps", "300", "--out", str(run),
                 "--set", f"data.name={root}", "--set", "family.g_width=16", "--set", "family.d_width=16",
                 "--set", "log.tensorboard=false", "--set", "family.pretrain_steps=100",
                 "--set", "family.pretrain_batch=128", "--set", "optim.g.lr=5e-4", "--set", "optim.d.lr=5e-4",
                 "--set", "log.sample_every=300", "--set", "train.batch_size=32"]) == 0
    assert "20 distinct captions (14 words)" in capsys.readouterr().out
    assert json.loads((run / "run.json").read_text())["data"]["captions"][:2] == ["a ankle boot",
                                                                                 "a photo of a ankle boot"]
    assert main(["sample", str(run), "--text", "a photo of a bag", "--n", "4"]) == 0
    assert (run / "sample_step000300_seed0_text-a-photo-of-a-bag.png").is_file()
    # a grid of the run's own captions names each row's: the caption whose embedding its samples were drawn for
    assert main(["sample", str(run), "--n", "24", "--out", str(tmp_path / "grid.png")]) == 0
    g = ganforge.load(run)
    inputs, _ = g.inputs(24, torch.Generator().manual_seed(0), picture=True)
    texts = json.loads((run / "run.json").read_text())["data"]["captions"]
    table = g.embed(texts)
    names = [texts[int((table - inputs["e"][8 * r]).abs().sum(1).argmin())] for r in range(3)]
    assert all(torch.allclose(g.embed([t])[0], inputs["e"][8 * r], atol=1e-5) for r, t in enumerate(names))
    expected = viz.labelled(viz.Grid.of(g(inputs), nrow=8), rows=names)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "grid.png")), np.asarray(expected))
    with Image.open(run / "samples.png") as img:  # training's grid: captioned rows of 8 too
        assert img.size[0] > 2 * (8 * 30 + 2) + 60
    assert main(["sample", str(run), "--text", "a dark bag"]) != 0
    assert "the word 'dark' is not in this run's vocabulary" in capsys.readouterr().err
    assert main(["eval", str(run), "--n", "300"]) == 0
    assert "caption matching of the first 300 images" in capsys.readouterr().out
    values = json.loads((run / "eval.json").read_text())["values"]
    # the captions name the class alone: the encoders read it from real images and, after 300 steps, from
    # samples far above chance (0.1)
    assert values["chance"] == pytest.approx(0.1)
    assert values["matching_top1"] > 0.6 and values["sample_matching_top1"] > 0.3, values
