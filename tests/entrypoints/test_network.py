"""network.py: shapes, probability semantics and the loss the course script got wrong."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch


@pytest.fixture(scope="module")
def model_module(jobs: ModuleType) -> ModuleType:
    """entrypoints/network.py imported by path."""
    return jobs.load_module(jobs.ENTRYPOINTS / "network.py", "moon_model_under_test")


def test_hidden_dim_is_the_width_of_every_hidden_layer(model_module: ModuleType) -> None:
    net = model_module.MoonClassifier(2, 7, 1, num_hidden_layers=3)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 7), (7, 7), (7, 7), (7, 1)]
    dropouts = [m for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert [d.p for d in dropouts] == [0.3]


def test_logits_train_against_n_targets_reshaped_to_n_by_1(model_module: ModuleType) -> None:
    torch.manual_seed(0)
    net = model_module.MoonClassifier(2, 20, 1)
    features = torch.randn(16, 2)
    labels = (features[:, 0] > 0).float()  # shape [N], as read from the CSV
    logits = net(features)
    assert logits.shape == (16, 1)
    loss = torch.nn.BCEWithLogitsLoss()(logits, labels.unsqueeze(1))
    loss.backward()
    assert torch.isfinite(loss)


def test_predict_proba_is_a_probability_per_row_without_dropout(model_module) -> None:
    torch.manual_seed(0)
    net = model_module.MoonClassifier(2, 20, 1)
    net.train()
    features = torch.randn(32, 2) * 50  # extreme inputs must still give probabilities
    first = net.predict_proba(features)
    assert first.shape == (32,)
    assert bool(((first >= 0) & (first <= 1)).all())
    assert torch.equal(first, net.predict_proba(features))  # eval mode: deterministic
    assert net.training  # the caller's mode is restored
    assert torch.allclose(first, torch.sigmoid(net.eval()(features))[:, 0])


def test_scaling_travels_in_the_state_dict_and_survives_constant_columns(model_module) -> None:
    net = model_module.MoonClassifier(2, 4, 1)
    features = torch.tensor([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    net.fit_scaling(features)
    state = net.state_dict()
    assert torch.allclose(state["feature_mean"], torch.tensor([3.0, 5.0]))
    assert torch.equal(state["feature_std"][1], torch.tensor(1.0))
    assert torch.isfinite(net(features)).all()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
