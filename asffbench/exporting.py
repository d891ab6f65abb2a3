"""`asffbench export`'s steps: the config (a run's own), build the model with its weights, export,
check against eager PyTorch in ONNX Runtime, and (asked) count MACs by counter."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch
from omegaconf import DictConfig

from asffbench.config.compose import compose_config
from asffbench.deploy.export import OPSET, compare_with_eager, export_onnx, fixed_input
from asffbench.bench.flops_by_counter import count_by_counter
from asffbench.deploy.session import open_session, session_fields
from asffbench.settings import RuntimeSettings, data_settings, postprocess_settings
from asffbench.weights.load import build_with_weights
from asffbench.model_source import resolve_source
from asffbench.weights.resolve import BENCH, WeightsSource, resolve_weights


def nms_settings(cfg) -> dict:
    """The in-graph NMS settings: the evaluation's, as the eager post-processing uses them."""
    settings = postprocess_settings(cfg)
    return {"score_thresh": settings.score_thresh, "nms_iou": settings.nms_iou, "multi_label": settings.multi_label,
            "pre_nms_topk": settings.pre_nms_topk}


def model_to_export(overrides: Sequence[str]) -> tuple[DictConfig, Optional[WeightsSource]]:
    """A run's model (`run_dir=R`: its config.yaml and last.pt, as predict takes it), else the
    configured model with the weights bench would time (None: as initialised)."""
    cfg = compose_config(list(overrides))
    if cfg.run_dir:
        source = resolve_source(overrides)
        return source.cfg, source.weights
    return cfg, resolve_weights(cfg, BENCH)


def export_model(overrides: Sequence[str], out: Path, graph: str = "raw", opset: int = OPSET,
                 check_batch: int = 2, flops: bool = False) -> dict:
    cfg, weights = model_to_export(overrides)
    torch.manual_seed(int(cfg.seed))  # what the weights do not set is drawn alike every time
    model = build_with_weights(cfg, weights).eval()
    img_size = int(cfg.img_size)
    nms = nms_settings(cfg) if graph == "nms" else {}
    input_norm = data_settings(cfg).input_norm
    exported = export_onnx(model, img_size, graph, opset, input_norm=input_norm, **nms)
    exported.write(out)
    settings = RuntimeSettings(runtime="onnxruntime", option="export")
    session = open_session(exported.onnx_bytes, settings)
    difference = compare_with_eager(model, exported, session, fixed_input(check_batch, img_size), **nms)
    result = {"path": str(out), "graph": graph, "opset": opset, "img_size": img_size,
              "fusion": str(cfg.fusion.name), "model": str(cfg.model.name), "input_norm": input_norm.name,
              "outputs": exported.outputs, "export_seconds": exported.seconds,
              **session_fields(session, settings), "difference": vars(difference)}
    if flops:
        raw = exported if graph == "raw" else export_onnx(model, img_size, "raw", opset)
        result["flops_by_counter"] = [c.as_dict() for c in count_by_counter(model, img_size, raw.onnx_bytes)]
    return result
