"""training_step.py: the hand-written step against autograd, the dropout masks, the scoring."""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import ModuleType

import pytest
import torch


@pytest.fixture(scope="module")
def modules(jobs: ModuleType) -> Iterator[tuple[ModuleType, ModuleType, ModuleType]]:
    """network.py, optim.py and training_step.py imported by path, as siblings in the job."""
    model = jobs.load_module(jobs.ENTRYPOINTS / "network.py", "step_test_model")
    optim = jobs.load_module(jobs.ENTRYPOINTS / "optim.py", "step_test_optim")
    step = jobs.load_module(jobs.ENTRYPOINTS / "training_step.py", "step_test_training_step")
    yield model, optim, step


def _network(model: ModuleType, hidden_dim: int, layers: int, dropout: float, seed: int):
    torch.manual_seed(seed)
    return model.MoonClassifier(2, hidden_dim, 1, num_hidden_layers=layers, dropout=dropout)


def _autograd_step(net, scaled: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor):
    """The reference: the network's own layers, the mask as dropout, autograd's backward."""
    net.zero_grad()
    hidden = scaled
    for layer in net.layers:
        # the mask as ATen's dropout multiplies by its noise
        hidden = hidden * mask if isinstance(layer, torch.nn.Dropout) else layer(hidden)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(hidden, targets)
    loss.backward()
    return hidden.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize(
    ("rows", "hidden_dim", "num_hidden_layers", "dropout"),
    [
        (128, 20, 3, 0.3),
        (66, 20, 3, 0.3),
        (5, 7, 1, 0.3),
        (32, 40, 4, 0.5),
        (16, 8, 2, 0.0),
        (16, 8, 2, 1.0),
        (128, 9, 2, 0.3),
    ],
)
def test_hand_written_gradients_equal_autograds_bit_for_bit(
    modules, rows: int, hidden_dim: int, num_hidden_layers: int, dropout: float
) -> None:
    model, optim, training_step = modules
    net = _network(model, hidden_dim, num_hidden_layers, dropout, seed=1)
    reference = _network(model, hidden_dim, num_hidden_layers, dropout, seed=1)
    optim.Adam(net.parameters(), lr=0.01)  # the flat buffers train.py steps in
    for param in net.parameters():
        param.grad.fill_(123.0)  # garbage: the step must overwrite, not accumulate
    step = training_step.TrainingStep(net)
    masks = step.masks(seed=5)
    for call, size in enumerate((rows, max(rows // 2, 1), rows)):  # buffers reused per size
        features = torch.randn(size, 2) * 3 + call
        targets = (features[:, :1] > call).float()
        mask = masks.draw(size)
        logits = torch.full((size, 1), float("nan"))
        step(features, targets, mask, logits)
        expected_logits, expected_grads = _autograd_step(reference, features, targets, mask)
        assert torch.equal(logits, expected_logits), call
        for (name, mine), theirs in zip(net.named_parameters(), expected_grads, strict=True):
            assert torch.equal(mine.grad, theirs), (call, name)


def test_the_step_needs_a_grad_tensor_per_parameter(modules) -> None:
    model, _, training_step = modules
    with pytest.raises(ValueError) as raised:
        training_step.TrainingStep(model.MoonClassifier(2, 4, 1))
    assert str(raised.value) == "TrainingStep needs every parameter to hold a .grad tensor"


def test_masks_keep_one_minus_p_scaled_by_its_inverse(modules) -> None:
    _, _, training_step = modules
    mask = training_step.DropoutMasks(0.3, 20, seed=0).draw(50_000)
    assert mask.shape == (50_000, 20) and mask.dtype == torch.float32
    # the values ATen's dropout multiplies by: 0, or 1 divided by 1 - p in float32
    kept_value = torch.ones(1).div_(0.7)
    assert set(mask.unique().tolist()) == {0.0, kept_value.item()}
    kept = float((mask != 0).float().mean())
    spread = math.sqrt(0.7 * 0.3 / mask.numel())
    assert abs(kept - 0.7) < 5 * spread  # 1e6 draws: the keep rate to within ±0.0023
    other = training_step.DropoutMasks(0.5, 8, seed=0).draw(20_000)
    assert abs(float((other != 0).float().mean()) - 0.5) < 5 * math.sqrt(0.25 / other.numel())


def test_same_seed_same_masks_whatever_the_block_sizes(modules) -> None:
    _, _, training_step = modules
    whole = training_step.DropoutMasks(0.3, 20, seed=4).draw(300)
    blocks = training_step.DropoutMasks(0.3, 20, seed=4)
    pieces = torch.cat([blocks.draw(1), blocks.draw(127), blocks.draw(172)])
    assert torch.equal(whole, pieces)  # train.py's MASK_BLOCK_STEPS changes speed only
    assert not torch.equal(whole, training_step.DropoutMasks(0.3, 20, seed=5).draw(300))
    rows = whole.ne(0).float()
    assert not torch.equal(rows[:150], rows[150:])  # each step gets masks of its own


def test_masks_without_dropout_or_with_all_of_it(modules) -> None:
    _, _, training_step = modules
    assert torch.equal(training_step.DropoutMasks(0.0, 3, seed=0).draw(4), torch.ones(4, 3))
    assert torch.equal(training_step.DropoutMasks(1.0, 3, seed=0).draw(4), torch.zeros(4, 3))
    with pytest.raises(ValueError) as raised:
        training_step.DropoutMasks(1.5, 3, seed=0)
    assert str(raised.value) == "dropout probability must be between 0 and 1, got 1.5"


def test_count_correct_scores_in_chunks_like_predict_proba(modules) -> None:
    model, optim, training_step = modules
    net = _network(model, 20, 3, 0.3, seed=2)
    optim.Adam(net.parameters(), lr=0.01)
    step = training_step.TrainingStep(net)
    rows = training_step.SCORING_ROWS * 2 + 77  # two full chunks and a short one
    features = torch.randn(rows, 2) * 2
    labels = (features[:, 0] * features[:, 1] > 0).float()
    net.fit_scaling(features)
    expected = int((net.predict_proba(features).round() == labels).sum())
    assert step.count_correct(net.scale(features), labels.unsqueeze(1)) == expected
    assert 0 < expected < rows  # an untrained network: neither all right nor all wrong


def test_epoch_loss_is_the_mean_loss_of_every_row(modules) -> None:
    _, _, training_step = modules
    torch.manual_seed(3)
    logits = torch.randn(1000, 1) * 4
    targets = (torch.rand(1000, 1) > 0.5).float()
    loss = torch.nn.functional.binary_cross_entropy_with_logits
    batch_sums = [
        loss(logits[i : i + 128], targets[i : i + 128]).item() * len(logits[i : i + 128])
        for i in range(0, 1000, 128)
    ]
    expected = sum(batch_sums) / 1000  # what the loop summed per step before
    assert training_step.epoch_loss(logits, targets) == pytest.approx(expected, rel=1e-6)
