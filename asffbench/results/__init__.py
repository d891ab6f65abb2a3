"""The results layer: run records -> a table of runs -> paper-style tables, figures and reports.

Rooms, each importing only the ones before it: `reading` (records and run directories),
`tables` (paper-style tables and their renderings), `intervals` (bootstrap and significance),
`error_analysis` (TIDE's error types), `report` (report.md and its sections). On top, the command
modules `compare` and `analyze`, which no section imports. This layer never imports torch, so it
runs wherever the records are.
"""
