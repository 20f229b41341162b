import copy
import json

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ganforge import throughput
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import Dataset

TINY = ["family.g_width=8", "family.d_width=8"]
TINY_SET = [arg for key in TINY for arg in ("--set", key)]
BENCH = ["bench", "--device", "cpu", "--steps", "2", "--warmup", "1", "--batch", "8", "--nets", "dcgan28",
         "--workers", "0", *TINY_SET]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny convolutions on a busy 2-core machine are far faster on one thread than on two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_cfg(batch=8, extra=()):
    return load_config("default", [f"train.batch_size={batch}", "train.device=cpu", "log.tensorboard=false",
                                   "eval.every=0", *TINY, *extra])


def tiny_dataset(n=20):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    return Dataset("tiny", "image", x, torch.arange(n) % 10, [str(k) for k in range(10)], "generated")


def test_dataset_item_is_totensor_then_normalize():
    x = torch.tensor([0, 128, 255], dtype=torch.uint8).reshape(1, 1, 1, 3)
    image, label = throughput.NormalisedImages(x, torch.tensor([7]))[0]
    assert image.dtype == torch.float32 and label == 7
    expected = torch.tensor([0.0, 128 / 255, 1.0]).reshape(1, 1, 3).sub(0.5).div(0.5)
    torch.testing.assert_close(image, expected)
    assert image.min() == -1 and image.max() == 1


def adam_first_step(params, grads, lr):
    """Adam's first update (both bias corrections make m_hat = g and v_hat = g^2): p -= lr * g / (|g| + eps)."""
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= lr * g / (g.abs() + 1e-8)


def test_textbook_step_equals_a_hand_written_dcgan_step():
    cfg = tiny_cfg(extra=["optim.g.lr=2e-4", "optim.d.lr=2e-4"])  # the example's learning rate, written out below
    torch.manual_seed(0)
    netG, netD, optG, optD = throughput.textbook_networks(cfg, (1, 28, 28), torch.device("cpu"))
    G, D = copy.deepcopy(netG), copy.deepcopy(netD)
    before = {k: v.clone() for k, v in [*netG.state_dict().items(), *netD.state_dict().items()]}
    real = torch.rand(8, 1, 28, 28) * 2 - 1

    torch.manual_seed(1)
    errD, errG, d_x, d_gz1, d_gz2 = throughput.textbook_step(netG, netD, optG, optD, real, 100, torch.device("cpu"))

    # the reference: the example's Sigmoid + BCELoss, D's gradient of the summed loss, then G through the new D
    torch.manual_seed(1)
    z = torch.randn(8, 100)
    fake = G(z)
    p_real, p_fake = torch.sigmoid(D(real)), torch.sigmoid(D(fake.detach()))
    loss_d = F.binary_cross_entropy(p_real, torch.ones(8)) + F.binary_cross_entropy(p_fake, torch.zeros(8))
    adam_first_step(list(D.parameters()), torch.autograd.grad(loss_d, list(D.parameters())), 2e-4)
    p_gen = torch.sigmoid(D(fake))
    loss_g = F.binary_cross_entropy(p_gen, torch.ones(8))
    adam_first_step(list(G.parameters()), torch.autograd.grad(loss_g, list(G.parameters())), 2e-4)

    for got, want in ((netG, G), (netD, D)):
        for (name, a), b in zip(got.state_dict().items(), want.state_dict().values()):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    assert errD == pytest.approx(loss_d.item(), rel=1e-5) and errG == pytest.approx(loss_g.item(), rel=1e-5)
    assert d_x == pytest.approx(p_real.mean().item(), rel=1e-5)
    assert d_gz1 == pytest.approx(p_fake.mean().item(), rel=1e-5)
    assert d_gz2 == pytest.approx(p_gen.mean().item(), rel=1e-5)
    # both players moved, and the losses are real numbers
    for net in (netG, netD):
        assert all(not torch.equal(p, before_p) for p, before_p in
                   ((p, before[k]) for k, p in net.state_dict().items() if k.endswith("weight")))
    assert all(torch.isfinite(torch.tensor(v)) for v in (errD, errG, d_x, d_gz1, d_gz2))


def test_textbook_rate_runs_across_epochs():
    # 20 images, batch 8, drop_last: 2 batches an epoch, so 1 + 5 steps start three more epochs
    rate, peak, gflop = throughput.textbook_rate(tiny_cfg(), tiny_dataset(20), steps=5, warmup=1, workers=0)
    assert rate > 0 and peak > 0 and gflop > 0


def test_ganforge_rate_is_positive():
    rate, peak, gflop = throughput.ganforge_rate(tiny_cfg(), tiny_dataset(20), steps=3, warmup=1)
    assert rate > 0 and peak > 0 and gflop > 0


def test_ganforge_step_saves_exactly_the_weight_gradients_of_d_in_g_step():
    """The textbook step computes D's weight gradients in G's step and throws them away; ganforge does not. A
    weight gradient of a convolution or matmul costs what its forward costs, so the FLOPs per image differ by one
    forward of D (BatchNorm's arithmetic is not counted by FlopCounterMode on either side)."""
    cfg, data = tiny_cfg(), tiny_dataset(20)
    *_, ganforge_gflop = throughput.ganforge_rate(cfg, data, steps=1, warmup=0)
    *_, textbook_gflop = throughput.textbook_rate(cfg, data, steps=1, warmup=0, workers=0)
    _, netD, _, _ = throughput.textbook_networks(cfg, (1, 28, 28), torch.device("cpu"))
    with FlopCounterMode(display=False) as counter:
        netD(torch.zeros(8, 1, 28, 28))
    d_forward = counter.get_total_flops() / 8 / 1e9
    assert d_forward > 0
    assert textbook_gflop - ganforge_gflop == pytest.approx(d_forward, rel=1e-9)


def test_cpu_peak_memory_sees_a_new_allocation():
    cpu = torch.device("cpu")
    if not throughput.peak_memory_reset(cpu):
        pytest.skip("/proc/self/clear_refs cannot be written here")
    start = throughput.peak_memory_mb(cpu)
    block = torch.ones(32 * 2**20)  # 128 MiB of float32, every page written
    assert throughput.peak_memory_mb(cpu) >= start + 100
    del block


def test_table_puts_the_ratio_on_the_ganforge_row():
    rows = [{"net": "dcgan28", "path": "ganforge", "device": "cpu", "batch": 8, "images_per_s": 300.0,
             "peak_mem_mb": 400.0, "gflop_per_image": 0.1},
            {"net": "dcgan28", "path": "textbook", "device": "cpu", "batch": 8, "images_per_s": 150.0,
             "peak_mem_mb": 420.0, "gflop_per_image": 0.125}]
    lines = throughput.format_table(rows).splitlines()
    assert lines[0] == "| net | batch | path | images/s | peak MB | GFLOP/image | vs textbook | FLOP ratio |"
    assert lines[2] == "| dcgan28 | 8 | ganforge | 300.0 | 400 | 0.100 | 2.00x | 1.25x |"
    assert lines[3] == "| dcgan28 | 8 | textbook | 150.0 | 420 | 0.125 |  |  |"


def test_bench_cli_writes_both_paths_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert main([*BENCH, "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["path"] for r in rows] == ["ganforge", "textbook"]
    for r in rows:
        assert set(r) == {"net", "path", "device", "batch", "images_per_s", "peak_mem_mb", "gflop_per_image"}
        assert (r["net"], r["device"], r["batch"]) == ("dcgan28", "cpu", 8)
        assert r["images_per_s"] > 0 and r["peak_mem_mb"] > 0 and r["gflop_per_image"] > 0
    printed = capsys.readouterr().out
    assert printed.startswith("ganforge bench on ") and "torch " + torch.__version__ in printed
    assert "| net | batch | path | images/s | peak MB | GFLOP/image | vs textbook | FLOP ratio |" in printed
    ganforge_row = next(line for line in printed.splitlines() if line.startswith("| dcgan28 | 8 | ganforge |"))
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
