import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ganforge import hardware, textbook, throughput
from ganforge.cli import main

TINY = ["family.g_width=8", "family.d_width=8"]
TINY_SET = [arg for key in TINY for arg in ("--set", key)]
BENCH = ["bench", "--device", "cpu", "--steps", "2", "--warmup", "1", "--batch", "8", "--nets", "dcgan28",
         "--workers", "0", *TINY_SET]


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    """Tiny convolutions on a busy 2-core machine are far faster on one thread than on two; the roof is measured
    on a small matrix, briefly."""
    monkeypatch.setattr(hardware, "ROOF_SIZE", 128)
    monkeypatch.setattr(hardware, "ROOF_SECONDS", 0.01)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_ganforge_rate_is_positive(tiny_dcgan, random_digits):
    rate, peak, gflop = throughput.ganforge_rate(tiny_dcgan(), random_digits(20), steps=3, warmup=1)
    assert rate > 0 and peak > 0 and gflop > 0


def test_ganforge_step_saves_exactly_the_weight_gradients_of_d_in_g_step(tiny_dcgan, random_digits):
    """The textbook step computes D's weight gradients in G's step and throws them away; ganforge does not. A
    weight gradient of a convolution or matmul costs what its forward costs, so the FLOPs per image differ by one
    forward of D (BatchNorm's arithmetic is not counted by FlopCounterMode on either side)."""
    cfg, data = tiny_dcgan(), random_digits(20)
    *_, ganforge_gflop = throughput.ganforge_rate(cfg, data, steps=1, warmup=0)
    *_, textbook_gflop = textbook.textbook_rate(cfg, data, steps=1, warmup=0, workers=0)
    _, netD, _, _ = textbook.textbook_networks(cfg, (1, 28, 28), torch.device("cpu"))
    with FlopCounterMode(display=False) as counter:
        netD(torch.zeros(8, 1, 28, 28))
    d_forward = counter.get_total_flops() / 8 / 1e9
    assert d_forward > 0
    assert textbook_gflop - ganforge_gflop == pytest.approx(d_forward, rel=1e-9)


def test_table_puts_the_ratio_on_the_ganforge_row():
    rows = [{"net": "dcgan28", "path": "ganforge", "precision": "bf16", "device": "cpu", "batch": 8,
             "images_per_s": 300.0, "peak_mem_mb": 400.0, "gflop_per_image": 0.1, "gflops": 30.0,
             "share_of_roof": 0.25},
            {"net": "dcgan28", "path": "textbook", "precision": "fp32", "device": "cpu", "batch": 8,
             "images_per_s": 150.0, "peak_mem_mb": 420.0, "gflop_per_image": 0.125, "gflops": 18.75,
             "share_of_roof": 0.5}]
    lines = throughput.format_table(rows).splitlines()
    assert lines[0] == ("| net | batch | path | precision | images/s | GFLOP/s | of roof | peak MB | GFLOP/image "
                        "| vs textbook | FLOP ratio |")
    assert lines[2] == "| dcgan28 | 8 | ganforge | bf16 | 300.0 | 30.0 | 25% | 400 | 0.100 | 2.00x | 1.25x |"
    assert lines[3] == "| dcgan28 | 8 | textbook | fp32 | 150.0 | 18.8 | 50% | 420 | 0.125 |  |  |"


def test_bench_cli_measures_each_precision_beside_the_roof(tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert main([*BENCH, "--precision", "fp32", "bf16", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    machine = hardware.describe(torch.device("cpu"))
    assert result["machine"]["device"] == machine["device"]
    assert result["machine"]["bf16_units"] == machine["bf16_units"]
    roof = result["roof_gflops"]
    assert roof["fp32"] > 0 and roof["bf16"] > 0
    (conv,) = result["convolutions"]
    assert conv["conv_fp32_gflops"] > 0 and conv["conv_bf16_gflops"] > 0 and "Conv" in conv["conv"]
    rows = result["rows"]
    assert [(r["path"], r["precision"]) for r in rows] == [("ganforge", "fp32"), ("ganforge", "bf16"),
                                                            ("textbook", "fp32")]
    for r in rows:
        assert (r["net"], r["device"], r["batch"]) == ("dcgan28", "cpu", 8)
        assert r["images_per_s"] > 0 and r["peak_mem_mb"] > 0 and r["gflop_per_image"] > 0
        # GFLOP/s is the FLOPs of one image times images/s, read against the roof of the row's own precision
        assert r["gflops"] == pytest.approx(r["images_per_s"] * r["gflop_per_image"], rel=0.01, abs=0.1)
        # (gflops is kept to 0.1: on a slow or shared machine that rounding alone can move the share by 5%)
        assert r["share_of_roof"] == pytest.approx(r["gflops"] / roof[r["precision"]], rel=0.02,
                                                   abs=0.05 / roof[r["precision"]] + 1e-3)
    printed = capsys.readouterr().out
    assert printed.startswith("ganforge bench on ") and "torch " + torch.__version__ in printed
    assert f"bf16 units: {machine['bf16_units']}" in printed.splitlines()[0]
    assert "| net | batch | widest convolution (forward + backward) | fp32 GFLOP/s | bf16 GFLOP/s |" in printed
    ganforge_row = next(line for line in printed.splitlines() if line.startswith("| dcgan28 | 8 | ganforge | bf16 |"))
    assert ganforge_row.rstrip(" |").endswith("x") and ganforge_row.count("x |") == 2


@pytest.mark.parametrize("args, message", [
    (["--nets", "dcgan32"], "unknown net 'dcgan32'"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--set", "train.precision=fp64"], "train.precision"),
])
def test_bench_user_errors_exit_2_with_one_line(args, message, capsys):
    assert throughput.main([*BENCH, *args][1:]) == 2  # the bench/throughput.py entry point: same parser
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge bench: error: ") and message in err and "\n" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_bench_cuda_without_cuda_exits_2(capsys):
    assert main(["bench", "--device", "cuda", "--nets", "dcgan28"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no CUDA device" in err and "\n" not in err
