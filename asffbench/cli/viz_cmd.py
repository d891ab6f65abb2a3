"""`asffbench viz CHECKPOINT_OR_RUN`: per-level detections beside the ASFF weight maps (Figure 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list


def register(app: typer.Typer) -> None:
    @app.command("viz")
    def viz_command(
        target: Path = typer.Argument(
            ..., help="A run directory (config.yaml + checkpoints/last.pt) or a checkpoint file.",
            show_default=False,
        ),
        overrides: Optional[list[str]] = OverridesArg,
        images: Optional[list[Path]] = typer.Option(
            None, "--images", "-i", help="Image files or folders (repeatable); default: the first "
            "images of the configured val split.",
        ),
        out: Optional[Path] = typer.Option(
            None, "--out", "-o", help="Output folder (default: <run dir>/viz, or ./viz for a checkpoint)."
        ),
        score_thresh: Optional[float] = typer.Option(
            None, "--score-thresh",
            help="Detections drawn above this score (default: eval.predict_score_thresh, 0.3)."),
        max_images: int = typer.Option(4, "--max-images", min=1, help="At most this many images."),
    ) -> None:
        """Draw each level's detections beside its ASFF fusion weights (alpha, beta, gamma)."""
        from asffbench.viz import visualize

        written = visualize(target, images or (), out, overrides_list(overrides), score_thresh, max_images)
        for path in written:
            typer.echo(str(path))
