"""MuLan inside mteb (MTEB/MAEB's audio tasks): an `AbsEncoder` with audio and text embeddings, its `ModelMeta`, and
a local text→music retrieval task built from the embedded corpus (no Hub):

    import mteb
    from mulan_hf.integrations.mteb import MuLanEncoder, corpus_retrieval_task

    encoder = MuLanEncoder("path/or/hub-id")                    # a save_pretrained folder (model + processor)
    task = corpus_retrieval_task("outputs/corpus")              # captions → their recordings, the test split
    result = mteb.evaluate(encoder, task, cache=None)           # nDCG@10, R@k, MRR, ... as mteb computes them

mteb's own audio tasks (MusicCaps, Song Describer, ...) run the same way on a machine that reaches the Hub:
`mteb.evaluate(encoder, mteb.get_tasks(modalities=["audio"], ...))`. Audio arrives from mteb at any rate and is
resampled by mteb's `AudioCollator` to the feature extractor's rate; clips longer than one window are split into
windows whose embeddings are averaged (MuLan's clip embedding). Texts past the text tower's limit are truncated."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.models import ModelMeta
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.modality_collators import AudioCollator
from tqdm.auto import tqdm

from ..modeling import MuLanModel
from ..processing import MuLanProcessor

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

PAPER = "https://arxiv.org/abs/2208.12415"
CITATION = """@inproceedings{huang2022mulan,
  title={MuLan: A Joint Embedding of Music Audio and Natural Language},
  author={Huang, Qingqing and Jansen, Aren and Lee, Joonseok and Ganti, Ravi and Li, Judith Yue and
          Ellis, Daniel P. W.},
  booktitle={Proceedings of the 23rd International Society for Music Information Retrieval Conference (ISMIR)},
  year={2022},
  url={https://arxiv.org/abs/2208.12415}
}"""


def mulan_model_meta(name: str, model: MuLanModel, revision: str | None = None) -> ModelMeta:
    """mteb's description of a MuLan checkpoint: sizes read from the model, cosine similarity, audio and text."""
    text_limit = model.config.text_config.max_position_embeddings
    return ModelMeta(
        loader=MuLanEncoder,
        name=f"local/{Path(name).name or 'mulan'}" if Path(name).exists() or "/" not in name else name,
        revision=revision or "local",
        release_date=None,
        languages=["eng-Latn"],
        n_parameters=sum(p.numel() for p in model.parameters()),
        memory_usage_mb=round(sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20, 1),
        max_tokens=text_limit,
        embed_dim=model.config.projection_dim,
        license="apache-2.0",
        open_weights=True,
        public_training_code=None,
        public_training_data=None,
        framework=["PyTorch", "Transformers"],
        reference=PAPER,
        similarity_fn_name="cosine",
        use_instructions=False,
        training_datasets=set(),
        modalities=["audio", "text"],
        citation=CITATION,
    )


class MuLanEncoder(AbsEncoder):
    """A MuLan checkpoint as mteb's encoder: `get_audio_embeddings` / `get_text_embeddings` return L2-normalised
    128-d float32 rows; `encode` dispatches on the columns mteb hands over (for a row that has both audio and text,
    the two embeddings are summed, as mteb's CLAP wrapper does)."""

    def __init__(
        self,
        model_name: str | None = None,
        revision: str | None = None,
        device: str | None = None,
        model: MuLanModel | None = None,
        processor: MuLanProcessor | None = None,
        **kwargs: Any,
    ):
        if model is None or processor is None:
            if not model_name:
                raise ValueError(
                    "MuLanEncoder needs a checkpoint: `model_name` (a save_pretrained folder or Hub id holding the "
                    "model and its processor), or `model=` and `processor=` objects."
                )
            model = MuLanModel.from_pretrained(model_name, revision=revision)
            processor = MuLanProcessor.from_pretrained(model_name, revision=revision)
        self.model = model.eval().to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.processor = processor
        self.sampling_rate = int(processor.feature_extractor.sampling_rate)
        self.max_length = int(model.config.text_config.max_position_embeddings)
        self.mteb_model_meta = mulan_model_meta(model_name or "local/mulan", model, revision)

    @torch.no_grad()
    def get_audio_embeddings(self, inputs: DataLoader, show_progress_bar: bool = True, **kwargs: Any) -> np.ndarray:
        inputs.collate_fn = AudioCollator(target_sampling_rate=self.sampling_rate)
        rows = []
        for batch in tqdm(inputs, disable=not show_progress_bar, desc="MuLan audio", unit="batch"):
            clips = [np.asarray(audio["array"], dtype=np.float32) for audio in batch["audio"]]
            features = self.processor(audio=clips, sampling_rate=self.sampling_rate, return_tensors="pt")
            features = {name: value.to(self.model.device) for name, value in features.items()}
            rows.append(self.model.get_audio_features(**features).pooler_output.float().cpu().numpy())
        return np.concatenate(rows)

    @torch.no_grad()
    def get_text_embeddings(self, inputs: DataLoader, show_progress_bar: bool = True, **kwargs: Any) -> np.ndarray:
        rows = []
        for batch in tqdm(inputs, disable=not show_progress_bar, desc="MuLan text", unit="batch"):
            tokens = self.processor(
                text=list(batch["text"]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            tokens = {name: value.to(self.model.device) for name, value in tokens.items()}
            rows.append(self.model.get_text_features(**tokens).pooler_output.float().cpu().numpy())
        return np.concatenate(rows)

    def encode(self, inputs: DataLoader, *, task_metadata: TaskMetadata, hf_split: str, hf_subset: str, **kwargs):
        columns = inputs.dataset.features
        text = self.get_text_embeddings(inputs, **kwargs) if "text" in columns else None
        audio = self.get_audio_embeddings(inputs, **kwargs) if "audio" in columns else None
        if text is not None and audio is not None:
            return text + audio
        if text is None and audio is None:
            raise ValueError(f"MuLan embeds audio and text; mteb passed columns {list(columns)}.")
        return text if audio is None else audio


class CorpusTextToMusicRetrieval(AbsTaskRetrieval):
    """Each caption of the embedded corpus's split is a query; its relevant document is its own recording. The data
    is read from a local corpus folder (`mulan-hf make-corpus`), never from the Hub."""

    metadata = TaskMetadata(
        name="MuLanCorpusT2MRetrieval",
        description="Text-to-music retrieval on mulan-hf's rendered corpus: long-form captions → recordings.",
        reference=PAPER,
        dataset={"path": "local/mulan-hf-corpus", "revision": "local"},
        type="Any2AnyRetrieval",
        category="t2a",
        modalities=["audio", "text"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score="ndcg_at_10",
        date=("2026-01-01", "2026-12-31"),
        domains=["Music"],
        task_subtypes=[],
        license="apache-2.0",
        annotations_creators="derived",
        dialect=[],
        sample_creation="created",
        bibtex_citation=CITATION,
    )

    def __init__(self, corpus_dir: str | Path, captions_column: str = "long_form", **kwargs: Any):
        super().__init__(**kwargs)
        self.corpus_dir = Path(corpus_dir)
        self.captions_column = captions_column

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        from datasets import Audio, Dataset

        from ..evaluation.loaders import load_captions

        if not any(self.corpus_dir.rglob("metadata.jsonl")):
            raise ValueError(
                f"{self.corpus_dir} holds no corpus (no metadata.jsonl); make one with `mulan-hf make-corpus`."
            )
        dataset, queries, relevant = load_captions(str(self.corpus_dir), self.captions_column, split="test")
        corpus = Dataset.from_dict(
            {"id": [f"d{row}" for row in range(len(dataset))], "audio": list(dataset["audio"])}
        ).cast_column("audio", Audio())
        self.dataset = {
            "default": {
                "test": RetrievalSplitData(
                    queries=Dataset.from_dict({"id": [f"q{i}" for i in range(len(queries))], "text": queries}),
                    corpus=corpus,
                    relevant_docs={f"q{i}": {f"d{row}": 1 for row in rows} for i, rows in enumerate(relevant)},
                    top_ranked=None,
                )
            }
        }
        self.data_loaded = True


def corpus_retrieval_task(corpus_dir: str | Path, captions_column: str = "long_form") -> CorpusTextToMusicRetrieval:
    """The local text→music retrieval task on a corpus folder's test split."""
    return CorpusTextToMusicRetrieval(corpus_dir, captions_column)
