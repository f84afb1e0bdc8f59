"""The hosts of one job (InstanceCount > 1) as processes, named and configured as on SageMaker.

Each host is a process with its own /opt/ml: the job's folder itself for one host (the
layout of every single-instance job), ``<job folder>/algo-N`` for each of several. Each gets
the ``resourceconfig.json`` and ``SM_HOSTS``/``SM_CURRENT_HOST`` its SageMaker instance
would, and (with namespaces) its own hostname, reached by the others at 127.0.0.(N+1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Host:
    """One host of a job: its SageMaker name and the folder shown to it as /opt/ml."""

    name: str
    root: Path


def job_hosts(job_dir: Path, count: int) -> list[Host]:
    """The hosts of a job with ``count`` instances, in SageMaker's order (algo-1 first)."""
    if count <= 1:
        return [Host("algo-1", job_dir)]
    return [Host(f"algo-{n}", job_dir / f"algo-{n}") for n in range(1, count + 1)]


def instance_count(resources: Any) -> int:
    """InstanceCount of a ResourceConfig or ClusterConfig (1 when absent or not a number)."""
    value = (resources or {}).get("InstanceCount", 1)
    return value if isinstance(value, int) and value > 0 else 1


def resource_config(host: Host, hosts: Sequence[Host], training: bool) -> dict[str, Any]:
    """/opt/ml/(input/)config/resourceconfig.json as this host sees it."""
    config: dict[str, Any] = {"current_host": host.name, "hosts": [h.name for h in hosts]}
    if training:
        config["network_interface_name"] = "eth0"
    return config


def shard(items: Sequence[T], host: Host, hosts: Sequence[Host], distribution: Any) -> list[T]:
    """The objects of an input this host gets: all (``FullyReplicated``, the default) or,
    with ``ShardedByS3Key``, every n-th in key order (SageMaker: "an equal number of input
    files to each instance")."""
    if distribution != "ShardedByS3Key" or len(hosts) == 1:
        return list(items)
    index = [h.name for h in hosts].index(host.name)
    return list(items[index :: len(hosts)])


def host_addresses(hosts: Sequence[Host]) -> dict[str, str]:
    """Loopback addresses for the hosts of one job: algo-1 -> 127.0.0.2, algo-2 ->
    127.0.0.3 ... (each host may bind its own address, as on separate instances; all are on
    ``lo``, the host's or the job's own under network isolation)."""
    return {host.name: f"127.0.0.{n + 2}" for n, host in enumerate(hosts)}
