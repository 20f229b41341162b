"""train.precision and train.compile: the settings of the fast path, checked on the CPU."""

import warnings

import pytest
import torch
from safetensors.torch import load_file

from ganforge import hardware
from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.config import load_config
from ganforge.families.gan import GAN
from ganforge.runs import continue_config, load_data, read_metrics, settled_precision
from ganforge.runtime import autocast_dtype, chosen_precision
from ganforge.training.log import RunningStats
from ganforge.training.loop import build_trainer, train

TINY = ["family.g_width=8", "family.d_width=8", "train.batch_size=16", "log.tensorboard=false", "eval.every=0"]


def trained(steps, *overrides):
    cfg = load_config("default", [*TINY, *overrides])
    trainer = build_trainer(cfg, load_data(cfg))
    stats = RunningStats()
    for _ in range(steps):
        trainer.train_step(stats)
    return trainer, stats.read_and_reset()


def bf16_units(monkeypatch, flags):
    """Pretend the CPU's feature flags are `flags` (a dict as torch.backends.cpu reads them)."""
    monkeypatch.setattr(hardware, "cpu_capabilities", lambda: flags)


@pytest.mark.parametrize(("flags", "kind", "expected"), [
    ({"amx_bf16": True, "avx512_bf16": True}, "image", "bf16"),
    ({"avx512_bf16": True}, "image", "bf16"),
    ({"avx512_bf16": True}, "video", "bf16"),
    ({"avx512_bf16": True}, "points", "fp32"),  # toy MLPs keep fp32
    ({"avx512": True}, "image", "fp32"),  # no bf16 units: nothing changes
    ({}, "image", "fp32"),
])
def test_auto_picks_bf16_only_where_the_cpu_has_bf16_units(monkeypatch, flags, kind, expected):
    bf16_units(monkeypatch, flags)
    assert chosen_precision("auto", torch.device("cpu"), kind) == expected


def test_an_explicit_precision_is_kept_whatever_the_cpu(monkeypatch):
    bf16_units(monkeypatch, {})
    assert chosen_precision("bf16", torch.device("cpu"), "image") == "bf16"
    bf16_units(monkeypatch, {"amx_bf16": True})
    assert chosen_precision("fp32", torch.device("cpu"), "image") == "fp32"


def test_a_new_run_records_what_auto_chose_and_a_resume_elsewhere_keeps_it(tmp_path, monkeypatch):
    bf16_units(monkeypatch, {"avx512_bf16": True})
    cfg = load_config("default", [*TINY, "train.steps=2", "log.checkpoint_every=2"])
    assert cfg.train.precision == "auto"
    train(cfg, tmp_path / "run", quiet=True)
    assert "precision: bf16" in (tmp_path / "run" / "config.yaml").read_text()
    bf16_units(monkeypatch, {})  # the same run resumed on a CPU without bf16 units
    resumed = continue_config(tmp_path / "run", ["train.steps=3"])
    assert resumed.train.precision == "bf16"
    assert build_trainer(resumed, load_data(resumed)).amp_dtype is torch.bfloat16
    train(load_config("default", [*TINY, "train.steps=3"]), tmp_path / "run", resume=True, quiet=True)  # auto
    assert "precision: bf16" in (tmp_path / "run" / "config.yaml").read_text()
    train(cfg, tmp_path / "plain", quiet=True)
    assert "precision: fp32" in (tmp_path / "plain" / "config.yaml").read_text()


def test_precision_names_map_to_autocast_dtypes(monkeypatch):
    cpu = torch.device("cpu")
    bf16_units(monkeypatch, {"avx512_bf16": True})
    assert autocast_dtype("auto", cpu, "image") is torch.bfloat16  # auto as a new run chooses it
    assert autocast_dtype("auto", cpu, "points") is None
    assert autocast_dtype("fp32", cpu, "image") is None
    assert autocast_dtype("fp16", cpu, "image") is torch.float16
    bf16_units(monkeypatch, {})
    assert autocast_dtype("auto", cpu, "image") is None
    assert autocast_dtype("bf16", cpu, "image") is torch.bfloat16


def test_a_run_that_recorded_auto_resumes_in_that_times_arithmetic(tmp_path, monkeypatch):
    """A config.yaml of before a run recorded its choice says auto; it trained in fp32 on a CPU, and a resume
    on a CPU with bf16 units keeps fp32."""
    bf16_units(monkeypatch, {"avx512_bf16": True})
    cfg = load_config("default", [*TINY, "train.steps=2", "train.precision=fp32"])
    train(cfg, tmp_path / "run", quiet=True)
    config_yaml = tmp_path / "run" / "config.yaml"
    config_yaml.write_text(config_yaml.read_text().replace("precision: fp32", "precision: auto"))
    resumed = settled_precision(continue_config(tmp_path / "run", ["train.steps=3"]), tmp_path / "run", True,
                                torch.device("cpu"), "image")
    assert resumed.train.precision == "fp32"
    fresh = settled_precision(load_config("default", TINY), tmp_path / "new", False, torch.device("cpu"), "image")
    assert fresh.train.precision == "bf16"  # a new run on the same CPU


def test_bf16_run_resumes_bit_for_bit(tmp_path):
    """N + N steps in bf16 equal 2N: weights, optimiser state and EMA stay fp32, the noise and data streams
    resume where they stopped, and autocast rounds the same way each time."""
    cfg = load_config("default", [*TINY, "train.precision=bf16", "train.steps=6", "train.ema=0.9",
                                  "log.checkpoint_every=3", "log.sample_every=3", "log.every=3"])
    train(cfg, tmp_path / "straight", quiet=True)
    half = load_config("default", [*TINY, "train.precision=bf16", "train.steps=3", "train.ema=0.9",
                                   "log.checkpoint_every=3", "log.sample_every=3", "log.every=3"])
    train(half, tmp_path / "resumed", quiet=True)
    train(cfg, tmp_path / "resumed", resume=True, quiet=True)
    a = load_file(latest_checkpoint(tmp_path / "straight") / "model.safetensors")
    b = load_file(latest_checkpoint(tmp_path / "resumed") / "model.safetensors")
    assert a.keys() == b.keys() and all(v.dtype == torch.float32 for v in a.values() if v.is_floating_point())
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_header_names_the_arithmetic(tmp_path, capsys, monkeypatch):
    bf16_units(monkeypatch, {"avx512_bf16": True})
    cfg = load_config("default", [*TINY, "train.steps=1"])  # auto
    train(cfg, tmp_path / "run")
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ganforge training"))
    assert header.endswith("for 1 step of batch 16 (phases D, G), device cpu, bf16 autocast (AVX512-BF16)")


def test_bf16_autocast_trains_with_fp32_weights():
    trainer, stats = trained(3, "train.precision=bf16")
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())
    assert all(p.dtype == torch.float32 for p in trainer.family.parameters())
    eager, _ = trained(3, "train.precision=fp32")
    g_bf16, g_fp32 = trainer.family.G[0].weight, eager.family.G[0].weight
    assert not torch.equal(g_bf16, g_fp32) and torch.allclose(g_bf16, g_fp32, atol=1e-2)  # close, not equal


def test_fp16_loss_scale_is_saved_and_restored(tmp_path):
    trainer, _ = trained(2, "train.precision=fp16")
    assert set(trainer.scalers) == {"G", "D"}
    trainer.scalers["D"].update(new_scale=512.0)
    trainer.save(tmp_path)
    fresh, _ = trained(0, "train.precision=fp16")
    assert fresh.scalers["D"].get_scale() != 512.0
    fresh.load(latest_checkpoint(tmp_path))
    assert fresh.scalers["D"].get_scale() == 512.0


def test_compile_matches_eager():
    compiled, _ = trained(2, "train.compile=on", "train.precision=fp32")
    eager, _ = trained(2, "train.precision=fp32")
    for a, b in zip(compiled.family.parameters(), eager.family.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-4)


def test_compile_that_cannot_work_here_falls_back_with_a_warning(monkeypatch):
    def broken(self, *args, **kwargs):
        def fail(*a, **k):
            raise RuntimeError("no C++ compiler found\nmore detail")

        self._compiled_call_impl = fail

    monkeypatch.setattr(torch.nn.Module, "compile", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer, stats = trained(2, "train.compile=on")
    assert any("train.compile=on failed (no C++ compiler found)" in str(w.message) for w in caught)
    assert trainer.family.G._compiled_call_impl is None
    assert stats["loss_d"] > 0


@pytest.mark.parametrize("value", ["on", "off"])
def test_yaml_on_and_off_are_choices_not_booleans(value):
    assert load_config("default", [f"train.compile={value}"]).train.compile == value


def test_a_nan_in_a_bf16_run_is_rolled_back_and_the_run_completes(tmp_path, monkeypatch):
    original, calls = GAN.d_loss, {"n": 0}

    def d_loss(self, real, z):  # step 5's D loss is NaN
        loss, stats = original(self, real, z)
        calls["n"] += 1
        return (loss * float("nan"), {**stats, "loss_d": loss.detach() * float("nan")}) if calls["n"] == 5 \
            else (loss, stats)

    monkeypatch.setattr(GAN, "d_loss", d_loss)
    cfg = load_config("default", [*TINY, "train.precision=bf16", "train.steps=6", "log.checkpoint_every=2",
                                  "log.every=1", "log.sample_every=6"])
    summary = train(cfg, tmp_path / "run", quiet=True)
    events = [r for r in read_metrics(tmp_path / "run") if "event" in r]
    assert summary["steps"] == 6 and [(e["event"], e["to"]) for e in events] == [("rollback", "step_000004")]
    model, _, meta = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert meta["rollbacks"] == 1 and all(torch.isfinite(v).all() for v in model.values() if v.is_floating_point())
