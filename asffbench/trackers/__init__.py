"""Experiment trackers (TensorBoard, MLflow, Weights & Biases) fed with the train log's events.

Every line `train_log.jsonl` gets (a step, an epoch's end, an evaluation during training) goes to
each tracker as written (`Tracker.log_line`), then the run's outcome (`Tracker.finish`: the final
metrics and the run's files). A tracker never changes what a run does: one that cannot start, or
fails later, is one warning line and is left out for the rest of the run (`base.TrackerSet`).
Torch-free; the optional packages (tensorboard, mlflow, wandb) are imported when a tracker starts.
"""
