"""The textbook baseline of `ganforge bench`: the training loop of pytorch/examples dcgan/main.py on ganforge's
networks, as that example writes it: a DataLoader with worker processes converting one image at a time,
separate real and fake D passes, and `.item()` on the losses and D outputs every step (the example prints
them), in fp32 and eager mode, with cudnn.benchmark on."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from ganforge.config import Config, family_options
from ganforge.data import Dataset
from ganforge.hardware import gflop_per_image, peak_memory_mb, timed
from ganforge.nets import build_networks
from ganforge.runtime import resolve_device

REAL_LABEL, FAKE_LABEL = 1.0, 0.0
# The example's D ends in a Sigmoid and uses BCELoss; ganforge's D outputs logits of shape (N,), so the textbook
# path uses BCEWithLogitsLoss, the numerically stable form of the same loss (D(x) is the sigmoid of the logit).
criterion = nn.BCEWithLogitsLoss()


class NormalisedImages(torch.utils.data.Dataset):
    """The example's dataset: one image at a time, to float in [-1, 1] (ToTensor, then Normalize(0.5, 0.5))."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = (self.x[i].float() / 255 - 0.5) / 0.5
        return image, int(self.y[i]) if self.y is not None else 0


def textbook_loader(dataset: Dataset, batch: int, workers: int, device: torch.device) -> DataLoader:
    return DataLoader(NormalisedImages(dataset.x, dataset.y), batch_size=batch, shuffle=True, num_workers=workers,
                      drop_last=True, pin_memory=device.type == "cuda")


def textbook_networks(cfg: Config, shape: tuple[int, ...], device: torch.device):
    """ganforge's own G and D for the config's gan options (so both paths train the same networks) and the
    example's Adams: returns netG, netD, optimizerG, optimizerD."""
    netG, netD = build_networks(family_options(cfg), shape, True)
    netG, netD = netG.to(device), netD.to(device)
    o = cfg.optim
    optimizerG = torch.optim.Adam(netG.parameters(), lr=o.g.lr, betas=tuple(o.g.betas))
    optimizerD = torch.optim.Adam(netD.parameters(), lr=o.d.lr, betas=tuple(o.d.betas))
    return netG, netD, optimizerG, optimizerD


def textbook_step(netG: nn.Module, netD: nn.Module, optimizerG: torch.optim.Optimizer,
                  optimizerD: torch.optim.Optimizer, real_cpu: torch.Tensor, nz: int,
                  device: torch.device) -> tuple[float, float, float, float, float]:
    """One iteration of the example's inner loop; returns (errD, errG, D(x), D(G(z)) before and after D's step).

    Losses through `criterion` (BCE on logits, see above). G reads z as (N, nz) where the example's G reads
    (N, nz, 1, 1): ganforge's G unflattens it first.
    """
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    netD.zero_grad()
    real = real_cpu.to(device)
    batch_size = real.size(0)
    label = torch.full((batch_size,), REAL_LABEL, dtype=real.dtype, device=device)
    output = netD(real)
    errD_real = criterion(output, label)
    errD_real.backward()
    D_x = torch.sigmoid(output).mean().item()

    noise = torch.randn(batch_size, nz, device=device)
    fake = netG(noise)
    label.fill_(FAKE_LABEL)
    output = netD(fake.detach())
    errD_fake = criterion(output, label)
    errD_fake.backward()
    D_G_z1 = torch.sigmoid(output).mean().item()
    errD = errD_real + errD_fake
    optimizerD.step()

    # (2) Update G network: maximize log(D(G(z)))
    netG.zero_grad()
    label.fill_(REAL_LABEL)  # fake labels are real for generator cost
    output = netD(fake)
    errG = criterion(output, label)
    errG.backward()
    D_G_z2 = torch.sigmoid(output).mean().item()
    optimizerG.step()
    return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2  # the example prints these every step


def textbook_rate(cfg: Config, dataset: Dataset, steps: int, warmup: int,
                  workers: int) -> tuple[float, float, float]:
    """Images/s of the textbook loop on cfg's networks and data, peak MiB, GFLOP per image."""
    device = resolve_device(cfg.train.device)
    torch.manual_seed(cfg.train.seed)
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True  # as the example
    try:
        nets = textbook_networks(cfg, tuple(dataset.x.shape[1:]), device)
        loader = textbook_loader(dataset, cfg.train.batch_size, workers, device)
        batches = epochs(loader, iter(loader))  # the first epoch's workers start here, before the clock

        def run(n: int) -> None:
            for _ in range(n):
                real_cpu, _ = next(batches)
                textbook_step(*nets, real_cpu, family_options(cfg).z_dim, device)

        run(warmup)
        rate = steps * cfg.train.batch_size / timed(device, lambda: run(steps))
        return rate, peak_memory_mb(device), gflop_per_image(lambda: run(1), cfg.train.batch_size)
    finally:
        torch.backends.cudnn.benchmark = benchmark


def epochs(loader: DataLoader, first):
    """The example's `for epoch ...: for i, data in enumerate(dataloader)`, endless; each epoch a new iterator."""
    yield from first
    while True:
        yield from loader
