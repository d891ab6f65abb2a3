"""What a model family expects as input pixels: RGB in 0..1 (uint8 / 255), then per channel
(x - mean) / std. A fact of the backbone's registry entry (`BackboneInfo.input_norm`), which the
test-time and training pipelines apply alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputNorm:
    """Per-channel (R, G, B) mean and std, in units of the 0..1 image."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def is_identity(self) -> bool:
        return self.mean == (0.0, 0.0, 0.0) and self.std == (1.0, 1.0, 1.0)


# The YOLOv3 reference's (and torchvision's ImageNet backbones'): what its weights were trained on.
IMAGENET_NORM = InputNorm("imagenet", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# ultralytics' YOLOv8: RGB / 255 and nothing else (its predictor and dataloader divide by 255).
UNIT_RANGE = InputNorm("rgb01", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
