"""Issue 20: the model registry can be managed on the local target — approve, reject, and
deploy a chosen package version, under the pipeline's own deploy rules (only Approved
versions, SageMaker's API model as the gate, the endpoint manager's one update at a time)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.errors import MoonpipeError
from pipeline.core.records import EndpointRef
from pipeline.targets.local import LocalTarget
from tests.pipeline.conftest import FakeEndpoints
from tests.pipeline.local.local_defs import pipeline


@pytest.fixture
def registered(tmp_path: Path, fake_endpoints: FakeEndpoints) -> LocalTarget:
    """Two registered versions of group ``grp`` (HiddenDim 20, then 40), the second served."""
    target = LocalTarget(tmp_path, endpoints=fake_endpoints)
    target.upsert_pipeline(pipeline(), None)
    for params in ({}, {"HiddenDim": 40}):
        arn = target.start_execution("p", params)
        assert target.wait(arn, lambda record: None).status == "Succeeded"
    del fake_endpoints[:-1]  # the endpoint serves the second run's config only
    return target


def test_approve_and_reject_set_the_approval_and_keep_the_versions_record(
    registered: LocalTarget, tmp_path: Path
) -> None:
    newest, oldest = registered.list_model_packages()
    versions = sorted((tmp_path / "registry").rglob("versions/*.json"))
    before = [p.read_bytes() for p in versions]
    rejected = registered.update_model_package(oldest.arn, "Rejected")
    assert (rejected.arn, rejected.version, rejected.approval_status) == (
        oldest.arn,
        1,
        "Rejected",
    )
    assert [p.approval_status for p in registered.list_model_packages()] == [
        "Approved",
        "Rejected",
    ]
    again = registered.update_model_package(oldest.arn, "Approved")
    assert again.approval_status == "Approved"
    assert [p.read_bytes() for p in versions] == before  # a version is never rewritten
    assert newest.approval_status == "Approved"


@pytest.mark.parametrize(
    ("ref", "status", "says"),
    [
        ("arn:aws:sagemaker:us-east-1:000000000000:model-package/grp/9", "Approved", "no model"),
        (None, "approved", "ModelApprovalStatus 'approved' is not one of Approved, Rejected"),
    ],
)
def test_an_unknown_package_or_status_is_refused(
    registered: LocalTarget, ref: str | None, status: str, says: str
) -> None:
    arn = ref or registered.list_model_packages()[0].arn
    with pytest.raises(MoonpipeError) as caught:
        registered.update_model_package(arn, status)
    assert says in str(caught.value) and caught.value.exit_code == 2


def test_deploy_serves_the_chosen_version_through_the_endpoint_manager(
    registered: LocalTarget, fake_endpoints: FakeEndpoints, tmp_path: Path
) -> None:
    newest, oldest = registered.list_model_packages()
    assert (newest.endpoints, oldest.endpoints) == (("ep",), ())
    endpoint = registered.deploy_model_package(oldest.arn, "ep")
    assert endpoint == EndpointRef("ep", "http://127.0.0.1:9/", "InService")
    [call] = fake_endpoints[1:]
    assert call["name"] == "ep" and call["config"].startswith("ep-v1-")
    assert call["model_data"] == registered.objects.path(str(oldest.model_data_url))
    config = json.loads((tmp_path / "endpoint-configs" / f"{call['config']}.json").read_text())
    [variant] = config["ProductionVariants"]
    model = json.loads((tmp_path / "models" / f"{variant['ModelName']}.json").read_text())
    assert model["PrimaryContainer"]["ModelDataUrl"] == oldest.model_data_url
    del fake_endpoints[:-1]
    newest, oldest = registered.list_model_packages()
    assert (newest.endpoints, oldest.endpoints) == ((), ("ep",))  # which one serves it now


def test_only_an_approved_version_is_deployed_and_nothing_is_written_before(
    registered: LocalTarget, fake_endpoints: FakeEndpoints, tmp_path: Path
) -> None:
    oldest = registered.list_model_packages()[1]
    registered.update_model_package(oldest.arn, "Rejected")
    models = sorted((tmp_path / "models").glob("*.json"))
    with pytest.raises(MoonpipeError) as caught:
        registered.deploy_model_package(oldest.arn, "ep")
    assert str(caught.value) == (
        "model package grp/1 is Rejected; only an Approved package is deployed "
        "(approve it: python run_pipeline.py --approve 1)"
    )
    assert sorted((tmp_path / "models").glob("*.json")) == models and len(fake_endpoints) == 1


def test_the_api_gate_refuses_an_endpoint_name_sagemaker_would(
    registered: LocalTarget, fake_endpoints: FakeEndpoints, tmp_path: Path
) -> None:
    newest = registered.list_model_packages()[0]
    with pytest.raises(MoonpipeError) as caught:
        registered.deploy_model_package(newest.arn, "no_underscores_allowed")
    assert str(caught.value).startswith(
        "SageMaker's CreateEndpointConfig would refuse deploying grp/2 to "
        "no_underscores_allowed: EndpointConfigName"
    )
    assert len(fake_endpoints) == 1


def test_one_update_of_an_endpoint_at_a_time_as_the_pipelines_deploy(
    registered: LocalTarget, tmp_path: Path
) -> None:
    """The real endpoint manager, its endpoint's deploy lock held as another deploy holds
    it: refused at once in SageMaker's words, no server started."""
    from pipeline.local.endpoint import manager
    from pipeline.local.endpoint.folder import endpoint_folder
    from pipeline.local.endpoint.state import LOCK_FILE
    from pipeline.local.liveness import try_lock

    registered.runner._endpoint_manager = manager
    folder = endpoint_folder(tmp_path, "ep")
    folder.mkdir(parents=True, exist_ok=True)
    with try_lock(folder / LOCK_FILE) as held:
        assert held
        with pytest.raises(MoonpipeError, match="Cannot update in-progress endpoint"):
            registered.deploy_model_package(registered.list_model_packages()[0].arn, "ep")
