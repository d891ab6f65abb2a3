"""`convert_weights(cfg, source, out)`: any weights file the configured model takes, written as an
asffbench checkpoint (`{"model": state_dict, ...}`, what `checkpoints/last.pt` holds), so that a
converted reference checkpoint can be shared and loaded without the name mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from asffbench.build import build_model
from asffbench.config.compose import to_plain
from asffbench.engine.checkpoint import save_checkpoint
from asffbench.errors import UserError
from asffbench.weights.load import load_weights

# The config sections that define the model, stored beside the weights for whoever loads them.
MODEL_SECTIONS = ("model", "fusion", "tricks")


def convert_weights(cfg: DictConfig, source: Path, out: Path) -> dict[str, Any]:
    """Load `source` into the configured model and save it to `out`; returns a summary."""
    source, out = Path(source), Path(out)
    if out.is_dir():
        raise UserError(f"--out {out}: is a directory; give the checkpoint file to write")
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise UserError(f"--out {out}: is the source file; write the converted checkpoint elsewhere")
    model = build_model(cfg)
    loaded = load_weights(model, source, cfg.model.get("weights_format", "auto"), option=None)
    plain = to_plain(cfg)
    state = {
        "model": model.state_dict(),
        "converted_from": {"path": str(source), "format": loaded.format},
        "config": {section: plain[section] for section in MODEL_SECTIONS},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(state, out)
    return {"out": str(out), "source": str(source), "source_format": loaded.format, "tensors": loaded.tensors}
