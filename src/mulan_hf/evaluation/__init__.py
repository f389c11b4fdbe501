"""The paper's four evaluations as a library: zero-shot tagging, linear probes, text-to-music retrieval and text
triplets, with dataset loaders, cached embeddings, a FAISS search index and readable reports."""

from .embeddings import (
    AudioEmbeddings,
    build_faiss_index,
    embed_audio,
    embed_texts,
    mean_pooled_text_embeddings,
    model_fingerprint,
    search,
)
from .loaders import (
    TaggingSet,
    load_audioset,
    load_captions,
    load_corpus_tagging,
    load_magnatagatune,
    load_tagging_dataset,
    ontology_triplets,
)
from .metrics import retrieval_metrics, tagging_metrics, triplet_accuracy
from .report import write_report
from .tasks import (
    DEFAULT_TEMPLATES,
    EvaluationReport,
    linear_probe,
    text_to_music_retrieval,
    text_triplets,
    zero_shot_tagging,
)

__all__ = [
    "DEFAULT_TEMPLATES",
    "AudioEmbeddings",
    "EvaluationReport",
    "TaggingSet",
    "build_faiss_index",
    "embed_audio",
    "embed_texts",
    "linear_probe",
    "load_audioset",
    "load_captions",
    "load_corpus_tagging",
    "load_magnatagatune",
    "load_tagging_dataset",
    "mean_pooled_text_embeddings",
    "model_fingerprint",
    "ontology_triplets",
    "retrieval_metrics",
    "search",
    "tagging_metrics",
    "text_to_music_retrieval",
    "text_triplets",
    "triplet_accuracy",
    "write_report",
    "zero_shot_tagging",
]
