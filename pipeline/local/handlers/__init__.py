"""One handler per step type; the runner picks them from :data:`HANDLERS`."""

from __future__ import annotations

from pipeline.local.handlers.base import Handler
from pipeline.local.handlers.control import run_condition, run_fail
from pipeline.local.handlers.hosting import (
    create_endpoint_config,
    create_model,
    deploy_endpoint,
    register_model,
)
from pipeline.local.handlers.processing import run_processing
from pipeline.local.handlers.training import run_training

HANDLERS: dict[str, Handler] = {
    "Processing": run_processing,
    "Training": run_training,
    "Condition": run_condition,
    "Fail": run_fail,
    "RegisterModel": register_model,
    "Model": create_model,
    "EndpointConfig": create_endpoint_config,
    "Endpoint": deploy_endpoint,
}
