"""RegisterModel, Model, EndpointConfig and Endpoint steps: registry records and deployment.

Names the service generates (model names, per-execution endpoint config suffixes) are made
here the same way every time, so later steps must read them from properties, as on
SageMaker. The Endpoint step hands the resolved model to the endpoint manager the context
carries (pipeline/local/endpoint/manager.py, imported only when a deployment happens).
Each step's properties are the Describe* response of what it made (pipeline.local.describe).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.core.errors import MoonpipeError
from pipeline.local import describe
from pipeline.local.graph import StepSpec
from pipeline.local.handlers.base import StepContext, failed
from pipeline.local.orchestrator import StepOutcome
from pipeline.local.store.objects import StoreError
from pipeline.local.store.registry import Registry, RegistryError


def endpoint_config_name(base: str, execution_id: str) -> str:
    """The name the service gives an EndpointConfig step's config: ``<base>-<execution id>``.

    Never shortened: a base too long for its suffix makes a name over SageMaker's 63
    characters, which the API gate (pipeline/local/api_gate.py) refuses before the step runs.
    """
    return f"{base}-{execution_id}"


def _registry(ctx: StepContext) -> Registry:
    return Registry(ctx.store_root, ctx.region)


def register_model(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Add the next version of the model package group (ModelMetrics kept as references)."""
    group = args.get("ModelPackageGroupName")
    if not isinstance(group, str):
        return failed("RegisterModel needs ModelPackageGroupName")
    record = _registry(ctx).add_model_package(group, args)
    metadata = {k: record[k] for k in ("ModelPackageArn", "ModelPackageVersion")}
    return StepOutcome("Succeeded", describe.model_package(record), metadata=metadata)


def _kept(
    add: Callable[[str, dict[str, Any]], dict[str, Any]],
    name: str,
    args: dict[str, Any],
    name_key: str,
    shaped: Callable[[dict[str, Any]], dict[str, Any]],
) -> StepOutcome:
    """Keep ``args`` as the registry record ``name`` (``add``); the step's properties are
    ``shaped`` from it and its metadata names it under ``name_key``, as the service's
    response does. A refused record fails the step."""
    try:
        record = add(name, args)
    except RegistryError as err:
        return failed(str(err))
    return StepOutcome("Succeeded", shaped(record), metadata={name_key: name})


def create_model(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Store a model under a per-execution name unless the definition names it."""
    name = args.get("ModelName") or ctx.job_name(spec.name)
    return _kept(_registry(ctx).add_model, name, args, "ModelName", describe.model)


def create_endpoint_config(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Store the config as ``<name>-<execution id>``: each execution gets its own."""
    name = endpoint_config_name(args.get("EndpointConfigName") or spec.name, ctx.execution_id)
    return _kept(
        _registry(ctx).add_endpoint_config,
        name,
        args,
        "EndpointConfigName",
        describe.endpoint_config,
    )


def deploy_endpoint(spec: StepSpec, args: dict[str, Any], ctx: StepContext) -> StepOutcome:
    """Create the endpoint, or update it in place, serving the config's first variant."""
    name, config_name = args.get("EndpointName"), args.get("EndpointConfigName")
    if not isinstance(name, str) or not isinstance(config_name, str):
        return failed("Endpoint needs EndpointName and EndpointConfigName")
    registry = _registry(ctx)
    try:
        variants = registry.endpoint_config(config_name).get("ProductionVariants") or []
        if not variants:
            return failed(f"endpoint config {config_name} has no ProductionVariants")
        container = registry.model(variants[0]["ModelName"]).get("PrimaryContainer") or {}
        model_data = ctx.objects.verified_path(container["ModelDataUrl"])  # never damaged
        info = ctx.endpoints().deploy(
            ctx.store_root, name, config_name, model_data, dict(container.get("Environment") or {})
        )
    except (RegistryError, StoreError, KeyError, MoonpipeError) as err:
        return failed(f"endpoint {name}: {err}")
    url = getattr(info, "url", None)
    properties = describe.endpoint(args, ctx.arn("endpoint", name), variants, url)
    return StepOutcome("Succeeded", properties, metadata={"EndpointName": name, "url": url})
