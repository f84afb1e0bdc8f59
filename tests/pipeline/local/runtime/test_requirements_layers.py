"""A job's requirements.txt as a layer: only what the interpreter lacks, offline, by content."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

from pipeline.local.runtime.layers import LayerError, layer_for, local_wheel_folders
from pipeline.local.warm.client import WarmStarter

TABULATE = "tabulate==0.10.0"


def _wheels() -> list[Path]:
    folders = local_wheel_folders()
    if not any(any(f.glob("tabulate-0.10.0-*.whl")) for f in folders):
        pytest.skip("no local wheel of tabulate 0.10.0 in pip's configured folders")
    return folders


def test_a_layer_holds_what_the_interpreter_lacks_and_is_kept_by_content(tmp_path: Path) -> None:
    requirements = f"numpy=={numpy.__version__}\n{TABULATE}\n".encode()
    layer = layer_for(requirements, tmp_path / "layers", _wheels())
    assert (layer / "tabulate.py").is_file() or (layer / "tabulate").is_dir()
    assert not (layer / "numpy").exists()  # installed already: never copied
    assert layer_for(requirements, tmp_path / "layers", find_links=[]) == layer  # no pip now
    assert [p.name for p in (tmp_path / "layers").iterdir()] == [layer.name]  # no debris


def test_a_missing_requirement_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(LayerError) as caught:
        layer_for(b"no-such-package-moonpipe==1.0\n", tmp_path / "layers", [tmp_path])
    assert str(caught.value) == (
        "requirements.txt: no local distribution satisfies 'no-such-package-moonpipe==1.0' "
        f"(installed offline from {tmp_path}; SageMaker would download it from PyPI)"
    )
    assert not any((tmp_path / "layers").iterdir())  # nothing half-built is left


def test_a_layer_shadowing_a_preloaded_library_runs_the_job_fresh(tmp_path: Path) -> None:
    """The warm host imported numpy: a fork would keep that numpy whatever the layer holds."""
    starter = WarmStarter(tmp_path / "store", preload=("numpy", "sklearn.datasets"))
    (tmp_path / "plain" / "tabulate").mkdir(parents=True)
    (tmp_path / "pinned" / "sklearn").mkdir(parents=True)
    assert not starter.shadowed_by(None)
    assert not starter.shadowed_by(tmp_path / "plain")
    assert starter.shadowed_by(tmp_path / "pinned")
