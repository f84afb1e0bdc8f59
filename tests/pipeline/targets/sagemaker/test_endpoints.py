"""Endpoints: invoke and delete, and what a person reads when they fail."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from pipeline.core.errors import EndpointError
from pipeline.targets.sagemaker import SageMakerTarget


def test_model_error_from_the_endpoint_is_an_endpoint_error(target: SageMakerTarget) -> None:
    with Stubber(target.clients.runtime) as runtime:
        runtime.add_client_error(
            "invoke_endpoint",
            "ModelError",
            "Received client error (400)",
            http_status_code=424,
            modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "row 1: expected 2"},
        )
        with pytest.raises(EndpointError) as caught:
            target.invoke_endpoint("ep", b"1\n", "text/csv", "text/csv")
    assert str(caught.value) == "the model refused the request (400): row 1: expected 2"
    assert caught.value.exit_code == 1


def test_missing_endpoint_on_delete(target: SageMakerTarget, sm: Stubber) -> None:
    sm.add_client_error(
        "delete_endpoint", "ValidationException", "Could not find endpoint 'arn:...:endpoint/ep'."
    )
    with pytest.raises(EndpointError) as caught:
        target.delete_endpoint("ep")
    assert str(caught.value) == (
        "endpoint ep not found in us-east-1; list them with --list-endpoints"
    )
    assert caught.value.exit_code == 2  # a usage error, as on the local target
