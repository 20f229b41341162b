import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge.training.ema import EMA


def scalar_model(value: float) -> nn.Linear:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(value)
    return model


def run_updates(ema: EMA, model: nn.Linear, values: list[float]) -> None:
    for v in values:
        with torch.no_grad():
            model.weight.fill_(v)
        ema.update(model)


def test_closed_form_without_warmup():
    model = scalar_model(0.0)
    ema = EMA(model, beta=0.5, warmup=False)
    run_updates(ema, model, [1.0, 2.0, 4.0])
    # s3 = b^3 s0 + (1 - b)(b^2 p1 + b p2 + p3) = 0.5 (0.25 + 1 + 4)
    assert ema.shadow.weight.item() == pytest.approx(2.625)
    assert ema.num_updates == 3
    assert model.weight.item() == 4.0  # the model itself is untouched


def test_warmup_decays():
    model = scalar_model(0.0)
    ema = EMA(model, beta=0.999)
    assert ema.decay() == pytest.approx(0.1)
    run_updates(ema, model, [1.0, 2.0, 4.0])
    # beta_t = 1/10, 2/11, 3/12: s1 = 0.9, s2 = (2/11) 0.9 + (9/11) 2 = 1.8, s3 = 0.25 * 1.8 + 0.75 * 4 = 3.45
    assert ema.shadow.weight.item() == pytest.approx(3.45)
    # capped by beta = 0.15: beta_t = 0.1, 0.15, 0.15
    ema = EMA(scalar_model(0.0), beta=0.15)
    run_updates(ema, model, [1.0, 2.0, 4.0])
    assert ema.shadow.weight.item() == pytest.approx(0.15 * (0.15 * 0.9 + 0.85 * 2) + 0.85 * 4)


def test_shadow_is_a_frozen_eval_copy():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    ema = EMA(model)
    assert not ema.shadow.training and model.training
    assert all(not p.requires_grad for p in ema.shadow.parameters())
    assert all(p.requires_grad for p in model.parameters())
    assert all(s.data_ptr() != p.data_ptr() for s, p in zip(ema.shadow.parameters(), model.parameters()))


def test_buffers_are_copied_not_averaged():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(model, beta=0.9, warmup=False)
    for _ in range(3):
        model(torch.randn(16, 3) * 5 + 2)
    ema.update(model)
    bn, shadow_bn = model[1], ema.shadow[1]
    assert torch.equal(shadow_bn.running_mean, bn.running_mean)
    assert torch.equal(shadow_bn.running_var, bn.running_var)
    assert shadow_bn.num_batches_tracked.item() == 3
    # parameters, by contrast, are averaged
    with torch.no_grad():
        model[1].weight.fill_(2.0)
    ema.update(model)
    assert torch.allclose(shadow_bn.weight, torch.full((4,), 0.9 + 0.1 * 2.0))


def test_state_round_trip(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    a = EMA(model, beta=0.99)
    for _ in range(2):
        model(torch.randn(8, 3))
        with torch.no_grad():
            model[0].weight.add_(1.0)
        a.update(model)
    save_file(a.state_dict(), str(tmp_path / "ema.safetensors"))
    b = EMA(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), beta=0.99)
    b.load_state_dict(load_file(str(tmp_path / "ema.safetensors")))
    assert b.num_updates == 2
    with torch.no_grad():
        model[0].weight.add_(1.0)
    a.update(model)
    b.update(model)
    for (k, va), (_, vb) in zip(a.shadow.state_dict().items(), b.shadow.state_dict().items()):
        assert torch.equal(va, vb), k


def test_beta_is_validated():
    with pytest.raises(ValueError, match="beta"):
        EMA(nn.Linear(1, 1), beta=1.5)


def drifted_batchnorm_ema() -> tuple[nn.Sequential, EMA]:
    """A live model whose weights and BatchNorm statistics moved away from its average."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(model, beta=0.9, warmup=False)
    for _ in range(5):
        with torch.no_grad():
            model[0].weight.add_(1.0)
        model(torch.randn(64, 3) + 3)
        ema.update(model)
    return model, ema


def test_refresh_batchnorm_gives_the_average_its_own_statistics():
    model, ema = drifted_batchnorm_ema()
    assert ema.batchnorm_stale
    draws = []

    def draw(n, generator):
        draws.append(torch.randn(n, 3, generator=generator))
        return (draws[-1],)

    rng = torch.get_rng_state()
    ema.refresh_batchnorm(draw)
    assert torch.equal(torch.get_rng_state(), rng)  # training's random stream untouched
    assert len(draws) == EMA.REFRESH_BATCHES and draws[0].shape == (EMA.REFRESH_BATCH_SIZE, 3)
    # by hand: the average over the batches of the shadow's pre-BatchNorm batch mean and unbiased variance
    with torch.no_grad():
        h = [ema.shadow[0](x) for x in draws]
    bn = ema.shadow[1]
    assert torch.allclose(bn.running_mean, torch.stack([a.mean(0) for a in h]).mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, torch.stack([a.var(0) for a in h]).mean(0), rtol=1e-4)
    assert (bn.running_mean - model[1].running_mean).abs().max() > 0.5  # not the live G's statistics
    assert not ema.shadow.training and bn.momentum == model[1].momentum and not ema.batchnorm_stale
    ema.refresh_batchnorm(draw)
    assert len(draws) == EMA.REFRESH_BATCHES  # nothing changed since: not redone


def test_refresh_batchnorm_depends_on_the_updates_not_on_when_it_runs():
    def draw(n, generator):
        return (torch.randn(n, 3, generator=generator),)

    _, a = drifted_batchnorm_ema()
    _, b = drifted_batchnorm_ema()
    a.refresh_batchnorm(draw)
    torch.randn(100)  # other work in between
    b.refresh_batchnorm(draw)
    for (k, va), (_, vb) in zip(a.shadow.state_dict().items(), b.shadow.state_dict().items()):
        assert torch.equal(va, vb), k


def test_refresh_batchnorm_is_a_no_op_without_batchnorm():
    model = scalar_model(1.0)
    ema = EMA(model)
    run_updates(ema, model, [2.0])
    assert not ema.batchnorm_stale
    ema.refresh_batchnorm(lambda n, g: pytest.fail("drew inputs for a model without BatchNorm"))


def test_update_matches_the_per_tensor_formula_bit_for_bit_and_follows_a_new_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    ema = EMA(model, beta=0.99)
    expected = {k: v.clone() for k, v in ema.shadow.state_dict().items()}
    for step in range(12):
        if step == 6:  # a second model of the same shape: update() must average that one from now on
            model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model(torch.randn(5, 3))  # moves the BatchNorm buffers
        beta = ema.decay()
        for name, p in model.named_parameters():
            expected[name].mul_(beta).add_(p.detach(), alpha=1 - beta)
        for name, b in model.named_buffers():
            expected[name] = b.clone()
        ema.update(model)
        assert all(torch.equal(ema.shadow.state_dict()[k], v) for k, v in expected.items())
