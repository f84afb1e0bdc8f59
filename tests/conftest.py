"""Suite-wide defaults: jobs start as plain subprocesses unless a test asks for the warm host.

A warm host outlives the run that started it (by design, for the next run); a suite that
runs the CLI on hundreds of throwaway stores must not leave one host per store behind.
The warm path has its own tests (tests/pipeline/local/warm/) and end-to-end runs, which set
MOONPIPE_JOB_START=warm and stop their host.
"""

from __future__ import annotations

import os

os.environ.setdefault("MOONPIPE_JOB_START", "subprocess")
