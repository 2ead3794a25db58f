"""Meta-RL problems: the batched PPO learner, multi-task pretraining, the oracle, evaluation by
returns after k updates, and stable-baselines3 inside metarl (:mod:`metarl.rl.sb3`)."""
