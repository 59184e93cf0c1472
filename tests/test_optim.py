"""Tests of samlib.optim: the SAM/ASAM optimizer."""
from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from samlib.optim import SAM

DT = torch.float64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def mlp(seed: int = 0, bias: bool = True) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8, bias=bias), nn.Tanh(), nn.Linear(8, 3, bias=bias)).to(DT)


def data(seed: int = 1, n: int = 16):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g, dtype=DT), torch.randint(0, 3, (n,), generator=g)


def loss_of(model, X, y):
    return F.cross_entropy(model(X), y)


def params_of(model):
    return [p.detach().clone() for p in model.parameters()]


def sam_iteration(opt, model, X, y):
    opt.zero_grad()
    loss_of(model, X, y).backward()
    opt.first_step(zero_grad=True)
    loss_of(model, X, y).backward()
    opt.second_step(zero_grad=True)


# -- rho = 0 is the base optimizer -------------------------------------------------------------

@pytest.mark.parametrize(
    "base, kwargs",
    [
        (torch.optim.SGD, dict(lr=0.1)),
        (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
        (torch.optim.Adam, dict(lr=1e-2)),
    ],
)
def test_rho_zero_equals_base_optimizer_step_for_step(base, kwargs):
    X, y = data()
    m_sam, m_base = mlp(), mlp()
    sam = SAM(m_sam.parameters(), base, rho=0.0, **kwargs)
    ref = base(m_base.parameters(), **kwargs)
    for _ in range(5):
        sam_iteration(sam, m_sam, X, y)
        ref.zero_grad()
        loss_of(m_base, X, y).backward()
        ref.step()
        for a, b in zip(m_sam.parameters(), m_base.parameters()):
            assert torch.equal(a, b)
    # the iterates really moved, so the equality is not vacuous
    assert not torch.equal(next(m_sam.parameters()), next(mlp().parameters()))


# -- the perturbation --------------------------------------------------------------------------

def test_first_step_moves_by_rho_times_normalised_global_gradient():
    X, y = data()
    model = mlp()
    rho = 0.3
    opt = SAM(model.parameters(), torch.optim.SGD, rho=rho, lr=0.1)
    loss_of(model, X, y).backward()
    w0 = params_of(model)
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    opt.first_step()
    w1 = params_of(model)
    eps = torch.cat([(b - a).reshape(-1) for a, b in zip(w0, w1)])
    torch.testing.assert_close(eps, rho * g / g.norm(), rtol=1e-10, atol=1e-14)
    assert math.isclose(float(eps.norm()), rho, rel_tol=1e-10)


def test_restore_is_bit_exact():
    X, y = data()
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.7, lr=0.1)
    # float32 weights of very different magnitude, where w + eps - eps != w in general
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.mul_(10.0 ** (3 * i - 4))
    w0 = params_of(model)
    loss_of(model, X, y).backward()
    opt.first_step(zero_grad=True)
    assert any(not torch.equal(a, b) for a, b in zip(w0, model.parameters()))
    opt.restore()
    for a, b in zip(w0, model.parameters()):
        assert torch.equal(a.view(torch.int64), b.detach().view(torch.int64))  # same bits


def test_zero_gradient_gives_no_perturbation_and_no_nan():
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    w0 = params_of(model)
    opt.first_step()
    for a, b in zip(w0, model.parameters()):
        assert torch.equal(a, b)
    opt.second_step()
    for a, b in zip(w0, model.parameters()):
        assert torch.equal(a, b) and bool(torch.isfinite(b).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rho", [0.1, 10.0])
def test_subnormal_gradient_still_gives_norm_rho(dtype, rho):
    # rho/||g|| may exceed the dtype's range: the step must still be rho g/||g||, finite
    w = nn.Parameter(torch.ones(3, dtype=dtype))
    w.grad = torch.tensor([torch.finfo(dtype).tiny / 4, 0.0, 0.0], dtype=dtype)
    opt = SAM([w], torch.optim.SGD, rho=rho, lr=0.1)
    opt.first_step()
    eps = w.detach().double() - 1.0
    assert bool(torch.isfinite(eps).all())
    assert eps[0].item() == pytest.approx(rho, rel=1e-6) and eps[1:].abs().max().item() == 0.0
    opt.restore()
    assert torch.equal(w.detach(), torch.ones(3, dtype=dtype))


def test_parameters_without_gradient_are_not_moved():
    X, y = data()
    model = mlp()
    first = model[0]
    first.weight.requires_grad_(False)
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.1)
    loss_of(model, X, y).backward()
    w = first.weight.detach().clone()
    opt.first_step()
    assert torch.equal(first.weight, w)
    assert not torch.equal(model[2].weight, params_of(mlp())[2])


def test_groups_share_the_global_norm_and_use_their_own_rho():
    X, y = data()
    model = mlp()
    groups = [{"params": model[0].parameters(), "rho": 0.1}, {"params": model[2].parameters()}]
    opt = SAM(groups, torch.optim.SGD, rho=0.4, lr=0.1)
    loss_of(model, X, y).backward()
    g0 = torch.cat([p.grad.reshape(-1) for p in model[0].parameters()])
    g2 = torch.cat([p.grad.reshape(-1) for p in model[2].parameters()])
    gnorm = torch.cat([g0, g2]).norm()
    w0 = params_of(model)
    opt.first_step()
    e = [(b - a).reshape(-1) for a, b in zip(w0, model.parameters())]
    torch.testing.assert_close(torch.cat(e[:2]), 0.1 * g0 / gnorm, rtol=1e-9, atol=1e-14)
    torch.testing.assert_close(torch.cat(e[2:]), 0.4 * g2 / gnorm, rtol=1e-9, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=True), min_size=1, max_size=12),
    st.one_of(st.just(0.0), st.floats(1e-6, 10.0)),  # tiny rho: |eps|^2 would underflow
    st.sampled_from([torch.float32, torch.float64]),
)
def test_property_norm_is_rho_and_direction_is_gradient(gvals, rho, dtype):
    w = nn.Parameter(torch.zeros(len(gvals), dtype=dtype))
    w.grad = torch.tensor(gvals, dtype=dtype)
    opt = SAM([w], torch.optim.SGD, rho=rho, lr=0.1)
    opt.first_step()
    eps, g = w.detach().double(), w.grad.double()
    assert bool(torch.isfinite(eps).all())
    if rho == 0 or not bool(g.any()):  # zero gradient (or radius): no move, never NaN
        assert float(eps.abs().max()) == 0.0
    else:
        rel = 1e-9 if dtype == torch.float64 else 1e-5
        assert math.isclose(float(eps.norm()), rho, rel_tol=rel)
        assert float(eps @ g) == pytest.approx(rho * float(g.norm()), rel=rel)


# -- ASAM --------------------------------------------------------------------------------------

def test_asam_perturbation_formula_with_offset():
    X, y = data()
    model = mlp()
    rho, offset = 0.2, 0.01
    opt = SAM(model.parameters(), torch.optim.SGD, rho=rho, adaptive=True, asam_offset=offset, lr=0.1)
    loss_of(model, X, y).backward()
    w = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    T = w.abs() + offset
    opt.first_step()
    w1 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(w1 - w, rho * T**2 * g / (T * g).norm(), rtol=1e-9, atol=1e-15)


def _perturbation_after_rescaling(adaptive: bool, a: float):
    """eps at the ReLU-equivalent point (a W1, W2 / a), mapped back by A^-1, and eps at (W1, W2)."""
    torch.manual_seed(3)
    X = torch.randn(20, 4, dtype=DT)
    y = torch.randn(20, 2, dtype=DT)
    W1 = torch.randn(6, 4, dtype=DT)
    W2 = torch.randn(2, 6, dtype=DT)
    out = []
    for s in (1.0, a):
        w1, w2 = nn.Parameter(W1 * s), nn.Parameter(W2 / s)
        opt = SAM([w1, w2], torch.optim.SGD, rho=0.1, adaptive=adaptive, lr=0.1)
        F.mse_loss(torch.relu(X @ w1.T) @ w2.T, y).backward()
        opt.first_step()
        out.append(((w1.detach() - W1 * s) / s, (w2.detach() - W2 / s) * s))
    return out


def test_asam_is_invariant_to_relu_rescaling_and_sam_is_not():
    # rescaling (W1, W2) -> (a W1, W2 / a) leaves a ReLU net unchanged; ASAM's perturbation
    # transforms as eps -> A eps (Kwon et al. 2021), SAM's does not
    (e1, e2), (f1, f2) = _perturbation_after_rescaling(adaptive=True, a=5.0)
    torch.testing.assert_close(f1, e1, rtol=1e-9, atol=1e-14)
    torch.testing.assert_close(f2, e2, rtol=1e-9, atol=1e-14)
    (e1, e2), (f1, f2) = _perturbation_after_rescaling(adaptive=False, a=5.0)
    assert float((f1 - e1).abs().max()) > 1e-3


# -- closure step ------------------------------------------------------------------------------

def test_closure_step_equals_first_and_second_step():
    X, y = data()
    m1, m2 = mlp(), mlp()
    o1 = SAM(m1.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    o2 = SAM(m2.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)

    def closure():
        loss = loss_of(m2, X, y)
        loss.backward()
        return loss

    for _ in range(3):
        sam_iteration(o1, m1, X, y)
        o2.zero_grad()
        loss_of(m2, X, y).backward()
        loss = o2.step(closure)
        assert isinstance(loss, torch.Tensor) and loss.ndim == 0
        for a, b in zip(m1.parameters(), m2.parameters()):
            assert torch.equal(a, b)


def test_closure_step_needs_a_gradient_and_a_closure():
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1)
    with pytest.raises(RuntimeError, match="backward"):
        opt.step(lambda: None)
    with pytest.raises(ValueError, match="closure"):
        opt.step()


def test_failing_closure_restores_the_weights():
    X, y = data()
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.1)
    loss_of(model, X, y).backward()
    w0 = params_of(model)

    def bad():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        opt.step(bad)
    for a, b in zip(w0, model.parameters()):
        assert torch.equal(a, b)


def test_call_order_is_checked():
    X, y = data()
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1)
    with pytest.raises(RuntimeError, match="first_step"):
        opt.second_step()
    loss_of(model, X, y).backward()
    opt.first_step()
    with pytest.raises(RuntimeError, match="twice"):
        opt.first_step()


# -- hooks for variants ------------------------------------------------------------------------

def test_mask_cuts_the_perturbation_after_normalising_ssam_algorithm_1():
    X, y = data()
    model = mlp()
    rho = 0.25
    opt = SAM(model.parameters(), torch.optim.SGD, rho=rho, lr=0.1)
    W = model[0].weight
    mask = (torch.arange(W.numel()).reshape(W.shape) % 2 == 0).to(DT)
    opt.state[W]["mask"] = mask
    loss_of(model, X, y).backward()
    w0 = params_of(model)
    gnorm = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).norm()
    opt.first_step()
    eps = [b.detach() - a for a, b in zip(w0, model.parameters())]
    assert float(eps[0][mask == 0].abs().max()) == 0.0
    torch.testing.assert_close(eps[0], rho * W.grad * mask / gnorm, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(eps[1], rho * model[0].bias.grad / gnorm, rtol=1e-9, atol=1e-15)
    assert float(torch.cat([e.reshape(-1) for e in eps]).norm()) < rho
    assert "mask" in opt.state_dict()["state"][0]


def test_asam_with_a_mask():
    X, y = data()
    model = mlp()
    rho, offset = 0.2, 0.05
    opt = SAM(model.parameters(), torch.optim.SGD, rho=rho, adaptive=True, asam_offset=offset, lr=0.1)
    b = model[2].bias
    opt.state[b]["mask"] = torch.tensor([1.0, 0.0, 1.0], dtype=DT)
    loss_of(model, X, y).backward()
    w = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    m = torch.ones_like(w)
    m[-2] = 0.0  # the masked entry of the last bias
    T = w.abs() + offset
    opt.first_step()
    w1 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(w1 - w, rho * m * T**2 * g / (T * g).norm(), rtol=1e-9, atol=1e-15)


def test_external_gradients_and_restore_for_m_sharpness():
    # per-chunk perturbations: average the gradients taken at w + eps_k, then step the base
    X, y = data(n=16)
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.2, lr=0.1)
    w0 = params_of(model)
    acc = [torch.zeros_like(p) for p in model.parameters()]
    expected = [torch.zeros_like(p) for p in model.parameters()]
    for Xc, yc in zip(X.split(4), y.split(4)):
        opt.zero_grad()
        loss_of(model, Xc, yc).backward()
        g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        opt.first_step(zero_grad=True)
        loss_of(model, Xc, yc).backward()
        for a, p in zip(acc, model.parameters()):
            a += p.grad / 4
        # the same gradient computed by hand at w + rho g / |g|
        ref = mlp()
        with torch.no_grad():
            offset = 0
            for q in ref.parameters():
                n = q.numel()
                q += 0.2 * (g[offset:offset + n] / g.norm()).reshape(q.shape)
                offset += n
        loss_of(ref, Xc, yc).backward()
        for e, q in zip(expected, ref.parameters()):
            e += q.grad / 4
        opt.restore()
    for a, p in zip(w0, model.parameters()):
        assert torch.equal(a, p)
    for a, e, p in zip(acc, expected, model.parameters()):
        torch.testing.assert_close(a, e, rtol=1e-9, atol=1e-13)
        p.grad = a
    opt.base_optimizer.step()
    for a, e, p in zip(w0, expected, model.parameters()):
        torch.testing.assert_close(p.detach(), a - 0.1 * e, rtol=1e-9, atol=1e-13)


# -- torch integration -------------------------------------------------------------------------

def test_param_groups_are_shared_and_lr_scheduler_works_without_warning():
    X, y = data()
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1)
    assert opt.param_groups is opt.base_optimizer.param_groups
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            sam_iteration(opt, model, X, y)
            sched.step()
    assert opt.base_optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    opt.add_param_group({"params": [nn.Parameter(torch.zeros(2, dtype=DT))]})
    assert opt.base_optimizer.param_groups[1]["lr"] == 0.1
    assert opt.param_groups[1]["rho"] == 0.1 and opt.param_groups[1]["momentum"] == 0


def test_zero_grad_sets_to_none_or_zeroes():
    X, y = data()
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1)
    loss_of(model, X, y).backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not bool(p.grad.any()) for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_state_dict_round_trip_includes_base_state():
    X, y = data()
    m1 = mlp()
    o1 = SAM(m1.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    for _ in range(3):
        sam_iteration(o1, m1, X, y)
    m2 = copy.deepcopy(m1)
    o2 = SAM(m2.parameters(), torch.optim.SGD, rho=0.3, lr=0.5, momentum=0.9)
    o2.load_state_dict(copy.deepcopy(o1.state_dict()))  # torch shares tensors otherwise
    assert o2.param_groups is o2.base_optimizer.param_groups
    assert o2.param_groups[0]["rho"] == 0.1 and o2.param_groups[0]["lr"] == 0.1
    for _ in range(2):
        sam_iteration(o1, m1, X, y)
        sam_iteration(o2, m2, X, y)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)


# -- edges: failures part-way, overflow, non-finite gradients ------------------------------------

class _BadMask:
    """Puts a mask of the wrong shape on the last parameter: first_step fails on it, after
    the perturbed weights of every other parameter have been computed."""

    def __init__(self, opt, model):
        self.opt, self.p = opt, list(model.parameters())[-1]

    def __enter__(self):
        self.opt.state[self.p]["mask"] = torch.ones(self.p.numel() + 1, dtype=DT)

    def __exit__(self, *exc):
        del self.opt.state[self.p]


def _fails_part_way_then_recovers(break_first_step):
    """``break_first_step(opt, model)`` makes the next first_step raise part-way; after it,
    the weights must be exactly w and the optimizer must step exactly like a fresh one."""
    X, y = data()
    model, ref = mlp(), mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.3, lr=0.1, momentum=0.9)
    ref_opt = SAM(ref.parameters(), torch.optim.SGD, rho=0.3, lr=0.1, momentum=0.9)
    sam_iteration(opt, model, X, y)  # spare buffers exist now, as in a running loop
    sam_iteration(ref_opt, ref, X, y)
    w0 = params_of(model)
    opt.zero_grad()
    loss_of(model, X, y).backward()
    with pytest.raises((RuntimeError, MemoryError)), break_first_step(opt, model):
        opt.first_step()
    for a, b in zip(w0, model.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match="without a preceding first_step"):
        opt.restore()  # nothing is left pending
    opt.first_step(zero_grad=True)
    loss_of(model, X, y).backward()
    opt.second_step(zero_grad=True)
    sam_iteration(ref_opt, ref, X, y)
    for a, b in zip(model.parameters(), ref.parameters()):
        assert torch.equal(a, b)


def test_first_step_failing_on_a_bad_mask_leaves_no_weight_perturbed():
    _fails_part_way_then_recovers(_BadMask)


def test_first_step_failing_to_allocate_leaves_no_weight_perturbed(monkeypatch):
    import contextlib

    @contextlib.contextmanager
    def out_of_memory_on_the_third_buffer(opt, model):
        real, calls = torch.empty_like, []

        def empty_like(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise MemoryError("simulated: no memory for the third buffer")
            return real(*args, **kwargs)

        opt._spare.clear()  # force allocations, as on the first step
        with monkeypatch.context() as m:
            m.setattr(torch, "empty_like", empty_like)
            yield
        assert len(calls) == 3

    _fails_part_way_then_recovers(out_of_memory_on_the_third_buffer)


@pytest.mark.parametrize(
    "dtype, values",
    [
        (torch.float16, [600.0] * 20000),  # ||g|| = 84853 > 65504, float16's largest number
        (torch.float32, [2e19] * 4),  # ||g||^2 = 1.6e39 > 3.4e38
        (torch.float32, [1e-30] * 4),  # g_i^2 = 1e-60 underflows to 0
        (torch.float64, [1e200] * 4),  # ||g||^2 = 4e400
    ],
    ids=["float16-overflow", "float32-overflow", "float32-underflow", "float64-overflow"],
)
def test_norm_out_of_the_dtype_range_still_gives_norm_rho(dtype, values):
    g = torch.tensor(values, dtype=dtype)
    naive = torch.linalg.vector_norm(g)
    assert not 0 < float(naive) < math.inf  # what made SAM silently become SGD
    w = nn.Parameter(torch.zeros(len(values), dtype=dtype))
    w.grad = g
    rho = 0.05
    opt = SAM([w], torch.optim.SGD, rho=rho, lr=0.1)
    opt.first_step()
    eps = w.detach().double()
    # float16 rounds each entry of eps (about 3.5e-4) to within 2.4e-4 of itself
    rel = 1e-3 if dtype == torch.float16 else 1e-6
    assert float(eps.norm()) == pytest.approx(rho, rel=rel)
    torch.testing.assert_close(eps, torch.full_like(eps, rho / math.sqrt(len(values))), rtol=rel, atol=0)


@pytest.mark.parametrize(
    "dtype, scale, transpose",
    [
        (torch.float32, 1.0, False),
        (torch.float32, 1.0, True),  # not contiguous: the foreach kernel, not dot
        (torch.float32, 2e19, False),  # every square overflows float32: dot gives inf
        (torch.float32, 1e-30, False),  # every square underflows: dot gives 0
        (torch.float64, 1.0, False),
    ],
    ids=["float32", "float32-transposed", "float32-overflow", "float32-underflow", "float64"],
)
def test_large_tensors_through_dot_give_norm_rho_along_the_gradient(dtype, scale, transpose):
    # 300 x 300 = 90,000 entries: above the size from which SAM squares a tensor with BLAS dot
    gen = torch.Generator().manual_seed(0)
    g = (torch.rand(300, 300, generator=gen, dtype=torch.float64) + 0.5).mul(scale).to(dtype)
    if transpose:
        g = g.T
    w = nn.Parameter(torch.zeros(300, 300, dtype=dtype))
    w.grad = g
    rho = 0.05
    opt = SAM([w], torch.optim.SGD, rho=rho, lr=0.1)
    opt.first_step()
    g64 = g.double()
    torch.testing.assert_close(w.detach().double(), rho * g64 / g64.norm(), rtol=1e-5, atol=0)
    opt.restore()
    assert not w.detach().any()


@pytest.mark.parametrize(
    "grads",
    [
        # float32 squares of 1e-30 underflow to 0; float64's do not: the float32 half must still count
        [(torch.float32, [1e-30] * 4), (torch.float64, [1e-30] * 4)],
        # rho/||g|| = 2.5e-5 is below float16's smallest normal number: no fused pass for the float16 tensor
        [(torch.float16, [100.0] * 4), (torch.float32, [1e3] * 4)],
    ],
    ids=["float32-underflow-beside-float64", "coef-below-float16-range"],
)
def test_mixed_dtypes_give_norm_rho_along_the_gradient(grads):
    params = []
    for dtype, values in grads:
        w = nn.Parameter(torch.zeros(len(values), dtype=dtype))
        w.grad = torch.tensor(values, dtype=dtype)
        params.append(w)
    rho = 0.05
    g = torch.cat([p.grad.double() for p in params])
    opt = SAM(params, torch.optim.SGD, rho=rho, lr=0.1)
    opt.first_step()
    for p, expected in zip(params, torch.split(rho * g / g.norm(), [p.numel() for p in params])):
        # float16: eps correctly rounded (within 2**-11); a fused pass with alpha rounded to float16 is 9e-4 off
        rel = 2.0**-11 if p.dtype == torch.float16 else 1e-6
        torch.testing.assert_close(p.detach().double(), expected, rtol=rel, atol=0)
    opt.restore()
    assert all(not p.detach().any() for p in params)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_gradient_raises_and_moves_nothing(bad):
    X, y = data()
    model = mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1)
    loss_of(model, X, y).backward()
    model[2].bias.grad[0] = bad
    w0 = params_of(model)
    with pytest.raises(ValueError, match="inf or NaN"):
        opt.first_step()
    for a, b in zip(w0, model.parameters()):
        assert torch.equal(a, b)
    model[2].bias.grad[0] = 0.0
    opt.first_step()  # usable again
    opt.restore()


# -- bad inputs --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs, match, error",
    [
        (dict(rho=-0.1), "rho", ValueError),
        (dict(rho=float("nan")), "rho", ValueError),
        (dict(rho=float("inf")), "rho", ValueError),
        (dict(rho="big"), "rho", TypeError),
        (dict(rho=True), "rho", TypeError),
        (dict(asam_offset=-1.0), "asam_offset", ValueError),
        (dict(asam_offset=None), "asam_offset", TypeError),
        (dict(eta=0.01), "asam_offset", ValueError),  # the old name, refused with the new one
        (dict(adaptive="yes"), "adaptive", TypeError),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match, error):
    with pytest.raises(error, match=match):
        SAM(mlp().parameters(), torch.optim.SGD, lr=0.1, **kwargs)


def test_bad_base_optimizer_raises():
    model = mlp()
    # not callable: the wrong kind of argument, so TypeError (an instance where the class belongs)
    with pytest.raises(TypeError, match="base_optimizer_cls"):
        SAM(model.parameters(), torch.optim.SGD(model.parameters(), lr=0.1), rho=0.1)
    with pytest.raises(TypeError, match="base_optimizer_cls"):
        SAM(model.parameters(), 3, rho=0.1)
    with pytest.raises(ValueError, match="torch.optim.Optimizer"):
        SAM(model.parameters(), lambda groups, **kw: object(), rho=0.1)
    with pytest.raises(ValueError):  # torch's own check of the base hyper-parameters
        SAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=-1.0)


def test_bad_group_values_and_empty_params_raise():
    model = mlp()
    with pytest.raises(ValueError, match="rho"):
        SAM([{"params": model.parameters(), "rho": -1.0}], torch.optim.SGD, lr=0.1)
    with pytest.raises(TypeError, match="adaptive"):
        SAM([{"params": model.parameters(), "adaptive": 1}], torch.optim.SGD, lr=0.1)
    with pytest.raises(ValueError):
        SAM([], torch.optim.SGD, lr=0.1)
