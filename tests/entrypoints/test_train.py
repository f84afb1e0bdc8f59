"""train.py end to end, as a script-mode training job with mapped /opt/ml paths."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

EPOCH_LINE = re.compile(r"^epoch=(\d+) train_loss=(\S+) train_accuracy=(\S+)$")
METRIC_REGEXES = {
    "train:loss": r"train_loss=([0-9.eE+-]+)",
    "train:accuracy": r"train_accuracy=([0-9.eE+-]+)",
}


def test_logs_one_exact_line_per_epoch_that_the_metric_regexes_read(default_training) -> None:
    lines = [ln for ln in default_training.result.stdout.splitlines() if ln.startswith("epoch=")]
    matches = [EPOCH_LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [int(m.group(1)) for m in matches] == list(range(1, 101))
    for line, match in zip(lines, matches, strict=True):
        loss = float(re.search(METRIC_REGEXES["train:loss"], line).group(1))
        accuracy = float(re.search(METRIC_REGEXES["train:accuracy"], line).group(1))
        assert (loss, accuracy) == (float(match.group(2)), float(match.group(3)))
        assert loss >= 0 and 0 <= accuracy <= 1


def test_logs_the_loops_wall_and_cpu_seconds_once_for_benchmarks(default_training) -> None:
    lines = default_training.result.stdout.splitlines()
    wall = [ln for ln in lines if re.fullmatch(r"training_seconds=\d+\.\d{4}", ln)]
    cpu = [ln for ln in lines if re.fullmatch(r"training_cpu_seconds=\d+\.\d{4}", ln)]
    assert len(wall) == len(cpu) == 1, lines[-5:]
    assert float(cpu[0].split("=")[1]) > 0  # 100 epochs take CPU time, however busy the machine


def test_artifacts_hold_tensors_only_and_ship_the_serving_code(jobs, model_dir: Path) -> None:
    state = torch.load(model_dir / "model.pth", weights_only=True, map_location="cpu")
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    config = json.loads((model_dir / "model_config.json").read_text())
    assert (config["input_dim"], config["hidden_dim"], config["output_dim"]) == (2, 20, 1)
    assert state["layers.0.weight"].shape == (20, 2)
    for name in ("inference.py", "network.py"):
        assert (model_dir / "code" / name).read_bytes() == (jobs.ENTRYPOINTS / name).read_bytes()


def test_history_goes_to_the_output_data_dir(default_training) -> None:
    history = json.loads(
        default_training.path("/opt/ml/output/data/training_history.json").read_text()
    )
    assert [h["epoch"] for h in history] == list(range(1, 101))


def test_default_run_reaches_test_accuracy_of_at_least_0_92(
    inference: ModuleType, served_model, test_csv_path: Path
) -> None:
    table = np.loadtxt(test_csv_path, delimiter=",")
    probabilities = inference.predict_fn(table[:, 1:], served_model)
    accuracy = float(np.mean(np.round(probabilities) == table[:, 0]))
    assert accuracy >= 0.92


def test_same_seed_gives_the_same_weight_bytes(
    jobs, tmp_path: Path, train_csv: bytes, model_dir: Path
) -> None:
    args = ["--epochs", "100", "--hidden_dim", "20", "--input_dim", "2", "--output_dim", "1"]
    again = jobs.run_training(tmp_path, args, {"train.csv": train_csv})
    assert again.result.returncode == 0, again.result.stderr
    assert (
        again.path("/opt/ml/model/model.pth").read_bytes() == (model_dir / "model.pth").read_bytes()
    )


@pytest.fixture(scope="module")
def train_module(jobs) -> Iterator[ModuleType]:
    """entrypoints/train.py imported by path (torch loads only when training starts).

    Its siblings (training_data.py, network.py, optim.py) import as they do in the container,
    where ``python train.py`` puts the script's folder on sys.path.
    """
    sys.path.insert(0, str(jobs.ENTRYPOINTS))
    try:
        yield jobs.load_module(jobs.ENTRYPOINTS / "train.py", "train_under_test")
    finally:
        sys.path.remove(str(jobs.ENTRYPOINTS))


def test_hyperparameters_arrive_as_strings_every_one_with_a_default(train_module) -> None:
    args = train_module.parse_args(
        [
            "--batch_size",
            "64",
            "--epochs",
            "3",
            "--hidden_dim",
            '"8"',
            "--lr",
            "0.01",
            "--num_hidden_layers",
            "2",
            "--num_threads",
            "2",
            "--seed",
            "3",
        ]
    )
    assert (args.batch_size, args.epochs, args.hidden_dim, args.lr) == (64, 3, 8, 0.01)
    assert (args.num_hidden_layers, args.num_threads, args.seed) == (2, 2, 3)
    defaults = train_module.parse_args([])
    assert (defaults.input_dim, defaults.hidden_dim, defaults.output_dim) == (2, 20, 1)
    assert (defaults.epochs, defaults.seed, defaults.num_threads) == (100, 0, 1)


@pytest.fixture()
def code_on_path(jobs, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``import network`` / ``import optim`` work as in the job's cwd; undone afterwards."""
    monkeypatch.syspath_prepend(str(jobs.ENTRYPOINTS))
    before = {name: sys.modules.get(name) for name in ("network", "optim", "training_step")}
    yield
    for name, module in before.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


def _course_features(train_module, tmp_path: Path, train_csv: bytes) -> tuple:
    """The course's training split as train.py reads it."""
    (tmp_path / "train.csv").write_bytes(train_csv)
    return train_module.load_training_data(tmp_path, 2)


class _MaskedDropout(torch.nn.Module):
    """nn.Dropout multiplying by train.py's mask stream, one batch of masks per call."""

    def __init__(self, masks) -> None:
        super().__init__()
        self.masks = masks

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return hidden
        return hidden * self.masks.draw(len(hidden))  # what ATen's dropout does with its noise


def _textbook_training(model_class, args, features, labels) -> tuple[torch.nn.Module, list]:
    """The loop as torch's tutorials write it: autograd, torch.optim, indexing per batch.

    The one change: dropout's noise comes from train.py's DropoutMasks stream (seeded by
    --seed) instead of torch's generator. Returns the model and the mean loss of each epoch.
    """
    torch.manual_seed(args.seed)
    shuffle = torch.Generator().manual_seed(args.seed)
    x, y = torch.from_numpy(features), torch.from_numpy(labels).unsqueeze(1)
    model = model_class(2, args.hidden_dim, 1, num_hidden_layers=args.num_hidden_layers)
    model.layers[-2] = _MaskedDropout(
        sys.modules["training_step"].DropoutMasks(model.layers[-2].p, args.hidden_dim, args.seed)
    )
    model.fit_scaling(x)
    adam = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * math.ceil(len(x) / args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(adam, max_lr=args.lr, total_steps=steps)
    model.train()
    losses = []
    for _ in range(args.epochs):
        order = torch.randperm(len(x), generator=shuffle)
        total = 0.0
        for start in range(0, len(x), args.batch_size):
            batch = order[start : start + args.batch_size]
            adam.zero_grad()
            loss = torch.nn.BCEWithLogitsLoss()(model(x[batch]), y[batch])
            loss.backward()
            adam.step()
            schedule.step()
            total += loss.item() * len(batch)
        losses.append(total / len(x))
    return model, losses


@pytest.mark.parametrize(
    "options",
    [
        ["--epochs", "12"],
        [
            "--epochs",
            "5",
            "--batch_size",
            "100",
            "--seed",
            "3",
            "--num_hidden_layers",
            "2",
            "--hidden_dim",
            "9",
        ],
    ],
)
def test_training_gives_the_textbook_loops_weights_bit_for_bit(
    train_module, code_on_path, tmp_path: Path, train_csv: bytes, options: list[str]
) -> None:
    features, labels = _course_features(train_module, tmp_path, train_csv)
    args = train_module.parse_args(options)
    with redirect_stdout(io.StringIO()):
        fast, history = train_module.train_model(args, features, labels)
    textbook, losses = _textbook_training(
        sys.modules["network"].MoonClassifier, args, features, labels
    )
    expected = textbook.state_dict()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in fast.state_dict().items())
    # the loss is computed once per epoch now: the same mean, summed in another order
    assert [h["train_loss"] for h in history] == pytest.approx(losses, rel=1e-6)
    textbook.eval()
    probabilities = textbook(torch.from_numpy(features)).sigmoid()[:, 0]
    accuracy = float((probabilities.round() == torch.from_numpy(labels)).double().mean())
    assert history[-1]["train_accuracy"] == accuracy  # the whole training set, eval mode


def test_the_training_loop_builds_no_autograd_graph(
    train_module, code_on_path, tmp_path: Path, train_csv: bytes, monkeypatch
) -> None:
    """Autograd's engine costs ~2x a tiny network's arithmetic: training must not use it."""

    def refuse(*_args, **_kwargs) -> None:
        raise AssertionError("autograd backward called during training")

    monkeypatch.setattr(torch.autograd, "backward", refuse)
    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    features, labels = _course_features(train_module, tmp_path, train_csv)
    with redirect_stdout(io.StringIO()) as log:
        model, history = train_module.train_model(
            train_module.parse_args(["--epochs", "3"]), features, labels
        )
    assert len(history) == 3 and "epoch=3 train_loss=" in log.getvalue()
    assert all(not p.requires_grad or p.grad_fn is None for p in model.parameters())


def test_every_csv_in_the_channel_is_read_in_path_order(train_module, tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "part.csv").write_text("1,3.0,4.0\n")
    (tmp_path / "a.csv").write_text("0,1.0,2.0\n\n0,5.0,6.0\n")
    (tmp_path / "notes.txt").write_text("not data")
    features, labels = train_module.load_training_data(tmp_path, 2)
    assert features.tolist() == [[1.0, 2.0], [5.0, 6.0], [3.0, 4.0]]
    assert labels.tolist() == [0.0, 0.0, 1.0]


def test_well_formed_files_skip_the_row_by_row_parser(
    train_module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"{i % 2},{i * 0.1!r},{-i / 3!r}\n" for i in range(500))
    (tmp_path / "train.csv").write_text(rows + "\n")

    def refuse(*_args, **_kwargs) -> None:
        raise AssertionError("csv.reader used for a well-formed file")

    monkeypatch.setattr(csv, "reader", refuse)
    features, labels = train_module.load_training_data(tmp_path, 2)
    expected = [[float(v) for v in line.split(",")] for line in rows.splitlines()]
    assert features.dtype == labels.dtype == np.float32
    assert features.tolist() == np.asarray(expected, dtype=np.float32)[:, 1:].tolist()
    assert labels.tolist() == [float(i % 2) for i in range(500)]


def test_files_numpy_cannot_read_are_read_row_by_row_with_the_same_numbers(
    train_module, tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_text('"1","0.1","0.7"\n   \n0,1e-3,2\n')  # quotes, blanks
    (tmp_path / "b.csv").write_text("0,0.1,0.7\n")  # numpy's reader
    features, labels = train_module.load_training_data(tmp_path, 2)
    assert (
        features.tolist()
        == np.asarray([[0.1, 0.7], [1e-3, 2.0], [0.1, 0.7]], dtype=np.float32).tolist()
    )
    assert labels.tolist() == [1.0, 0.0, 0.0]


CHANNEL = "/opt/ml/input/data/train"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"data.txt": b"0,1.0,2.0\n"},
            "no CSV file in the train channel {channel}; check the training input "
            "(SM_CHANNEL_TRAIN)",
        ),
        ({"train.csv": b""}, "the CSV files in {channel} hold no rows"),
        ({"a.csv": b"\n \n", "b.csv": b""}, "the CSV files in {channel} hold no rows"),
        (
            {"a.csv": b"0,1.0,2.0\n", "b.csv": b"0,1.0,2.0\n0,1.0\n"},
            "b.csv line 2: expected 3 columns (label, then --input_dim 2 features), got 2",
        ),
        ({"train.csv": b"1,inf,0.5\n"}, "train.csv line 1: NaN or infinite value in '1,inf,0.5'"),
        (
            {"train.csv": b"# note\n"},
            "train.csv line 1: expected 3 columns (label, then --input_dim 2 features), got 1",
        ),
        (
            {"train.csv": b"0,1.0,2.0\n1,1.0,2.0,3.0\n"},
            "train.csv line 2: expected 3 columns (label, then --input_dim 2 features), got 4",
        ),
        ({"train.csv": b"0,abc,1.0\n"}, "train.csv line 1: non-numeric value in '0,abc,1.0'"),
        ({"train.csv": b"1,nan,0.5\n"}, "train.csv line 1: NaN or infinite value in '1,nan,0.5'"),
        ({"train.csv": b"2,0.5,0.5\n"}, "train.csv line 1: label must be 0 or 1, got '2'"),
    ],
)
def test_bad_data_fails_with_one_line_in_the_failure_file(
    jobs, tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    job = jobs.run_training(tmp_path, [], files)
    channel = job.path(CHANNEL)
    jobs.assert_failed(
        job,
        1,
        "train.py: error: " + message.format(channel=channel),
        job.path("/opt/ml/output/failure"),
    )
    assert not job.path("/opt/ml/model/model.pth").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "argument --epochs: must be at least 1, got '0'"),
        (["--lr", "abc"], "argument --lr: expected a number, got 'abc'"),
        (["--lr", "inf"], "argument --lr: must be a finite number > 0, got 'inf'"),
        (
            ["--output_dim", "2"],
            "argument --output_dim: must be 1 (one logit, the probability of class 1), got 2",
        ),
        (["--dropout", "0.5"], "unrecognized arguments: --dropout 0.5"),
    ],
)
def test_bad_hyperparameters_are_rejected(
    jobs, tmp_path: Path, train_csv: bytes, args: list[str], message: str
) -> None:
    job = jobs.run_training(tmp_path, args, {"train.csv": train_csv})
    jobs.assert_failed(job, 2, "train.py: error: " + message, job.path("/opt/ml/output/failure"))
