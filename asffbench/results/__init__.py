"""The results layer: run records -> a table of runs -> paper-style tables, figures and reports.

`collect` (records to a DataFrame), `tables` + `render` (paper-style tables in markdown, CSV,
LaTeX, rich), `reference` (the paper's published figures), `report` (report.md with figures).
This layer never imports torch, so it runs wherever the records are.
"""
