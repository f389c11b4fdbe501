"""Text pre-filtering (paper §3.4): rule-based clean-up of short-form tags, and a BERT-family classifier that keeps
music-descriptive sentences of long-form text. Filtering is optional per source: the paper found unfiltered text
almost as good."""

import csv
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
HASHTAG = re.compile(r"#(\w+)")
EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\U00002b00-\U00002bff\U0000fe0f\U0000200d]+"
)
BOILERPLATE = re.compile(
    r"[\(\[]?\b(official\s+(music\s+)?(video|audio|lyric\s+video)|lyrics?|full\s+album|free\s+download|"
    r"remaster(ed)?(\s+\d{4})?|hd|hq|4k|1080p|720p|audio\s+only|visualizer|out\s+now|new\s+song)\b[\)\]]?",
    re.IGNORECASE,
)
CATALOGUE = re.compile(r"^([A-Z]{2,5}[-\s]?\d{2,6}|\d{3,}|\d{4}s?)$")  # CAT-1234, 2016, 0042
EMPTY_BRACKETS = re.compile(r"[\(\[]\s*[\)\]]")
SPACES = re.compile(r"\s+")


def clean_short_form(text: str, min_chars: int = 2, max_chars: int = 60) -> str | None:
    """Clean one short-form annotation (tag or title): drop URLs, emoji and boilerplate such as "official video",
    unwrap hashtags (`#bossanova` → `bossanova`); return None for what is left empty, a catalogue number or a
    year, or outside the length bounds."""
    if not isinstance(text, str):
        return None
    text = URL.sub(" ", text)
    text = EMOJI.sub(" ", text)
    text = HASHTAG.sub(r"\1", text)
    text = BOILERPLATE.sub(" ", text)
    text = EMPTY_BRACKETS.sub(" ", text)
    text = SPACES.sub(" ", text).strip(" -|·,;:")
    if not (min_chars <= len(text) <= max_chars) or CATALOGUE.match(text):
        return None
    return text


def labelled_sentences() -> list[tuple[str, int]]:
    """The project's hand-written set: (sentence, 1 if it describes the music else 0), balanced."""
    path = resources.files("mulan_hf.data") / "resources" / "music_sentences.tsv"
    with path.open(newline="") as handle:
        return [(row["sentence"], int(row["label"])) for row in csv.DictReader(handle, delimiter="\t")]


@dataclass
class FilterReport:
    """Kept / dropped counts of a filtered text column (complete once the data has been iterated)."""

    column: str
    kept: int = 0
    dropped: int = 0
    rows_without_text: int = 0
    examples_dropped: list[str] = field(default_factory=list)

    def add(self, kept: int, dropped_texts: list[str], row_emptied: bool) -> None:
        self.kept += kept
        self.dropped += len(dropped_texts)
        self.rows_without_text += int(row_emptied)
        room = 5 - len(self.examples_dropped)
        if room > 0:
            self.examples_dropped.extend(dropped_texts[:room])

    def __str__(self) -> str:
        total = self.kept + self.dropped
        share = self.kept / total if total else 0.0
        return (
            f"{self.column}: kept {self.kept} of {total} texts ({share:.0%}), dropped {self.dropped}; "
            f"{self.rows_without_text} rows left without text"
        )


class MusicTextClassifier:
    """A fine-tuned BERT-family sequence classifier: probability that a sentence describes the music."""

    def __init__(self, model, tokenizer, batch_size: int = 64):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> "MusicTextClassifier":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        return cls(
            AutoModelForSequenceClassification.from_pretrained(path), AutoTokenizer.from_pretrained(path), **kwargs
        )

    def score(self, texts: list[str]) -> np.ndarray:
        import torch

        scores = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=128,
                    return_tensors="pt",
                )
                scores.append(self.model(**batch).logits.softmax(-1)[:, 1].numpy())
        return np.concatenate(scores) if scores else np.zeros(0, np.float32)

    def keep(self, texts: list[str], threshold: float = 0.5) -> list[bool]:
        return (self.score(texts) >= threshold).tolist()


def train_music_text_classifier(
    out_dir: str | Path,
    base_model: str | None = None,
    epochs: int = 5,
    learning_rate: float = 5e-5,
    batch_size: int = 16,
    validation_share: float = 0.2,
    seed: int = 0,
) -> dict:
    """Fine-tune `base_model` (default: the packaged MiniLM-L6) on the shipped labelled sentences with transformers'
    Trainer on CPU (a minute or two); save the classifier to `out_dir` and return held-out metrics."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

    from ..packaged import packaged_text_model_path

    set_seed(seed)
    base_model = base_model or packaged_text_model_path()
    rows = labelled_sentences()
    data = Dataset.from_dict({"text": [s for s, _ in rows], "label": [y for _, y in rows]})
    data = data.class_encode_column("label").train_test_split(
        test_size=validation_share, seed=seed, stratify_by_column="label"
    )
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    data = data.map(lambda b: tokenizer(b["text"], truncation=True, max_length=128), batched=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base_model,
        num_labels=2,
        id2label={0: "not music", 1: "music description"},
        label2id={"not music": 0, "music description": 1},
    )

    def accuracy(prediction) -> dict:
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    args = TrainingArguments(
        output_dir=str(Path(out_dir) / "trainer"),
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="epoch",
        report_to=[],
        seed=seed,
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["test"],
        processing_class=tokenizer,
        compute_metrics=accuracy,
    )
    trainer.train()
    metrics = trainer.evaluate()
    trainer.save_model(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return {
        "validation_accuracy": metrics["eval_accuracy"],
        "train_size": len(data["train"]),
        "validation_size": len(data["test"]),
    }


def filter_text_column(dataset, column: str, keep, batch_size: int = 256):
    """Keep only the texts of `column` (a string or a list of strings per row) for which `keep(texts) -> list[bool]`
    says yes, then drop rows left with no text in that column (`Dataset.filter`). Works on `Dataset` and
    `IterableDataset`. Returns `(filtered, report)`; for an `IterableDataset` the report fills as it is iterated."""
    report = FilterReport(column)

    def filter_batch(batch: dict) -> dict:
        values = batch[column]
        as_lists = [v if isinstance(v, list) else ([] if v is None else [v]) for v in values]
        flat = [t for texts in as_lists for t in texts if isinstance(t, str)]
        decisions = iter(keep(flat)) if flat else iter(())
        filtered = []
        for original, texts in zip(values, as_lists):
            kept, dropped = [], []
            for text in texts:
                if isinstance(text, str) and next(decisions):
                    kept.append(text)
                else:
                    dropped.append(text)
            report.add(len(kept), [str(d) for d in dropped], row_emptied=not kept)
            filtered.append(kept if isinstance(original, list) else (kept[0] if kept else None))
        return {column: filtered}

    def has_text(value) -> bool:
        return bool(value) if isinstance(value, list) else value is not None

    mapped = dataset.map(filter_batch, batched=True, batch_size=batch_size, **_no_cache(dataset))
    return mapped.filter(has_text, input_columns=column, **_no_cache(dataset)), report


def _no_cache(dataset) -> dict:
    # A cached map would skip the function and leave the report empty.
    from datasets import Dataset

    return {"load_from_cache_file": False} if isinstance(dataset, Dataset) else {}


def clean_short_form_column(dataset, column: str, batch_size: int = 256):
    """Apply `clean_short_form` to every text of `column`, dropping what it rejects. Returns `(cleaned, report)`."""

    def keep(texts: list[str]) -> list[bool]:
        return [clean_short_form(t) is not None for t in texts]

    def clean(batch: dict) -> dict:
        def one(value):
            if isinstance(value, list):
                return [c for c in map(clean_short_form, value) if c is not None]
            return clean_short_form(value) if isinstance(value, str) else value

        return {column: [one(v) for v in batch[column]]}

    filtered, report = filter_text_column(dataset, column, keep, batch_size)
    return filtered.map(clean, batched=True, batch_size=batch_size, **_no_cache(filtered)), report
