"""train.precision and train.compile: the settings of the fast path, checked on the CPU."""

import warnings

import pytest
import torch
from safetensors.torch import load_file

from ganforge import hardware
from ganforge.checkpoint import latest_checkpoint
from ganforge.config import load_config
from ganforge.runs import load_data
from ganforge.runtime import autocast_dtype
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


def test_precision_names_map_to_autocast_dtypes():
    cpu = torch.device("cpu")
    assert autocast_dtype("auto", cpu) is None  # fp32 on a CPU
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("fp16", cpu) is torch.float16


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
    monkeypatch.setattr(hardware, "cpu_capabilities", lambda: {"avx512_bf16": True})
    cfg = load_config("default", [*TINY, "train.precision=bf16", "train.steps=1"])
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
