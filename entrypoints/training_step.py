"""The moon classifier's training step written out: forward, loss gradient and backward.

Why by hand: for a 2→20→20→20→1 network each kernel call costs a few microseconds whatever
its size, so the step's cost is its number of calls and what Python does between them.
Autograd's engine and the module calls cost ~2x the arithmetic; this step makes the calls
autograd's backward makes, in its order (weight gradient ``grad.t().mm(input)``, bias
``grad.sum(0)``, input gradient ``grad.mm(W)``, ReLU by threshold_backward, dropout as a
multiply by the mask), so for the same mask its gradients equal autograd's bit for bit
(tests/entrypoints/test_training_step.py). What it adds over a plain transcription:

- every intermediate lives in a buffer allocated once per batch size, written with ``out=``
  and in-place kernels; the transposed views of weights and gradients are made once;
- the logits go to a buffer the caller owns (one per epoch), so the loss is computed once
  per epoch (:func:`epoch_loss`), not per step (BCEWithLogitsLoss is ~6 kernels and an
  ``item()``);
- the dropout masks come from :class:`DropoutMasks`, drawn for many steps at once;
- :meth:`TrainingStep.count_correct` scores the training set in chunks that stay in cache,
  instead of one pass whose [N, hidden] intermediates are fresh memory every epoch.

The parameters must be the optimizer's (optim.Adam moves them into its flat buffer: build the
step after it) and each must hold a ``.grad``; every gradient is overwritten, not accumulated.
Runs on torch 2.6 (training image 2.8) and the local 2.13: no API newer than 2.6.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# ReLU's backward as autograd runs it (grad where the output is > 0, else +0.0), written in place
_RELU_BACKWARD = torch.ops.aten.threshold_backward.grad_input
SCORING_ROWS = 8192  # rows per chunk of count_correct: [8192, 20] float32 is 640 KB


class DropoutMasks:
    """nn.Dropout's training-mode masks (0 or 1/(1-p) per element), from numpy's PCG64.

    Why not torch's ``bernoulli_``: on the CPU it draws one Mersenne-Twister number per
    element at ~17 ns each, 43 µs of a 128 x 20 step; numpy's PCG64 fills float32 uniforms
    at ~1-2 ns each. An element is kept when its uniform (a multiple of 2**-24 in [0, 1)) is
    below ``1 - p`` in float32, so the keep rate is 1 - p to within 2**-24. The masks are a
    stream of their own, seeded by ``seed``: the same seed gives the same masks, but not the
    ones ``torch.manual_seed`` would have given nn.Dropout.
    """

    def __init__(self, p: float, width: int, seed: int) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be between 0 and 1, got {p}")
        self.p = p
        self.width = width
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def draw(self, rows: int) -> torch.Tensor:
        """Masks for the next ``rows`` rows, shape [rows, width], float32."""
        if self.p == 0:
            return torch.ones(rows, self.width)  # nn.Dropout draws nothing; x * 1 is x
        if self.p == 1:
            return torch.zeros(rows, self.width)
        keep = 1 - self.p
        uniform = self._rng.random((rows, self.width), dtype=np.float32)
        return torch.from_numpy(uniform).lt_(keep).div_(keep)  # as ATen: bernoulli / (1 - p)


class _Buffers:
    """Everything a step (or, ``training=False``, a scoring pass) writes for ``rows`` rows."""

    def __init__(self, rows: int, widths: list[int], training: bool) -> None:
        self.hidden = [torch.empty(rows, width) for width in widths[1:-1]]  # ReLU outputs
        self.scores = torch.empty(rows, widths[-1])  # count_correct's logits
        if not training:
            return
        self.dropped = torch.empty(rows, widths[-2])
        self.grads = [torch.empty(rows, width) for width in widths[1:]]  # d loss / d outputs
        self.grads_t = [grad.t() for grad in self.grads]
        # the mean's divisor as a 0-dim tensor: div_ by a Python int converts it every call
        self.rows = torch.tensor(float(rows))


class TrainingStep:
    """Mean BCEWithLogitsLoss gradients of a MoonClassifier minibatch, into its ``.grad``s."""

    def __init__(self, model: nn.Module) -> None:
        linears = [m for m in model.layers if isinstance(m, nn.Linear)]
        if any(p.grad is None for m in linears for p in (m.weight, m.bias)):
            raise ValueError("TrainingStep needs every parameter to hold a .grad tensor")
        self.dropout = next(m.p for m in model.layers if isinstance(m, nn.Dropout))
        self.widths = [linears[0].in_features, *(m.out_features for m in linears)]
        # detached views: the kernels below then record no autograd graph, no no_grad needed
        self.weights = [m.weight.detach() for m in linears]
        self.weights_t = [weight.t() for weight in self.weights]
        self.biases = [m.bias.detach() for m in linears]
        self.weight_grads = [m.weight.grad for m in linears]
        self.bias_grads = [m.bias.grad for m in linears]
        self._buffers: dict[tuple[int, bool], _Buffers] = {}

    def masks(self, seed: int) -> DropoutMasks:
        """The dropout mask stream for this network's dropout layer."""
        return DropoutMasks(self.dropout, self.widths[-2], seed)

    def _buffers_for(self, rows: int, training: bool = True) -> _Buffers:
        """The buffers for ``rows`` rows, made on first use (a run sees two or three sizes)."""
        buffers = self._buffers.get((rows, training))
        if buffers is None:
            buffers = self._buffers[rows, training] = _Buffers(rows, self.widths, training)
        return buffers

    def _hidden_forward(self, features: torch.Tensor, hidden: list[torch.Tensor]) -> torch.Tensor:
        """Linear → ReLU for every hidden layer, into ``hidden``; returns the last output."""
        inputs = features
        for weight_t, bias, output in zip(self.weights_t, self.biases, hidden, strict=False):
            torch.addmm(bias, inputs, weight_t, out=output).clamp_min_(0)  # relu_ is clamp_min_
            inputs = output
        return inputs

    def __call__(
        self,
        features: torch.Tensor,
        targets: torch.Tensor,
        mask: torch.Tensor,
        logits: torch.Tensor,
    ) -> None:
        """One step: ``logits`` [N, 1] receives the forward's output, every ``.grad`` its gradient.

        ``features`` are standardised (MoonClassifier.scale), ``targets`` and ``logits`` [N, 1],
        ``mask`` [N, hidden] from :class:`DropoutMasks`.
        """
        buffers = self._buffers_for(features.shape[0])
        last = self._hidden_forward(features, buffers.hidden)
        torch.mul(last, mask, out=buffers.dropped)
        torch.addmm(self.biases[-1], buffers.dropped, self.weights_t[-1], out=logits)
        grad = buffers.grads[-1]
        torch.sigmoid(logits, out=grad).sub_(targets).div_(buffers.rows)  # d mean loss / d logits
        inputs = [features, *buffers.hidden, buffers.dropped]
        del inputs[-2]  # the output layer multiplied the dropped activations, not the ReLU's
        for index in range(len(self.weights) - 1, -1, -1):
            torch.mm(buffers.grads_t[index], inputs[index], out=self.weight_grads[index])
            torch.sum(buffers.grads[index], 0, out=self.bias_grads[index])
            if index == 0:
                break  # the features need no gradient
            below = buffers.grads[index - 1]
            torch.mm(buffers.grads[index], self.weights[index], out=below)
            if index == len(self.weights) - 1:
                below.mul_(mask)
            _RELU_BACKWARD(below, buffers.hidden[index - 1], 0, grad_input=below)

    def count_correct(self, scaled: torch.Tensor, labels: torch.Tensor) -> int:
        """Rows whose rounded eval-mode probability equals their label (``labels`` [N, 1])."""
        correct = 0
        for start in range(0, scaled.shape[0], SCORING_ROWS):
            features = scaled[start : start + SCORING_ROWS]
            buffers = self._buffers_for(features.shape[0], training=False)
            last = self._hidden_forward(features, buffers.hidden)  # eval mode: no dropout
            scores = torch.addmm(self.biases[-1], last, self.weights_t[-1], out=buffers.scores)
            scores.sigmoid_().round_()
            correct += int(scores.eq_(labels[start : start + SCORING_ROWS]).sum())
        return correct


def epoch_loss(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean BCEWithLogitsLoss over every row of an epoch (summed in float64)."""
    losses = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return float(losses.sum(dtype=torch.float64)) / logits.shape[0]
