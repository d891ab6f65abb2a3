"""`evaluate(cfg, run_dir, model=None) -> metrics`: the config read (`settings.eval_settings`,
`data_settings`), the weights chosen (`resolve_weights(cfg, "eval")`), then
`engine.evaluate_model.evaluate_model`. With `eval.runtime=onnxruntime` the model is exported here and its
ONNX Runtime stand-in (`deploy.session.OrtDetector`, which answers like the eager model) is what
`evaluate_model` runs, so engine/ knows nothing of ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from omegaconf import open_dict
from torch import nn

from asffbench.bench.onnx_timing import torch_fields
from asffbench.corruptions import Corruption, cell_dir
from asffbench.deploy.optional import require
from asffbench.deploy.session import exported_model
from asffbench.data.corrupt_image import require_corruptions
from asffbench.device import resolve_device
from asffbench.engine.coco_eval import coco_backend
from asffbench.engine.distributed import process_rank
from asffbench.engine.evaluate_model import eval_dtype, evaluate_model
from asffbench.errors import UserError
from asffbench.settings import EvalSettings, data_settings, eval_settings
from asffbench.weights.load import build_with_weights
from asffbench.weights.resolve import EVAL, WeightsSource, resolve_weights, run_dir_of


def eval_run_dir(cfg: Any) -> Path:
    """Where detections.json and metrics.json go: run_dir, else the run directory of the weights
    evaluated (eval.checkpoint, model.weights) or, for a file outside one, its folder."""
    if cfg.run_dir:
        return Path(cfg.run_dir)
    source = resolve_weights(cfg, EVAL)
    if source is None:
        raise UserError("eval: nothing to evaluate; set run_dir=DIR (a train run), eval.checkpoint=FILE or "
                        "model.weights=FILE")
    return run_dir_of(source.path) or source.path.parent


def weights_to_evaluate(cfg: Any, run_dir: Path) -> WeightsSource:
    """`resolve_weights(cfg, "eval")`, with the run dir evaluated into standing for an unset
    `run_dir` (its checkpoints/last.pt is the last choice)."""
    if not cfg.run_dir:
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.run_dir = str(run_dir)
    source = resolve_weights(cfg, EVAL)
    assert source is not None  # run_dir is set
    return source


def evaluate(cfg: Any, run_dir: Path, model: Optional[nn.Module] = None,
             weights: Optional[WeightsSource] = None, device: Optional[torch.device] = None) -> dict:
    """The metrics of `engine.evaluate_model.evaluate_model` (see there). Without `model`, the weights are
    `resolve_weights(cfg, "eval")`'s (eval.checkpoint, model.weights, run_dir/checkpoints/last.pt);
    `weights` says where a given model's came from; `device` as the caller resolved it
    (`run_experiment`), else `device=` resolved here. Only rank 0 evaluates (others: {})."""
    if process_rank() != 0:
        return {}
    settings = eval_settings(cfg)
    device = device if device is not None else resolve_device(settings.device)
    coco_backend(settings.backend)  # a missing optional backend fails before the weights load
    eval_dtype(settings.precision, device)  # fp16 without CUDA fails before building
    check_eval_runtime(settings)
    data = data_settings(cfg)
    if data.corruption is not None:
        require_corruptions(f"eval.corruption={data.corruption.name}")  # before the weights load
    if model is None:
        weights = weights_to_evaluate(cfg, Path(run_dir))
        model = build_with_weights(cfg, weights)
    model, runtime = model_for_runtime(model, settings, data.img_size, device)
    return evaluate_model(settings, data, output_dir(run_dir, data.corruption), model, weights, runtime=runtime,
                          device=device)


def output_dir(run_dir: Path, corruption: Optional[Corruption]) -> Path:
    """The run dir for a clean evaluation; a corrupted one writes into its cell under robust/, so
    the run's own detections.json and metrics.json stay the clean ones."""
    return Path(run_dir) if corruption is None else cell_dir(Path(run_dir), corruption)


def check_eval_runtime(settings: EvalSettings) -> None:
    """Before the weights load: the deploy extra is installed, and no fp16 (the exported graph is fp32)."""
    if not settings.runtime.onnx:
        return
    for module in ("onnx", "onnxruntime"):
        require(module, settings.runtime.option)
    if settings.precision != "fp32":
        raise UserError(f"eval.precision={settings.precision}: an eager PyTorch setting; "
                        "eval.runtime=onnxruntime evaluates the exported fp32 graph")


def model_for_runtime(model: nn.Module, settings: EvalSettings, img_size: int,
                      device: torch.device) -> tuple[nn.Module, dict]:
    """What `evaluate_model` runs and the metrics' `runtime` fields: the eager model, or with
    `eval.runtime=onnxruntime` its export (at the val images' size, dynamic batch) in a session."""
    if not settings.runtime.onnx:
        return model, torch_fields(device)
    return exported_model(model.to(device).float(), img_size, settings.runtime)
