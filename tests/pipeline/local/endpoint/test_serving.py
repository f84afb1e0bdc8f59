"""Loading serving code only from inside the model folder, and the default handlers' limits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from pipeline.local.endpoint.serving import HandlerError, default_input_fn, load_model
from tests.pipeline.local.endpoint.served import ECHO_PROGRAM, model_env, write_model


def refusal(model_dir: Path, environment: dict[str, str]) -> str:
    with pytest.raises(HandlerError) as caught:
        load_model("c", model_dir, environment)
    assert caught.value.status == 500
    return str(caught.value)


def test_a_submit_directory_outside_the_model_is_refused(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "model", ECHO_PROGRAM)
    elsewhere = write_model(tmp_path / "elsewhere", ECHO_PROGRAM) / "code"
    message = refusal(
        model_dir,
        {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(elsewhere)},
    )
    assert message == (
        f"config 'c': serving code must come from inside the model directory "
        f"{model_dir}, but {elsewhere} resolves to {elsewhere.resolve()}; set "
        "SAGEMAKER_SUBMIT_DIRECTORY to /opt/ml/model/code and SAGEMAKER_PROGRAM "
        "to a file name in it"
    )


def test_a_program_reaching_out_with_dot_dot_is_refused(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "model", ECHO_PROGRAM)
    write_model(tmp_path / "other", ECHO_PROGRAM)
    message = refusal(
        model_dir, {**model_env(model_dir), "SAGEMAKER_PROGRAM": "../../other/code/inference.py"}
    )
    assert "serving code must come from inside the model directory" in message
    assert f"resolves to {tmp_path.resolve() / 'other' / 'code' / 'inference.py'}" in message


@pytest.mark.parametrize("link", ["code/inference.py", "code/helper.py", "code"])
def test_a_symlink_out_of_the_model_is_refused(tmp_path: Path, link: str) -> None:
    model_dir = write_model(tmp_path / "model", ECHO_PROGRAM)
    outside = write_model(tmp_path / "outside", ECHO_PROGRAM)
    path = model_dir / link
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    else:
        path.unlink()
    path.symlink_to(outside / link)
    message = refusal(model_dir, model_env(model_dir))
    assert f"but {path} resolves to {(outside / link).resolve()}" in message


def test_a_symlink_that_stays_inside_the_model_is_served(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "model", ECHO_PROGRAM)
    (model_dir / "code" / "alias.py").symlink_to(model_dir / "code" / "inference.py")
    model = load_model("c", model_dir, {**model_env(model_dir), "SAGEMAKER_PROGRAM": "alias.py"})
    assert model.handle(b"1,2\n", "text/csv", "text/csv") == (b"3.0", "text/csv")


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((1, 2)))
    return buffer.getvalue()


def _huge_npy_header() -> bytes:
    """A header claiming 10^11 rows, with no data after it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (10**11, 2)}
    )
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "media", "message"),
    [
        (
            "[" * 100_000 + "]" * 100_000,
            "application/json",
            "cannot parse the application/json body: nested too deeply",
        ),
        (
            _npz(),
            "application/x-npy",
            "cannot parse the application/x-npy body: an .npz archive; send one array saved with "
            "np.save",
        ),
        (_huge_npy_header(), "application/x-npy", None),
    ],
)
def test_default_input_fn_refuses_hostile_bodies_as_400(
    body: str | bytes, media: str, message: str | None
) -> None:
    with pytest.raises(HandlerError) as caught:
        default_input_fn(body, media)
    assert caught.value.status == 400
    if message is not None:
        assert str(caught.value) == message
    else:
        assert str(caught.value).startswith("cannot parse the application/x-npy body: ")
