"""`asffbench bench [OVERRIDES] [--json] [--out FILE]`: params, FLOPs and speed of one model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list, print_json


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench_command(
        overrides: Optional[list[str]] = OverridesArg,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        out: Optional[Path] = typer.Option(
            None, "--out", help="Also append the result as a row to this .jsonl or .csv file."
        ),
    ) -> None:
        """Measure params (by part), FLOPs (fvcore, GMACs and GFLOPs) and FPS of one model."""
        from asffbench.bench import benchmark
        from asffbench.config.compose import compose_config

        cfg = compose_config(overrides_list(overrides))
        if out is not None:
            check_row_file(out)
        result = benchmark(cfg)
        result["fusion"] = cfg.fusion.name
        result["model"] = cfg.model.name
        if out is not None:
            append_row(out, result)
        if as_json:
            print_json(result)
        else:
            print_table(result)


def check_row_file(path: Path) -> None:
    from asffbench.errors import UserError

    if path.suffix not in (".jsonl", ".csv"):
        raise UserError(f"--out {path}: use a .jsonl or .csv file")
    if not path.parent.exists():
        raise UserError(f"--out {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise UserError(f"--out {path}: is a directory")


def flat_row(result: dict) -> dict:
    lat = result["latency_ms"]
    return {
        "fusion": result["fusion"], "model": result["model"], "img_size": result["img_size"],
        "batch_size": result["batch_size"], "device": result["device"],
        "device_name": result["device_name"], "precision": result["precision"],
        "fused": result["fused"], "params": result["params"], "gmacs": result["gmacs"],
        "gflops": result["gflops"], "forward_ms": lat["forward"]["mean"],
        "forward_ms_std": lat["forward"]["std"], "nms_ms": lat["nms"]["mean"],
        "nms_ms_std": lat["nms"]["std"], "fps": result["fps"], "torch": result["torch"],
    }


def append_row(path: Path, result: dict) -> None:
    """Append one row; a line is written whole with one write call so rows never interleave."""
    import csv
    import io

    if path.suffix == ".jsonl":
        line = json.dumps(result, default=str) + "\n"
    else:
        row = flat_row(result)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(row))
        if not path.exists() or path.stat().st_size == 0:
            writer.writeheader()
        writer.writerow(row)
        line = buffer.getvalue()
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
    except OSError as err:  # e.g. no write permission
        from asffbench.errors import UserError

        raise UserError(f"--out {path}: cannot append the row ({err.strerror or err})") from None


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    lat = result["latency_ms"]
    table = Table(title=f"asffbench bench: fusion={result['fusion']} model={result['model']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("params", f"{result['params']:,} ({result['params'] / 1e6:.2f} M)")
    for part, n in result["params_by_part"].items():
        table.add_row(f"  params: {part}", f"{n:,}")
    table.add_row(
        "FLOPs (fvcore, batch 1)",
        f"{result['gmacs']:.2f} GMACs = {result['gflops']:.2f} GFLOPs",
    )
    for part, g in result["gmacs_by_part"].items():
        table.add_row(f"  GMACs: {part}", f"{g:.3f}")
    table.add_row("forward", f"{lat['forward']['mean']:.2f} ± {lat['forward']['std']:.2f} ms")
    table.add_row("decode + NMS", f"{lat['nms']['mean']:.2f} ± {lat['nms']['std']:.2f} ms")
    table.add_row("FPS (forward + NMS)", f"{result['fps']:.1f}")
    p = result["protocol"]
    table.add_row(
        "protocol",
        f"{result['device']} ({result['device_name']}), {result['precision']}, "
        f"batch {result['batch_size']}, {result['img_size']} px, fused={result['fused']}, "
        f"warmup {p['warmup']}, {p['iters']} iters x {p['repeats']} repeats, synchronized",
    )
    table.add_row("uncounted ops", ", ".join(result["uncounted_ops"]) or "none")
    table.add_row("torch", result["torch"])
    Console().print(table)
