"""model.py: shapes, probability semantics and the loss the course script got wrong."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch


@pytest.fixture(scope="module")
def model_module(jobs: ModuleType) -> ModuleType:
    """entrypoints/model.py imported by path."""
    return jobs.load_module(jobs.ENTRYPOINTS / "model.py", "moon_model_under_test")


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


def _with_grads(net: torch.nn.Module) -> None:
    """Give every parameter a .grad holding garbage: loss_and_gradients must overwrite it."""
    for param in net.parameters():
        param.grad = torch.full_like(param, 123.0)


@pytest.mark.parametrize(
    ("rows", "hidden_dim", "num_hidden_layers", "dropout"),
    [
        (128, 20, 3, 0.3),
        (66, 20, 3, 0.3),
        (5, 7, 1, 0.3),
        (32, 40, 4, 0.5),
        (16, 8, 2, 0.0),
        (16, 8, 2, 1.0),
    ],
)
def test_hand_written_gradients_equal_autograds_bit_for_bit(
    model_module: ModuleType, rows: int, hidden_dim: int, num_hidden_layers: int, dropout: float
) -> None:
    torch.manual_seed(1)
    net = model_module.MoonClassifier(
        2, hidden_dim, 1, num_hidden_layers=num_hidden_layers, dropout=dropout
    )
    reference = model_module.MoonClassifier(
        2, hidden_dim, 1, num_hidden_layers=num_hidden_layers, dropout=dropout
    )
    reference.load_state_dict(net.state_dict())
    features = torch.randn(rows, 2) * 3 + 1
    targets = (features[:, :1] > 1).float()
    net.fit_scaling(features)
    reference.fit_scaling(features)
    _with_grads(net)

    torch.manual_seed(7)  # the dropout mask comes from the global generator in both
    loss = net.loss_and_gradients(net.scale(features), targets)
    after_ours = torch.rand(4)
    torch.manual_seed(7)
    reference.train()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(reference(features), targets)
    expected.backward()
    after_theirs = torch.rand(4)

    assert torch.equal(loss, expected.detach())
    for (name, mine), theirs in zip(net.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(mine.grad, theirs.grad), name
    assert torch.equal(after_ours, after_theirs)  # the same random numbers were drawn


def test_hand_written_gradients_need_a_grad_tensor_per_parameter(model_module) -> None:
    net = model_module.MoonClassifier(2, 4, 1)
    with pytest.raises(ValueError) as raised:
        net.loss_and_gradients(torch.zeros(3, 2), torch.zeros(3, 1))
    assert str(raised.value) == "loss_and_gradients needs every parameter to hold a .grad tensor"
