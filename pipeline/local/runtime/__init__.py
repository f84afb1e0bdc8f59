"""The job runtime: what a local job sees of this machine, as a SageMaker job sees its container.

namespace.py (with _linux.py, pidns.py, network.py): a job's own mount, PID, UTS, IPC and
network namespaces; limits.py: StoppingCondition; hosts.py: InstanceCount; layers.py:
requirements.txt; images.py: what an image URI says; mode.py: how a run starts its jobs and
what its summary says about them; serving.py: the endpoint's model server. docs/isolation.md
says what holds with namespaces and what the fallback gives up.

Nothing is imported here: the warm host imports namespace.py alone, standard library only.
"""
