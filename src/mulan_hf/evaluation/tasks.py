"""The paper's four evaluations (§4.1): zero-shot tagging, linear probes, text-to-music retrieval, text triplets."""

from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression

from .embeddings import embed_audio, embed_texts, mean_pooled_text_embeddings
from .loaders import TaggingSet, check_labels
from .metrics import retrieval_metrics, tagging_metrics, triplet_accuracy

DEFAULT_TEMPLATES = ("{}", "{} music", "a song with {}", "this track sounds {}")


@dataclass
class EvaluationReport:
    """Every figure of one evaluation (`metrics`), what could not be used (`failed`), and the arrays plots need."""

    task: str
    dataset: str
    metrics: dict
    failed: dict[int, str] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    labels: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"task": self.task, "dataset": self.dataset, "metrics": self.metrics, "failed_clips": self.failed}


def zero_shot_tagging(
    model,
    processor,
    tagging_set: TaggingSet,
    templates: tuple[str, ...] = ("{}",),
    batch_size: int = 8,
    max_windows: int | None = None,
    cache_dir=None,
    progress: bool = True,
) -> EvaluationReport:
    """Score each clip against each label's text embedding (cosine; clip = mean of its 10 s windows); macro ROC-AUC
    and mAP over the labels, plus per-label figures. Several `templates` are averaged in embedding space."""
    check_labels(tagging_set.label_names)
    audio = embed_audio(
        model,
        processor.feature_extractor,
        tagging_set.dataset,
        tagging_set.audio_column,
        batch_size,
        max_windows,
        cache_dir=cache_dir,
        progress=progress,
    )
    labels = embed_texts(model, processor.tokenizer, tagging_set.label_names, templates)
    scores = audio.embeddings @ labels.T
    targets = tagging_set.targets[audio.rows]
    result = tagging_metrics(targets, scores, tagging_set.label_names)
    return EvaluationReport(
        "zero-shot tagging",
        tagging_set.name,
        {**result.to_dict(), "templates": list(templates), "clips": len(audio.rows)},
        audio.failed,
        {"scores": scores, "targets": targets},
        tagging_set.label_names,
    )


def _fit_probe(features: np.ndarray, targets: np.ndarray, c: float, seed: int) -> list:
    models = []
    for j in range(targets.shape[1]):
        column = targets[:, j]
        if column.min() == column.max():  # one class only in training: a constant scorer
            models.append(float(column[0]))
        else:
            models.append(LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(features, column))
    return models


def _probe_scores(models: list, features: np.ndarray) -> np.ndarray:
    return np.stack(
        [np.full(len(features), m) if isinstance(m, float) else m.decision_function(features) for m in models], axis=1
    )


def linear_probe(
    model,
    processor,
    train: TaggingSet,
    validation: TaggingSet,
    test: TaggingSet,
    regularisation: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0),
    batch_size: int = 8,
    cache_dir=None,
    seed: int = 0,
    progress: bool = True,
) -> EvaluationReport:
    """Per-class logistic regression on the frozen 128-d audio embeddings: fit on train, choose the regularisation
    C by validation macro ROC-AUC, report ROC-AUC / mAP on test."""
    if not (train.label_names == validation.label_names == test.label_names):
        raise ValueError("train, validation and test must share the same label list.")
    embedded = {
        name: embed_audio(
            model,
            processor.feature_extractor,
            s.dataset,
            s.audio_column,
            batch_size,
            cache_dir=cache_dir,
            progress=progress,
        )
        for name, s in (("train", train), ("validation", validation), ("test", test))
    }
    targets = {
        name: s.targets[embedded[name].rows]
        for name, s in (("train", train), ("validation", validation), ("test", test))
    }
    selection = {}
    for c in regularisation:
        probe = _fit_probe(embedded["train"].embeddings, targets["train"], c, seed)
        scores = _probe_scores(probe, embedded["validation"].embeddings)
        selection[c] = tagging_metrics(targets["validation"], scores, train.label_names).macro_roc_auc
    best = max(selection, key=selection.get)
    probe = _fit_probe(embedded["train"].embeddings, targets["train"], best, seed)
    scores = _probe_scores(probe, embedded["test"].embeddings)
    result = tagging_metrics(targets["test"], scores, test.label_names)
    failed = {f"{name}:{row}": reason for name, e in embedded.items() for row, reason in e.failed.items()}
    return EvaluationReport(
        "linear probe",
        test.name,
        {**result.to_dict(), "chosen_C": best, "validation_roc_auc_by_C": {str(k): v for k, v in selection.items()}},
        failed,
        {"scores": scores, "targets": targets["test"]},
        test.label_names,
    )


def text_to_music_retrieval(
    model,
    processor,
    dataset,
    queries: list[str],
    relevant: list[set[int]],
    audio_column: str = "audio",
    batch_size: int = 8,
    cache_dir=None,
    name: str = "retrieval",
    progress: bool = True,
) -> EvaluationReport:
    """Rank the clips of `dataset` for each text query by cosine similarity; `relevant[q]` are the dataset rows
    relevant to query q. ROC-AUC and mAP as in the paper, recall@1/5/10 and median rank as CLAP-style benchmarks."""
    if not queries:
        raise ValueError("No queries given.")
    if len(queries) != len(relevant):
        raise ValueError(f"{len(queries)} queries but {len(relevant)} relevant sets.")
    audio = embed_audio(
        model, processor.feature_extractor, dataset, audio_column, batch_size, cache_dir=cache_dir, progress=progress
    )
    position = {row: i for i, row in enumerate(audio.rows)}
    kept = [(q, {position[r] for r in rel if r in position}) for q, rel in zip(queries, relevant)]
    dropped = [q for q, rel in kept if not rel]
    kept = [(q, rel) for q, rel in kept if rel]
    if not kept:
        raise ValueError("No query has a relevant clip that could be decoded.")
    text = embed_texts(model, processor.tokenizer, [q for q, _ in kept])
    scores = text @ audio.embeddings.T
    result = retrieval_metrics(scores, [rel for _, rel in kept], [q for q, _ in kept])
    metrics = {**result.to_dict(), "queries": len(kept), "queries_without_decodable_relevant_clip": dropped}
    return EvaluationReport("text-to-music retrieval", name, metrics, audio.failed, {"scores": scores})


def text_triplets(
    model, tokenizer, triplets: list[tuple[str, str, str]], baseline_model: str | None = None, name: str = "triplets"
) -> EvaluationReport:
    """Accuracy of (anchor, positive, negative) triplets with MuLan's text tower alone, and with a baseline text
    encoder (default: the packaged MiniLM, mean-pooled) scored the same way."""
    from ..packaged import packaged_text_model_path

    if not triplets:
        raise ValueError("No triplets given.")
    columns = [list(column) for column in zip(*triplets)]
    ours = [embed_texts(model, tokenizer, column) for column in columns]
    baseline_model = baseline_model or packaged_text_model_path()
    base = [mean_pooled_text_embeddings(baseline_model, column) for column in columns]
    metrics = {
        "accuracy": triplet_accuracy(*ours),
        "baseline_accuracy": triplet_accuracy(*base),
        "baseline": str(baseline_model),
        "triplets": len(triplets),
    }
    return EvaluationReport("text triplets", name, metrics)
