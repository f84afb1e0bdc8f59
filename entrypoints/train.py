"""TrainMoonClassifier: SageMaker script-mode training of the moon classifier.

The sagemaker-training toolkit runs this file with cwd /opt/ml/code (network.py beside it) and the
hyperparameters as command-line arguments, names unchanged::

    python train.py --batch_size 128 --epochs 100 --hidden_dim 20 --input_dim 2 --lr 0.05 \\
        --output_dim 1 --seed 0

Data and destinations come from the environment the toolkit sets: every ``*.csv`` under
``SM_CHANNEL_TRAIN`` (label first, then ``input_dim`` features, no header) is read;
``SM_MODEL_DIR`` receives model.pth (a state_dict of tensors only), model_config.json and
code/{inference.py,network.py} copied from beside this file, so the artifact serves itself;
``SM_OUTPUT_DATA_DIR`` receives training_history.json.

Training: Adam with a one-cycle learning-rate schedule (``--lr`` is the peak), minibatches
of ``--batch_size``, BCEWithLogitsLoss on [N, 1] targets. Chosen because it reached test
accuracy 0.927-0.933 on the course split for every seed tried, in well under a second;
plain Adam at a fixed rate swung between 0.89 and 0.93. (With the dropout masks drawn by
training_step.py's numpy stream: 0.920-0.933 for seeds 0-4.) Same ``--seed`` → same weights.
Both come from optim.py beside this file: a step-for-step copy of torch.optim's (same
weights, bit for bit) that spares the ~3 s import of torch._dynamo torch.optim triggers.

Each epoch logs ``epoch=<n> train_loss=<float> train_accuracy=<float>`` (loss: the mean loss
of the epoch's rows, each row's at the weights of its minibatch step, computed once at the end
of the epoch; accuracy: the whole training set in eval mode after the epoch).

Bad options or data exit non-zero with one line on stderr, also written to
``$SM_OUTPUT_DIR/failure`` when SM_OUTPUT_DIR is set (the training job's failure reason).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from training_data import TrainingError, load_training_data

SERVING_FILES = ("inference.py", "network.py")
MASK_BLOCK_STEPS = 64  # minibatches whose dropout masks are drawn at once


# Failure helpers: one text copied in preprocess/evaluate/train.py (a processing job ships 1 file).


def write_failure(message: str, failure_file: str | None) -> None:
    """Best effort: the message is on stderr already; failing here must not hide it."""
    if failure_file:
        with contextlib.suppress(OSError):
            Path(failure_file).parent.mkdir(parents=True, exist_ok=True)
            Path(failure_file).write_text(message + "\n")


def fail(message: str, failure_file: str | None, code: int) -> NoReturn:
    """Print one line to stderr, record it in the failure file and exit ``code``."""
    print(message, file=sys.stderr, flush=True)
    write_failure(message, failure_file)
    raise SystemExit(code)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, also written to the failure file."""

    def __init__(self, failure_file: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._failure_file = failure_file

    def error(self, message: str) -> NoReturn:
        """Replace argparse's usage + message block by one line naming the option."""
        fail(f"{self.prog}: error: {message}", self._failure_file, code=2)


def training_failure_file() -> str | None:
    """``$SM_OUTPUT_DIR/failure``: the training job's failure reason (None outside a job)."""
    output_dir = os.environ.get("SM_OUTPUT_DIR")
    return str(Path(output_dir) / "failure") if output_dir else None


def _unquote(text: str) -> str:
    """Hyperparameters may arrive JSON-encoded as strings ('"20"'); drop one pair of quotes."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _number(text: str, kind: type, what: str) -> Any:
    """``text`` as ``kind`` (int or float), or an argparse error saying what was expected."""
    try:
        return kind(_unquote(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1, given as the toolkit passes it (a string)."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed)."""
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite float > 0 (a learning rate)."""
    value = _number(text, float, "a number")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Hyperparameters; every one has a default, unknown ones are rejected."""
    parser = OneLineParser(
        training_failure_file(), prog="train.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--input_dim", type=positive_int, default=2)
    parser.add_argument("--hidden_dim", type=positive_int, default=20)
    parser.add_argument("--output_dim", type=positive_int, default=1)
    parser.add_argument("--num_hidden_layers", type=positive_int, default=3)
    parser.add_argument("--epochs", type=positive_int, default=100)
    parser.add_argument("--lr", type=positive_float, default=0.05, help="peak learning rate")
    parser.add_argument("--batch_size", type=positive_int, default=128)
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--num_threads", type=positive_int, default=1)
    args = parser.parse_args(argv)
    if args.output_dim != 1:
        parser.error(
            f"argument --output_dim: must be 1 (one logit, the probability of class 1), "
            f"got {args.output_dim}"
        )
    return args


def run_epoch(
    step: Any, optimizer: Any, schedule: Any, masks: Any, shuffled: tuple, batch_size: int
) -> None:
    """One pass over the shuffled minibatches; each step's logits land in ``shuffled[2]``.

    ``shuffled`` holds the epoch's features, targets and logits buffer, rows in step order.
    Dropout masks are drawn for MASK_BLOCK_STEPS steps at a time (one numpy call, two kernels).
    """
    import torch

    features, targets, logits = shuffled
    block = batch_size * MASK_BLOCK_STEPS
    for start in range(0, len(features), block):
        rows = slice(start, start + block)
        batches = zip(
            torch.split(features[rows], batch_size),
            torch.split(targets[rows], batch_size),
            torch.split(masks.draw(len(features[rows])), batch_size),
            torch.split(logits[rows], batch_size),
            strict=True,
        )
        for batch in batches:
            step(*batch)  # overwrites every .grad
            optimizer.step()
            schedule.step()


def train_model(
    args: argparse.Namespace, features: np.ndarray, labels: np.ndarray
) -> tuple[Any, list[dict[str, float]]]:
    """Train a MoonClassifier; returns the model (eval mode) and the per-epoch history.

    Prints ``training_seconds=<s>``, the wall time of the epoch loop alone, and
    ``training_cpu_seconds=<s>``, its CPU time (what other work on the machine changes least),
    for benchmarks.
    torch is imported here, not at the top, so bad options and data fail in milliseconds.
    The loop is autograd's and torch.optim's arithmetic written out (training_step.py,
    optim.Adam over one flat buffer): for the same dropout masks, the weights of autograd
    with torch.optim, bit for bit. The masks are drawn by training_step.DropoutMasks, a
    numpy stream seeded by ``--seed`` (torch's bernoulli_ cost 10% of a step).
    """
    import torch
    from network import MoonClassifier
    from optim import Adam, OneCycleLR  # not torch.optim: that imports torch._dynamo (~3 s)
    from training_step import TrainingStep, epoch_loss

    torch.set_num_threads(args.num_threads)
    torch.manual_seed(args.seed)  # the initial weights
    shuffle = torch.Generator().manual_seed(args.seed)  # minibatch order
    x = torch.from_numpy(features)
    y = torch.from_numpy(labels).unsqueeze(1)  # [N, 1], the shape of the logits
    model = MoonClassifier(
        args.input_dim, args.hidden_dim, args.output_dim, num_hidden_layers=args.num_hidden_layers
    )
    model.fit_scaling(x)
    scaled = model.scale(x)  # once, not per minibatch: elementwise, so the same numbers
    optimizer = Adam(model.parameters(), lr=args.lr)
    schedule = OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * math.ceil(len(x) / args.batch_size)
    )
    step = TrainingStep(model)  # after Adam: the parameters are views of its flat buffer now
    masks = step.masks(args.seed)
    logits = torch.empty_like(y)
    history: list[dict[str, float]] = []
    started = time.perf_counter()  # the loop only: imports and setup are the process's wall time
    cpu_started = time.process_time()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(x), generator=shuffle)
        targets = y.index_select(0, order)
        shuffled = (scaled.index_select(0, order), targets, logits)
        run_epoch(step, optimizer, schedule, masks, shuffled, args.batch_size)
        loss = epoch_loss(logits, targets)
        accuracy = step.count_correct(scaled, y) / len(x)
        history.append({"epoch": epoch, "train_loss": loss, "train_accuracy": accuracy})
        print(f"epoch={epoch} train_loss={loss:.6f} train_accuracy={accuracy:.6f}", flush=True)
    print(f"training_seconds={time.perf_counter() - started:.4f}", flush=True)
    print(f"training_cpu_seconds={time.process_time() - cpu_started:.4f}", flush=True)
    model.eval()
    return model, history


def model_config(args: argparse.Namespace, history: list[dict[str, float]], n: int) -> dict:
    """What serving needs to rebuild the network, plus how it was trained (for people)."""
    import torch

    return {
        "input_dim": args.input_dim,
        "hidden_dim": args.hidden_dim,
        "output_dim": args.output_dim,
        "num_hidden_layers": args.num_hidden_layers,
        "training": {
            "epochs": args.epochs,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "optimizer": "Adam",
            "lr_schedule": "OneCycleLR",
            "loss": "BCEWithLogitsLoss",
            "num_examples": n,
            "final_train_loss": history[-1]["train_loss"],
            "final_train_accuracy": history[-1]["train_accuracy"],
            "torch_version": torch.__version__,
        },
    }


def save_artifacts(model: Any, config: dict, model_dir: Path) -> None:
    """model.pth, model_config.json and the serving code, into SM_MODEL_DIR."""
    import torch

    source = Path(__file__).resolve().parent
    missing = [name for name in SERVING_FILES if not (source / name).is_file()]
    if missing:
        raise TrainingError(
            f"{', '.join(missing)} missing beside train.py in {source}; "
            f"the source directory must ship the serving code"
        )
    code_dir = model_dir / "code"
    code_dir.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()  # an OrderedDict with _metadata: keep it, as before
    for name, tensor in state.items():
        # clones: the parameters are views into the optimizer's flat buffer, and a view
        # would save that whole buffer under every name
        state[name] = tensor.clone()
    torch.save(state, model_dir / "model.pth")
    (model_dir / "model_config.json").write_text(json.dumps(config, indent=2) + "\n")
    for name in SERVING_FILES:
        shutil.copyfile(source / name, code_dir / name)


def write_history(history: list[dict[str, float]], output_data_dir: str | None) -> None:
    """Per-epoch metrics as JSON in SM_OUTPUT_DATA_DIR (output.tar.gz), when it is set."""
    if output_data_dir:
        Path(output_data_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_data_dir) / "training_history.json").write_text(json.dumps(history) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Read environment and options, train, save; returns the process exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    channel = Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    try:
        features, labels = load_training_data(channel, args.input_dim)
        model, history = train_model(args, features, labels)
        save_artifacts(model, model_config(args, history, len(labels)), model_dir)
        write_history(history, os.environ.get("SM_OUTPUT_DATA_DIR"))
    except TrainingError as exc:
        fail(f"train.py: error: {exc}", training_failure_file(), code=1)
    except OSError as exc:
        fail(f"train.py: error: {exc}", training_failure_file(), code=1)
    print(f"saved model.pth, model_config.json and code/ to {model_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
