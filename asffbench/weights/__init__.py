"""Weight files of whole models: asffbench checkpoints and the reference implementation's state
dicts (`model.weights`), their name mapping, and conversion to an asffbench checkpoint."""

from asffbench.weights.load import FORMATS, LoadedWeights, load_weights
from asffbench.weights.reference_layout import NoReferenceLayout, backbone_reference_names, reference_names

__all__ = [
    "FORMATS",
    "LoadedWeights",
    "NoReferenceLayout",
    "backbone_reference_names",
    "load_weights",
    "reference_names",
]
