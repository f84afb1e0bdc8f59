"""The bottom layer: what every other room imports and nothing here imports from them.

Errors for people, SageMaker's name rules, the status enum, the records a target returns,
the one ranking rule and the one execution-reference parser. The engine (pipeline/local/),
the targets, the report, the sweep and the front all stand on it; it stands on the
standard library alone.
"""
