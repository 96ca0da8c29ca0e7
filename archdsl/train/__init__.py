"""Training harness: YAML recipes → config, device-side data pipeline, DDP-aware loop with
exact resume, evaluation (single view / 10-crop) and benchmarks.

Importing this package does not import torch; the submodules that need it do.
"""
from archdsl.train.errors import TrainError

__all__ = ["TrainError"]
