"""EvaluateMoonClassifier: score the trained artifact on the test split, write evaluation.json.

Runs as ``python3 evaluate.py`` on the PyTorch image (a ScriptProcessor) and locally::

    python3 evaluate.py --model-path /opt/ml/processing/model/model.tar.gz \\
        --test-path /opt/ml/processing/test/test.csv \\
        --output-dir /opt/ml/processing/evaluation --failure-file /opt/ml/output/message

The archive is extracted (safely) to a temporary folder and the model is loaded THROUGH the
artifact's own code/inference.py (model_fn + predict_fn), so what is scored is exactly what
will serve. The report is SageMaker's model-quality format (binary_classification_metrics).

Metric definitions (the course notebook's):
- a prediction is ``np.round(p)``: p > 0.5 → 1; p <= 0.5 → 0 (np.round rounds half to
  even, so exactly 0.5 goes to class 0);
- precision = tp/(tp+fp), recall = true_positive_rate = tp/(tp+fn), accuracy = (tp+tn)/n,
  f1 = 2tp/(2tp+fp+fn), true_negative_rate = tn/(tn+fp), false_positive_rate = fp/(fp+tn),
  false_negative_rate = fn/(fn+tp);
- any ratio whose denominator is 0 (no positive predictions, a class absent from the test
  set) is 0.0, as sklearn's ``zero_division=0``; auc is the area under the ROC curve (ties
  count one half, as sklearn's roc_auc_score) and 0.5 - chance - when the test set holds one
  class only. The report never holds NaN where a number is expected.
- confusion_matrix is actual → predicted: {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}.
Only numpy is used for metrics: the PyTorch image need not have scikit-learn.

A bad archive (missing, corrupt, no code/inference.py) or test file exits 1, one line on
stderr and in the failure file."""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import json
import math
import os
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, NoReturn

import numpy as np

DEFAULT_FAILURE_FILE = "/opt/ml/output/message"


class EvaluationError(Exception):
    """Bad model archive or test data: the message is the one line a person reads."""


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


def failure_file_in(argv: Sequence[str]) -> str:
    """The --failure-file value in ``argv``, found without argparse (which may be failing)."""
    for i, arg in enumerate(argv):
        if arg == "--failure-file" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--failure-file="):
            return arg.split("=", 1)[1]
    return DEFAULT_FAILURE_FILE


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Container paths, each defaulting to the real /opt/ml path."""
    parser = OneLineParser(
        failure_file_in(argv), prog="evaluate.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model-path", default="/opt/ml/processing/model/model.tar.gz")
    parser.add_argument("--test-path", default="/opt/ml/processing/test/test.csv")
    parser.add_argument("--output-dir", default="/opt/ml/processing/evaluation")
    parser.add_argument("--failure-file", default=DEFAULT_FAILURE_FILE)
    return parser.parse_args(argv)


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Refuse links, devices and paths that would land outside the extraction folder."""
    name = PurePosixPath(member.name)
    if member.issym() or member.islnk():
        raise EvaluationError(
            f"model archive {archive} contains a link ({member.name}); refusing to extract it"
        )
    if not (member.isfile() or member.isdir()):
        raise EvaluationError(
            f"model archive {archive} contains a special file "
            f"({member.name}); refusing to extract it"
        )
    if name.is_absolute() or ".." in name.parts:
        raise EvaluationError(
            f"model archive {archive} has a member outside the archive "
            f"root ({member.name}); refusing to extract it"
        )


def extract_archive(archive: Path, dest: Path) -> None:
    """Extract model.tar.gz into ``dest`` after checking every member.

    The manual checks run on every Python; tarfile's 'data' filter (3.12+, and backports)
    is applied on top where it exists.
    """
    if not archive.is_file():
        raise EvaluationError(f"model archive {archive} does not exist; check --model-path")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, archive)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - older Pythons only
                tar.extractall(dest, members=members)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise EvaluationError(
            f"model archive {archive} is not a readable tar.gz "
            f"({type(exc).__name__}); check --model-path"
        ) from None


def load_inference_module(model_dir: Path) -> ModuleType:
    """The artifact's own code/inference.py, imported by path (this imports torch)."""
    path = model_dir / "code" / "inference.py"
    spec = importlib.util.spec_from_file_location("moonpipe_artifact_inference", path)
    if spec is None or spec.loader is None:
        raise EvaluationError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise EvaluationError(
            f"code/inference.py in the model archive fails to import: {type(exc).__name__}: {exc}"
        ) from None
    return module


def read_model_config(model_dir: Path) -> dict[str, Any]:
    """Check the artifact's layout and return its model_config.json."""
    if not (model_dir / "code" / "inference.py").is_file():
        raise EvaluationError(
            "model archive has no code/inference.py; it must be produced "
            "by train.py, which ships the serving code"
        )
    try:
        config = json.loads((model_dir / "model_config.json").read_text())
        int(config["input_dim"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvaluationError(
            f"model archive has no usable model_config.json: {type(exc).__name__}: {exc}"
        ) from None
    return config


def read_test_csv(path: Path, input_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """test.csv (label, then ``input_dim`` features) → (labels [N], features [N, d])."""
    if not path.is_file():
        raise EvaluationError(f"test file {path} does not exist; check --test-path")
    rows = []
    with path.open(newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != input_dim + 1:
                raise EvaluationError(
                    f"{path.name} line {line_no}: expected {input_dim + 1} "
                    f"columns (label, then {input_dim} features), got {len(row)}"
                )
            try:
                values = [float(cell) for cell in row]
            except ValueError:
                raise EvaluationError(f"{path.name} line {line_no}: non-numeric value") from None
            if not all(math.isfinite(v) for v in values) or values[0] not in (0.0, 1.0):
                raise EvaluationError(
                    f"{path.name} line {line_no}: label must be 0 or 1 and features finite numbers"
                )
            rows.append(values)
    if not rows:
        raise EvaluationError(f"test file {path} holds no rows")
    table = np.asarray(rows, dtype=np.float64)
    return table[:, 0].astype(np.int64), table[:, 1:]


def _ratio(numerator: float, denominator: float) -> float:
    """numerator/denominator, or 0.0 when the denominator is 0 (sklearn's zero_division=0)."""
    return float(numerator) / float(denominator) if denominator else 0.0


def _curve_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (true, false) positives at each distinct score, highest score first."""
    order = np.argsort(-scores, kind="mergesort")
    ranked_scores, ranked_labels = scores[order], labels[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(ranked_scores)), len(scores) - 1]
    tps = np.cumsum(ranked_labels)[last_of_each].astype(np.float64)
    return tps, (last_of_each + 1) - tps


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic, ties count 1/2); 0.5 for one class only."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1
    average_rank = first_rank + (counts - 1) / 2.0
    rank_sum = average_rank[inverse][labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def curves(labels: np.ndarray, scores: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """ROC and precision-recall points, as sklearn's roc_curve(drop_intermediate=False) and
    precision_recall_curve give them; undefined rates are 0.0 (recall 1.0, as sklearn)."""
    tps, fps = _curve_counts(labels, scores)
    fpr = fps / fps[-1] if fps[-1] else np.zeros_like(fps)
    tpr = tps / tps[-1] if tps[-1] else np.zeros_like(tps)
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    recall = tps / tps[-1] if tps[-1] else np.ones_like(tps)
    return {
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": [0.0, *map(float, fpr)],
            "true_positive_rates": [0.0, *map(float, tpr)],
        },
        "precision_recall_curve": {
            "precisions": [*map(float, precision[::-1]), 1.0],
            "recalls": [*map(float, recall[::-1]), 0.0],
        },
    }


def compute_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """The model-quality report for true labels (0/1) and probabilities of class 1."""
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(probabilities, dtype=np.float64)
    predicted = np.round(scores).astype(np.int64)  # the notebook's rule; 0.5 → 0
    tp = int(np.sum((predicted == 1) & (labels == 1)))
    tn = int(np.sum((predicted == 0) & (labels == 0)))
    fp = int(np.sum((predicted == 1) & (labels == 0)))
    fn = int(np.sum((predicted == 0) & (labels == 1)))
    values = {
        "accuracy": _ratio(tp + tn, len(labels)),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "auc": roc_auc(labels, scores),
        "true_positive_rate": _ratio(tp, tp + fn),
        "true_negative_rate": _ratio(tn, tn + fp),
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, fn + tp),
    }
    metrics: dict[str, Any] = {
        name: {"value": value, "standard_deviation": "NaN"} for name, value in values.items()
    }
    metrics["confusion_matrix"] = {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    metrics.update(curves(labels, scores))
    return {"binary_classification_metrics": metrics}


def evaluate(model_path: Path, test_path: Path) -> dict[str, Any]:
    """Extract, check the data, load through the artifact's inference code, predict, score.

    The test file is read before inference.py is imported, so bad data fails before torch
    loads.
    """
    with tempfile.TemporaryDirectory(prefix="moonpipe-model-") as tmp:
        model_dir = Path(tmp)
        extract_archive(model_path, model_dir)
        config = read_model_config(model_dir)
        labels, features = read_test_csv(test_path, int(config["input_dim"]))
        inference = load_inference_module(model_dir)
        try:
            model = inference.model_fn(str(model_dir))
            probabilities = np.asarray(inference.predict_fn(features, model), dtype=np.float64)
        except Exception as exc:
            raise EvaluationError(
                f"the artifact's inference code failed: {type(exc).__name__}: {exc}"
            ) from None
    if probabilities.shape != labels.shape or not np.isfinite(probabilities).all():
        raise EvaluationError(
            f"predict_fn returned {probabilities.shape} values (finite: "
            f"{bool(np.isfinite(probabilities).all())}) for {len(labels)} rows"
        )
    return compute_metrics(labels, probabilities)


def write_report(report: dict[str, Any], output_dir: Path) -> Path:
    """evaluation.json, written atomically; NaN is refused rather than written."""
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / "evaluation.json"
    fd, tmp = tempfile.mkstemp(prefix=".evaluation.", suffix=".tmp", dir=output_dir)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(report, indent=2, allow_nan=False) + "\n")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate and write the report; returns the process exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        report = evaluate(Path(args.model_path), Path(args.test_path))
        target = write_report(report, Path(args.output_dir))
    except EvaluationError as exc:
        fail(f"evaluate.py: error: {exc}", args.failure_file, code=1)
    except OSError as exc:
        fail(f"evaluate.py: error: cannot write the report: {exc}", args.failure_file, code=1)
    metrics = report["binary_classification_metrics"]
    summary = " ".join(
        f"{k}={metrics[k]['value']:.4f}" for k in ("accuracy", "precision", "recall", "f1", "auc")
    )
    print(f"{summary}; wrote {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
