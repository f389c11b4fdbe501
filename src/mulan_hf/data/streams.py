"""Training streams from any Hugging Face dataset with an audio column and text columns.

    sources = [
        TextSource("short_form", ["short_form"], weight=2, clean="rules"),
        TextSource("long_form", ["long_form"], weight=2),
        TextSource("playlist", ["playlist"], weight=1),
        TextSource("ontology", ["ontology"], weight=1),
    ]
    stream = build_training_stream("path/to/corpus", sources, window_seconds=10.24)
    loader = DataLoader(stream, batch_size=16, collate_fn=MuLanCollator(processor), num_workers=2)

Each example is one random window of one recording (decoded alone: torchcodec decodes just that time range and
resamples / downmixes while decoding) with one random text of the row's annotations from one source. Sources are
mixed by proportion with `datasets.interleave_datasets`. Bad records (undecodable or empty audio, clips shorter
than a window when `short_clips="skip"`, rows with no usable text) never stop the stream: each is logged with its
path and stays in the stream as a marker (`text=None`, `skipped_<reason>=1`), which the collator drops from the
batch and counts in `batch["skipped"]` for the training loop to log. So a batch can hold fewer examples than
`batch_size` when bad records are present.
"""

import collections
import hashlib
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers.utils import logging

from ..audio_io import decode_audio, open_audio  # noqa: F401  (re-exported)
from .augment import AudioAugmentation
from .negatives import check_negative_kinds, counterfactual_text
from .text_filter import clean_short_form

logger = logging.get_logger(__name__)

SKIP_REASONS = ("undecodable", "too_short", "no_text")
# "recording|context start ms|context ms|rate" -> the context's pitch-class profile, shared by the samplers of one
# process (the sources of a mixture meet the same recordings): a recording no longer than the context has one
# profile, so its later visits decode only their window. DataLoader workers start as copies of the training process,
# which keeps what earlier epochs' workers sent (`remember_pitch_class_profiles`). Cleared past `_PROFILE_CACHE_SIZE`.
_PROFILES: dict[str, np.ndarray] = {}
_PROFILE_CACHE_SIZE = 200_000  # 12 floats each
PAPER_PROPORTIONS = {"short_form": 2, "long_form": 2, "playlist": 1, "ontology": 1}


def _example_features():
    from datasets import Features, List, Value

    return Features(
        {
            "audio": List(Value("float32")),  # one window, mono, at the stream's sampling rate (None: not decoded)
            "text": Value("string"),
            "source": Value("string"),
            "recording": Value("string"),  # the recording's id (or path): equal ids are the same audio
            "tags": List(Value("string")),  # the row's `tag_columns` values (the tag loss's targets), else []
            # The pitch-class profile of the `pitch_class_seconds` around the window (12 values), else []
            "pitch_class_profile": List(Value("float32")),
            "pitch_class_key": Value("string"),  # which context that profile is of ("" without one)
            **{f"skipped_{reason}": Value("int64") for reason in SKIP_REASONS},
        }
    )


EXAMPLE_FEATURES = _example_features()


@dataclass
class TextSource:
    """One text source of the mixture: which columns hold its text, its weight in each batch, and an optional
    filter. `clean="rules"` applies the short-form rules; `keep` is any `list[str] -> list[bool]` (for example
    `MusicTextClassifier.keep`). `join=k` makes each example's text from 1 to k of the row's texts drawn at random
    and joined with ", " (a video's tags read together, as a title with its tags) instead of one of them."""

    name: str
    text_columns: Sequence[str]
    weight: float = 1.0
    clean: str | None = None
    keep: Callable[[list[str]], list[bool]] | None = None
    join: int = 1

    def __post_init__(self) -> None:
        if int(self.join) < 1:
            raise ValueError(f"TextSource {self.name!r}: join must be at least 1, got {self.join}.")


def default_sources(columns: dict[str, str] | None = None) -> list[TextSource]:
    """The paper's four sources in proportions 2:2:1:1, reading the embedded corpus's columns."""
    columns = columns or {name: name for name in PAPER_PROPORTIONS}
    return [
        TextSource(name, [columns[name]], weight, clean="rules" if name == "short_form" else None)
        for name, weight in PAPER_PROPORTIONS.items()
    ]


def load_audio_text_dataset(
    path: str,
    split: str = "train",
    streaming: bool = True,
    num_shards: int = 8,
    **load_kwargs,
):
    """Open a dataset as an `IterableDataset`: a Hub id (streamed), a local `audiofolder` (metadata read once into
    Arrow, audio left on disk, then cut into `num_shards` shards so DataLoader workers and processes each get
    their own), or a local folder of parquet/CSV/JSON files."""
    from datasets import load_dataset

    if os.path.isdir(path):
        if _is_audiofolder(path):
            dataset = load_dataset("audiofolder", data_dir=path, split=split, **load_kwargs)
        else:
            dataset = load_dataset(path, split=split, **load_kwargs)
        return dataset.to_iterable_dataset(num_shards=min(num_shards, max(1, len(dataset))))
    dataset = load_dataset(path, split=split, streaming=streaming, **load_kwargs)
    return dataset if streaming else dataset.to_iterable_dataset(num_shards=num_shards)


def _is_audiofolder(path: str) -> bool:
    for _, _, files in os.walk(path):
        if any(f in ("metadata.jsonl", "metadata.csv") for f in files):
            return True
        if any(f.endswith((".parquet", ".arrow")) for f in files):
            return False
    return True


@dataclass
class WindowSampler:
    """Batched-map function that turns rows into training examples (picklable, so it runs in DataLoader workers).

    `window_seconds=None` keeps the audio undecoded (text-only streams, e.g. to inspect a mixture). With
    `pitch_class_seconds` and `pitch_class_profile` (a feature extractor's `clip_pitch_class_profile`) it decodes
    that many seconds centred on the window (kept inside the recording), cuts the window out of them and gives
    each example the context's profile: what the feature extractor gives that window of the whole recording."""

    source: TextSource
    audio_column: str
    sampling_rate: int = 16000
    window_seconds: float | None = 10.24
    clip_offset: float = 0.0
    clip_seconds: float | None = None
    short_clips: str = "pad"
    seed: int = 0
    augmentation: AudioAugmentation | None = None
    tag_columns: Sequence[str] = ()
    pitch_class_seconds: float | None = None
    pitch_class_profile: Callable[[np.ndarray], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.short_clips not in ("pad", "skip"):
            raise ValueError(f"short_clips must be 'pad' or 'skip', got {self.short_clips!r}.")
        if (self.pitch_class_seconds is None) != (self.pitch_class_profile is None):
            raise ValueError("pitch_class_seconds and pitch_class_profile go together: give both or neither.")
        self.epoch = 0  # set_stream_epoch (start_epoch) keeps it in step with the stream's shuffle
        self.rng: np.random.Generator | None = None
        self._visits: collections.Counter = collections.Counter()  # recording -> its rows met in this epoch
        self._process = os.getpid()

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._visits.clear()

    def _skip(self, out: dict[str, list], reason: str, where: str, detail: str = "") -> None:
        logger.warning(
            f"Skipping a record of source {self.source.name!r} ({reason}): {where}{': ' + detail if detail else ''}"
        )
        self._append(out, None, None, where, reason)

    def _append(
        self,
        out: dict[str, list],
        samples,
        text: str | None,
        recording: str,
        skipped: str | None = None,
        tags: list[str] | None = None,
        profile: np.ndarray | None = None,
        profile_key: str = "",
    ) -> None:
        out["audio"].append(samples)
        out["pitch_class_profile"].append([] if profile is None else np.asarray(profile, dtype=np.float32))
        out["pitch_class_key"].append(profile_key if profile is not None else "")
        out["text"].append(text)
        out["source"].append(self.source.name)
        out["recording"].append(recording)
        out["tags"].append(list(tags or []))
        for reason in SKIP_REASONS:
            out[f"skipped_{reason}"].append(int(reason == skipped))

    def _texts(self, row: dict) -> list[str]:
        texts: list[str] = []
        for column in self.source.text_columns:
            value = row.get(column)
            values = value if isinstance(value, list) else [value]
            texts.extend(v.strip() for v in values if isinstance(v, str) and v.strip())
        if self.source.clean == "rules":
            texts = [c for c in map(clean_short_form, texts) if c]
        if texts and self.source.keep is not None:
            texts = [t for t, ok in zip(texts, self.source.keep(texts)) if ok]
        return texts

    def _pick_text(self, texts: list[str]) -> str:
        if self.source.join == 1 or len(texts) == 1:
            return texts[int(self.rng.integers(len(texts)))]
        count = int(self.rng.integers(1, min(self.source.join, len(texts)) + 1))
        return ", ".join(texts[int(i)] for i in self.rng.choice(len(texts), size=count, replace=False))

    def _window(
        self, audio: Any, window: float | None = None, recording: str = ""
    ) -> tuple[np.ndarray, np.ndarray | None, str]:
        """Decode one random window of `window` seconds (default `window_seconds`; only that time range) as mono
        float32 at `sampling_rate`, and with `pitch_class_seconds` the profile of the context centred on it and
        the context's key in the process's memory of profiles ("" when the recording has no id or no duration)."""
        window = window or self.window_seconds
        source = audio.get("bytes") or audio.get("path") if isinstance(audio, dict) else audio
        if source is None:
            raise ValueError("no audio bytes or path")
        decoder = open_audio(source, self.sampling_rate)
        duration = decoder.metadata.duration_seconds
        start, stop = 0.0, duration
        if duration is not None:
            if duration <= 0:
                raise ValueError("empty audio (0 seconds)")
            if self.clip_seconds is not None and duration >= self.clip_offset + window:
                # Paper-style clip (e.g. the 30 s from second 30), when the recording is long enough.
                start, stop = self.clip_offset, min(duration, self.clip_offset + self.clip_seconds)
            room = max(0.0, stop - start - window)
            start += float(self.rng.uniform(0.0, room)) if room > 0 else 0.0
        profile, key = None, ""
        if self.pitch_class_seconds is not None:
            # The context is centred on the window the model reads (window_seconds; `window` may add a margin
            # for a stretch) and kept inside the recording, as the feature extractor keeps it inside a clip.
            context = self.pitch_class_seconds
            first = start + (self.window_seconds or window) / 2 - context / 2
            if duration is not None:
                first = min(first, duration - context)
            first = max(0.0, first)
            if recording and duration is not None:
                key = f"{recording}|{round(first * 1000)}|{round(context * 1000)}|{self.sampling_rate}"
            profile = _PROFILES.get(key) if key else None
        if self.pitch_class_seconds is None or profile is not None:
            samples = decoder.get_samples_played_in_range(start, start + window).data[0].numpy()
            if samples.size == 0:
                raise ValueError("no samples decoded")
            return samples, profile, key
        begin, end = min(first, start), max(first + context, start + window)
        if duration is not None:
            end = min(end, duration)
        decoded = decoder.get_samples_played_in_range(begin, end).data[0].numpy()
        offset = int(round((start - begin) * self.sampling_rate))
        samples = decoded[offset : offset + int(round(window * self.sampling_rate))]
        if samples.size == 0:
            raise ValueError("no samples decoded")
        offset = int(round((first - begin) * self.sampling_rate))
        profile = self.pitch_class_profile(decoded[offset : offset + int(round(context * self.sampling_rate))])
        if key:
            remember_pitch_class_profiles([key], [profile])
        return samples, profile, key

    def _row_rng(self, recording: str) -> np.random.Generator:
        """The draws of one row (window start, text, augmentation) come from its own generator, keyed by the
        seed, the epoch, the recording and how often this process met the recording before in this epoch (rows
        sharing a file draw apart): a resumed stream, or one split over DataLoader workers, draws what an
        uninterrupted single-process stream draws for that row (exactly when each recording has one row)."""
        if os.getpid() != self._process:  # a DataLoader worker (forked or spawned) starts the epoch afresh
            self._process = os.getpid()
            self._visits.clear()
        visit = self._visits[recording]
        self._visits[recording] += 1
        return np.random.default_rng([self.seed, self.epoch, zlib.crc32(recording.encode()), visit])

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        out: dict[str, list] = {name: [] for name in EXAMPLE_FEATURES}
        want = int(round((self.window_seconds or 0) * self.sampling_rate))
        # A stretch or pitch shift needs a little more audio than the window it returns.
        decode_seconds = (self.window_seconds or 0) * (self.augmentation.max_length_factor if self.augmentation else 1)
        decode = int(round(decode_seconds * self.sampling_rate))
        for row in rows:
            audio = row.get(self.audio_column)
            path = audio.get("path") if isinstance(audio, dict) else audio if isinstance(audio, str) else None
            recording = str(row.get("recording_id") or path or "")
            where = path or recording or "a row"
            self.rng = self._row_rng(recording)
            texts = self._texts(row)
            if not texts:
                self._skip(out, "no_text", where)
                continue
            samples = profile = None
            profile_key = ""
            if self.window_seconds is not None:
                try:
                    samples, profile, profile_key = self._window(audio, decode_seconds, recording)
                except Exception as error:  # torchcodec raises RuntimeError/ValueError for corrupt or empty files
                    self._skip(out, "undecodable", where, str(error).splitlines()[0][:200])
                    continue
                if len(samples) < want:
                    if self.short_clips == "skip":
                        self._skip(out, "too_short", where, f"{len(samples) / self.sampling_rate:.2f} s")
                        continue
                samples = np.pad(samples, (0, max(0, decode - len(samples))))  # decode == want unless augmenting
                if self.augmentation is not None:
                    bpm = row.get("bpm")
                    bpm = bpm if isinstance(bpm, (int, float)) else None
                    samples = self.augmentation(samples, self.sampling_rate, self.rng, bpm=bpm, length=want)
                samples = samples[:want].astype(np.float32, copy=False)
            tags = [row.get(column) for column in self.tag_columns]
            tags = [t for value in tags for t in ([value] if isinstance(value, str) else value or [])]
            self._append(
                out, samples, self._pick_text(texts), recording, tags=tags, profile=profile, profile_key=profile_key
            )
        return out


class RowsWithout:
    """Row predicate (picklable for DataLoader workers): False for rows whose `column` holds one of `values`."""

    def __init__(self, exclude: dict[str, Sequence]):
        self.exclude = {column: set(values) for column, values in exclude.items()}

    def __call__(self, row: dict) -> bool:
        return not any(row.get(column) in values for column, values in self.exclude.items())


def remember_pitch_class_profiles(keys: Sequence[str], profiles) -> None:
    """Keep context profiles (a batch's `pitch_class_keys` and `pitch_class_profile`) in this process's memory. The
    training loop calls it with each batch, so the next epoch's DataLoader workers, copies of the training process,
    start knowing every recording met so far and decode only their windows."""
    for key, profile in zip(keys, profiles):
        if key:
            if len(_PROFILES) >= _PROFILE_CACHE_SIZE and key not in _PROFILES:
                _PROFILES.clear()
            _PROFILES[key] = np.asarray(profile, dtype=np.float32).reshape(12)


def is_example(example: dict) -> bool:
    """False for the markers that stand in for skipped records."""
    return example.get("text") is not None


def undecoded(dataset, audio_column: str = "audio"):
    """The dataset with its audio column left as bytes/paths: the samplers decode one window themselves."""
    from datasets import Audio

    features = dataset.features
    if features is not None and isinstance(features.get(audio_column), Audio) and features[audio_column].decode:
        return dataset.cast_column(audio_column, Audio(decode=False))
    return dataset


def source_stream(dataset, source: TextSource, audio_column: str = "audio", **sampler_kwargs):
    """One source's examples from an `IterableDataset` of rows (`set_stream_epoch` starts a new epoch)."""
    dataset = undecoded(dataset, audio_column)
    features = dataset.features
    wanted = [audio_column, *source.text_columns, *sampler_kwargs.get("tag_columns", ())]
    missing = [c for c in wanted if features is not None and c not in features]
    if missing:
        raise ValueError(f"The dataset has no column(s) {missing} (columns: {sorted(features or {})}).")
    sampler = WindowSampler(source, audio_column, **sampler_kwargs)
    columns = list(features) if features is not None else None
    # Declared output features keep the stream "typed": windows stay numpy arrays through interleave_datasets
    # (inferred features would re-encode each window as a Python list).
    stream = dataset.map(sampler, batched=True, batch_size=8, remove_columns=columns, features=EXAMPLE_FEATURES)
    stream.window_samplers = [sampler]  # for set_stream_epoch
    return stream


def mix_sources(streams: dict[str, Any], proportions: dict[str, float], seed: int = 0):
    """Interleave source streams so each contributes its share of the examples (paper: fixed proportions)."""
    from datasets import interleave_datasets

    names = list(streams)
    weights = np.array([float(proportions[name]) for name in names])
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"Source proportions must be non-negative with a positive sum, got {proportions}.")
    return interleave_datasets(
        [streams[name] for name in names],
        probabilities=(weights / weights.sum()).tolist(),
        seed=seed,
        stopping_strategy="all_exhausted",
    )


def build_training_stream(
    path_or_dataset,
    sources: Sequence[TextSource] | None = None,
    split: str = "train",
    audio_column: str = "audio",
    sampling_rate: int = 16000,
    window_seconds: float | None = 10.24,
    clip_offset: float = 0.0,
    clip_seconds: float | None = None,
    short_clips: str = "pad",
    shuffle_buffer: int = 1000,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    streaming: bool = True,
    num_shards: int = 8,
    augmentation: AudioAugmentation | None = None,
    exclude: dict[str, Sequence] | None = None,
    tag_columns: Sequence[str] = (),
    feature_extractor=None,
):
    """The whole training stream: load (or take) the dataset, drop the rows `exclude` names (column → values,
    e.g. `{"soundfont": ["opl3"]}` to hold a sample set out), shuffle rows in a buffer, split by node for
    multi-process training, draw a window and a text per row for each source, augment the window, and mix the
    sources by weight; `tag_columns` (e.g. `["instruments", "mode"]`) give each example the row's tags for the tag
    loss; a `feature_extractor` with `pitch_class_seconds` makes each example carry its window's pitch-class
    profile over that context (`MuLanCollator` hands it to the model in place of the window's own). Call
    `set_stream_epoch(stream, epoch)` to reshuffle each epoch and draw new windows."""
    from datasets.distributed import split_dataset_by_node

    sources = list(sources or default_sources())
    if isinstance(path_or_dataset, str):
        rows = load_audio_text_dataset(path_or_dataset, split=split, streaming=streaming, num_shards=num_shards)
    else:
        rows = path_or_dataset
    rows = undecoded(rows, audio_column)
    if exclude:
        missing = [c for c in exclude if rows.features is not None and c not in rows.features]
        if missing:
            raise ValueError(f"Cannot exclude rows by {missing}: the dataset has no such column(s).")
        rows = rows.filter(RowsWithout(exclude))
    if world_size > 1:
        rows = split_dataset_by_node(rows, rank=rank, world_size=world_size)
    rows = rows.shuffle(seed=seed, buffer_size=shuffle_buffer)
    sampler_kwargs = dict(
        sampling_rate=sampling_rate,
        window_seconds=window_seconds,
        clip_offset=clip_offset,
        clip_seconds=clip_seconds,
        short_clips=short_clips,
        augmentation=augmentation,
        tag_columns=tuple(tag_columns),
    )
    if feature_extractor is not None and getattr(feature_extractor, "pitch_class_seconds", None) is not None:
        sampler_kwargs.update(
            pitch_class_seconds=feature_extractor.pitch_class_seconds,
            pitch_class_profile=feature_extractor.clip_pitch_class_profile,
        )
    streams = {
        source.name: source_stream(rows, source, audio_column, seed=seed + i, **sampler_kwargs)
        for i, source in enumerate(sources)
    }
    if len(streams) == 1:
        return next(iter(streams.values()))
    stream = mix_sources(streams, {s.name: s.weight for s in sources}, seed=seed)
    stream.window_samplers = [sampler for part in streams.values() for sampler in part.window_samplers]
    return stream


def set_stream_epoch(stream, epoch: int) -> None:
    """Start epoch `epoch` of a `build_training_stream` stream: a new row order (datasets' `set_epoch`) and new
    windows, texts and augmentations for every row (its window samplers' draws are keyed by the epoch)."""
    stream.set_epoch(epoch)
    for sampler in getattr(stream, "window_samplers", []):
        sampler.start_epoch(epoch)


def string_id(value: str) -> int:
    """A stable 63-bit id of a string (recording ids, texts): equal strings, equal ids, in every process."""
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "little") >> 1


def text_ids(input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """One int64 id per tokenised text: equal for equal token sequences (padding ignored), so texts that differ
    only in what the tokenizer drops (case, for an uncased vocabulary) are one text."""
    ids = []
    for i, row in enumerate(input_ids.tolist()):
        length = int(attention_mask[i].sum()) if attention_mask is not None else len(row)
        ids.append(string_id(" ".join(map(str, row[:length]))))
    return torch.tensor(ids, dtype=torch.long, device=input_ids.device)


class MuLanCollator:
    """Collate examples into model inputs with `MuLanProcessor`; also returns the loss's duplicate groups as int64
    tensors (`text_group`: equal tokenised texts; `audio_group`: windows of one recording, both positives of each
    other rather than negatives), `sources`, `recordings` (the ids) and `skipped` (the bad records among this
    batch's rows, by reason) for the training loop. With `text_negatives` (kinds of `data.negatives`, e.g.
    `["mode", "tempo"]`) the text rows after the batch's own are each text's counterfactual twin per kind
    (`negative_mask` marks the real ones, `negative_group` holds their text ids; the rest are empty placeholders).
    With a `tag_vocabulary` (the tag loss's labels per tag column, e.g. `{"instruments": [...], "mode": ["major",
    "minor"]}`, or one list) the label texts come last among the text rows, `tag_targets` (batch, labels) marks each
    example's tags among them and `tag_spans` holds each column's number of labels. A batch made
    only of skipped records holds just `skipped` and an empty `sources`. Picklable for DataLoader workers."""

    def __init__(
        self,
        processor,
        max_text_length: int = 64,
        text_negatives: Sequence[str] = (),
        tag_vocabulary: Mapping[str, Sequence[str]] | Sequence[str] = (),
    ):
        self.processor = processor
        self.max_text_length = max_text_length
        self.text_negatives = check_negative_kinds(text_negatives)
        by_column = dict(tag_vocabulary) if isinstance(tag_vocabulary, Mapping) else {"tags": tag_vocabulary}
        self.tag_columns = {column: list(labels) for column, labels in by_column.items() if len(labels)}
        self.tag_groups = list(self.tag_columns.values())
        self.tag_vocabulary = [label for group in self.tag_groups for label in group]

    def __call__(self, examples: list[dict]) -> dict:
        skipped = {r: int(sum(e[f"skipped_{r}"] for e in examples)) for r in SKIP_REASONS}
        examples = [e for e in examples if is_example(e)]
        if not examples:
            return {"skipped": skipped, "sources": [], "recordings": []}
        texts = [e["text"] for e in examples]
        negatives = [counterfactual_text(t, kind) for kind in self.text_negatives for t in texts]
        batch = self.processor(
            # Texts without the word get an empty placeholder, so every process has the same number of rows.
            text=texts + [n or "" for n in negatives] + self.tag_vocabulary,
            audio=[np.asarray(e["audio"], dtype=np.float32) for e in examples],
            sampling_rate=self.processor.feature_extractor.sampling_rate,
            windows="first",
            max_length=self.max_text_length,
            return_tensors="pt",
        )
        profiles = [e.get("pitch_class_profile") for e in examples]
        if "pitch_class_profile" in batch and all(p is not None and len(p) == 12 for p in profiles):
            # The stream's profile of the window's context: what the extractor gives this window of the recording.
            batch["pitch_class_profile"] = torch.tensor(np.stack(profiles), dtype=torch.float32).unsqueeze(1)
            batch["pitch_class_keys"] = [e.get("pitch_class_key") or "" for e in examples]
        recordings = [e.get("recording") or "" for e in examples]
        # Duplicate groups for the loss: equal (tokenised) texts, windows of one recording. A row without a
        # recording id gets a group of its own (negative ids never equal a hashed one).
        all_text_ids = text_ids(batch["input_ids"], batch.get("attention_mask"))
        batch["text_group"] = all_text_ids[: len(texts)]
        batch["audio_group"] = torch.tensor(
            [string_id(r) if r else -1 - i for i, r in enumerate(recordings)], dtype=torch.long
        )
        if self.text_negatives:
            batch["negative_mask"] = torch.tensor([n is not None for n in negatives])
            batch["negative_group"] = all_text_ids[len(texts) : len(texts) + len(negatives)]
        if self.tag_vocabulary:
            targets = torch.zeros(len(examples), len(self.tag_vocabulary))
            for i, example in enumerate(examples):
                tags = set(example.get("tags") or [])
                targets[i] = torch.tensor([label in tags for label in self.tag_vocabulary], dtype=torch.float32)
            batch["tag_targets"] = targets
            batch["tag_spans"] = torch.tensor([len(group) for group in self.tag_groups], dtype=torch.long)
        return {**batch, "sources": [e["source"] for e in examples], "recordings": recordings, "skipped": skipped}
