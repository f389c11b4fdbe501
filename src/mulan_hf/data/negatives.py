"""Counterfactual text negatives (NegCLIP-style hard negatives): a caption with its mode or tempo words turned into
their opposites ("a slow piece in a minor key" → "a slow piece in a major key").

In a batch of 16 the other captions nearly always differ in instruments or style, so nothing in the plain
contrastive loss asks the model to hear whether a piece is major or minor, slow or fast. Adding each caption's
opposite as an extra negative for its clip does: the only way to rank the true caption above its twin is to hear
the attribute that was swapped.
"""

import re
import zlib

# What each word turns into; a tuple is a choice made per caption (stable: a hash of the caption picks).
SWAPS: dict[str, dict[str, str | tuple[str, ...]]] = {
    "mode": {"major": "minor", "minor": "major"},
    "tempo": {"slow": "fast", "fast": "slow", "moderate": ("slow", "fast")},
}
NEGATIVE_KINDS = tuple(SWAPS)
_PATTERNS = {kind: re.compile(r"\b(" + "|".join(words) + r")\b", re.IGNORECASE) for kind, words in SWAPS.items()}


def check_negative_kinds(kinds) -> tuple[str, ...]:
    kinds = tuple(kinds or ())
    unknown = sorted(set(kinds) - set(NEGATIVE_KINDS))
    if unknown:
        raise ValueError(f"Unknown text negative kinds {unknown}; known: {list(NEGATIVE_KINDS)}.")
    return kinds


def counterfactual_text(text: str, kind: str) -> str | None:
    """`text` with every `kind` word ("mode": major/minor, "tempo": slow/moderate/fast) replaced by an opposite,
    keeping its capitalisation; None when the text names no such word."""
    pattern = _PATTERNS[check_negative_kinds([kind])[0]]
    if not pattern.search(text):
        return None
    choice = zlib.crc32(text.encode())

    def opposite(match: re.Match) -> str:
        word = match.group(0)
        target = SWAPS[kind][word.lower()]
        if isinstance(target, tuple):
            target = target[choice % len(target)]
        return target.capitalize() if word[0].isupper() else target

    return pattern.sub(opposite, text)


__all__ = ["NEGATIVE_KINDS", "SWAPS", "check_negative_kinds", "counterfactual_text"]
