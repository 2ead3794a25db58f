"""Shared test settings: small thread count so the suite behaves the same on any CPU."""

import torch

torch.set_num_threads(1)
