"""`asffbench bench [OVERRIDES] [--json] [--out FILE]`: params, FLOPs and speed of one model."""

from __future__ import annotations

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
            None, "--out", help="Also append the result as a row to this .jsonl or .csv file "
            "(a CSV whose header differs is refused)."
        ),
        mode: Optional[str] = typer.Option(
            None, "--mode", help="infer (default) or train: the same as bench.mode=..."
        ),
    ) -> None:
        """Measure params, FLOPs and FPS of one model, or (--mode train) a training step's speed.

        Params by part, FLOPs by fvcore (GMACs and GFLOPs), latency and FPS of inference; with
        --mode train, the time of a full training step phase by phase.
        """
        from asffbench.config.compose import compose_config
        from asffbench.config.schema import choice_str

        extra = [f"bench.mode={mode}"] if mode is not None else []
        cfg = compose_config(overrides_list(overrides) + extra)  # a config error before torch loads
        from asffbench.bench.rows import append_row, check_row_file
        from asffbench.runs.benchmark import benchmark

        if out is not None:
            check_row_file(out, choice_str(cfg.bench.mode))
        result = benchmark(cfg)
        if out is not None:
            append_row(out, result)
        if as_json:
            print_json(result)
        elif result["mode"] == "train":
            print_train_table(result)
        else:
            print_table(result)


def latency_text(summary: dict) -> str:
    return (f"{summary['mean']:.2f} ± {summary['std']:.2f} ms "
            f"(median {summary['median']:.2f}, p90 {summary['p90']:.2f})")


def runtime_text(runtime: dict) -> str:
    if runtime["runtime"] == "torch":
        return f"eager PyTorch {runtime['runtime_version']} ({runtime['threads']} threads)"
    threads = runtime["threads"] or "default"
    return (f"ONNX Runtime {runtime['runtime_version']}, {runtime['execution_provider']}, graph optimisation "
            f"{runtime['graph_optimization']}, {threads} threads, opset {runtime['opset']}")


def batch_text(result: dict) -> str:
    halvings = result["protocol"]["oom_fallbacks"]
    return (f"batch {result['batch_size']} (from {result['protocol']['batch_size_from']})"
            + (f" (halved {halvings}x on out-of-memory)" if halvings else ""))


def memory_text(memory: dict) -> str:
    if "allocated_mib" in memory:
        return f"{memory['allocated_mib']:.0f} MiB allocated, {memory['reserved_mib']:.0f} MiB reserved (peak)"
    return f"+{memory['rss_growth_mib']:.0f} MiB peak resident set"


def add_run_rows(table, result: dict, switches: tuple[str, ...]) -> None:
    """The rows both modes share: the deformable conv timed and the protocol with `switches`."""
    p = result["protocol"]
    table.add_row("deformable conv", result["deform_conv"] or "none (no guided anchoring)")
    table.add_row(
        "protocol",
        f"{result['device']} ({result['device_name']}), {result['precision']}, {batch_text(result)}, "
        f"{result['img_size']} px, " + "".join(f"{key}={result[key]}, " for key in switches)
        + f"warmup {p['warmup']}, {p['iters']} iters x {p['repeats']} repeats, synchronized",
    )


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
    table.add_row("runtime", runtime_text(result["runtime"]))
    table.add_row("forward", latency_text(lat["forward"]))
    table.add_row("decode + NMS", latency_text(lat["nms"]))
    table.add_row("FPS (forward + NMS)", f"{result['fps']:.1f} (at the median: {result['fps_median']:.1f})")
    table.add_row("outliers (> 3 IQR above median)", f"{lat['total']['outlier_share']:.0%} of iterations")
    table.add_row("input", f"{result['input']['description']}; "
                  f"{result['input']['nms_candidates_per_image']:.0f} boxes per image enter NMS")
    table.add_row("peak memory (timed phase)", memory_text(result["memory"]))
    add_run_rows(table, result, ("fused", "channels_last", "compile", "cudnn_benchmark"))
    table.add_row("uncounted ops", ", ".join(result["uncounted_ops"]) or "none")
    table.add_row("torch", result["torch"])
    Console().print(table)


def print_train_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"asffbench bench --mode train: fusion={result['fusion']} model={result['model']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("training step", latency_text(result["step_ms"]))
    for phase, summary in result["phases_ms"].items():
        table.add_row(f"  {phase}", latency_text(summary))
    table.add_row("images/s (training step)", f"{result['images_per_s']:.2f}")
    table.add_row("images/s (loader alone)", f"{result['loader']['images_per_s']:.2f} "
                  f"({result['loader']['workers']} workers)")
    table.add_row("peak memory (timed steps)", memory_text(result["memory"]))
    add_run_rows(table, result, ("channels_last", "compile"))
    table.add_row("torch", result["torch"])
    Console().print(table)
