"""Training pieces: the loss (`MuLanLoss`: global-batch InfoNCE or sigmoid, duplicate-aware, with optional
counterfactual text negatives), the step-decay schedule, and `trainer`'s building blocks of examples/train.py's
loop."""

from .losses import (
    MuLanLoss,
    TextNegatives,
    contrastive_loss,
    gather_with_grad,
    positive_mask,
    sigmoid_loss,
    string_id,
    text_ids,
)
from .schedules import step_decay_factor, step_decay_schedule

__all__ = [
    "MuLanLoss",
    "TextNegatives",
    "contrastive_loss",
    "gather_with_grad",
    "positive_mask",
    "sigmoid_loss",
    "step_decay_factor",
    "step_decay_schedule",
    "string_id",
    "text_ids",
]
