"""Training pieces: global-batch contrastive losses (duplicate-aware; InfoNCE or sigmoid) and the step-decay
schedule. The training loop itself (examples/train.py with accelerate) is the next piece of work."""

from .losses import (
    contrastive_loss,
    gather_with_grad,
    positive_mask,
    sigmoid_loss,
    string_id,
    text_ids,
)
from .schedules import step_decay_factor, step_decay_schedule

__all__ = [
    "contrastive_loss",
    "gather_with_grad",
    "positive_mask",
    "sigmoid_loss",
    "step_decay_factor",
    "step_decay_schedule",
    "string_id",
    "text_ids",
]
