"""The pipelines of one store: upsert a definition as a new version, read one back, parse it.

One command parses a definition and reads a pipeline record once (``--upsert --start`` used
to parse it three times and read the record four), so both are kept here for the command's
life. A definition the engine could not run (a cycle, a step type no handler knows — every
such step named —, a property reference no Describe* response has) is refused at upsert, in
one error for people. The pipeline's ParallelismConfiguration is kept with its version, as
CreatePipeline/UpdatePipeline keep it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.core.names import local_arn, utc_now
from pipeline.core.records import PipelineDefinition, UpsertResult
from pipeline.local.describe import reference_problems
from pipeline.local.execution import unsupported_steps
from pipeline.local.graph import DefinitionError, PipelineGraph, parse_definition
from pipeline.local.handlers import HANDLERS
from pipeline.local.store.objects import ObjectStore, StoreError
from pipeline.local.store.records import Records
from pipeline.local.store.schema import definition_problem


class StoredPipelines:
    """Pipeline versions of one store, each read and parsed at most once per command."""

    def __init__(self, records: Records, objects: ObjectStore, region: str) -> None:
        self.records, self.objects, self.region = records, objects, region
        self._graphs: dict[str, PipelineGraph] = {}
        self._versions: dict[tuple[str, int | None], dict[str, Any]] = {}

    def arn(self, pipeline_name: str) -> str:
        """The ARN SageMaker would give the pipeline (names are lower-cased in ARNs)."""
        return local_arn(self.region, "pipeline", pipeline_name)

    def upsert(self, pipeline: PipelineDefinition, role_arn: str | None) -> UpsertResult:
        """Check the definition, store its artifacts, then keep it as the newest version.

        An unchanged pipeline (same definition, description and role as the newest version)
        stores nothing; artifacts already held with the same bytes are left as they are.
        """
        graph = self.graph(pipeline.definition, pipeline.name)
        problems = reference_problems(graph)
        if problems:
            raise ConfigError(
                f"pipeline {pipeline.name}: {'; '.join(problems)}; fix the pipeline and "
                "--upsert it again"
            )
        try:
            for uri, data in sorted(pipeline.artifacts.items()):
                self.objects.put(uri, data)
        except StoreError as err:
            raise ConfigError(f"cannot store pipeline artifact: {err}") from None
        record: dict[str, Any] = {
            "PipelineName": pipeline.name,
            "PipelineDescription": pipeline.description,
            "PipelineDefinition": pipeline.definition,
            "RoleArn": role_arn,
            "CreationTime": utc_now().isoformat(),
        }
        if pipeline.max_parallel_steps is not None:
            record["ParallelismConfiguration"] = {
                "MaxParallelExecutionSteps": pipeline.max_parallel_steps
            }
        version, changed = self.records.add_pipeline_version(pipeline.name, record)
        if changed:  # what is now the newest version, known without reading it back
            stored = {**record, "Version": version}
            self._versions[(pipeline.name, None)] = self._versions[(pipeline.name, version)] = (
                stored
            )
        return UpsertResult(self.arn(pipeline.name), changed, version)

    def version(self, name: str, version: int | None = None) -> dict[str, Any]:
        """A stored pipeline version (the newest by default); PipelineNotFoundError if none."""
        key = (name, version)
        if key not in self._versions:
            record = self.records.pipeline(name, version)
            self._versions[key] = self._versions[(name, record["Version"])] = record
        return self._versions[key]

    def graph_of(self, name: str, version: int | None = None) -> PipelineGraph:
        """The parsed definition of a stored version (the newest by default), with the
        version's ParallelismConfiguration."""
        record = self.version(name, version)
        graph = self.graph(record["PipelineDefinition"], name)
        limit = (record.get("ParallelismConfiguration") or {}).get("MaxParallelExecutionSteps")
        return graph if limit is None else replace(graph, max_parallel_steps=int(limit))

    def graph(self, definition: str, pipeline_name: str) -> PipelineGraph:
        """The checked graph of a definition, parsed once per command."""
        if definition not in self._graphs:
            self._graphs[definition] = checked_graph(definition, pipeline_name)
        return self._graphs[definition]

    def parameters(self, name: str) -> list[dict[str, Any]]:
        """The newest stored definition's Parameters."""
        return [dict(p) for p in self.graph_of(name).parameters]


def checked_graph(definition: str, pipeline_name: str) -> PipelineGraph:
    """Parse and check a definition, as one clear error for people.

    Its size, nesting and shape are checked first (pipeline.local.store.schema): a
    definition read back from the store passes the same check as one being upserted.
    """
    problem = definition_problem(definition)
    if problem is not None:
        raise ConfigError(f"pipeline {pipeline_name}: the definition {problem}")
    try:
        graph = parse_definition(definition)
    except DefinitionError as err:
        raise ConfigError(f"pipeline {pipeline_name}: {err}") from None
    unknown = unsupported_steps(graph)
    if unknown:
        listed = ", ".join(f"{s.name} ({s.step_type})" for s in unknown)
        raise ConfigError(
            f"pipeline {pipeline_name}: the local engine cannot run {len(unknown)} "
            f"step{'s' if len(unknown) > 1 else ''}: {listed}; the step types it runs are "
            f"{', '.join(HANDLERS)}"
        )
    return graph
