"""Detections drawn on an image (matplotlib axes): predict's pictures and viz's panels."""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from torch import Tensor


def class_name(class_names: Optional[list[str]], label: int) -> str:
    """The name of class `label`, or the index as text when no name is known."""
    return class_names[label] if class_names and label < len(class_names) else str(label)


def draw_detections(ax: Axes, image: np.ndarray, detections: Mapping[str, Tensor],
                    class_names: Optional[list[str]], title: str) -> None:
    """`image` with each box (xyxy in its pixels) outlined and labelled with name and score."""
    ax.imshow(image)
    for box, score, label in zip(detections["boxes"].tolist(), detections["scores"].tolist(),
                                 detections["labels"].tolist()):
        x1, y1, x2, y2 = box
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="lime",
                               linewidth=1.5, clip_on=True))
        ax.text(x1, y1, f"{class_name(class_names, label)} {score:.2f}", color="black", fontsize=6,
                va="bottom", clip_on=True, bbox={"facecolor": "lime", "alpha": 0.7, "pad": 1, "linewidth": 0})
    ax.set_title(title, fontsize=8)
    ax.axis("off")
