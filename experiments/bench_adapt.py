"""Adaptation speed: batched PPO on 20 Navigation2D tasks against stable-baselines3 PPO per task.

Both adapt 20 held-out tasks for 3 PPO iterations of 20 episodes x 100 steps (20 envs x 100 steps),
10 epochs of 4 minibatches, in the same run. Ours adapts all tasks in one batch; SB3 loops over the
tasks, one ``PPO`` with a ``DummyVecEnv`` of 20 ``metarl/Navigation2D-v0`` envs per task. Also
reports the rollout's env steps per second against a bare loop that only runs the batched policy
forward (and samples) on the same shapes: how close the rollout is to the floor the network sets.

Usage: ``python experiments/bench_adapt.py [--tasks 20] [--iterations 3] [--device cpu]
[--epochs 10] [--minibatches 4] [--threads 1] [--activation tanh|relu]
[--skip-sb3]``
"""

from __future__ import annotations

import argparse
import time

import torch

import metarl.envs  # noqa: F401  (registers the metarl/ ids)
from metarl.agents import param_tree
from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, PPOConfig
from metarl.agents.rollout import collect
from metarl.envs import AutoResetEnv, Navigation2D
from metarl.machine import describe_machine, use_threads

DEFAULT = PPOConfig(num_envs=20, num_steps=100, learning_rate=3e-4, num_epochs=10,
                   num_minibatches=4, gamma=0.99, gae_lambda=0.95, clip_coef=0.2,
                   max_grad_norm=0.5)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ours(family: Navigation2D, policy: ActorCritic, tasks, iterations: int,
              device: torch.device, config: PPOConfig) -> float:
    theta = policy.init(torch.Generator().manual_seed(0), device=device)
    ppo = PPO(family, policy, config)
    gen = torch.Generator(device=device).manual_seed(0)
    ppo.adapt(theta, tasks, 1, gen)  # warm-up
    sync(device)
    start = time.perf_counter()
    ppo.adapt(theta, tasks, iterations, gen)
    sync(device)
    return time.perf_counter() - start


def time_sb3(tasks, iterations: int, activation: str, config: PPOConfig) -> float:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env

    batch = config.num_envs * config.num_steps
    start = time.perf_counter()
    for task in tasks.to_list():
        env = make_vec_env("metarl/Navigation2D-v0", n_envs=config.num_envs, seed=0,
                           env_kwargs={"goal": task["goal"]})
        model = SB3PPO("MlpPolicy", env, n_steps=config.num_steps,
                       batch_size=batch // config.num_minibatches, n_epochs=config.num_epochs,
                       learning_rate=config.learning_rate, gamma=config.gamma,
                       gae_lambda=config.gae_lambda, clip_range=config.clip_coef,
                       max_grad_norm=config.max_grad_norm, device="cpu", seed=0,
                       policy_kwargs={"activation_fn": {"tanh": torch.nn.Tanh,
                                                        "relu": torch.nn.ReLU}[activation]})
        model.learn(total_timesteps=iterations * batch)
    return time.perf_counter() - start


def rollout_rates(family: Navigation2D, policy: ActorCritic, tasks, device: torch.device,
                  config: PPOConfig, repeats: int = 5) -> tuple[float, float]:
    """Env steps per second of ``collect`` and of a bare policy-forward loop, same shapes."""
    params = param_tree.stack(policy.init(torch.Generator().manual_seed(0), device=device),
                              tasks.num_tasks)
    gen = torch.Generator(device=device).manual_seed(0)
    env = AutoResetEnv(family, tasks, config.num_envs, gen)
    steps = tasks.num_tasks * config.num_envs * config.num_steps
    obs = env.reset()
    collect(policy, params, env, obs, config.num_steps, gen)  # warm-up
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        obs = env.reset()
        collect(policy, params, env, obs, config.num_steps, gen)
    sync(device)
    rollout = repeats * steps / (time.perf_counter() - start)
    obs = env.reset()
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(repeats * config.num_steps):
            policy.sample(params, obs, gen)
    sync(device)
    bare = repeats * steps / (time.perf_counter() - start)
    return rollout, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-sb3", action="store_true", help="only time ours")
    parser.add_argument("--epochs", type=int, default=DEFAULT.num_epochs)
    parser.add_argument("--minibatches", type=int, default=DEFAULT.num_minibatches)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for both (run.threads; 0: torch's default)")
    parser.add_argument("--activation", choices=["tanh", "relu"], default="tanh",
                        help="hidden activation of both contenders")
    args = parser.parse_args()
    use_threads(args.threads)
    device = torch.device(args.device)
    config = DEFAULT.replace(num_epochs=args.epochs, num_minibatches=args.minibatches)
    family = Navigation2D()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                    activation=args.activation)
    tasks = family.tasks.sample(args.tasks, split="test", device=device)
    print(f"machine: {describe_machine(device)}, device {device}")
    print(f"adapt {args.tasks} Navigation2D tasks x {args.iterations} PPO iterations of "
          f"{config.num_envs} episodes x {config.num_steps} steps, {config.num_epochs} epochs x "
          f"{config.num_minibatches} minibatches, 64-64 {args.activation} MLPs")
    ours = time_ours(family, policy, tasks, args.iterations, device, config)
    print(f"  metarl batched PPO: {ours:8.2f} s")
    if not args.skip_sb3:
        sb3 = time_sb3(tasks.to("cpu"), args.iterations, args.activation, config)
        print(f"  SB3 PPO, per task:  {sb3:8.2f} s")
        print(f"  speed-up: {sb3 / ours:.1f}x")
    rollout, bare = rollout_rates(family, policy, tasks, device, config)
    print(f"rollout: {rollout / 1e6:.2f} M env steps/s; bare policy forward on the same shapes: "
          f"{bare / 1e6:.2f} M steps/s; rollout at {rollout / bare:.0%} of that floor")


if __name__ == "__main__":
    main()
