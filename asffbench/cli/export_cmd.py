"""`asffbench export [RUN_DIR] [OVERRIDES] --out FILE [--graph raw|decode|nms] [--opset N] [--flops] [--json]`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import RunAndOverridesArg, print_json, run_and_overrides


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        items: Optional[list[str]] = RunAndOverridesArg,
        out: Path = typer.Option(Path("model.onnx"), "--out", "-o", help="The ONNX file to write."),
        graph: str = typer.Option("raw", "--graph", help="raw (per-level outputs), decode (boxes and "
                                  "scores) or nms (decode and class-wise NMS in the graph)."),
        opset: int = typer.Option(19, "--opset", help="ONNX opset version."),
        check_batch: int = typer.Option(2, "--check-batch", help="Batch of the eager-versus-ONNX "
                                        "Runtime check (the exported batch axis is dynamic)."),
        flops: bool = typer.Option(False, "--flops", help="Also count MACs by fvcore, thop and the ONNX graph."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Write a run's model, or the configured one, as ONNX and check it against eager PyTorch.

        The model is RUN_DIR's (its config and last.pt; or run_dir=DIR), else the one the overrides
        configure with its weights (eval.checkpoint, train.checkpoint, model.weights); ONNX Runtime
        runs it on a fixed input and the largest difference from eager PyTorch is printed.
        Needs asffbench[deploy].
        """
        from asffbench.exporting import export_model

        result = export_model(run_and_overrides(items), out, graph, opset, check_batch, flops)
        if as_json:
            print_json(result)
            return
        diff = result["difference"]
        typer.echo(f"wrote {out} (opset {opset}, graph {graph}, dynamic batch, {result['export_seconds']:.1f} s)")
        typer.echo(f"ONNX Runtime {result['runtime_version']} vs eager PyTorch, batch {check_batch}, "
                   f"{result['img_size']} px: largest difference {diff['max_abs']:.3g} "
                   f"({diff['max_rel']:.3g} of the largest value, output {diff['output']}) {diff['note']}".rstrip())
        for count in result.get("flops_by_counter", []):
            typer.echo(f"  {count['counter']:<11} {count['gmacs']:8.3f} GMACs ({count['unit']}) at "
                       f"{count['input']}; skips: {', '.join(count['skipped']) or 'nothing'}")
