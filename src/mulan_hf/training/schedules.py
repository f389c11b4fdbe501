"""The paper's learning-rate schedule: step decay (x0.9 every K steps, K = 40k in the paper) after a linear warm-up."""

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def step_decay_factor(step: int, warmup_steps: int = 0, decay_every: int = 40_000, decay: float = 0.9) -> float:
    """Multiplier of the initial learning rate at `step` (0-based)."""
    if decay_every <= 0:
        raise ValueError(f"decay_every must be positive, got {decay_every}.")
    if not 0 < decay <= 1:
        raise ValueError(f"decay must lie in (0, 1], got {decay}.")
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    return warm * decay ** (step // decay_every)


def step_decay_schedule(
    optimizer: Optimizer, warmup_steps: int = 0, decay_every: int = 40_000, decay: float = 0.9
) -> LambdaLR:
    """A `LambdaLR` with `step_decay_factor`; its state is saved and restored with the optimiser's (accelerate's
    `save_state` / `load_state`)."""
    step_decay_factor(0, warmup_steps, decay_every, decay)  # validate the arguments now
    return LambdaLR(optimizer, lambda step: step_decay_factor(step, warmup_steps, decay_every, decay))
