"""Run directories: their layout, checkpoints, the metrics log, checkpoint selection, the progress
bar of training, and a trained policy out of a run (``export``: ``load_policy``, ``to_sb3``)."""
