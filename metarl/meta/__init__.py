"""The outer loop of meta-learning: the inner-learner protocol, Reptile's and first-order MAML's
outer rules, outer optimizers, meta-learned parameter groups, multi-task pretraining's shared
state and the distributed exchange. It knows no environment, loss or PPO."""
