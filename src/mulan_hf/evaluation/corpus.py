"""Zero-shot tagging of the embedded corpus, in two readings: in distribution (recordings rendered with the sample
sets a model was trained on) and leave-one-sample-set-out (recordings rendered with a sample set it never heard:
the figure that tells whether it learnt instruments or one SoundFont's samples).

Instruments are scored over 13 plain names (`TRANSFER_INSTRUMENTS`), the vocabulary a user tagging their own music
would type; a distorted guitar counts as an electric guitar, instruments outside the 13 are not scored."""

import tempfile
from pathlib import Path

from transformers.utils import logging

from .loaders import load_tagging_dataset
from .tasks import zero_shot_tagging

logger = logging.get_logger(__name__)

TRANSFER_INSTRUMENTS = (
    "piano", "organ", "acoustic guitar", "electric guitar", "bass", "violin", "cello", "trumpet", "saxophone",
    "flute", "clarinet", "synth pad", "drums",
)  # fmt: skip
_TRANSFER_NAME = {"distorted guitar": "electric guitar"}
CORPUS_COLUMNS = ("instruments", "tempo", "mode", "style")


def transfer_instruments(instruments: list[str]) -> list[str]:
    """A recording's instruments among the 13 plain names."""
    names = {_TRANSFER_NAME.get(name, name) for name in instruments}
    return [name for name in TRANSFER_INSTRUMENTS if name in names]


def load_corpus_split(
    data: str | Path,
    splits: str = "test",
    sample_sets: list[str] | None = None,
    exclude_sample_sets: list[str] | None = None,
    max_clips: int | None = None,
):
    """The corpus's rows of `splits` ("test", "validation+test", ...) rendered with `sample_sets` (all when None)
    and not with `exclude_sample_sets`."""
    from datasets import load_dataset

    dataset = load_dataset("audiofolder", data_dir=str(data), split=splits)
    if sample_sets or exclude_sample_sets:
        if "soundfont" not in dataset.column_names:
            raise ValueError(
                f"{data} has no `soundfont` column (rendered before sample sets were recorded): re-render it with "
                "`mulan-hf make-corpus`."
            )
        keep, drop = set(sample_sets or []), set(exclude_sample_sets or [])
        dataset = dataset.filter(
            lambda sets: [(not keep or s in keep) and s not in drop for s in sets],
            input_columns="soundfont",
            batched=True,
        )
    if max_clips:
        dataset = dataset.select(range(min(max_clips, len(dataset))))
    return dataset


def corpus_tagging_scores(
    model,
    processor,
    data: str | Path,
    splits: str = "test",
    sample_sets: list[str] | None = None,
    exclude_sample_sets: list[str] | None = None,
    columns: tuple[str, ...] = CORPUS_COLUMNS,
    max_clips: int | None = None,
    name: str | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, float]:
    """Zero-shot macro ROC-AUC and top-1 accuracy per label column, keyed `"{name}/roc_auc/{column}"` and
    `"{name}/top1/{column}"` (name defaults to the splits), plus `"{name}/clips"`. Clips are embedded once for all
    columns. Returns {} when the folder or the selected rows do not exist."""
    if not Path(data).is_dir():
        return {}
    name = name or splits
    dataset = load_corpus_split(data, splits, sample_sets, exclude_sample_sets, max_clips)
    if len(dataset) == 0:
        logger.warning(f"No recordings of {data} ({splits}, sample sets {sample_sets}) to tag.")
        return {}
    if "instruments" in dataset.column_names:
        dataset = dataset.map(
            lambda rows: {"transfer_instruments": [transfer_instruments(i) for i in rows]},
            input_columns="instruments",
            batched=True,
        )
    scores = {f"{name}/clips": len(dataset)}
    with tempfile.TemporaryDirectory() as scratch:
        for column in columns:
            if column not in dataset.column_names:
                continue
            try:
                if column == "instruments":
                    tagging = load_tagging_dataset(
                        dataset, "transfer_instruments", label_names=list(TRANSFER_INSTRUMENTS), name="instruments"
                    )
                else:
                    tagging = load_tagging_dataset(dataset, column)
                report = zero_shot_tagging(model, processor, tagging, cache_dir=cache_dir or scratch, progress=False)
            except ValueError as error:  # e.g. a column with one value only in a tiny selection
                logger.warning(f"Zero-shot tagging of {column} on {name} skipped: {error}")
                continue
            scores[f"{name}/roc_auc/{column}"] = report.metrics["macro_roc_auc"]
            scores[f"{name}/top1/{column}"] = report.metrics["top1_accuracy"]
    return scores


def transfer_scores(
    model, processor, data: str | Path, holdout: str, split: str = "test"
) -> dict[str, dict[str, float]]:
    """`{"test": ...}`: `split` without the held-out sample set (in distribution), and `{"holdout": ...}`: the
    held-out set's validation and test recordings (music and samples the model never heard)."""
    return {
        "test": corpus_tagging_scores(model, processor, data, split, exclude_sample_sets=[holdout]),
        "holdout": corpus_tagging_scores(
            model, processor, data, "validation+test", sample_sets=[holdout], name=f"holdout-{holdout}"
        ),
    }
