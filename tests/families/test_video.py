"""The video family: its losses by hand, rollouts that feed predictions back, what it refuses, and a short run
on generated Moving MNIST that learns, draws clip GIFs, is measured by `ganforge eval` and predicts a GIF."""

import json

import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageSequence
from torch import nn

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.data import moving_mnist as mm
from ganforge.data.spec import Batch, DataSpec
from ganforge.errors import UserError
from ganforge.families import Step, build_family
from ganforge.families.video import gradient_difference_loss
from ganforge.nets.video import rollout

SPEC = DataSpec((20, 64, 64), False)
SMALL = ["family.width=8", "family.d_width=8", "log.tensorboard=false"]


def video(*sets, spec=SPEC):
    return build_family(load_config("video-moving-mnist", [*SMALL, *sets]), spec)


def step_context(seed=0):
    return Step(0, 0, 4, torch.Generator().manual_seed(seed), torch.device("cpu"))


def test_gradient_difference_loss_by_hand():
    true = torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]])
    # horizontal |differences|: 1 (row 0), 0 (row 1); vertical: 0 (column 0), 1 (column 1); prediction flat
    assert gradient_difference_loss(torch.zeros_like(true), true).item() == pytest.approx(0.5 + 0.5)
    assert gradient_difference_loss(true, true).item() == 0.0
    assert gradient_difference_loss(1 - true, true).item() == 0.0  # the same edges, inverted: no difference


def test_losses_by_hand():
    torch.manual_seed(0)
    f = video("family.lambda_lp=2", "family.lambda_gdl=0.5", "family.lambda_adv=0.1", "family.rollout=2")
    x = torch.rand(3, 20, 64, 64) * 2 - 1
    start = int(torch.randint(20 - 4 - 2 + 1, (1,), generator=torch.Generator().manual_seed(0)))
    past, true = x[:, start : start + 4], x[:, start + 4 : start + 6]
    d_loss, _ = f.loss("D", Batch(x), step_context())
    fake = rollout(f.G, past, 2, clamp=False)
    real_logits, fake_logits = f.D(torch.cat([past, true], 1)), f.D(torch.cat([past, fake], 1))
    expected = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    assert d_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    g_loss, stats = f.loss("G", Batch(x), step_context())
    expected = (2 * (fake - true).pow(2).mean() + 0.5 * gradient_difference_loss(fake, true)
                + 0.1 * F.softplus(-fake_logits).mean())
    assert g_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert [(p.name, p.steps, p.freeze, p.data) for p in f.phases()] == [("D", "D", (), True),
                                                                         ("G", "G", ("D",), False)]
    l2_only = video("family.lambda_adv=0", "family.lambda_gdl=0")
    assert [p.name for p in l2_only.phases()] == ["G"]
    g_loss, stats = l2_only.loss("G", Batch(x), step_context())
    start = int(torch.randint(20 - 4 - 1 + 1, (1,), generator=torch.Generator().manual_seed(0)))
    fake = rollout(l2_only.G, x[:, start : start + 4], 1, clamp=False)
    assert g_loss.item() == pytest.approx((fake - x[:, start + 4 : start + 5]).pow(2).mean().item(), rel=1e-5)
    assert "loss_g" not in stats


def test_rollout_feeds_each_prediction_back():
    class Step2(nn.Module):  # predicts last + (last - the one before): a constant velocity
        context = 2

        def forward(self, frames):
            return 2 * frames[:, -1:] - frames[:, -2:-1]

    past = torch.tensor([0.0, 0.1]).view(1, 2, 1, 1)
    got = rollout(Step2(), past, 4, clamp=False).flatten().tolist()
    assert got == pytest.approx([0.2, 0.3, 0.4, 0.5])
    clamped = rollout(Step2(), torch.tensor([0.0, 0.6]).view(1, 2, 1, 1), 3).flatten().tolist()
    assert clamped == pytest.approx([1.0, 1.0, 1.0])  # 1.2 clamped, then fed back as 1.0


def test_g_starts_as_copy_the_last_frame_and_predicts_in_range():
    f = video()
    with torch.no_grad():
        f.G.out[-1].weight.zero_()
        f.G.out[-1].bias.zero_()
    past = torch.rand(2, 10, 64, 64) * 2 - 1
    assert torch.equal(f.predict(past, 3), past[:, -1:].expand(-1, 3, -1, -1))


@pytest.mark.parametrize(("sets", "spec", "message"), [
    ((), DataSpec((1, 28, 28), True), "video data"),
    (("family.context=11",), SPEC, "family.context"),
    (("family.rollout=17",), SPEC, "family.rollout"),
    (("train.ema=0.999",), SPEC, "train.ema"),
    (("eval.every=100",), SPEC, "eval.every"),
    (("family.lambda_lp=0", "family.lambda_gdl=0"), SPEC, "lambda_lp"),
    ((), DataSpec((20, 60, 60), False), "divide by 8"),
])
def test_refuses(sets, spec, message):
    with pytest.raises(UserError, match=message):
        video(*sets, spec=spec)


def test_a_short_run_learns_draws_clips_is_measured_and_predicts(shared, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANFORGE_DATA", str(shared("mnist").parent))
    monkeypatch.setattr(mm, "N_TRAIN", 64)
    run = tmp_path / "run"
    common = [*(a for s in SMALL for a in ("--set", s)), "--set", "train.batch_size=8", "--set",
              "log.sample_every=60", "--set", "log.every=20", "--set", "family.lambda_adv=0.01"]
    assert main(["train", "--config", "video-moving-mnist", "--steps", "120", "--out", str(run), *common]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss_lp"] for r in records if "loss_lp" in r]
    assert losses[-1] < 0.8 * losses[0]  # L2 on the next frame falls
    assert main(["sample", str(run), "--out", str(tmp_path / "frames") + "/"]) == 2  # a GIF is `predict`'s
    assert "ganforge predict" in capsys.readouterr().err
    assert main(["sample", str(run), "--out", str(tmp_path / "grid.png")]) == 0
    with Image.open(tmp_path / "grid.png") as grid:  # 4 clips x (input, truth, prediction) rows of 10 frames
        assert grid.size[0] > grid.size[1] * 0.5
    with Image.open(run / "clips.gif") as gif:  # input | truth | prediction, 10 input + 10 predicted frames
        assert sum(1 for _ in ImageSequence.Iterator(gif)) == 20
    assert (run / "samples" / "clips_000060.gif").is_file()
    capsys.readouterr()

    assert main(["eval", str(run), "--n", "8"]) == 0
    result = json.loads((run / "eval.json").read_text())
    values = result["values"]
    clips = mm.sequences(load_dataset("mnist", split="test").x, "test", n=8).float() / 255
    copy_last = ((clips[:, 10:] - clips[:, 9:10]) ** 2).sum((2, 3)).mean(0)
    assert values["copy_last_mse_1"] == pytest.approx(copy_last[0].item(), rel=1e-5)
    assert values["copy_last_mse_mean"] == pytest.approx(copy_last.mean().item(), rel=1e-5)
    assert values["mse_1"] < values["copy_last_mse_1"]  # a trained model beats copy-last on the first frame
    assert result["protocol"]["n_clips"] == 8

    frames = (clips[0, :10] * 255).round().to(torch.uint8).numpy()
    source = tmp_path / "clip.gif"
    images = [Image.fromarray(f) for f in frames]
    images[0].save(source, save_all=True, append_images=images[1:], duration=100, loop=0)
    out = tmp_path / "out.gif"
    assert main(["predict", str(run), "--input", str(source), "--frames", "5", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as gif:
        assert sum(1 for _ in ImageSequence.Iterator(gif)) == 15  # the input, then 5 predicted
    assert main(["predict", str(run), "--input", str(source), "--out", str(out)]) == 2  # exists, no --force
    assert "--force" in capsys.readouterr().err
    assert main(["predict", str(run), "--input", str(source), "--out", str(out), "--force"]) == 0
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(frames[0][:32, :32]).save(folder / "0.png")
    assert main(["predict", str(run), "--input", str(folder)]) == 2
    assert "32x32" in capsys.readouterr().err
