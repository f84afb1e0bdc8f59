"""Walk a checked plan: run each step whose dependencies are met, retry what its RetryPolicies
cover, record every attempt, and end the execution as SageMaker does.

The orchestrator knows no job types. It is handed an ``execute`` callable (the handler map
plus argument resolution, the API gate and caching, assembled by pipeline.local.execution)
and only decides *whether*, *when* and *how often* a step runs:

* Steps in the untaken branch of a Condition, and steps downstream of those, are skipped.
* "By default, a pipeline performs all steps that are available to run in parallel"; the
  pipeline's ``ParallelismConfiguration.MaxParallelExecutionSteps`` caps how many run at
  once (the guide's "Pipeline Execution using Parallelism Configuration"). When a single
  step can run, it runs in the calling thread, as before (Ctrl-C reaches its job directly);
  two or more run in worker threads.
* When a step fails, no further step starts; steps already running are let run to their
  end and recorded; the execution ends Failed naming every failed step. SageMaker does not
  document what it does with running siblings (docs/semantics.md says why we chose this:
  its execution reason, "One or multiple steps failed", admits several failed steps).
* A failed attempt whose ``error_type`` one of the step's RetryPolicies lists is retried
  after IntervalSeconds x BackoffRate^(n-1), while MaxAttempts (retries after the first
  attempt) or ExpireAfterMin allows; the step record carries AttemptCount and each earlier
  attempt (metadata ``Attempts``).
* Reasons are capped as the API model caps them: a step's FailureReason at 1024 characters,
  the execution's (DescribePipelineExecution) at 1300.

On an interruption (Ctrl-C, SIGTERM, --stop) in the calling thread while worker threads run,
``stop_jobs`` is called to end their jobs; their records stay as they are (Executing) for the
runner to close with the interruption's reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from pipeline.core.names import utc_now
from pipeline.core.records import StepListener, StepRecord
from pipeline.local.expressions import Scope, UnresolvedReference
from pipeline.local.graph import PipelineGraph, StepSpec, upstream
from pipeline.local.policies import policy_for

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

# Maximum lengths in SageMaker's API model (botocore): PipelineExecutionStep.FailureReason
# (shape FailureReason) and DescribePipelineExecutionResponse.FailureReason
# (PipelineExecutionFailureReason).
STEP_REASON_MAX = 1024
EXECUTION_REASON_MAX = 1300
_ELLIPSIS = "…"
_STOP_POLL_S = 0.1


@dataclass(frozen=True)
class StepOutcome:
    """What running one step produced.

    ``branch`` is set by a Condition (True = IfSteps). ``execution_failure_reason``, when
    set on a failure, becomes the execution's reason verbatim (a Fail step's message).
    ``error_type`` names the RetryPolicies ExceptionType a failure is (None: none of them,
    e.g. the script's own error: never retried).
    """

    status: str  # Succeeded | Failed
    properties: Mapping[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    execution_failure_reason: str | None = None
    branch: bool | None = None
    cache_hit: bool = False
    log_path: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error_type: str | None = None


@dataclass(frozen=True)
class RunResult:
    """How an execution ended."""

    status: str  # Succeeded | Failed
    failure_reason: str | None = None
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


Executor = Callable[[StepSpec, Scope, int], StepOutcome]
"""Runs attempt ``n`` (1-based) of a step, its arguments resolved in the given scope."""


@overload
def cap(text: str, limit: int) -> str: ...
@overload
def cap(text: None, limit: int) -> None: ...
def cap(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters (the last one an ellipsis when cut)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + _ELLIPSIS


def outcome_branch(properties: Mapping[str, Any]) -> bool | None:
    """A Condition's branch from its properties (``Outcome`` "True"/"False"; older records
    held a bool)."""
    outcome = properties.get("Outcome")
    if isinstance(outcome, bool):
        return outcome
    return None if outcome is None else str(outcome) == "True"


def run_plan(
    plan: PipelineGraph,
    scope: Scope,
    execute: Executor,
    on_step: StepListener,
    preset: Mapping[str, Mapping[str, Any]] | None = None,
    selected: frozenset[str] | None = None,
    stop_jobs: Callable[[], None] = lambda: None,
) -> RunResult:
    """Run every step its gates allow, as soon as its dependencies are met (see the module).

    ``preset`` steps are not run: their properties (and a Condition's ``Outcome``) come from
    an earlier run (a retry's succeeded steps, or a selective execution's source). With
    ``selected``, any other step does not run either (SelectiveExecutionConfig).
    ``plan.max_parallel_steps`` (None: no cap) limits the steps running at once.
    """
    walk = _Walk(plan, scope, execute, on_step, stop_jobs)
    for spec in plan.steps:
        if preset is not None and spec.name in preset:
            walk.finish(spec, StepOutcome("Succeeded", preset[spec.name]))
        elif selected is not None and spec.name not in selected:
            walk.skipped.add(spec.name)
    return walk.run()


class _Walk:
    """One execution's walk over its plan: what is done, running, skipped and failed."""

    def __init__(
        self,
        plan: PipelineGraph,
        scope: Scope,
        execute: Executor,
        on_step: StepListener,
        stop_jobs: Callable[[], None],
    ) -> None:
        self.plan, self.scope, self.execute = plan, scope, execute
        self.on_step, self.stop_jobs = on_step, stop_jobs
        self.properties: dict[str, Mapping[str, Any]] = dict(scope.steps)
        self.needs = {spec.name: upstream(spec) for spec in plan.steps}
        self.branches: dict[str, bool] = {}
        self.done: set[str] = set()
        self.skipped: set[str] = set()
        self.failures: list[tuple[str, StepOutcome]] = []
        self.lock = threading.Lock()  # one listener call at a time, none after a cancel
        self.cancelled = threading.Event()

    def run(self) -> RunResult:
        limit = self.plan.max_parallel_steps or len(self.plan.steps) or 1
        running: dict[Future[StepOutcome], StepSpec] = {}
        pool: ThreadPoolExecutor | None = None
        try:
            while True:
                ready = [] if self.failures else self._ready({s.name for s in running.values()})
                if not running and len(ready) == 1:
                    spec = ready[0]
                    self.finish(spec, self.attempts(spec))
                    continue
                for spec in ready[: max(0, limit - len(running))]:
                    pool = pool or _pool(limit)
                    running[pool.submit(self.attempts, spec)] = spec
                if not running:
                    break
                for future in _first_done(running):
                    self.finish(running.pop(future), future.result())
        except BaseException:
            self._cancel(running)
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=False)
        return self._result()

    def _ready(self, running: set[str]) -> list[StepSpec]:
        """Steps not started whose dependencies have all ended, in plan order; a step in an
        untaken branch, or downstream of a skipped step, is skipped (plan order is
        dependency order, so one pass decides every skip)."""
        ready = []
        for spec in self.plan.steps:
            if spec.name in self.done or spec.name in self.skipped or spec.name in running:
                continue
            needed = self.needs[spec.name]
            if needed & self.skipped or any(
                self.branches.get(g.condition, g.branch) is not g.branch for g in spec.gates
            ):
                self.skipped.add(spec.name)
            elif needed <= self.done:
                ready.append(spec)
        return ready

    def finish(self, spec: StepSpec, outcome: StepOutcome) -> None:
        """Take a step's outcome into the walk (its record was written by ``attempts``)."""
        self.done.add(spec.name)
        if outcome.status != "Succeeded":
            self.failures.append((spec.name, outcome))
            return
        with self.lock:  # worker threads copy the properties they resolve against
            self.properties[spec.name] = outcome.properties
        branch = outcome.branch
        if branch is None and spec.step_type == "Condition":
            branch = outcome_branch(outcome.properties)
        if branch is not None:
            self.branches[spec.name] = branch

    def attempts(self, spec: StepSpec) -> StepOutcome:
        """Run the step, retrying as its RetryPolicies allow; record each attempt."""
        first_start, policies = utc_now(), spec.retry_policies
        history: list[dict[str, Any]] = []
        retries: dict[int, int] = {}
        attempt = 1
        while True:
            started = utc_now()
            self._record(_executing(spec, first_start, attempt, history))
            outcome = self._one(spec, attempt)
            failed = outcome.status != "Succeeded"
            policy = policy_for(policies, outcome.error_type) if failed else None
            which = policies.index(policy) if policy is not None else -1
            if policy is None or not policy.allows(retries.get(which, 0), utc_now() - first_start):
                self._record(_ended(spec, outcome, first_start, attempt, history))
                return outcome
            retries[which] = retries.get(which, 0) + 1
            history.append(_attempt_entry(attempt, started, outcome))
            if self.cancelled.wait(policy.delay_before(retries[which])):
                return outcome
            attempt += 1

    def _one(self, spec: StepSpec, attempt: int) -> StepOutcome:
        scope = replace(self.scope, steps=self._visible_properties())
        try:
            return self.execute(spec, scope, attempt)
        except UnresolvedReference as err:
            return StepOutcome("Failed", failure_reason=str(err))
        except Exception as err:  # a handler bug must still end as a recorded failure
            return StepOutcome("Failed", failure_reason=f"{type(err).__name__}: {err}")

    def _visible_properties(self) -> dict[str, Mapping[str, Any]]:
        with self.lock:
            return dict(self.properties)

    def _record(self, record: StepRecord) -> None:
        with self.lock:
            if not self.cancelled.is_set():
                self.on_step(record)

    def _cancel(self, running: Mapping[Future[StepOutcome], StepSpec]) -> None:
        """Interrupted: stop the worker threads' jobs and wait for them to let go."""
        with self.lock:
            self.cancelled.set()
        pending = dict(running)
        while pending:
            self.stop_jobs()  # again for a job a thread started after the last call
            _first_done(pending, timeout=_STOP_POLL_S)
            pending = {f: s for f, s in pending.items() if not f.done()}

    def _result(self) -> RunResult:
        if not self.failures:
            return RunResult("Succeeded", None, self.properties)
        reasons = [
            outcome.execution_failure_reason or f"step {name} failed: {outcome.failure_reason}"
            for name, outcome in self.failures
        ]
        return RunResult("Failed", cap("; ".join(reasons), EXECUTION_REASON_MAX), self.properties)


def _pool(workers: int) -> ThreadPoolExecutor:
    """Worker threads for steps that run side by side (imported only when some do)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(workers, thread_name_prefix="step")


def _first_done(
    running: Mapping[Future[StepOutcome], StepSpec], timeout: float | None = None
) -> set[Future[StepOutcome]]:
    """The running steps' futures that are done once the first is (or ``timeout`` passed)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    return wait(running, timeout=timeout, return_when=FIRST_COMPLETED).done


def _executing(
    spec: StepSpec, started: datetime, attempt: int, history: list[dict[str, Any]]
) -> StepRecord:
    metadata = {"Attempts": list(history)} if history else {}
    return StepRecord(
        spec.name,
        spec.step_type,
        "Executing",
        started_at=started,
        attempt_count=attempt,
        metadata=metadata,
    )


def _ended(
    spec: StepSpec,
    outcome: StepOutcome,
    started: datetime,
    attempt: int,
    history: list[dict[str, Any]],
) -> StepRecord:
    metadata = {**outcome.metadata, **({"Attempts": list(history)} if history else {})}
    return StepRecord(
        spec.name,
        spec.step_type,
        outcome.status,
        started_at=started,
        ended_at=utc_now(),
        cache_hit=outcome.cache_hit,
        failure_reason=cap(outcome.failure_reason, STEP_REASON_MAX),
        log_path=outcome.log_path,
        metadata=metadata,
        attempt_count=attempt,
    )


def _attempt_entry(attempt: int, started: datetime, outcome: StepOutcome) -> dict[str, Any]:
    """An attempt that failed and was retried, as the step's record keeps it."""
    return {
        "AttemptCount": attempt,
        "StartTime": started.isoformat(),
        "EndTime": utc_now().isoformat(),
        "ExceptionType": outcome.error_type,
        "FailureReason": cap(outcome.failure_reason, STEP_REASON_MAX),
        "LogPath": outcome.log_path,
    }
