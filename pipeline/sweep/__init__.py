"""Sweeps: one execution per point of a parameter grid, compared, and the best promoted.

Three rooms: ``plan`` (the grid, the checks before any point runs, the points already done),
``run`` (the run loop over the Target's verbs and its point_runs, the ranking, the
comparison, the promotion) and ``console`` (the live lines, the table, the --json document).
A local point's worker is the engine's. pipeline/commands/sweep.py puts them together for
``--sweep``; everything here talks to a target through pipeline.targets.base.Target only.
"""
