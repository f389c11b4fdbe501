"""Audio and text embeddings of whole collections: computed once per (model, dataset) in batches with a progress
bar, cached as a `datasets` Arrow dataset, and searchable through a FAISS index."""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Audio, Dataset, load_from_disk
from transformers.utils import logging

from ..data.streams import decode_audio

logger = logging.get_logger(__name__)


def model_fingerprint(model) -> str:
    """Changes whenever the model's config or weights change (hashes the config and every parameter's bytes)."""
    digest = hashlib.sha1(json.dumps(model.config.to_dict(), sort_keys=True, default=str).encode())
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().to(torch.float32).cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass
class AudioEmbeddings:
    """Clip embeddings (rows of `dataset` that decoded) and the rows that failed, with the reason."""

    embeddings: np.ndarray  # (clips, dim), L2-normalised
    rows: list[int]  # index in the source dataset of each embedded clip
    failed: dict[int, str] = field(default_factory=dict)
    dataset: Dataset | None = None  # the cached Arrow dataset (columns: row, embedding, plus kept columns)


def _decode_clip(audio, sampling_rate: int) -> np.ndarray:
    if isinstance(audio, dict) and "array" in audio:
        import torchaudio

        array = torch.as_tensor(np.asarray(audio["array"], dtype=np.float32))
        if array.ndim == 2:
            array = array.mean(0)
        if audio.get("sampling_rate", sampling_rate) != sampling_rate:
            array = torchaudio.functional.resample(array, audio["sampling_rate"], sampling_rate)
        return array.numpy()
    source = audio.get("bytes") or audio.get("path") if isinstance(audio, dict) else audio
    if source is None:
        raise ValueError("no audio bytes or path")
    return decode_audio(source, sampling_rate)


def _load_cached(cache_path: Path) -> AudioEmbeddings:
    cached = load_from_disk(str(cache_path))
    failed = json.loads((cache_path / "failed.json").read_text())
    embeddings = np.asarray(cached["embedding"], dtype=np.float32)
    return AudioEmbeddings(embeddings, list(cached["row"]), {int(k): v for k, v in failed.items()}, cached)


def embed_audio(
    model,
    feature_extractor,
    dataset: Dataset,
    audio_column: str = "audio",
    batch_size: int = 8,
    max_windows: int | None = None,
    keep_columns: tuple[str, ...] = (),
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> AudioEmbeddings:
    """Embed every clip of `dataset` (each the mean of its 10 s windows). Clips that fail to decode are skipped and
    listed in `failed`. With `cache_dir`, results are saved as an Arrow dataset named after the model's and the
    dataset's fingerprints and loaded from there next time."""
    from tqdm.auto import tqdm

    if audio_column not in dataset.column_names:
        raise ValueError(f"The dataset has no column {audio_column!r} (columns: {dataset.column_names}).")
    missing = [c for c in keep_columns if c not in dataset.column_names]
    if missing:
        raise ValueError(f"The dataset has no column(s) {missing} to keep (columns: {dataset.column_names}).")
    cache_path = None
    if cache_dir is not None:
        key = f"{model_fingerprint(model)}-{dataset._fingerprint}-{max_windows}"
        cache_path = Path(cache_dir) / f"audio-embeddings-{key}"
        if (cache_path / "dataset_info.json").is_file():
            return _load_cached(cache_path)

    if isinstance(dataset.features.get(audio_column), Audio):
        dataset = dataset.cast_column(audio_column, Audio(decode=False))
    model.eval()
    sampling_rate = feature_extractor.sampling_rate
    embeddings, rows, failed = [], [], {}
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        if not pending:
            return
        inputs = feature_extractor(
            [clip for _, clip in pending], sampling_rate=sampling_rate, max_windows=max_windows, return_tensors="pt"
        )
        with torch.no_grad():
            inputs = {k: v.to(model.device, model.dtype if v.is_floating_point() else None) for k, v in inputs.items()}
            output = model.get_audio_features(**inputs)
        embeddings.append(output.pooler_output.float().cpu().numpy())
        rows.extend(index for index, _ in pending)
        pending.clear()

    for index in tqdm(range(len(dataset)), desc="Embedding audio", unit="clip", disable=not progress):
        audio = dataset[index][audio_column]
        try:
            pending.append((index, _decode_clip(audio, sampling_rate)))
        except Exception as error:
            where = audio.get("path") if isinstance(audio, dict) else index
            failed[index] = f"{where}: {str(error).splitlines()[0][:200]}"
            logger.warning(f"Could not decode clip {index} ({failed[index]}); it is left out.")
            continue
        if len(pending) == batch_size:
            flush()
    flush()
    if not rows:
        raise ValueError(f"No clip of the dataset could be decoded ({len(failed)} failed).")
    matrix = np.concatenate(embeddings).astype(np.float32)
    table = Dataset.from_dict(
        {
            "row": rows,
            "embedding": matrix.tolist(),
            **{c: [dataset[i][c] for i in rows] for c in keep_columns},
        }
    )
    if cache_path is not None:
        table.save_to_disk(str(cache_path))
        (cache_path / "failed.json").write_text(json.dumps(failed))
    return AudioEmbeddings(matrix, rows, failed, table)


def embed_texts(
    model, tokenizer, texts: list[str], templates: tuple[str, ...] = ("{}",), batch_size: int = 64
) -> np.ndarray:
    """Text embeddings (texts, dim); with several templates (e.g. "{}", "{} music"), each text's embeddings under all
    templates are averaged in embedding space and normalised again (prompt ensembling)."""
    if not texts:
        raise ValueError("No texts to embed: the label list is empty.")
    model.eval()
    per_template = []
    for template in templates:
        filled = [template.format(t) for t in texts]
        chunks = []
        for start in range(0, len(filled), batch_size):
            inputs = tokenizer(filled[start : start + batch_size], padding=True, truncation=True, return_tensors="pt")
            with torch.no_grad():
                chunks.append(model.get_text_features(**inputs.to(model.device)).pooler_output.float().cpu().numpy())
        per_template.append(np.concatenate(chunks))
    mean = np.mean(per_template, axis=0)
    return (mean / np.linalg.norm(mean, axis=1, keepdims=True).clip(min=1e-12)).astype(np.float32)


def mean_pooled_text_embeddings(model_path: str, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """A baseline text encoder: a BERT-family model's token states averaged over the attention mask (as the paper's
    BERT baseline and sentence-transformers do)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    encoder = AutoModel.from_pretrained(model_path).eval()
    out = []
    for start in range(0, len(texts), batch_size):
        inputs = tokenizer(texts[start : start + batch_size], padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            states = encoder(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        out.append(((states * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
    return np.concatenate(out)


def build_faiss_index(embeddings: AudioEmbeddings) -> Dataset:
    """The cached embeddings as a `datasets` table with an inner-product FAISS index (cosine: embeddings are
    normalised)."""
    import faiss

    table = embeddings.dataset
    table.add_faiss_index(column="embedding", metric_type=faiss.METRIC_INNER_PRODUCT)
    return table


def search(index: Dataset, query_embedding: np.ndarray, k: int = 5) -> list[dict]:
    """The k nearest clips to a query embedding: their rows, scores and kept columns."""
    scores, examples = index.get_nearest_examples("embedding", np.asarray(query_embedding, dtype=np.float32), k=k)
    columns = [c for c in examples if c != "embedding"]
    return [{"score": float(s), **{c: examples[c][i] for c in columns}} for i, s in enumerate(scores)]
