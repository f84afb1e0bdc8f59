"""Execution reports: a report model built from records, plots, a graph layout, one HTML file.

Nothing here is imported by ``--start`` unless a report is written: matplotlib, Jinja2 and
(in a subprocess) torch load only then.
"""
