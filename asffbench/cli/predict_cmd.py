"""`asffbench predict IMAGES... [OVERRIDES] [--out DIR] [--json] [--score-thresh F]`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import print_json


def register(app: typer.Typer) -> None:
    @app.command("predict")
    def predict_command(
        items: list[str] = typer.Argument(
            ..., help="Image files or folders, a run directory (a folder with config.yaml: the model) and "
            "Hydra overrides (key=value): model.weights=FILE, run_dir=DIR or eval.checkpoint=FILE, fusion=..., "
            "model.anchors=...", show_default=False,
        ),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write each image with its "
                                           "detections drawn as a PNG into this folder."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object: "
                                     '{"images": [{"file", "width", "height", "detections": [...]}]}.'),
        score_thresh: Optional[float] = typer.Option(
            None, "--score-thresh", help="Keep detections above this score (default: eval.predict_score_thresh, 0.3)."),
    ) -> None:
        """Detect objects in images with the test-time pipeline of `eval`; boxes in image pixels."""
        from asffbench.predict import predict, split_items

        images, overrides = split_items(items)
        result, written = predict(images, overrides, out, score_thresh)
        if as_json:
            print_json(result)
            return
        for record in result["images"]:
            typer.echo(f"{record['file']} ({record['width']}x{record['height']}): "
                       f"{len(record['detections'])} detections")
            for det in record["detections"]:
                box = ", ".join(f"{v:.1f}" for v in det["box_xyxy"])
                typer.echo(f"  {det['name']:<16} {det['score']:.3f}  [{box}]")
        for path in written:
            typer.echo(f"wrote {path}")
