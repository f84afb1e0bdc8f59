"""Adam with a one-cycle schedule, written out so training imports nothing beyond ``torch``.

Why not torch.optim: every torch.optim optimizer and scheduler imports torch._dynamo on first
use (torch/_compile.py ``_disable_dynamo``), and with it torch.distributed, fsdp and sympy. On
the 2-core build machine that was 3.4 s of a 7 s training process whose epoch loop takes 0.9 s,
and the local pipeline starts train.py afresh on every run.

These two classes reproduce, step for step, ``torch.optim.Adam`` (betas (0.9, 0.999), eps 1e-8,
no weight decay, no amsgrad) and ``torch.optim.lr_scheduler.OneCycleLR`` (pct_start 0.3,
cosine annealing, div_factor 25, final_div_factor 1e4, two phases, beta1 cycled between 0.95
and 0.85) — the only configuration train.py uses. tests/entrypoints/test_optim.py runs them
side by side with torch's.

Adam keeps every parameter, gradient and moment in one flat buffer each (the parameters
become views into it), so an update is 7 kernel calls whatever the number of layers; torch's
CPU path loops over the parameters in Python, 7 calls each (56 for the moon classifier).
The arithmetic is elementwise, so the numbers are torch's. One difference: a parameter that
got no gradient in a step is updated with a zero gradient (torch skips it). Every parameter
of the moon classifier gets a gradient in every step, so train.py never sees it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

ALIGNMENT = 16  # float32 elements in 64 bytes, the CPU allocator's alignment


class Adam:
    """torch.optim.Adam for one parameter group, over one flat buffer of all parameters."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        """Move the parameters into one buffer and give each a gradient view of another."""
        self.params = list(params)
        self.lr = lr
        self.betas = (0.9, 0.999)
        self.eps = 1e-8
        offsets = _aligned_offsets([param.numel() for param in self.params])
        self.flat = torch.zeros(offsets[-1], dtype=self.params[0].dtype)
        self.grad = torch.zeros_like(self.flat)
        for param, start in zip(self.params, offsets, strict=False):
            view = self.flat[start : start + param.numel()].view_as(param)
            view.copy_(param.detach())
            param.data = view
            param.grad = self.grad[start : start + param.numel()].view_as(param)
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self._denom = torch.empty_like(self.flat)  # step's scratch: no allocation per step
        self._correction = torch.zeros((), dtype=self.flat.dtype)  # this step's, see step()
        self._scalars: dict[float, torch.Tensor] = {}
        self.steps = 0

    def zero_grad(self) -> None:
        """Zero the gradients in place: they must stay views of the flat buffer."""
        self.grad.zero_()

    def step(self) -> None:
        """One Adam update, in torch's order of operations so results match bit for bit.

        No ``torch.no_grad()`` needed: the flat buffers require no gradient, so nothing
        here is recorded (the parameters are views of ``flat`` through ``.data``).
        """
        beta1, beta2 = self.betas
        self.steps += 1
        self.exp_avg.lerp_(self.grad, 1 - beta1)
        self.exp_avg_sq.mul_(self._scalar(beta2)).addcmul_(self.grad, self.grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1**self.steps)
        denom = torch.sqrt(self.exp_avg_sq, out=self._denom)
        denom.div_(self._correction.fill_((1 - beta2**self.steps) ** 0.5))
        denom.add_(self._scalar(self.eps))
        self.flat.addcdiv_(self.exp_avg, denom, value=-step_size)

    def _scalar(self, value: float) -> torch.Tensor:
        """``value`` as a 0-dim tensor, made once per value.

        An in-place ``mul_``/``div_``/``add_`` by a Python number wraps and converts it on
        every call (~3.4 µs for 1,300 elements here); by a 0-dim tensor of the buffer's
        dtype it takes ~1.4 µs, with the same float32 operand, so the same results.
        """
        tensor = self._scalars.get(value)
        if tensor is None:
            tensor = self._scalars[value] = torch.tensor(value, dtype=self.flat.dtype)
        return tensor


def _aligned_offsets(sizes: list[int]) -> list[int]:
    """Where each parameter starts in the flat buffer, then the buffer's length.

    Each start is a multiple of 64 bytes, the alignment of a tensor of its own: the BLAS
    picks its kernel by the output's alignment, and a gradient written by ``mm(out=...)``
    into an unaligned view came out different in the last bits (at hidden_dim 9). The gaps
    hold zeros and stay zero (zero gradient, zero moments).
    """
    offsets, end = [], 0
    for size in sizes:
        offsets.append(end)
        end += -(-size // ALIGNMENT) * ALIGNMENT
    return [*offsets, end]


class OneCycleLR:
    """torch's OneCycleLR (two-phase, cosine) driving an :class:`Adam`'s lr and beta1."""

    def __init__(self, optimizer: Adam, max_lr: float, total_steps: int) -> None:
        """Set the starting lr and beta1 now: torch's constructor takes step 0 itself."""
        if total_steps < 1:
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        self.optimizer = optimizer
        self.total_steps = total_steps
        initial_lr = max_lr / 25.0
        # (end step, start lr, end lr, start beta1, end beta1) of the warm-up and the anneal
        self.phases = [
            (float(0.3 * total_steps) - 1, initial_lr, max_lr, 0.95, 0.85),
            (total_steps - 1, max_lr, initial_lr / 1e4, 0.85, 0.95),
        ]
        self.last_epoch = -1
        self.step()

    @staticmethod
    def _anneal(start: float, end: float, pct: float) -> float:
        """Cosine from ``start`` to ``end``; torch's exact expression (not ``start + ...``)."""
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def step(self) -> None:
        """Advance one batch and set the optimizer's lr and beta1 for the next update."""
        self.last_epoch += 1
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. "
                f"The specified number of total steps is {self.total_steps}"
            )
        start_step = 0.0
        for i, (end_step, lr0, lr1, beta0, beta1) in enumerate(self.phases):
            if step_num <= end_step or i == len(self.phases) - 1:
                pct = (step_num - start_step) / (end_step - start_step)
                self.optimizer.lr = self._anneal(lr0, lr1, pct)
                self.optimizer.betas = (self._anneal(beta0, beta1, pct), self.optimizer.betas[1])
                return
            start_step = end_step

    def get_last_lr(self) -> list[float]:
        """The lr the next optimizer step uses, as a list like torch's."""
        return [self.optimizer.lr]
