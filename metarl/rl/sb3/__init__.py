"""stable-baselines3 PPO inside metarl: as the inner learner of Reptile, and as the ``sb3``
baseline of evaluation (the bridge of weights both ways is :mod:`metarl.agents.sb3`)."""
