"""Tests of samlib.batchnorm: running statistics frozen for SAM's second pass, re-entrantly."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from samlib.batchnorm import bn_frozen, disable_running_stats, enable_running_stats
from samlib.optim import SAM

DT = torch.float64

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def bn_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3)).to(DT)


def data(seed: int = 1, n: int = 32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g, dtype=DT), torch.randint(0, 3, (n,), generator=g)


def buffers(model):
    return {k: v.clone() for k, v in model.named_buffers()}


def assert_same_buffers(model, expected):
    got = buffers(model)
    assert got.keys() == expected.keys()
    for k in expected:
        assert torch.equal(got[k], expected[k]), k


@pytest.mark.parametrize("use_closure", [False, True])
def test_statistics_come_from_the_first_pass_only(use_closure):
    X, y = data()
    model = bn_mlp()
    reference = copy.deepcopy(model)
    reference(X)  # one forward pass at the unperturbed weights
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.1)
    F.cross_entropy(model(X), y).backward()
    if use_closure:
        def closure():
            with bn_frozen(model):
                loss = F.cross_entropy(model(X), y)
            loss.backward()
            return loss

        opt.step(closure)
    else:
        opt.first_step(zero_grad=True)
        with bn_frozen(model):
            F.cross_entropy(model(X), y).backward()
        opt.second_step(zero_grad=True)
    assert_same_buffers(model, buffers(reference))
    assert model[1].track_running_stats  # restored


def test_without_freezing_the_second_pass_moves_the_statistics():
    # the check above can fail
    X, y = data()
    model = bn_mlp()
    reference = copy.deepcopy(model)
    reference(X)
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.1)
    F.cross_entropy(model(X), y).backward()
    opt.first_step(zero_grad=True)
    F.cross_entropy(model(X), y).backward()
    opt.second_step()
    assert not torch.equal(model[1].running_mean, reference[1].running_mean)
    assert int(model[1].num_batches_tracked) == 2


def test_frozen_pass_normalises_with_the_batch_statistics():
    X, _ = data()
    model = bn_mlp()
    expected = copy.deepcopy(model)(X)
    with bn_frozen(model):
        got = model(X)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_instance_norm_buffers_are_restored():
    layer = nn.InstanceNorm1d(3, track_running_stats=True)
    x = torch.randn(4, 3, 10)
    layer(x)
    before = buffers(layer)
    with bn_frozen(layer):
        layer(x + 5.0)
    assert_same_buffers(layer, before)


def test_nested_freezes_restore_in_order():
    X = torch.randn(4, 3, 10, dtype=DT)
    model = nn.Sequential(nn.BatchNorm1d(3), nn.InstanceNorm1d(3, track_running_stats=True)).to(DT)
    model(X)  # buffers away from their initial values
    before = buffers(model)
    with bn_frozen(model):
        with bn_frozen(model):
            model(X)
        # the inner exit must not unfreeze what the outer one froze
        assert not model[0].track_running_stats
        model(X + 1.0)
    assert_same_buffers(model, before)
    assert model[0].track_running_stats and model[1].track_running_stats
    model(X + 1.0)  # unfrozen: both layers' statistics move again
    assert int(model[0].num_batches_tracked) == 2
    assert not torch.equal(model[1].running_mean, before["1.running_mean"])


def test_a_layer_frozen_by_hand_stays_frozen():
    model = bn_mlp()
    model[1].track_running_stats = False  # the user's own choice, not ours to undo
    with bn_frozen(model):
        pass
    assert not model[1].track_running_stats


def test_disable_enable_pair_nests_and_tolerates_an_extra_enable():
    X, _ = data()
    model = bn_mlp()
    enable_running_stats(model)  # davda54/sam's loops start with it: a no-op here
    disable_running_stats(model)
    disable_running_stats(model)
    enable_running_stats(model)
    assert not model[1].track_running_stats  # one disable is still pending
    model(X)
    assert int(model[1].num_batches_tracked) == 0
    enable_running_stats(model)
    assert model[1].track_running_stats
    model(X)
    assert int(model[1].num_batches_tracked) == 1


def test_freeze_is_undone_when_the_block_raises():
    model = bn_mlp()
    with pytest.raises(KeyError), bn_frozen(model):
        raise KeyError("boom")
    assert model[1].track_running_stats


@pytest.mark.parametrize("func", [disable_running_stats, enable_running_stats])
def test_non_module_raises_type_error(func):
    with pytest.raises(TypeError, match="model"):
        func("model")
    with pytest.raises(TypeError, match="model"), bn_frozen(None):
        pass
