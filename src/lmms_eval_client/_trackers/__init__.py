"""Sinks: a run's metrics written to experiment trackers (MLflow, TensorBoard, W&B, or a
function), each completed job once, at its training step. Each tracker is an extra of the
package, imported when its sink is made."""
