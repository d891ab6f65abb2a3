"""Weights: which file a command uses (`resolve.py`, pure), the one reader and fit check
(`read.py`), loading whole models in either format and the configured source (`load.py`), ImageNet
backbones (`pretrained.py`), the reference implementation's tensor names (`reference_layout.py`),
ultralytics' checkpoints read without running them (`ultralytics_pickle.py`,
`ultralytics_checkpoint.py`) and what a weights file is (`formats.py`). Conversion to an asffbench
checkpoint (`asffbench/convert.py`) sits above `engine/`, which reads weights through this
package. Import the module you need: this package re-exports nothing, so `resolve.py` stays
importable without torch."""
