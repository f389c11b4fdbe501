"""Per-label probabilities for multi-label tagging. The softmax over candidate labels ranks them but says nothing of
whether a clip holds a label at all (it always sums to 1); a logistic (Platt) map from the clip–label cosine to a
probability, fitted on the corpus's validation split, does: one map per label the corpus knows, one shared map for
any other label text. Saved as `calibration.json` next to the model (the demo Space reads it)."""

import json
from pathlib import Path

import numpy as np

from .corpus import CORPUS_COLUMNS, TRANSFER_INSTRUMENTS, load_corpus_split, transfer_instruments
from .embeddings import embed_audio, embed_texts
from .loaders import load_tagging_dataset

CALIBRATION_FILE = "calibration.json"


def _platt(cosines: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=100.0).fit(cosines.reshape(-1, 1), targets)
    return {"slope": float(fit.coef_[0, 0]), "intercept": float(fit.intercept_[0]), "positives": int(targets.sum())}


def _label_targets(dataset, columns: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Every label of `columns` (instruments as the 13 plain names) and the (clips, labels) multi-hot targets."""
    names, blocks = [], []
    for column in columns:
        if column not in dataset.column_names:
            continue
        if column == "instruments":
            tags = [transfer_instruments(i) for i in dataset["instruments"]]
            tagging = load_tagging_dataset(
                dataset.add_column("plain_instruments", tags),
                "plain_instruments",
                label_names=list(TRANSFER_INSTRUMENTS),
            )
        else:
            tagging = load_tagging_dataset(dataset, column)
        names += tagging.label_names
        blocks.append(tagging.targets)
    if not names:
        raise ValueError(f"The corpus has none of the label columns {list(columns)}.")
    return names, np.concatenate(blocks, axis=1)


def fit_calibration(
    model,
    processor,
    data: str | Path,
    splits: str = "validation",
    columns: tuple[str, ...] = CORPUS_COLUMNS,
    max_clips: int | None = None,
) -> dict:
    """Fit the cosine → probability maps on the corpus folder `data`'s `splits` (its first `max_clips` recordings
    when given). Labels with fewer than 2 positive or 2 negative clips get no map of their own (the shared map covers
    them)."""
    if not any(Path(data).glob("*/metadata.jsonl")):
        raise ValueError(f"{data} holds no corpus (no <split>/metadata.jsonl): render one with `mulan-hf make-corpus`.")
    dataset = load_corpus_split(data, splits, max_clips=max_clips)
    if len(dataset) < 4:
        raise ValueError(f"{data} ({splits}) has {len(dataset)} recordings: calibration needs at least 4.")
    names, targets = _label_targets(dataset, columns)
    audio = embed_audio(model, processor.feature_extractor, dataset, progress=False)
    targets = targets[audio.rows]
    cosines = audio.embeddings @ embed_texts(model, processor.tokenizer, names).T
    labels = {}
    for j, name in enumerate(names):
        if 2 <= targets[:, j].sum() <= len(targets) - 2:
            labels[name] = _platt(cosines[:, j], targets[:, j])
    return {
        "method": "Platt scaling of the clip-label cosine",
        "fitted_on": f"{Path(data).name} ({splits}), {len(targets)} clips",
        "shared": _platt(cosines.ravel(), targets.ravel()),
        "labels": labels,
    }


def calibrated_probabilities(calibration: dict, labels: list[str], cosines: np.ndarray) -> np.ndarray:
    """Probabilities (..., labels) from cosines (..., labels): each label's own map, else the shared one."""
    maps = [calibration["labels"].get(label.strip().lower(), calibration["shared"]) for label in labels]
    slope = np.array([m["slope"] for m in maps])
    intercept = np.array([m["intercept"] for m in maps])
    return 1.0 / (1.0 + np.exp(-(np.asarray(cosines) * slope + intercept)))


def save_calibration(calibration: dict, model_dir: str | Path) -> Path:
    path = Path(model_dir) / CALIBRATION_FILE
    path.write_text(json.dumps(calibration, indent=2) + "\n")
    return path


def expected_calibration_error(probabilities: np.ndarray, targets: np.ndarray, bins: int = 10) -> float:
    """Mean |predicted − observed| frequency over equal-width probability bins, weighted by their share of pairs."""
    probabilities, targets = np.ravel(probabilities), np.ravel(targets)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(probabilities[members].mean() - targets[members].mean())
    return float(error)
