import itertools
import json
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.config import load_config
from ganforge.runs import load_data, load_generator, read_metrics
from ganforge.training.loop import build_trainer, train

TINY_DCGAN = ["family.g_width=8", "family.d_width=8", "train.batch_size=16", "log.tensorboard=false",
              "log.every=2", "log.sample_every=3", "log.checkpoint_every=3"]


def distance_to_ring(samples: torch.Tensor) -> float:
    """Mean distance of 2D points to the unit circle the ring's eight modes sit on."""
    return (samples.norm(dim=1) - 1).abs().mean().item()


def test_toy_ring_training_moves_samples_toward_the_modes(tmp_path):
    # the plain GAN hops between modes of the ring (the mode-collapse lesson), but it does learn the ring
    cfg = load_config("toy-ring", ["train.steps=400", "data.n_toy=20000", "log.tensorboard=false",
                                   "log.sample_every=400", "log.checkpoint_every=400"])
    dataset = load_data(cfg)
    z = torch.randn(2000, cfg.family["z_dim"], generator=torch.Generator().manual_seed(5))
    before = build_trainer(cfg, dataset).family.generate(z).detach()
    summary = train(cfg, tmp_path / "run", quiet=True)
    assert summary["steps"] == 400
    g = load_generator(tmp_path / "run")
    after = g.family.generate(z).detach()
    assert g.step == 400
    assert distance_to_ring(before) > 0.5  # a fresh generator sits near the origin
    assert distance_to_ring(after) < 0.5 * distance_to_ring(before), (distance_to_ring(before), distance_to_ring(after))
    assert (run_picture := tmp_path / "run" / "samples.png").is_file() and Image.open(run_picture).size[0] > 100


def test_default_dcgan_run_folder_holds_everything(tmp_path):
    cfg = load_config(None, ["train.steps=6", *TINY_DCGAN, "log.tensorboard=true"])
    run = tmp_path / "run"
    summary = train(cfg, run, quiet=True)
    assert summary["steps"] == 6
    for name in ("config.yaml", "run.json", "metrics.jsonl", "samples.png", "progress.gif", "progress.png",
                 "curves.png", "summary.json", "reals.png"):
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    frames = sorted(p.name for p in (run / "samples").glob("step_*.png"))
    assert frames == ["step_000000.png", "step_000003.png", "step_000006.png"]
    grid = Image.open(run / "samples.png")
    grid.load()
    assert grid.size[0] > 8 * 28  # 64 samples, 8 per row, upscaled
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in lines if "loss_d" in r]
    assert [r["step"] for r in records] == [2, 4, 6]
    for r in records:
        assert 0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 and r["loss_d"] > 0
    # the default preset evaluates every 500 steps and at the end, and keeps the best weights
    assert [(r["step"], r["eval_fd_classifier"] > 0) for r in lines if "eval_fd_classifier" in r] == [(6, True)]
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["best", "step_000003", "step_000006"]
    model, _, meta = load_checkpoint(latest_checkpoint(run))
    assert meta["step"] == 6 and meta["images_seen"] == 6 * 16
    assert any(k.startswith("G.") for k in model) and any(k.startswith("D.") for k in model)


def test_resume_continues_with_the_same_counter_and_optimizer_state(tmp_path):
    """6 steps in one go equal 3 steps plus a resume for 3 more, tensor for tensor (CPU)."""
    straight = load_config(None, ["train.steps=6", *TINY_DCGAN])
    train(straight, tmp_path / "straight", quiet=True)
    train(load_config(None, ["train.steps=3", *TINY_DCGAN]), tmp_path / "resumed", quiet=True)
    summary = train(straight, tmp_path / "resumed", resume=True, quiet=True)
    assert summary["steps"] == 6
    a_model, a_state, a_meta = load_checkpoint(latest_checkpoint(tmp_path / "straight"))
    b_model, b_state, b_meta = load_checkpoint(latest_checkpoint(tmp_path / "resumed"))
    assert a_meta["step"] == b_meta["step"] == 6
    assert a_meta["images_seen"] == b_meta["images_seen"]
    assert a_model.keys() == b_model.keys() and a_state.keys() == b_state.keys()
    for key in a_model:
        assert torch.equal(a_model[key], b_model[key]), key
    for key in a_state:
        if key.startswith(("optim.", "data.", "noise.")):
            assert torch.equal(a_state[key], b_state[key]), key
    lines = [json.loads(line) for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss_d" in r] == [2, 3, 4, 6]  # 3 ended the first part
    assert [r["step"] for r in lines if "eval_fd_classifier" in r] == [3, 6]  # the default preset evaluates at each end


def test_k_discriminator_steps_and_fresh_noise(tmp_path):
    cfg = load_config("gan-mnist", ["data.name=toy-ring", "data.n_toy=1000", "family.g_output=linear",
                                    "train.steps=4", "family.d_steps=3", "family.g_hidden=[16]", "family.d_hidden=[16]",
                                    "log.tensorboard=false", "train.batch_size=10"])
    summary = train(cfg, tmp_path / "run", quiet=True)
    assert summary["images_seen"] == 4 * 3 * 10
    trainer = build_trainer(cfg, load_data(cfg))
    state = trainer.optimizers["D"].state_dict()["state"]
    assert state == {}  # fresh
    from ganforge.training.log import RunningStats

    trainer.train_step(RunningStats())
    d_steps = [s["momentum_buffer"] is not None for s in trainer.optimizers["D"].state_dict()["state"].values()]
    assert d_steps and all(d_steps)
    assert trainer.data.position == 30  # three real batches of 10 for one generator step


def test_default_config_trains_on_an_image_folder_of_any_size(tmp_path):
    import numpy as np

    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (45, 60, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    cfg = load_config(None, [f"data.name={folder}", "train.steps=2", *TINY_DCGAN])
    train(cfg, tmp_path / "run", quiet=True)
    data = json.loads((tmp_path / "run" / "run.json").read_text())["data"]
    # no silent resize to the 28x28 network: the DCGAN for the largest power of two that fits 60x45, centre-cropped
    assert data["shape"] == [3, 32, 32] and data["n"] == 12
    saved = load_config(str(tmp_path / "run" / "config.yaml"))
    assert saved.family["arch"] == "dcgan" and saved.data.resolution == 32 and saved.data.name == str(folder.resolve())


def test_gan_mnist_preset_on_real_mnist(tmp_path):
    mnist = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
    if not mnist.is_dir():
        pytest.skip(f"MNIST IDX files not found at {mnist}")
    cfg = load_config("gan-mnist", [f"data.root={mnist}", "train.steps=3", "family.g_hidden=[32]",
                                    "family.d_hidden=[16]", "log.tensorboard=false"])
    summary = train(cfg, tmp_path / "run", quiet=True)
    data = json.loads((tmp_path / "run" / "run.json").read_text())["data"]
    assert data["n"] == 60_000 and data["shape"] == [1, 28, 28]
    assert summary["images_seen"] == 3 * 100
    # max-norm holds on every D unit after training steps
    for m in load_generator(tmp_path / "run").family.D.modules():
        if isinstance(m, torch.nn.Linear):
            assert m.weight.norm(dim=1).max().item() <= 1.9365 + 1e-4


def test_linear_learning_rate_decay_follows_the_step(tmp_path):
    cfg = load_config("toy-ring", ["train.steps=10", "optim.decay=linear", "optim.decay_start=0.6",
                                   "data.n_toy=500", "family.g_hidden=[8]", "family.d_hidden=[8]"])
    trainer = build_trainer(cfg, load_data(cfg))
    factors = []
    from ganforge.training.log import RunningStats

    for _ in range(10):
        trainer.train_step(RunningStats())
        factors.append(trainer.optimizers["D"].param_groups[0]["lr"] / cfg.optim.d.lr)
    # full rate for the first 6 steps, then 1 - (step - 6) / 4 at steps 6..9
    assert factors == pytest.approx([1, 1, 1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25])
    assert trainer.optimizers["G"].param_groups[0]["lr"] == pytest.approx(0.25 * cfg.optim.g.lr)


def test_cached_freeze_and_ema_lists_train_bit_for_bit_as_rebuilding_them_every_step():
    from ganforge.training.log import RunningStats

    cfg = load_config("toy-grid-best", ["train.steps=40", "data.n_toy=1000", "train.ema=0.9"])
    ds = load_data(cfg)
    cached, rebuilt = build_trainer(cfg, ds), build_trainer(cfg, ds)
    for _ in range(40):  # R1 on steps 0, 16 and 32
        cached.train_step(RunningStats())
        rebuilt.frozen, rebuilt.ema.paired_with = {}, None  # list D's and G's tensors afresh
        rebuilt.train_step(RunningStats())
    a, b = cached.model_tensors(), rebuilt.model_tensors()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    d_params = list(cached.family.networks["D"].parameters())
    assert all(p.requires_grad for p in d_params)  # unfrozen after G's step
    with cached.frozen["G"]:  # the cached freeze of G's phase still covers every weight of D
        assert not any(p.requires_grad for p in d_params)


def test_cpu_adam_runs_foreach_and_trains_bit_for_bit_as_per_tensor_adam():
    from ganforge.training.log import RunningStats

    cfg = load_config("toy-grid-best", ["train.steps=40", "data.n_toy=1000"])
    ds = load_data(cfg)
    fast, plain = build_trainer(cfg, ds), build_trainer(cfg, ds)
    assert all(opt.defaults["foreach"] for opt in fast.optimizers.values())
    for opt in plain.optimizers.values():  # the per-tensor loop the foreach path replaces
        for group in opt.param_groups:
            group["foreach"] = False
    for _ in range(40):
        fast.train_step(RunningStats())
        plain.train_step(RunningStats())
    a, b = fast.model_tensors(), plain.model_tensors()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_images_per_second_and_the_header_count_the_batch_the_family_draws(tmp_path, monkeypatch, capsys):
    # progressive growing trains its first level on family.batch_sizes[0] = 8 images a step, not train.batch_size
    cfg = load_config("progan-fashion", ["family.g_width=8", "family.d_width=8", "family.z_dim=16",
                                         "family.max_channels=16", "family.batch_sizes=[8,4,4]", "train.batch_size=32",
                                         "train.steps=4", "train.ema=0", "log.every=2", "log.sample_every=100",
                                         "log.checkpoint_every=100", "log.tensorboard=false", "eval.every=0"])
    ticks = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))  # whole seconds: exact rounding
    summary = train(cfg, tmp_path / "run")
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("ganforge training: progan (params: ") and "for 4 steps of batch 8 (phases" in header
    assert summary["images_seen"] == 4 * 8
    assert summary["images_per_s"] == round(32 / summary["seconds"], 1)
    records = [r for r in read_metrics(tmp_path / "run") if "loss_d" in r]
    assert [r["images"] for r in records] == [16, 32]
    for r in records:  # both speeds over the same seconds: 8 images a step
        assert r["images_per_s"] == pytest.approx(8 * r["steps_per_s"], rel=0.01)


def test_the_header_names_the_gan_with_its_architecture(tmp_path, capsys):
    train(load_config("toy-ring", ["train.steps=1", "data.n_toy=100", "train.batch_size=50",
                                   "log.tensorboard=false"]), tmp_path / "run")
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("ganforge training: gan/mlp (params: G ") and "of batch 50 (phases D, G)" in header
