"""Build any SageMaker SDK v2 pipeline module the MLOps template's way, offline.

AWS's SageMaker Projects "modelbuild" template keeps each pipeline in a module with
``get_pipeline(region, sagemaker_project_arn=None, role=None, default_bucket=None,
pipeline_name=..., base_job_prefix=..., ...)`` that makes its own sessions and returns a
``sagemaker.workflow.pipeline.Pipeline``; its ``run-pipeline --module-name M --kwargs K``
imports M, calls ``get_pipeline(**K)`` and upserts ``pipeline.definition()``
(pipelines/run_pipeline.py and _utils.py of the template). :func:`build_module` does the
same without a network:

* the module is imported (the working directory first on the path, as ``python -m`` does)
  and ``get_pipeline`` called with ``--kwargs``; ``region``, ``role`` and
  ``default_bucket`` come from the config when the function takes them and ``--kwargs``
  does not give them (the template passes all three); moonpipe's own module also takes the
  loaded config (``moonpipe_config``);
* everything runs inside :func:`pipeline.assembly.offline_sdk.offline_build`: every session
  the module makes is offline and every S3 upload is captured;
* every captured ``.tar.gz`` is re-packed byte-reproducibly (archives.py), so a rebuild of
  unchanged sources holds the same bytes at the same keys and an upsert says "unchanged".

Whatever goes wrong is one ConfigError naming the module and what to do, never a traceback.
A module may keep resources (a staging folder, a working directory) alive until its
definition is rendered by entering them on :func:`build_scope`.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.assembly.archives import reproducible_artifact
from pipeline.assembly.module_names import DEFAULT_MODULE, ENTRY, check_module_name, module_path
from pipeline.assembly.offline_sdk import offline_build, quiet_sdk
from pipeline.config import PipelineConfig
from pipeline.core.errors import ConfigError, MoonpipeError
from pipeline.core.names import PIPELINE_NAME
from pipeline.core.records import PipelineDefinition

__all__ = ["DEFAULT_MODULE", "build_module", "build_scope"]
CONFIG_ARGUMENT = "moonpipe_config"  # moonpipe's own module takes the loaded config
_SCOPE: contextvars.ContextVar[contextlib.ExitStack | None] = contextvars.ContextVar(
    "moonpipe_build_scope", default=None
)


def build_scope() -> contextlib.ExitStack | None:
    """The build in progress's exit stack: what a module enters on it lives until its
    definition is rendered (None outside :func:`build_module`)."""
    return _SCOPE.get()


def build_module(
    cfg: PipelineConfig,
    module_name: str,
    kwargs: Mapping[str, Any],
    role: str,
    description: str | None = None,
) -> PipelineDefinition:
    """Build the pipeline ``module_name``'s ``get_pipeline(**kwargs)`` returns, offline.

    Args:
        cfg: the config (region, bucket; passed whole to a module that takes it).
        module_name: the dotted module name.
        kwargs: ``--kwargs``.
        role: the role ARN to pass as ``role`` when the module takes one and kwargs has none.
        description: the pipeline's description (default: which module built it).

    Returns:
        The definition, and every object uploaded while building it, archives re-packed.

    Raises:
        ConfigError: the module cannot be imported, has no get_pipeline, does not take the
            arguments given, fails, or returns something other than a Pipeline.
    """
    where = f"--module-name {module_name}"
    with offline_build(cfg.aws.region, cfg.aws.bucket) as aws, quiet_sdk():
        get_pipeline = _entry(module_name)
        call = _arguments(get_pipeline, kwargs, cfg, role, where)
        with contextlib.ExitStack() as stack:
            token = _SCOPE.set(stack)
            try:
                pipeline = _called(get_pipeline, call, where)
                definition = _rendered(pipeline, where)
            finally:
                _SCOPE.reset(token)
        uploads = dict(aws.objects)
    name = str(pipeline.name)
    if not re.fullmatch(PIPELINE_NAME, name):
        raise ConfigError(
            f"{where}: get_pipeline returned a pipeline named {name!r}; SageMaker pipeline "
            "names are 1-256 letters, digits and hyphens, starting with a letter or digit"
        )
    return PipelineDefinition(
        name=name,
        description=description or f"Built by moonpipe from {module_name}.{ENTRY}().",
        definition=definition,
        artifacts={uri: reproducible_artifact(uri, body) for uri, body in sorted(uploads.items())},
    )


def _entry(module_name: str) -> Callable[..., Any]:
    where = f"--module-name {check_module_name(module_name)}"
    try:
        with module_path():
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ConfigError(
            f"{where}: no module named {err.name!r}; run from the folder that holds the "
            "package (it is first on the path), or pip install the package"
        ) from None
    except Exception as err:  # the module's own import fails: say so in one line
        raise ConfigError(f"{where}: importing it failed: {type(err).__name__}: {err}") from None
    entry = getattr(module, ENTRY, None)
    if not callable(entry):
        raise ConfigError(
            f"{where}: the module has no {ENTRY}() function (the MLOps template's "
            f"{ENTRY}(region, role, default_bucket, ...) returning a Pipeline)"
        )
    return entry


def _arguments(
    get_pipeline: Callable[..., Any],
    kwargs: Mapping[str, Any],
    cfg: PipelineConfig,
    role: str,
    where: str,
) -> dict[str, Any]:
    """``kwargs``, plus the config's region, role and bucket where the function takes them."""
    parameters = inspect.signature(get_pipeline).parameters
    call = dict(kwargs)
    defaults = {
        "region": cfg.aws.region,
        "role": role,
        "default_bucket": cfg.aws.bucket,
        CONFIG_ARGUMENT: cfg,
    }
    for name, value in defaults.items():
        if name in parameters and name not in call:
            call[name] = value
    try:
        inspect.signature(get_pipeline).bind(**call)
    except TypeError as err:
        takes = ", ".join(p for p in parameters if p != CONFIG_ARGUMENT)
        raise ConfigError(f"{where}: {ENTRY}() {err}; it takes: {takes}") from None
    return call


def _called(get_pipeline: Callable[..., Any], call: Mapping[str, Any], where: str) -> Any:
    from sagemaker.workflow.pipeline import Pipeline

    try:
        pipeline = get_pipeline(**call)
    except MoonpipeError:
        raise
    except Exception as err:
        raise ConfigError(f"{where}: {ENTRY}() failed: {type(err).__name__}: {err}") from None
    if not isinstance(pipeline, Pipeline):
        raise ConfigError(
            f"{where}: {ENTRY}() returned {type(pipeline).__name__}, not a "
            "sagemaker.workflow.pipeline.Pipeline"
        )
    return pipeline


def _rendered(pipeline: Any, where: str) -> str:
    try:
        return str(pipeline.definition())
    except MoonpipeError:
        raise
    except Exception as err:
        raise ConfigError(
            f"{where}: rendering the pipeline's definition failed: {type(err).__name__}: {err}"
        ) from None
