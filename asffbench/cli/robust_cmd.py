"""`asffbench robust RUN [RUN_B]`: P, mPC and rPC under COCO-C corruptions (Pascal-C on VOC data);
with RUN_B, B - A of each with paired bootstrap intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import print_json


def register(app: typer.Typer) -> None:
    @app.command("robust")
    def robust_command(
        run: Path = typer.Argument(..., help="A run directory (evaluated with its own config and last.pt).",
                                   show_default=False),
        run_b: Optional[Path] = typer.Argument(None, help="A second run: B - A with paired bootstrap intervals.",
                                               show_default=False),
        corruptions: str = typer.Option(
            "benchmark", "--corruptions",
            help="benchmark (the 15 of COCO-C), all (19: with speckle_noise, gaussian_blur, spatter, saturate) "
                 "or a comma-separated list of names."),
        severities: str = typer.Option("1-5", "--severities", help="A range (1-5) or list (1,3,5) of severities."),
        bootstrap: int = typer.Option(1000, "--bootstrap", "-n", help="Bootstrap replicates (with RUN_B)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the resampling."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object (progress goes to stderr)."),
    ) -> None:
        """P, mPC and rPC of a run under COCO-C corruptions; with RUN_B, B - A with 95% intervals.

        Evaluates RUN (and RUN_B) under every corruption x severity, stored in <run>/robust/ (a
        stopped command continues where it stopped), then prints P (clean AP; mAP@0.5 on VOC
        data), mPC (mean over the cells), rPC = mPC / P and each corruption's mean AP.
        """
        from asffbench.corruptions import grid, parse_corruptions, parse_severities

        cells = grid(parse_corruptions(corruptions), parse_severities(severities))  # bad input before torch
        from asffbench.results.intervals.robustness import (comparison_lines, compare_robustness, read_robustness,
                                                  robustness_json, robustness_lines)
        from asffbench.runs.robust import robust_run

        say = (lambda line: typer.echo(line, err=True)) if as_json else typer.echo
        runs = [run] if run_b is None else [run, run_b]
        for run_dir in runs:
            robust_run(run_dir, cells, say)
        if run_b is None:
            result = read_robustness(run, cells)
            print_json(robustness_json(result)) if as_json else typer.echo("\n".join(robustness_lines(result)))
            return
        comparison = compare_robustness(run, run_b, cells, bootstrap, seed)
        if as_json:
            print_json(robustness_json(comparison.a, comparison))
        else:
            typer.echo("\n".join(comparison_lines(comparison)))
