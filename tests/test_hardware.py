import mmap

import pytest
import torch
from torch import nn

from ganforge import hardware


@pytest.mark.parametrize("caps, units", [
    ({"amx_bf16": True, "amx_tile": True, "avx512_bf16": True}, "AMX"),  # Sapphire Rapids and later
    ({"amx_bf16": False, "amx_tile": False, "avx512_bf16": True}, "AVX512-BF16"),  # Zen 4, Cooper Lake
    ({"amx_bf16": False, "amx_tile": False, "avx512_bf16": False}, "none"),  # AVX2 or plain AVX-512
    ({}, "none"),  # nothing known: assume nothing
])
def test_bf16_units_read_from_the_feature_flags(caps, units):
    assert hardware.bf16_units(caps) == units


def test_native_bf16_follows_the_units(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(hardware, "cpu_capabilities", lambda: {"avx512_bf16": True})
    assert hardware.native_bf16(cpu)
    monkeypatch.setattr(hardware, "cpu_capabilities", lambda: {"avx512_bf16": False, "amx_bf16": False})
    assert not hardware.native_bf16(cpu)


def test_describe_names_this_cpu_and_its_units():
    info = hardware.describe(torch.device("cpu"))
    assert info["device"] and info["bf16_units"] in ("AMX", "AVX512-BF16", "none")
    assert info["threads"] == torch.get_num_threads()


def test_conv_flops_match_the_hand_count():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    x = torch.zeros(2, 3, 10, 10)
    assert hardware.conv_flops(conv, x) == 2 * 2 * 10 * 10 * 8 * 3 * 9  # N * H * W * Cout * Cin * k*k, x2
    up = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)
    x = torch.zeros(1, 4, 5, 5)
    assert hardware.conv_flops(up, x) == 2 * 1 * 5 * 5 * 4 * 2 * 16  # every input pixel meets every weight


def test_widest_conv_is_the_one_with_most_flops():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 16, 3, padding=1),  # 16x16: 4*16*9 per pixel
                        nn.Conv2d(16, 8, 1, stride=2))  # fewer: 8x8 output, 1x1 kernel
    conv, x = hardware.widest_conv(net, torch.zeros(2, 1, 16, 16))
    assert conv is net[1] and x.shape == (2, 4, 16, 16)
    assert hardware.widest_conv(nn.Linear(3, 3), torch.zeros(1, 3)) is None


def test_roofs_are_positive_rates(monkeypatch):
    monkeypatch.setattr(hardware, "ROOF_SECONDS", 0.01)
    cpu = torch.device("cpu")
    assert hardware.matmul_roof(torch.float32, cpu, size=64) > 0
    conv = nn.Conv2d(4, 8, 3, padding=1)
    assert hardware.conv_roof(conv, torch.randn(2, 4, 8, 8), torch.bfloat16, cpu) > 0
    assert conv.weight.grad is None  # measured on a copy


def test_cpu_peak_memory_sees_a_new_allocation():
    cpu = torch.device("cpu")
    if not hardware.peak_memory_reset(cpu):
        pytest.skip("/proc/self/clear_refs cannot be written here")
    start = hardware.peak_memory_mb(cpu)
    # a fresh anonymous mapping, every page written: an allocator's cache of freed memory (after a long test
    # session) cannot serve it from pages already resident
    block = mmap.mmap(-1, 128 * 2**20)
    block.write(b"\1" * len(block))
    assert hardware.peak_memory_mb(cpu) >= start + 100
    block.close()
