"""Evaluation sets from local files in their standard layouts: MagnaTagATune, AudioSet-style segments with the
ontology, the embedded corpus, and any Hugging Face dataset with an audio column and a tags or captions column."""

import csv
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Audio, Dataset, load_dataset

MAGNATAGATUNE_SPLITS = {"train": "0123456789ab", "validation": "c", "test": "def"}  # by the mp3 folder's name
AUDIOSET_MUSIC = "/m/04rlf"
AUDIOSET_MUSIC_GENRE = "/m/0kpv1t"
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus")


@dataclass
class TaggingSet:
    """Clips (a `Dataset` with an audio column) and their multi-hot targets over `label_names`."""

    dataset: Dataset
    label_names: list[str]
    targets: np.ndarray  # (clips, labels) in {0, 1}
    audio_column: str = "audio"
    name: str = "tagging"

    def __post_init__(self) -> None:
        check_labels(self.label_names)
        if self.targets.shape != (len(self.dataset), len(self.label_names)):
            raise ValueError(
                f"targets have shape {self.targets.shape}, expected ({len(self.dataset)}, {len(self.label_names)})."
            )


def check_labels(labels: list[str]) -> None:
    if not labels:
        raise ValueError("The label list is empty: give at least one label.")
    duplicates = sorted(label for label, count in Counter(labels).items() if count > 1)
    if duplicates:
        raise ValueError(f"The label list has duplicates: {duplicates}.")
    bad = [label for label in labels if not isinstance(label, str) or not label.strip()]
    if bad:
        raise ValueError(f"Labels must be non-empty strings; got {bad}.")


def multi_hot(tag_lists: list[list[str]], label_names: list[str]) -> np.ndarray:
    index = {label: j for j, label in enumerate(label_names)}
    targets = np.zeros((len(tag_lists), len(label_names)), dtype=np.int8)
    for i, tags in enumerate(tag_lists):
        for tag in tags:
            if tag in index:
                targets[i, index[tag]] = 1
    return targets


def load_magnatagatune(root: str | Path, tag_set: str = "top50", split: str = "test") -> TaggingSet:
    """MagnaTagATune from `root/annotations_final.csv` (tab-separated: clip_id, 188 tag columns, mp3_path) and the
    mp3 folders `root/0` ... `root/f`. `tag_set`: "top50" (the 50 most frequent tags) or "all188". Standard split by
    folder: 0-b train, c validation, d-f test."""
    root = Path(root)
    annotations = root / "annotations_final.csv"
    if not annotations.is_file():
        raise FileNotFoundError(f"{annotations} not found: MagnaTagATune's annotations_final.csv belongs in {root}.")
    if split not in MAGNATAGATUNE_SPLITS:
        raise ValueError(f"split must be one of {list(MAGNATAGATUNE_SPLITS)}, got {split!r}.")
    if tag_set not in ("top50", "all188"):
        raise ValueError(f"tag_set must be 'top50' or 'all188', got {tag_set!r}.")
    with open(annotations, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows or "mp3_path" not in rows[0]:
        raise ValueError(f"{annotations} has no mp3_path column; is it MagnaTagATune's annotations_final.csv?")
    all_tags = [c for c in rows[0] if c not in ("clip_id", "mp3_path")]
    counts = {tag: sum(int(r[tag]) for r in rows) for tag in all_tags}
    label_names = all_tags if tag_set == "all188" else sorted(all_tags, key=lambda t: (-counts[t], t))[:50]
    chosen = [r for r in rows if r["mp3_path"].split("/")[0] in MAGNATAGATUNE_SPLITS[split]]
    dataset = Dataset.from_dict(
        {"audio": [str(root / r["mp3_path"]) for r in chosen], "clip_id": [r["clip_id"] for r in chosen]}
    ).cast_column("audio", Audio(decode=False))
    targets = np.array([[int(r[t]) for t in label_names] for r in chosen], dtype=np.int8).reshape(-1, len(label_names))
    return TaggingSet(dataset, label_names, targets, name=f"magnatagatune-{tag_set}-{split}")


def audioset_subtree(ontology: list[dict], root_id: str) -> list[str]:
    """Ids of all classes below `root_id` (not the root itself), in ontology order."""
    children = {node["id"]: node.get("child_ids", []) for node in ontology}
    if root_id not in children:
        raise ValueError(f"{root_id} is not in the ontology.")
    below, stack = set(), list(children[root_id])
    while stack:
        node = stack.pop()
        if node not in below:
            below.add(node)
            stack.extend(children.get(node, []))
    return [node["id"] for node in ontology if node["id"] in below]


def load_audioset(
    segments_csv: str | Path, ontology_json: str | Path, audio_dir: str | Path, subset: str = "music"
) -> TaggingSet:
    """AudioSet-style segments (`YTID, start_seconds, end_seconds, positive_labels`; '#' lines are comments) with the
    ontology JSON and a folder of clips named `<YTID>.*` or `<YTID>_<start>.*`. `subset`: "music" (the Music node's
    whole subtree, the paper's Mu-141) or "genres" (the children of "Music genre", Gen-25). Segments whose file is
    missing stay in the set and are reported as failed when embedded."""
    ontology = json.loads(Path(ontology_json).read_text())
    names = {node["id"]: node["name"] for node in ontology}
    if subset == "music":
        ids = audioset_subtree(ontology, AUDIOSET_MUSIC)
    elif subset == "genres":
        ids = next(node.get("child_ids", []) for node in ontology if node["id"] == AUDIOSET_MUSIC_GENRE)
    else:
        raise ValueError(f"subset must be 'music' or 'genres', got {subset!r}.")
    files = {}
    for entry in os.scandir(audio_dir):
        stem, extension = os.path.splitext(entry.name)
        if extension.lower() in AUDIO_EXTENSIONS:
            files[stem] = entry.path
    paths, label_lists, keys = [], [], []
    with open(segments_csv, newline="") as handle:
        lines = [line for line in handle if not line.startswith("#") and line.strip()]
    for row in csv.reader(lines, skipinitialspace=True):
        ytid, start, labels = row[0], float(row[1]), row[3]
        segment_labels = [label for label in labels.split(",") if label in ids]
        if not segment_labels:
            continue  # not a music segment of this subset
        paths.append(
            files.get(ytid)
            or files.get(f"{ytid}_{start:.0f}")
            or files.get(f"{ytid}_{int(start * 1000)}")
            or str(Path(audio_dir) / f"{ytid}.missing")
        )
        label_lists.append(segment_labels)
        keys.append(ytid)
    label_names = [names[i] for i in ids]
    dataset = Dataset.from_dict({"audio": paths, "ytid": keys}).cast_column("audio", Audio(decode=False))
    targets = multi_hot([[names[i] for i in labels] for labels in label_lists], label_names)
    return TaggingSet(dataset, label_names, targets, name=f"audioset-{subset}")


def load_tagging_dataset(
    path_or_dataset,
    tags_column: str,
    audio_column: str = "audio",
    split: str = "test",
    label_names: list[str] | None = None,
    name: str | None = None,
) -> TaggingSet:
    """Any dataset with an audio column and a tags column (a list of strings, or one string per clip). Labels
    default to every tag that occurs."""
    dataset = _load(path_or_dataset, split)
    for column in (audio_column, tags_column):
        if column not in dataset.column_names:
            raise ValueError(f"The dataset has no column {column!r} (columns: {dataset.column_names}).")
    tag_lists = [t if isinstance(t, list) else [t] for t in dataset[tags_column]]
    label_names = label_names or sorted({t for tags in tag_lists for t in tags if isinstance(t, str)})
    if isinstance(dataset.features[audio_column], Audio):
        dataset = dataset.cast_column(audio_column, Audio(decode=False))
    return TaggingSet(dataset, label_names, multi_hot(tag_lists, label_names), audio_column, name or f"{tags_column}")


def load_corpus_tagging(corpus_dir: str | Path, columns: tuple[str, ...] = ("instruments",), split: str = "test"):
    """Tagging sets of the embedded corpus: one per label column (instruments, tempo, mode, style, ...)."""
    dataset = load_dataset("audiofolder", data_dir=str(corpus_dir), split=split)
    return {column: load_tagging_dataset(dataset, column, name=f"corpus-{column}") for column in columns}


def load_captions(path_or_dataset, captions_column: str, audio_column: str = "audio", split: str = "test"):
    """A captioned set for retrieval: returns (dataset, queries, relevant), each caption a query whose relevant clip
    is its own (all captions of a list column become queries)."""
    dataset = _load(path_or_dataset, split)
    for column in (audio_column, captions_column):
        if column not in dataset.column_names:
            raise ValueError(f"The dataset has no column {column!r} (columns: {dataset.column_names}).")
    queries, relevant = [], []
    for row, captions in enumerate(dataset[captions_column]):
        for caption in captions if isinstance(captions, list) else [captions]:
            if isinstance(caption, str) and caption.strip():
                queries.append(caption)
                relevant.append({row})
    if isinstance(dataset.features[audio_column], Audio):
        dataset = dataset.cast_column(audio_column, Audio(decode=False))
    return dataset, queries, relevant


def ontology_triplets(
    ontology_json: str | Path, root_id: str = AUDIOSET_MUSIC, negatives: int = 5, seed: int = 0
) -> list[tuple[str, str, str]]:
    """The paper's ontology triplets: (class name, its description, another class's description) for every class
    below `root_id` that has a description, `negatives` random negatives each."""
    ontology = json.loads(Path(ontology_json).read_text())
    ids = set(audioset_subtree(ontology, root_id))
    nodes = [n for n in ontology if n["id"] in ids and n.get("description")]
    rng = np.random.default_rng(seed)
    triplets = []
    for i, node in enumerate(nodes):
        others = [j for j in range(len(nodes)) if j != i]
        for j in rng.choice(others, size=min(negatives, len(others)), replace=False):
            triplets.append((node["name"], node["description"], nodes[int(j)]["description"]))
    return triplets


def _load(path_or_dataset, split: str) -> Dataset:
    if isinstance(path_or_dataset, Dataset):
        return path_or_dataset
    if os.path.isdir(str(path_or_dataset)) and any(Path(path_or_dataset).rglob("metadata.jsonl")):
        return load_dataset("audiofolder", data_dir=str(path_or_dataset), split=split)
    return load_dataset(str(path_or_dataset), split=split)
