"""Metrics of the paper's evaluations, computed with scikit-learn: class-balanced (macro) ROC-AUC and average
precision for tagging, the same per query for retrieval plus recall@k and median rank, and triplet accuracy."""

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


@dataclass
class TaggingResult:
    """Macro figures over the labels that can be scored, per-label figures, and the labels left out (no positive
    or no negative example: ROC-AUC is undefined for them)."""

    macro_roc_auc: float
    macro_average_precision: float
    per_label: dict[str, dict[str, float]]
    left_out: dict[str, str] = field(default_factory=dict)
    top1_accuracy: float = float("nan")  # share of clips (with a positive label) whose best label is a positive

    def to_dict(self) -> dict:
        return {
            "macro_roc_auc": self.macro_roc_auc,
            "macro_average_precision": self.macro_average_precision,
            "top1_accuracy": self.top1_accuracy,
            "per_label": self.per_label,
            "left_out": self.left_out,
        }


def tagging_metrics(targets: np.ndarray, scores: np.ndarray, label_names: list[str]) -> TaggingResult:
    """`targets` (clips, labels) in {0, 1}; `scores` (clips, labels), higher = more likely."""
    targets = np.asarray(targets)
    scores = np.asarray(scores, dtype=np.float64)
    if targets.shape != scores.shape or targets.ndim != 2:
        raise ValueError(f"targets {targets.shape} and scores {scores.shape} must both be (clips, labels).")
    if targets.shape[1] != len(label_names):
        raise ValueError(f"{targets.shape[1]} label columns but {len(label_names)} label names.")
    per_label, left_out = {}, {}
    for j, name in enumerate(label_names):
        positives = int(targets[:, j].sum())
        if positives == 0:
            left_out[name] = "no positive clip"
            continue
        if positives == len(targets):
            left_out[name] = "no negative clip"
            continue
        per_label[name] = {
            "roc_auc": float(roc_auc_score(targets[:, j], scores[:, j])),
            "average_precision": float(average_precision_score(targets[:, j], scores[:, j])),
            "positives": positives,
        }
    if not per_label:
        raise ValueError(f"No label can be scored: {left_out}.")
    tagged = targets.sum(axis=1) > 0
    best = scores[tagged].argmax(axis=1)
    return TaggingResult(
        macro_roc_auc=float(np.mean([v["roc_auc"] for v in per_label.values()])),
        macro_average_precision=float(np.mean([v["average_precision"] for v in per_label.values()])),
        per_label=per_label,
        left_out=left_out,
        top1_accuracy=float(targets[tagged][np.arange(len(best)), best].mean()) if tagged.any() else float("nan"),
    )


@dataclass
class RetrievalResult:
    roc_auc: float
    mean_average_precision: float
    recall_at: dict[int, float]
    median_rank: float
    per_query: list[dict]

    def to_dict(self) -> dict:
        return {
            "roc_auc": self.roc_auc,
            "mean_average_precision": self.mean_average_precision,
            "recall_at": {str(k): v for k, v in self.recall_at.items()},
            "median_rank": self.median_rank,
            "per_query": self.per_query,
        }


def retrieval_metrics(
    scores: np.ndarray, relevant: list[set[int]], queries: list[str] | None = None, ks: tuple[int, ...] = (1, 5, 10)
) -> RetrievalResult:
    """`scores` (queries, clips); `relevant[q]` the indices of the clips relevant to query q. ROC-AUC and AP per query
    (averaged, as the paper), recall@k (a relevant clip among the top k) and the median rank of the first relevant
    clip (1 = top), as CLAP-style benchmarks report."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != len(relevant):
        raise ValueError(f"scores {scores.shape} must be (queries, clips) with one relevant set per query.")
    per_query, ranks = [], []
    for q, relevant_clips in enumerate(relevant):
        target = np.zeros(scores.shape[1], dtype=int)
        target[list(relevant_clips)] = 1
        if target.sum() in (0, len(target)):
            raise ValueError(f"Query {q} has {target.sum()} relevant clips of {len(target)}; it cannot be scored.")
        order = np.argsort(-scores[q], kind="stable")
        rank = int(np.flatnonzero(target[order])[0]) + 1
        ranks.append(rank)
        per_query.append(
            {
                "query": queries[q] if queries else q,
                "roc_auc": float(roc_auc_score(target, scores[q])),
                "average_precision": float(average_precision_score(target, scores[q])),
                "first_relevant_rank": rank,
            }
        )
    ranks_array = np.array(ranks)
    return RetrievalResult(
        roc_auc=float(np.mean([p["roc_auc"] for p in per_query])),
        mean_average_precision=float(np.mean([p["average_precision"] for p in per_query])),
        recall_at={k: float((ranks_array <= k).mean()) for k in ks},
        median_rank=float(np.median(ranks_array)),
        per_query=per_query,
    )


def triplet_accuracy(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """Share of triplets whose positive is closer (cosine) to the anchor than the negative is."""

    def normalise(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x / np.linalg.norm(x, axis=1, keepdims=True).clip(min=1e-12)

    anchor, positive, negative = map(normalise, (anchor, positive, negative))
    return float(((anchor * positive).sum(1) > (anchor * negative).sum(1)).mean())
