"""MuLan demo Space: zero-shot tagging, text → music search and music → music similarity over a bundled gallery.

Tagging shows the softmax ranking of the candidate labels, each label's own probability (when the checkpoint ships a
calibration.json, fitted by `mulan-hf calibrate` on the corpus's validation split: several labels can be likely at
once, or none) and, for uploads longer than one analysis window, the top labels' scores window by window.

Configuration (environment variables):
    MULAN_MODEL        a MuLan checkpoint folder or Hub id (default: ./model next to this file, then the project's
                       trained tiny checkpoint outputs/mulan-tiny/model, then a freshly built tiny checkpoint)
    MULAN_GALLERY      a folder with gallery.json and its clips (default: ./gallery, rendered on first start when
                       missing and the mulan_hf package is installed)
    MULAN_MAX_SECONDS  how much of an uploaded file is analysed (default 300 s; longer files get a notice)
    MULAN_CONCURRENCY  requests processed at once (default 2)

Runs on CPU. Only needs gradio, torch, torchaudio, torchcodec and transformers: without the mulan_hf package the
model loads through its remote code (trust_remote_code=True).
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from transformers import AutoModel, AutoProcessor

HERE = Path(__file__).absolute().parent  # not resolved: in a clone, spaces/mulan-demo links into the package
REPO_ROOT = HERE.parents[1]
SAMPLING_RATE = 16000
MAX_SECONDS = float(os.environ.get("MULAN_MAX_SECONDS", 300))
MAX_LABELS = 100
SILENCE_PEAK = 1e-4  # about -80 dBFS
TOP_K = 3
TIMELINE_LABELS = 5  # labels drawn in the scores-over-time plot
DEFAULT_LABELS = (
    "piano, electric piano, organ, acoustic guitar, electric guitar, distorted guitar, bass, violin, cello, strings, "
    "harp, trumpet, trombone, saxophone, clarinet, flute, synth lead, synth pad, drums, "
    "rock, jazz, waltz, march, ballad, bossa nova, chorale, electronic, folk, minimalist, "
    "slow, fast, calm, energetic, happy, sad, major key, minor key"
)
SEARCH_EXAMPLES = [
    "a calm piano ballad",
    "energetic rock with distorted guitar and drums",
    "a brass march",
    "jazz with saxophone",
    "slow strings in a minor key",
]

try:  # the package registers MuLan with the Auto classes and the pipeline; without it, remote code does
    import mulan_hf  # noqa: F401

    HAVE_PACKAGE = True
except ImportError:
    HAVE_PACKAGE = False


# ----------------------------------------------------------------------------------------------------------------
# Model and gallery
# ----------------------------------------------------------------------------------------------------------------
def resolve_model() -> str:
    """MULAN_MODEL, else ./model, else the project's trained tiny checkpoint, else a freshly built tiny one."""
    if os.environ.get("MULAN_MODEL"):
        return os.environ["MULAN_MODEL"]
    for candidate in (HERE / "model", REPO_ROOT / "outputs" / "mulan-tiny" / "model"):
        if (candidate / "config.json").is_file():
            return str(candidate)
    if not HAVE_PACKAGE:
        raise RuntimeError("No checkpoint: set MULAN_MODEL to a MuLan folder or Hub id.")
    from mulan_hf.packaged import build_tiny_checkpoint

    return str(build_tiny_checkpoint(HERE / ".cache" / "tiny-model"))


def load_calibration(model_id: str) -> dict | None:
    """calibration.json beside the checkpoint (a local folder or a Hub repo), or None when it has none."""
    local = Path(model_id) / "calibration.json"
    if local.is_file():
        return json.loads(local.read_text())
    if Path(model_id).exists():
        return None
    try:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(model_id, "calibration.json")).read_text())
    except Exception:  # no such file in the repo, or no network: the demo shows the ranking alone
        return None


def resolve_gallery() -> Path:
    folder = Path(os.environ.get("MULAN_GALLERY", HERE / "gallery"))
    if not (folder / "gallery.json").is_file():
        if not HAVE_PACKAGE:
            raise RuntimeError(f"No gallery at {folder}: set MULAN_GALLERY or install mulan_hf to render one.")
        from mulan_hf.data import write_gallery

        write_gallery(folder)
    return folder


class MuLanService:
    """The model, the processor and the embedded gallery, shared by every request (read-only after start-up)."""

    def __init__(self, model_id: str, gallery: Path):
        kwargs = {} if HAVE_PACKAGE else {"trust_remote_code": True}
        self.model_id = model_id
        self.model = AutoModel.from_pretrained(model_id, **kwargs).eval()
        self.processor = AutoProcessor.from_pretrained(model_id, **kwargs)
        self.calibration = load_calibration(model_id)
        self.window_seconds = float(self.processor.feature_extractor.window_seconds)
        self.gallery_dir = gallery
        self.gallery = json.loads((gallery / "gallery.json").read_text())
        self.lock = threading.Lock()  # torch's CPU kernels already use every core: one forward at a time
        # Most requests reuse a label list (the default vocabulary): embed each list once.
        self.label_embeddings = functools.lru_cache(maxsize=64)(self._label_embeddings)
        clips = [load_audio(str(gallery / entry["file_name"]))[0] for entry in self.gallery]
        self.gallery_embeds = self.embed_audio(clips)

    @torch.no_grad()
    def embed_audio(self, clips: list[np.ndarray]) -> torch.Tensor:
        inputs = self.processor(audio=clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")
        with self.lock:
            return self.model.get_audio_features(**inputs).pooler_output

    @torch.no_grad()
    def embed_text(self, texts: list[str]) -> torch.Tensor:
        inputs = self.processor(text=texts, padding=True, truncation=True, return_tensors="pt")
        with self.lock:
            return self.model.get_text_features(**inputs).pooler_output

    def _label_embeddings(self, labels: tuple[str, ...]) -> torch.Tensor:
        return self.embed_text(list(labels))

    @torch.no_grad()
    def embed_windows(self, clip: np.ndarray) -> torch.Tensor:
        """(windows, dim): each analysis window embedded on its own (the clip embedding is their normalised mean)."""
        inputs = self.processor(audio=[clip], sampling_rate=SAMPLING_RATE, return_tensors="pt")
        num_windows = inputs["window_mask"].shape[1]
        single = {k: v.reshape(num_windows, 1, *v.shape[2:]) for k, v in inputs.items() if k != "window_mask"}
        with self.lock:
            return self.model.get_audio_features(**single).pooler_output

    def probabilities(self, labels: list[str], cosines: torch.Tensor) -> torch.Tensor | None:
        """Per-label probabilities (..., labels) from cosines through calibration.json's maps; None without it."""
        if self.calibration is None:
            return None
        shared = self.calibration["shared"]
        maps = [self.calibration["labels"].get(label.strip().lower(), shared) for label in labels]
        slope = torch.tensor([m["slope"] for m in maps], dtype=cosines.dtype)
        intercept = torch.tensor([m["intercept"] for m in maps], dtype=cosines.dtype)
        return torch.sigmoid(cosines * slope + intercept)

    def tag(self, clip: np.ndarray, labels: list[str]) -> tuple[dict[str, float], dict[str, float], list[list]]:
        """Softmax ranking, per-label probabilities ({} without calibration) and, for clips of several windows,
        rows (window centre in seconds, score, label) of the top labels' per-window scores."""
        windows = self.embed_windows(clip)
        audio = torch.nn.functional.normalize(windows.mean(dim=0, keepdim=True), dim=-1)
        text = self.label_embeddings(tuple(labels))  # cached per label list
        scale = self.model.logit_scale.exp()
        ranking = (audio @ text.T * scale).softmax(dim=-1)[0]
        probabilities = self.probabilities(labels, audio @ text.T)
        per_label = {} if probabilities is None else dict(zip(labels, probabilities[0].tolist()))
        timeline = []
        if len(windows) > 1:
            top = ranking.argsort(descending=True)[:TIMELINE_LABELS].tolist()
            window_scores = self.probabilities(labels, windows @ text.T)
            if window_scores is None:
                window_scores = (windows @ text.T * scale).softmax(dim=-1)
            for w in range(len(windows)):
                centre = round((w + 0.5) * self.window_seconds, 2)
                timeline += [[centre, float(window_scores[w, j]), labels[j]] for j in top]
        return {label: float(score) for label, score in zip(labels, ranking)}, per_label, timeline

    def nearest(self, query: torch.Tensor, k: int = TOP_K) -> list[tuple[dict, float]]:
        similarity = (query @ self.gallery_embeds.T)[0]
        top = similarity.topk(min(k, len(self.gallery)))
        return [(self.gallery[int(i)], float(s)) for s, i in zip(top.values, top.indices)]


# ----------------------------------------------------------------------------------------------------------------
# Input checks: every problem becomes a readable message (gr.Error), never a stack trace
# ----------------------------------------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def load_audio(path: str | None) -> tuple[np.ndarray, str]:
    """Decode (mono, 16 kHz) at most MAX_SECONDS of an upload; returns the samples and a notice ('' if none)."""
    if not path:
        raise gr.Error("No audio yet: upload a file or record a clip first.")
    from torchcodec.decoders import AudioDecoder

    try:
        decoder = AudioDecoder(path, sample_rate=SAMPLING_RATE, num_channels=1)
    except Exception as error:  # torchcodec raises RuntimeError/ValueError for anything it cannot open
        raise gr.Error(
            f"This file could not be read as audio ({type(error).__name__}). Upload a WAV, MP3, FLAC or OGG file."
        ) from None
    duration = decoder.metadata.duration_seconds
    try:
        samples = decoder.get_samples_played_in_range(0.0, min(duration or MAX_SECONDS, MAX_SECONDS))
    except RuntimeError as error:
        if "No audio frames were decoded" in str(error):  # a valid container without samples
            raise gr.Error("The recording is empty: record or upload at least a second of music.") from None
        raise gr.Error(f"The audio in this file is damaged and could not be decoded ({error}).") from None
    clip = samples.data.mean(dim=0).numpy()
    if clip.size == 0:
        raise gr.Error("The recording is empty: record or upload at least a second of music.")
    if not np.isfinite(clip).all():
        raise gr.Error("The recording contains invalid samples (NaN/Inf): export it again and re-upload.")
    if float(np.abs(clip).max()) < SILENCE_PEAK:
        raise gr.Error("The recording is silent: check the microphone or upload a clip with music in it.")
    notice = ""
    if duration is not None and duration > MAX_SECONDS + 0.5:
        notice = (
            f"Only the first {_clock(MAX_SECONDS)} of this {_clock(duration)} recording were analysed "
            f"(the demo's cap; MuLan averages the embeddings of its "
            f"{math.ceil(MAX_SECONDS / 10.24)} 10-second windows)."
        )
    return clip, notice


def parse_labels(text: str | None) -> list[str]:
    labels = list(dict.fromkeys(label.strip() for label in (text or "").split(",") if label.strip()))
    if not labels:
        raise gr.Error("No labels: type one or more candidate labels separated by commas, e.g. 'piano, drums, calm'.")
    if len(labels) > MAX_LABELS:
        raise gr.Error(f"{len(labels)} labels is too many for the demo: give at most {MAX_LABELS}.")
    return labels


# ----------------------------------------------------------------------------------------------------------------
# The app
# ----------------------------------------------------------------------------------------------------------------
def tagging_tab(service: MuLanService, example_clips: list[str]) -> None:
    """Upload or record, candidate labels → softmax ranking, per-label probabilities, scores over time."""

    def tag(audio_path: str | None, labels_text: str):
        import pandas as pd

        labels = parse_labels(labels_text)
        clip, notice = load_audio(audio_path)
        ranking, per_label, timeline = service.tag(clip, labels)
        frame = pd.DataFrame(timeline, columns=["time (s)", "score", "label"])
        return ranking, per_label or None, gr.LinePlot(value=frame, visible=bool(timeline)), notice

    probability_title = "Probability of each label on its own"
    if service.calibration is not None:
        probability_title += f" (calibrated on {service.calibration.get('fitted_on', 'a validation split')})"
    with gr.Row():
        with gr.Column():
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Music")
            labels = gr.Textbox(value=DEFAULT_LABELS, lines=3, label="Candidate labels (comma-separated)")
            button = gr.Button("Tag", variant="primary")
        with gr.Column():
            ranking = gr.Label(num_top_classes=10, label="Ranked labels", elem_id="ranked-labels")
            probabilities = gr.Label(
                num_top_classes=10,
                label=probability_title,
                elem_id="label-probabilities",
                visible=service.calibration is not None,
            )
            notice = gr.Markdown(elem_id="tag-notice")
    timeline = gr.LinePlot(
        x="time (s)",
        y="score",
        color="label",
        label="Top labels over time (each analysis window)",
        visible=False,
        elem_id="tag-timeline",
    )
    outputs = [ranking, probabilities, timeline, notice]
    button.click(tag, [audio, labels], outputs, api_name="tag")
    gr.Examples(
        [[clip, DEFAULT_LABELS] for clip in example_clips],
        inputs=[audio, labels],
        outputs=outputs,
        fn=tag,
        run_on_click=True,
        cache_examples=False,
        label="Gallery clips (click one)",
    )


def gallery_results(service: MuLanService, matches: list[tuple[dict, float]]) -> list:
    """The matches as a table and TOP_K players (empty ones when the gallery is smaller)."""
    table = [
        [rank + 1, entry["caption"], round(score, 4), entry["file_name"]] for rank, (entry, score) in enumerate(matches)
    ]
    players = [
        gr.Audio(
            value=str(service.gallery_dir / entry["file_name"]),
            label=f"#{rank + 1} · {score:.3f} · {entry['caption']}",
        )
        for rank, (entry, score) in enumerate(matches)
    ]
    players += [gr.Audio(value=None, label="") for _ in range(TOP_K - len(players))]
    return [table, *players]


def search_tab(service: MuLanService, query_input, examples: list[list], title: str, api_name: str, fn) -> None:
    """A query (text or music) → the nearest gallery clips, as a table and players."""
    button = gr.Button(title, variant="primary")
    table = gr.Dataframe(headers=["rank", "caption", "similarity", "clip"], label="Best matches", interactive=False)
    players = [gr.Audio(label=f"#{i + 1}", interactive=False) for i in range(TOP_K)]
    button.click(fn, [query_input], [table, *players], api_name=api_name)
    if isinstance(query_input, gr.Textbox):
        query_input.submit(fn, [query_input], [table, *players])
    gr.Examples(
        examples, inputs=[query_input], outputs=[table, *players], fn=fn, run_on_click=True, cache_examples=False
    )


def build_demo(service: MuLanService) -> gr.Blocks:
    example_clips = [str(service.gallery_dir / entry["file_name"]) for entry in service.gallery[:4]]

    def search(query: str) -> list:
        query = (query or "").strip()
        if not query:
            raise gr.Error("Type a description of the music you are looking for, e.g. 'a calm piano ballad'.")
        return gallery_results(service, service.nearest(service.embed_text([query])))

    def similar(audio_path: str | None) -> list:
        clip, _ = load_audio(audio_path)
        return gallery_results(service, service.nearest(service.embed_audio([clip])))

    with gr.Blocks(title="MuLan: music ↔ text") as demo:
        gr.Markdown(
            "# MuLan: music ↔ text\n"
            "A joint embedding of music audio and natural language ([Huang et al., ISMIR 2022]"
            "(https://arxiv.org/abs/2208.12415)), built with mulan-hf. "
            f"Model: `{service.model_id}`. Gallery: {len(service.gallery)} synthesised clips. "
            f"Uploads longer than {_clock(MAX_SECONDS)} are analysed up to that point."
        )
        with gr.Tab("Zero-shot tagging"):
            tagging_tab(service, example_clips)
        with gr.Tab("Text → music"):
            query = gr.Textbox(label="Describe the music", placeholder="a calm piano ballad")
            search_tab(service, query, [[q] for q in SEARCH_EXAMPLES], "Search", "search", search)
        with gr.Tab("Music → music"):
            music = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Music")
            search_tab(service, music, [[c] for c in example_clips[:2]], "Find similar clips", "similar", similar)
    return demo


def main() -> None:
    service = MuLanService(resolve_model(), resolve_gallery())
    demo = build_demo(service)
    demo.queue(default_concurrency_limit=int(os.environ.get("MULAN_CONCURRENCY", 2)), max_size=256)
    demo.launch(allowed_paths=[str(service.gallery_dir)], show_error=True)


if __name__ == "__main__":
    main()
