"""optim.py against torch.optim run side by side, and the import cost it exists to avoid."""

from __future__ import annotations

import copy
from pathlib import Path
from types import ModuleType

import pytest
import torch

STEPS = 50


@pytest.fixture(scope="module")
def optim(jobs: ModuleType) -> ModuleType:
    """entrypoints/optim.py imported by path (entrypoints are not a package)."""
    return jobs.load_module(jobs.ENTRYPOINTS / "optim.py", "moon_optim_under_test")


def _mlp() -> torch.nn.Module:
    """A small MLP sized like a tiny moon classifier."""
    return torch.nn.Sequential(
        torch.nn.Linear(2, 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 1),
    )


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: int) -> torch.Tensor:
    """Minibatch ``step`` of the fixed data."""
    rows = slice((step * 16) % 64, (step * 16) % 64 + 16)
    return torch.nn.functional.binary_cross_entropy_with_logits(model(x[rows]), y[rows])


def test_matches_torch_adam_with_one_cycle_step_for_step_bit_for_bit(optim: ModuleType) -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    y = (x[:, :1] * x[:, 1:] > 0).float()
    ours = _mlp()
    theirs = copy.deepcopy(ours)  # the same initial weights
    adam = optim.Adam(ours.parameters(), lr=0.05)
    schedule = optim.OneCycleLR(adam, max_lr=0.05, total_steps=STEPS)
    torch_adam = torch.optim.Adam(theirs.parameters(), lr=0.05)
    torch_schedule = torch.optim.lr_scheduler.OneCycleLR(torch_adam, max_lr=0.05, total_steps=STEPS)
    lrs, torch_lrs, betas, torch_betas = [], [], [], []
    for step in range(STEPS):
        lrs.append(schedule.get_last_lr())
        torch_lrs.append(torch_schedule.get_last_lr())
        betas.append(adam.betas)
        torch_betas.append(torch_adam.param_groups[0]["betas"])
        for model, opt in ((ours, adam), (theirs, torch_adam)):
            opt.zero_grad()
            _loss(model, x, y, step).backward()
            opt.step()
        schedule.step()
        torch_schedule.step()
        for mine, reference in zip(ours.parameters(), theirs.parameters(), strict=True):
            assert torch.equal(mine, reference), step  # elementwise maths: the same floats
    assert lrs == torch_lrs  # the same floats: construction sets step 0, then one per step
    assert betas == torch_betas  # beta1 cycles 0.95 → 0.85 → 0.95; beta2 stays 0.999
    assert adam.lr == torch_adam.param_groups[0]["lr"]
    assert adam.steps == STEPS


def test_parameters_and_gradients_live_in_one_flat_buffer(optim: ModuleType) -> None:
    model = _mlp()
    before = [param.detach().clone() for param in model.parameters()]
    adam = optim.Adam(model.parameters(), lr=0.1)
    starts = []
    for param, value in zip(model.parameters(), before, strict=True):
        assert torch.equal(param, value)  # moving into the buffer keeps every value
        assert param.untyped_storage().data_ptr() == adam.flat.untyped_storage().data_ptr()
        assert param.grad.untyped_storage().data_ptr() == adam.grad.untyped_storage().data_ptr()
        assert param.data_ptr() % 64 == 0 and param.grad.data_ptr() % 64 == 0  # see optim.py
        starts.append(param.storage_offset())
    assert starts == [0, 16, 32, 96, 112, 128]  # sizes 16, 8, 64, 8, 8, 1: each on 16 floats
    assert adam.flat.numel() == 144
    adam.flat.fill_(0.5)  # the module computes with the buffer's values
    reference = _mlp()
    with torch.no_grad():
        for param in reference.parameters():
            param.fill_(0.5)
    x = torch.randn(4, 2)
    assert torch.equal(model(x), reference(x))


def test_stepping_past_the_cycle_fails_like_torch(optim: ModuleType) -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    schedule = optim.OneCycleLR(optim.Adam([param], lr=0.1), max_lr=0.1, total_steps=2)
    schedule.step()
    schedule.step()
    with pytest.raises(ValueError) as raised:
        schedule.step()
    assert str(raised.value) == "Tried to step 3 times. The specified number of total steps is 2"


def test_parameters_are_updated_in_place_without_recording_a_graph(optim: ModuleType) -> None:
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    adam = optim.Adam([param], lr=0.1)
    (param**2).sum().backward()
    adam.step()
    assert param.grad_fn is None and param.is_leaf and param.requires_grad
    assert torch.allclose(param.detach(), torch.tensor([0.9, -1.9]))  # first step: lr * sign
    grad = param.grad
    adam.zero_grad()  # in place: backward accumulates into the flat buffer's views
    assert param.grad is grad and torch.equal(grad, torch.zeros(2))
    (param**2).sum().backward()
    assert torch.equal(adam.grad[:2], 2 * param.detach()) and not adam.grad[2:].any()


IMPORT_CHECK = """
import runpy, sys
sys.argv = ["train.py", "--epochs", "2"]
try:
    runpy.run_path("train.py", run_name="__main__")
except SystemExit as exc:
    assert exc.code == 0, exc.code
loaded = sorted(m for m in sys.modules if m.startswith("torch._dynamo"))
print("loaded:", loaded)
"""


def test_training_never_imports_torch_dynamo(
    jobs: ModuleType, tmp_path: Path, train_csv: bytes
) -> None:
    jobs.install_code(tmp_path, jobs.TRAINING_CODE, jobs.TRAINING_FILES)
    channel = jobs.host_path(jobs.TRAINING_ENV["SM_CHANNEL_TRAIN"], tmp_path)
    channel.mkdir(parents=True)
    (channel / "train.csv").write_bytes(train_csv)
    job = jobs.run_container(
        tmp_path, ["-c", IMPORT_CHECK], [], env=jobs.TRAINING_ENV, cwd=jobs.TRAINING_CODE
    )
    assert job.result.returncode == 0, job.result.stderr
    assert job.path("/opt/ml/model/model.pth").is_file()  # it really trained and saved
    assert job.result.stdout.splitlines()[-1] == "loaded: []"
