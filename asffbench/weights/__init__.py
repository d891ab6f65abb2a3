"""Weights: which file a command uses (`resolve.py`, pure), the one reader and fit check
(`read.py`), loading whole models in either format and the configured source (`load.py`), ImageNet
backbones (`pretrained.py`), the reference implementation's tensor names (`reference_layout.py`)
and conversion to an asffbench checkpoint (`convert.py`). Import the module you need: this package
re-exports nothing, so `resolve.py` stays importable without torch."""
