"""Which pipeline module to build, read without importing it or the SageMaker SDK.

The front needs a module's pipeline name before (and without) building it: every command but
--upsert and --definition works on the stored pipeline by name. ``--kwargs`` gives it as
``pipeline_name`` (the template's buildspec does), else ``get_pipeline``'s default for
``pipeline_name`` is read from the module's source. Nothing here imports boto3 or the SDK.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.core.names import PIPELINE_NAME, PIPELINE_NAME_TEXT

DEFAULT_MODULE = "pipeline.assembly.moonpipe"
ENTRY = "get_pipeline"
_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """``--kwargs`` as a dict: a JSON object (the template's buildspec passes JSON).

    Raises:
        ConfigError: not a JSON object, with what to write instead.
    """
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"--kwargs is not valid JSON ({err.msg} at character {err.pos}); write an object, "
            """e.g. --kwargs '{"region": "us-east-1", "pipeline_name": "Abalone"}'"""
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(
            f"--kwargs must be a JSON object of get_pipeline's arguments; got {text.strip()!r}"
        )
    return value


def checked_pipeline_name(name: object) -> str:
    """``name`` if SageMaker takes it as a pipeline name, else ConfigError."""
    if not isinstance(name, str) or not re.fullmatch(PIPELINE_NAME, name):
        raise ConfigError(
            f"the module's pipeline name {name!r} is not one SageMaker takes: {PIPELINE_NAME_TEXT}"
        )
    return name


def check_module_name(name: str) -> str:
    """``name`` if it is a dotted Python module name, else ConfigError."""
    if not _MODULE_NAME.fullmatch(name):
        raise ConfigError(
            f"--module-name {name!r} is not a Python module name; write it dotted, "
            "e.g. --module-name pipelines.abalone.pipeline"
        )
    return name


@contextlib.contextmanager
def module_path() -> Iterator[None]:
    """The working directory first on the import path for the block (``python -m``'s rule)."""
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        yield
    finally:
        if added and here in sys.path:
            sys.path.remove(here)


def module_pipeline_name(module_name: str, kwargs: Mapping[str, Any]) -> str | None:
    """The name the module's pipeline will have, without importing the SDK: ``pipeline_name``
    from ``kwargs``, else ``get_pipeline``'s default for it read from the module's source.
    None when neither says (then only a build can tell)."""
    given = kwargs.get("pipeline_name")
    if isinstance(given, str):
        return given
    try:
        with module_path():
            spec = importlib.util.find_spec(check_module_name(module_name))
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        tree = ast.parse(open(spec.origin, encoding="utf-8").read())  # noqa: SIM115
    except (OSError, SyntaxError, ValueError):
        return None
    return _default_of(tree, "pipeline_name")


def _default_of(tree: ast.Module, parameter: str) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == ENTRY:
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            pairs = list(
                zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
            )
            pairs += [
                (a, d)
                for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                if d is not None
            ]
            for arg, default in pairs:
                if arg.arg == parameter and isinstance(default, ast.Constant):
                    value = default.value
                    return value if isinstance(value, str) else None
    return None
