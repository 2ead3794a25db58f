"""metarl: meta-reinforcement learning with batched PPO and Reptile."""

__version__ = "0.1.0"
