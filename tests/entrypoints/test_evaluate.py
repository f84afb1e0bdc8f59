"""evaluate.py end to end (processing job with mapped /opt/ml paths) and its metric rules."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from pipeline.local.container_paths import host_path

MODEL_INPUT = "/opt/ml/processing/model/model.tar.gz"
FAILURE = "/opt/ml/output/message"


def no_nan(text: str) -> Any:
    """json.loads that refuses NaN/Infinity literals (the report must hold numbers)."""

    def refuse(literal: str) -> Any:
        raise AssertionError(f"{literal} in report")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def evaluation(jobs, tmp_path_factory, model_archive: Path, test_csv_path: Path):
    """EvaluateMoonClassifier on the default model and the course's test split."""
    job = jobs.run_evaluation(
        tmp_path_factory.mktemp("evaluate"), model_archive, test_csv_path.read_bytes()
    )
    assert job.result.returncode == 0, job.result.stderr
    return job


@pytest.fixture(scope="module")
def evaluate_module(jobs) -> ModuleType:
    """entrypoints/evaluate.py imported by path, for its metric functions."""
    return jobs.load_module(jobs.ENTRYPOINTS / "evaluate.py", "evaluate_under_test")


def sklearn_report(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The same numbers, computed by scikit-learn."""
    predicted = np.round(scores)
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    precisions, recalls, _ = precision_recall_curve(labels, scores)
    return {
        "accuracy": accuracy_score(labels, predicted),
        "precision": precision_score(labels, predicted, zero_division=0),
        "recall": recall_score(labels, predicted, zero_division=0),
        "f1": f1_score(labels, predicted, zero_division=0),
        "auc": roc_auc_score(labels, scores),
        "true_positive_rate": tp / (tp + fn),
        "true_negative_rate": tn / (tn + fp),
        "false_positive_rate": fp / (fp + tn),
        "false_negative_rate": fn / (fn + tp),
        "confusion_matrix": {"0": {"0": int(tn), "1": int(fp)}, "1": {"0": int(fn), "1": int(tp)}},
        "roc": (fpr.tolist(), tpr.tolist()),
        "pr": (precisions.tolist(), recalls.tolist()),
    }


def assert_matches_sklearn(metrics: dict[str, Any], labels, scores) -> None:
    """Every number of our report equals scikit-learn's."""
    expected = sklearn_report(labels, scores)
    for name in (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "auc",
        "true_positive_rate",
        "true_negative_rate",
        "false_positive_rate",
        "false_negative_rate",
    ):
        assert metrics[name] == {
            "value": pytest.approx(expected[name], abs=1e-12),
            "standard_deviation": "NaN",
        }, name
    assert metrics["confusion_matrix"] == expected["confusion_matrix"]
    roc = metrics["receiver_operating_characteristic_curve"]
    assert roc["false_positive_rates"] == pytest.approx(expected["roc"][0], abs=1e-12)
    assert roc["true_positive_rates"] == pytest.approx(expected["roc"][1], abs=1e-12)
    pr = metrics["precision_recall_curve"]
    assert pr["precisions"] == pytest.approx(expected["pr"][0], abs=1e-12)
    assert pr["recalls"] == pytest.approx(expected["pr"][1], abs=1e-12)


def test_report_equals_sklearn_on_the_served_predictions(
    evaluation, inference: ModuleType, served_model, test_csv_path: Path
) -> None:
    table = np.loadtxt(test_csv_path, delimiter=",")
    scores = inference.predict_fn(table[:, 1:], served_model)
    report = no_nan(evaluation.path("/opt/ml/processing/evaluation/evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    assert_matches_sklearn(metrics, table[:, 0].astype(int), scores)
    assert metrics["accuracy"]["value"] >= 0.92
    assert f"accuracy={metrics['accuracy']['value']:.4f}" in evaluation.result.stdout


def test_a_test_set_of_one_class_gives_defined_numbers(
    jobs, evaluate_module, tmp_path: Path, model_archive: Path, test_csv_path: Path
) -> None:
    # In-process main() (torch is loaded already) to keep the suite fast; the subprocess
    # path is covered by the evaluation fixture.
    negatives = tmp_path / "negatives.csv"
    negatives.write_bytes(
        b"".join(
            line + b"\n"
            for line in test_csv_path.read_bytes().splitlines()
            if line.startswith(b"0,")
        )
    )
    args = jobs.map_args(
        [*jobs.EVALUATE_ARGS, "--model-path", str(model_archive), "--test-path", str(negatives)],
        tmp_path,
    )
    assert evaluate_module.main(args) == 0
    report = host_path("/opt/ml/processing/evaluation/evaluation.json", tmp_path)
    metrics = no_nan(report.read_text())["binary_classification_metrics"]
    assert metrics["auc"]["value"] == 0.5
    assert metrics["recall"]["value"] == 0.0 and metrics["false_negative_rate"]["value"] == 0.0
    matrix = metrics["confusion_matrix"]
    assert matrix["1"] == {"0": 0, "1": 0}
    assert matrix["0"]["0"] + matrix["0"]["1"] == negatives.read_bytes().count(b"\n")


@pytest.mark.parametrize(
    ("labels", "scores"),
    [
        ([0, 1, 1, 0, 1], [0.1, 0.2, 0.5, 0.3, 0.4]),  # no positive predictions; 0.5 → 0
        ([0, 1, 1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1, 0.5, 0.7]),  # ties at the threshold
        ([0, 0, 1, 1, 1, 0, 1], [0.2, 0.2, 0.8, 0.2, 0.6, 0.8, 0.6]),  # ties across classes
    ],
)
def test_metrics_match_sklearn_in_edge_cases(evaluate_module, labels, scores) -> None:
    labels_array, scores_array = np.array(labels), np.array(scores)
    metrics = evaluate_module.compute_metrics(labels_array, scores_array)
    assert_matches_sklearn(metrics["binary_classification_metrics"], labels_array, scores_array)


def test_exactly_one_half_is_class_zero_as_np_round(evaluate_module) -> None:
    metrics = evaluate_module.compute_metrics(np.array([1, 0]), np.array([0.5, 0.5000001]))
    assert metrics["binary_classification_metrics"]["confusion_matrix"] == {
        "0": {"0": 0, "1": 1},
        "1": {"0": 1, "1": 0},
    }


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_only_never_yields_nan(evaluate_module, label: int) -> None:
    metrics = evaluate_module.compute_metrics(np.full(4, label), np.array([0.1, 0.6, 0.9, 0.4]))
    values = no_nan(json.dumps(metrics))["binary_classification_metrics"]
    assert values["auc"]["value"] == 0.5
    for name in (
        "precision",
        "recall",
        "f1",
        "true_positive_rate",
        "true_negative_rate",
        "false_positive_rate",
        "false_negative_rate",
    ):
        assert 0.0 <= values[name]["value"] <= 1.0


def archive_with(
    model_dir: Path, path: Path, extra: tarfile.TarInfo | None = None, skip: str | None = None
) -> Path:
    """A model.tar.gz built from ``model_dir`` with one member added or left out."""
    with tarfile.open(path, "w:gz") as tar:
        for item in sorted(model_dir.rglob("*")):
            name = item.relative_to(model_dir).as_posix()
            if item.is_file() and name != skip:
                tar.add(item, arcname=name)
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"x" * extra.size) if extra.isfile() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    """A tar header for a bad member."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, target, 1 if kind == tarfile.REGTYPE else 0
    return info


BAD_ARCHIVES = {
    "missing": (None, "model archive {archive} does not exist; check --model-path"),
    "corrupt": (
        "corrupt",
        "model archive {archive} is not a readable tar.gz (ReadError); check --model-path",
    ),
    "no inference code": (
        {"skip": "code/inference.py"},
        "model archive has no code/inference.py; it must be produced by train.py, which "
        "ships the serving code",
    ),
    "escaping member": (
        {"extra": member("../evil.txt")},
        "model archive {archive} has a member outside the archive root (../evil.txt); "
        "refusing to extract it",
    ),
    "symlink": (
        {"extra": member("code/link", tarfile.SYMTYPE, "/etc/passwd")},
        "model archive {archive} contains a link (code/link); refusing to extract it",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_bad_archives_fail_with_one_line(
    jobs, tmp_path: Path, model_dir: Path, test_csv_path: Path, case: str
) -> None:
    spec, message = BAD_ARCHIVES[case]
    source: Path | None = tmp_path / "source.tar.gz"
    if spec is None:
        source = None
    elif spec == "corrupt":
        source.write_bytes(b"this is not a tar archive at all" * 10)
    else:
        archive_with(model_dir, source, **spec)
    job = jobs.run_evaluation(tmp_path / "job", source, test_csv_path.read_bytes())
    expected = "evaluate.py: error: " + message.format(archive=job.path(MODEL_INPUT))
    jobs.assert_failed(job, 1, expected, job.path(FAILURE))
    assert not job.path("/opt/ml/processing/evaluation/evaluation.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"0,1.0,2.0,3.0\n", "test.csv line 1: expected 3 columns (label, then 2 features), got 4"),
        (b"0,1.0\n", "test.csv line 1: expected 3 columns (label, then 2 features), got 2"),
        (b"1,x,2.0\n", "test.csv line 1: non-numeric value"),
        (b"\n", "test file {test} holds no rows"),
    ],
)
def test_test_files_of_the_wrong_shape_fail_with_one_line(
    jobs, tmp_path: Path, model_archive: Path, content: bytes, message: str
) -> None:
    job = jobs.run_evaluation(tmp_path, model_archive, content)
    test_file = job.path("/opt/ml/processing/test/test.csv")
    jobs.assert_failed(
        job, 1, "evaluate.py: error: " + message.format(test=test_file), job.path(FAILURE)
    )


def test_archive_members_stay_inside_the_extraction_folder(
    evaluate_module, tmp_path: Path, model_dir: Path
) -> None:
    archive = archive_with(model_dir, tmp_path / "ok.tar.gz")
    target = tmp_path / "out"
    evaluate_module.extract_archive(archive, target)
    assert (target / "code" / "inference.py").is_file()
    shutil.rmtree(target)
    with pytest.raises(evaluate_module.EvaluationError):
        evaluate_module.extract_archive(
            archive_with(
                model_dir,
                tmp_path / "bad.tar.gz",
                extra=member("x", tarfile.LNKTYPE, "../../etc/passwd"),
            ),
            target,
        )
