"""Run directories: their layout, checkpoints, the metrics log, checkpoint selection and the
progress bar of training."""
