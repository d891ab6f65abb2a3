"""Deployment: ONNX export of a detector, ONNX Runtime sessions, FLOPs by counter.

onnx and onnxruntime are an optional extra (`pip install 'asffbench[deploy]'`); every module
here imports them lazily, so `asffbench` without the extra imports and runs everything else.
"""
