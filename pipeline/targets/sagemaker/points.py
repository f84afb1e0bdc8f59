"""How SageMaker runs a started sweep point: itself. There is nothing of ours to launch or
wait for; the service's status alone says when a point has ended."""

from __future__ import annotations


class ServiceRun:
    """One point StartPipelineExecution started: no process of ours runs it."""

    def exited(self) -> bool | None:
        """None: there is no process of ours; the service's status alone says when."""
        return None

    def wait(self) -> None:
        """Nothing to wait for here (the sweep follows the service's status)."""


class ServiceRuns:
    """The PointRuns of the service: nothing to launch."""

    def launch(self, execution_arn: str) -> ServiceRun:
        """Nothing to do: StartPipelineExecution already started it."""
        return ServiceRun()
