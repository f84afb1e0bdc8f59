"""Where everything lives under one store root: the one home of the store's layout.

Every room asks a :class:`StoreLayout` for its paths instead of joining folder names itself::

    pipelines/<name>/versions/<n>.json          every definition version ever upserted
    executions/<id>/execution.json              status, parameters, times, failure reason
    executions/<id>/steps/<step>.json           one StepRecord (+ properties) per step
    executions/<id>/logs/<step>.log             the merged stdout/stderr of a job
    executions/<id>/jobs/<step>/                its /opt/ml (algo-N/ per host; <step>.<n>/ a retry)
    executions/<id>/attempts/<n>/steps/         a retried attempt's step records
    executions/<id>/runner.lock, stop.json      the runner's lock, a --stop request
    executions/<id>/.reserve                    space kept while it runs, to record its end
    executions/<id>/report.html, report.log     the execution's page, its writer's log
    cache/<pipeline>/<key>.json                 successful step runs, for CacheConfig
    registry/<group>/group.json, versions/<n>.json   model package groups and versions
    registry/<group>/updates/<n>/<k>.json       a version's approval changes (UpdateModelPackage)
    models/<name>.json                          CreateModel requests
    endpoint-configs/<name>.json                CreateEndpointConfig requests
    endpoints/<name>/                           a live endpoint (pipeline.local.endpoint)
    warm/                                       the warm job host (socket, log, lock, key)
    layers/<hash>/                              requirements.txt layers jobs get, by content
    gate/                                       the API gate's cached service model
    sweeps/<id>.worker.log                      a sweep point's worker output
    comparisons/<a>-vs-<b>.html, background.log comparison pages and their writer's log
    s3/<bucket>/<key>                           the file-backed S3
    digests/<bucket>/<key>                      each object's digest, recorded as it is stored

Names become path segments, so each is checked against SageMaker's own name rules before it
touches the file system (endpoint names by pipeline.local.endpoint.folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.core.names import check_record_name

EXECUTION_RECORD = "execution.json"
RUNNER_LOCK = "runner.lock"
STOP_REQUEST = "stop.json"
REPORT_PAGE = "report.html"
REPORT_LOG = "report.log"
_MAX_COMPARISON_NAME = 200


class StoreLayout:
    """The paths of one store root (nothing is created here)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # pipelines ---------------------------------------------------------------------------
    def pipeline_versions(self, name: str) -> Path:
        """The folder of one pipeline's versions."""
        return self.root / "pipelines" / check_record_name("pipeline", name) / "versions"

    # executions --------------------------------------------------------------------------
    def executions(self) -> Path:
        """The folder of every execution."""
        return self.root / "executions"

    def execution(self, execution_id: str) -> Path:
        """The folder that holds everything one execution wrote."""
        return self.executions() / check_record_name("execution", execution_id)

    def execution_record(self, execution_id: str) -> Path:
        """The execution's own record."""
        return self.execution(execution_id) / EXECUTION_RECORD

    def steps(self, execution_id: str) -> Path:
        """The folder of the execution's step records."""
        return self.execution(execution_id) / "steps"

    def step_record(self, execution_id: str, step_name: str) -> Path:
        """One step's latest record."""
        return self.steps(execution_id) / f"{check_record_name('step', step_name)}.json"

    def log(self, execution_id: str, step_name: str) -> Path:
        """The merged output of a step's job."""
        return self.execution(execution_id) / "logs" / f"{check_record_name('step', step_name)}.log"

    def job(self, execution_id: str, step_name: str) -> Path:
        """The job's folder (its /opt/ml)."""
        return self.execution(execution_id) / "jobs" / check_record_name("step", step_name)

    def job_attempt(self, execution_id: str, step_name: str, attempt: int) -> Path:
        """The job folder of a step's ``attempt`` (RetryPolicies): the first is :meth:`job`,
        a retry gets ``jobs/<step>.<n>`` (no step name holds a dot)."""
        first = self.job(execution_id, step_name)
        return first if attempt == 1 else first.with_name(f"{step_name}.{attempt}")

    def log_attempt(self, execution_id: str, step_name: str, attempt: int) -> Path:
        """The log of a step's ``attempt``: :meth:`log`, or ``logs/<step>.<n>.log``."""
        first = self.log(execution_id, step_name)
        return first if attempt == 1 else first.with_name(f"{step_name}.{attempt}.log")

    def attempt_steps(self, execution_id: str, attempt: int) -> Path:
        """Where a retry keeps the step records of attempt ``attempt``."""
        return self.execution(execution_id) / "attempts" / str(attempt) / "steps"

    def runner_lock(self, execution_id: str) -> Path:
        """The lock the process running the execution holds (pipeline.local.interruptions)."""
        return self.execution(execution_id) / RUNNER_LOCK

    def stop_request(self, execution_id: str) -> Path:
        """Written by --stop."""
        return self.execution(execution_id) / STOP_REQUEST

    def space_reserve(self, execution_id: str) -> Path:
        """Space its runner keeps, freed to record the end when the disk is full."""
        return self.execution(execution_id) / ".reserve"

    def report(self, execution_id: str) -> Path:
        """The execution's HTML report."""
        return self.execution(execution_id) / REPORT_PAGE

    def report_log(self, execution_id: str) -> Path:
        """The output of the process that keeps the report current."""
        return self.execution(execution_id) / REPORT_LOG

    def report_keep(self, execution_id: str) -> Path:
        """Where a report keeps what it computed (the decision boundary's grid)."""
        return self.execution(execution_id)

    # step cache --------------------------------------------------------------------------
    def cache_entry(self, pipeline_name: str, key: str) -> Path:
        """The cache entry of one (pipeline, step arguments) key."""
        return self.root / "cache" / check_record_name("pipeline", pipeline_name) / f"{key}.json"

    # registry, models, endpoint configs --------------------------------------------------
    def registry(self) -> Path:
        """The folder of every model package group."""
        return self.root / "registry"

    def model_package_group(self, group: str) -> Path:
        """One group's folder (group.json, versions/<n>.json)."""
        return self.registry() / check_record_name("model package group", group)

    def model_package_updates(self, group: str, version: int) -> Path:
        """The UpdateModelPackage records of one version (``updates/<n>/<k>.json``, the
        newest k wins): a version's own record is never rewritten."""
        return self.model_package_group(group) / "updates" / str(int(version))

    def model(self, name: str) -> Path:
        """A CreateModel record."""
        return self.root / "models" / f"{check_record_name('model', name)}.json"

    def endpoint_config(self, name: str) -> Path:
        """A CreateEndpointConfig record."""
        name = check_record_name("endpoint config", name)
        return self.root / "endpoint-configs" / f"{name}.json"

    def endpoints(self) -> Path:
        """The folder of every endpoint (its names are checked by the endpoint folder)."""
        return self.root / "endpoints"

    # the engine's helpers ----------------------------------------------------------------
    def warm(self) -> Path:
        """The warm job host's folder."""
        return self.root / "warm"

    def layers(self) -> Path:
        """requirements.txt layers jobs get on PYTHONPATH, one folder per content hash."""
        return self.root / "layers"

    def gate(self) -> Path:
        """The API gate's cached part of SageMaker's service model."""
        return self.root / "gate"

    def s3(self) -> Path:
        """The file-backed S3's root."""
        return self.root / "s3"

    def digests(self) -> Path:
        """The root of the objects' digests (``digests/<bucket>/<key>``, as ``s3/``)."""
        return self.root / "digests"

    # sweeps and comparisons --------------------------------------------------------------
    def sweep_worker_log(self, execution_id: str) -> Path:
        """The output of the worker running one sweep point."""
        return self.root / "sweeps" / f"{check_record_name('execution', execution_id)}.worker.log"

    def listing(self) -> Path:
        """The listing's kept summaries of ended executions (pipeline.local.listing)."""
        return self.root / "listing.json"

    def comparisons(self) -> Path:
        """The folder of comparison pages."""
        return self.root / "comparisons"

    def comparison(self, execution_ids: Sequence[str]) -> Path:
        """Where a comparison page of these executions goes unless told otherwise."""
        name = f"{'-vs-'.join(execution_ids)}.html"[-_MAX_COMPARISON_NAME:]
        return self.comparisons() / name

    def comparisons_log(self) -> Path:
        """The output of the process that draws a sweep's pages after it."""
        return self.comparisons() / "background.log"
