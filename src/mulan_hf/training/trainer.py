"""The reusable parts of MuLan training with accelerate (the loop itself is examples/train.py, read top to bottom):
arguments and presets, the model and processor a preset builds, the optimiser with the paper's step decay, the
training stream and its resumable loader, checkpoints that a killed run resumes from, one batch's loss, periodic
zero-shot validation, and the end of a run (save_pretrained, test figures, calibration, model card, push)."""

import importlib.util
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torchdata.stateful_dataloader import StatefulDataLoader
from transformers.utils import logging

from .. import MuLanModel, MuLanProcessor
from ..data.augment import AudioAugmentation
from ..data.negatives import check_negative_kinds
from ..data.streams import (
    SKIP_REASONS,
    MuLanCollator,
    TextSource,
    build_training_stream,
    default_sources,
    load_audio_text_dataset,
    undecoded,
)
from ..data.synthesis import DEFAULT_SAMPLE_SETS
from ..evaluation.corpus import corpus_tagging_scores, transfer_scores
from ..packaged import build_from_preset, load_preset
from .losses import MuLanLoss, TextNegatives
from .schedules import step_decay_schedule
from .text_cache import TextStateCache

logger = logging.get_logger(__name__)


@dataclass
class MuLanTrainingArguments:
    output_dir: str = "outputs/mulan-tiny"
    preset: str | None = "tiny"  # a JSON file or a name in examples/configs (tiny, resnet-tiny, tiny-ast, ...)
    audio_model: str | None = None  # warm-start checkpoints (override the preset's)
    text_model: str | None = None
    data: str = "outputs/corpus"  # dataset path / Hub id
    make_corpus_recordings: int = 1200  # render the embedded corpus into `data` if it is missing
    sample_sets: list[str] = field(default_factory=lambda: list(DEFAULT_SAMPLE_SETS))  # SoundFonts it renders with
    holdout_sample_set: str | None = None  # never trained on, reported apart (transfer); "none": train on all
    augmentation: dict | None = None  # AudioAugmentation settings per training window ({}: defaults; None: off)
    sources: list[dict] = field(default_factory=list)  # [{"name", "columns", "weight", "clean"}]; default: paper
    audio_column: str = "audio"
    window_seconds: float | None = None  # default: the feature extractor's window
    batch_size: int = 16  # per process
    gradient_accumulation_steps: int = 1
    max_steps: int = 300
    learning_rate: float = 5e-4  # audio tower, projections, temperature
    text_learning_rate: float = 5e-5  # the (pretrained) text tower
    lock_text_tower: bool = False  # LiT-style: freeze the text tower, train its projection and the audio side
    lock_audio_tower: bool = False  # freeze a pretrained audio tower (eval-mode batch norm), train its projection
    audio_trainable_layers: list[str] = field(default_factory=list)  # with lock_audio_tower: prefixes still trained
    weight_decay: float = 0.0
    warmup_steps: int = 20
    decay_every: int = 40_000
    decay: float = 0.9
    max_logit_scale: float = math.log(100.0)
    loss: str = "contrastive"  # or "sigmoid"
    mask_duplicates: bool = True
    text_negatives: list[str] = field(default_factory=list)  # counterfactual caption twins: "mode", "tempo"
    tag_columns: list[str] = field(default_factory=list)  # e.g. ["instruments", "mode"]: adds the tag loss
    tag_vocabulary: dict = field(default_factory=dict)  # column -> its labels; default: the column's values
    tag_weight: float = 1.0  # the tag loss's weight beside the caption loss
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    save_steps: int = 100
    save_total_limit: int | None = 2  # keep the newest N checkpoints (None: all)
    resume_from_checkpoint: str | None = None  # a checkpoint folder or "latest"
    eval_steps: int = 100
    eval_clips: int = 64
    test_at_end: bool = True  # zero-shot tag the corpus's whole test split after training
    max_bad_steps: int = 5
    num_workers: int = 0
    cpu_threads: int | None = None  # per process on CPU; default: the machine's cores / local processes
    seed: int = 0
    log_with: str | None = "tensorboard" if importlib.util.find_spec("tensorboard") else None
    push_to_hub: bool = False
    hub_model_id: str | None = None


def field_comments(cls) -> dict[str, str]:
    """Each dataclass field's trailing `# comment` in the class's source (the flags' help in examples/train.py)."""
    import inspect
    import re

    comments = {}
    for line in inspect.getsource(cls).splitlines():
        match = re.match(r"\s+(\w+): [^#]+#\s*(.+)$", line)
        if match:
            comments[match.group(1)] = match.group(2).strip()
    return comments


def build_model_and_processor(args: MuLanTrainingArguments) -> tuple[MuLanModel, MuLanProcessor]:
    """The run's model and processor from its preset (`mulan_hf.packaged.build_from_preset`)."""
    return build_from_preset(args.preset, args.output_dir, args.audio_model, args.text_model, args.loss, args.seed)


def lock_towers(model: MuLanModel, args: MuLanTrainingArguments) -> None:
    """Freeze what the recipe locks: the text tower, the audio tower but for `audio_trainable_layers`."""
    if args.lock_text_tower:
        model.text_model.requires_grad_(False)
    if args.lock_audio_tower:
        model.audio_model.requires_grad_(False)
        names = [name for name, _ in model.audio_model.named_parameters()]
        unknown = [p for p in args.audio_trainable_layers if not any(n.startswith(p) for n in names)]
        if unknown:
            layers = sorted({name.split(".")[0] for name in names})
            raise ValueError(
                f"audio_trainable_layers {unknown} name no parameter of the audio tower; its layers: {layers}."
            )
        for name, parameter in model.audio_model.named_parameters():
            if name.startswith(tuple(args.audio_trainable_layers)):
                parameter.requires_grad_(True)


def train_mode(model: MuLanModel, args: MuLanTrainingArguments) -> None:
    """Training mode, except for locked towers: a locked audio tower's batch norms keep the pretrained statistics,
    a locked text tower runs without dropout (LiT), so its [CLS] states can be remembered (`TextStateCache`)."""
    model.train()
    if args.lock_audio_tower:
        model.audio_model.eval()
    if args.lock_text_tower:
        model.text_model.eval()


def _sources(args: MuLanTrainingArguments) -> list[TextSource]:
    if not args.sources:
        return default_sources()
    return [
        TextSource(
            s["name"], s.get("columns", [s["name"]]), s.get("weight", 1.0), s.get("clean"), join=s.get("join", 1)
        )
        for s in args.sources
    ]


def complete_checkpoints(folder: str | Path) -> list[Path]:
    """The complete `step-N` checkpoints in `folder`, oldest first (half-written `step-N.partial` ones left by a
    kill mid-save are ignored)."""
    steps = [p for p in Path(folder).glob("step-*") if p.name[5:].isdigit() and (p / "trainer_state.json").is_file()]
    return sorted(steps, key=lambda p: int(p.name[5:]))


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    complete = complete_checkpoints(Path(output_dir) / "checkpoints")
    return complete[-1] if complete else None


def validation_roc_auc(model, processor, args: MuLanTrainingArguments) -> dict[str, float]:
    """Zero-shot tagging figures on (the first `eval_clips` of) the validation split's trained-on sample sets."""
    exclude = [args.holdout_sample_set] if args.holdout_sample_set else None
    return corpus_tagging_scores(
        model, processor, args.data, "validation", exclude_sample_sets=exclude, max_clips=args.eval_clips
    )


def final_corpus_scores(model, processor, args: MuLanTrainingArguments) -> dict[str, dict[str, float]]:
    """The test split and, with a held-out sample set, the in-distribution and held-out figures apart."""
    if not args.holdout_sample_set:
        return {"test": corpus_tagging_scores(model, processor, args.data, "test")}
    return transfer_scores(model, processor, args.data, args.holdout_sample_set)


def resolve_arguments(given: dict) -> MuLanTrainingArguments:
    """MuLanTrainingArguments from explicitly given values over the preset's "training" defaults over the dataclass's:
    `tiny` brings the settings of its CPU recipe, a command-line flag still wins."""
    preset = given.get("preset", MuLanTrainingArguments.preset)
    recipe = load_preset(preset).get("training", {})
    known = {f.name for f in fields(MuLanTrainingArguments)}
    unknown = sorted(set(recipe) - known)
    if unknown:
        raise ValueError(f"The preset {preset!r} sets unknown training options {unknown}; known: {sorted(known)}.")
    args = MuLanTrainingArguments(**{**recipe, **given})
    if isinstance(args.holdout_sample_set, str) and args.holdout_sample_set.lower() in ("", "none"):
        args.holdout_sample_set = None  # `--holdout_sample_set none` trains on every sample set
    AudioAugmentation.from_dict(args.augmentation)  # refuse unknown names or impossible ranges before any work
    check_negative_kinds(args.text_negatives)
    if args.holdout_sample_set and args.holdout_sample_set not in args.sample_sets:
        raise ValueError(
            f"holdout_sample_set {args.holdout_sample_set!r} is not among the corpus's sample_sets {args.sample_sets}."
        )
    return args


def make_accelerator(args: MuLanTrainingArguments):
    """The Accelerator of a run (trackers' logs under the output folder), the seed, and on CPU the threads per
    process: `accelerate launch` without --cpu sets OMP_NUM_THREADS=1 (a quarter or half of a small machine), so
    each process gets the cores it may run on, shared among the processes of this machine, unless told otherwise."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

    output_dir = Path(args.output_dir)
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=args.log_with or None,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
    )
    set_seed(args.seed)
    if accelerator.device.type == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", accelerator.num_processes))
        threads = args.cpu_threads or max(1, cores // local_processes)
        torch.set_num_threads(threads)
        logger.info(f"CPU training with {threads} threads per process.")
    return accelerator


def ensure_corpus(args: MuLanTrainingArguments, accelerator) -> None:
    """Render the embedded corpus into `args.data` when it is missing (main process; the others wait)."""
    if args.make_corpus_recordings and not os.path.exists(args.data) and accelerator.is_main_process:
        from ..data.corpus import make_corpus

        logger.warning(f"No data at {args.data}: rendering the embedded corpus ({args.make_corpus_recordings} rec.)")
        make_corpus(args.data, args.make_corpus_recordings, seed=args.seed, sample_sets=args.sample_sets)
    accelerator.wait_for_everyone()


def prepare_model(args: MuLanTrainingArguments, accelerator) -> tuple[MuLanModel, MuLanProcessor]:
    """The preset's model and processor, set up for training: locked towers frozen, activation checkpointing if
    asked, and a ResNet tower in channels-last memory on CPU (oneDNN: 1.4x the step in fp32, measured)."""
    model, processor = build_model_and_processor(args)
    if model.config.audio_tower_type == "resnet" and accelerator.device.type == "cpu":
        model.audio_model.to(memory_format=torch.channels_last)
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable()
    lock_towers(model, args)
    if args.lock_text_tower:
        TextStateCache().install(model.text_model)
    return model, processor


def make_optimizer(model: MuLanModel, args: MuLanTrainingArguments):
    """AdamW in two groups, the audio side (tower, projections, temperature: fast) and the pretrained text tower
    (slow), with the paper's step-decay schedule after a warm-up."""
    text_parameters = [p for n, p in model.named_parameters() if n.startswith("text_model.") and p.requires_grad]
    other_parameters = [p for n, p in model.named_parameters() if not n.startswith("text_model.") and p.requires_grad]
    groups = [{"params": other_parameters, "lr": args.learning_rate}]
    if text_parameters:
        groups.append({"params": text_parameters, "lr": args.text_learning_rate})
    optimizer = torch.optim.AdamW(groups, weight_decay=args.weight_decay)
    return optimizer, step_decay_schedule(optimizer, args.warmup_steps, args.decay_every, args.decay)


def make_stream(args: MuLanTrainingArguments, processor: MuLanProcessor, accelerator):
    """This process's training stream. The window and the rate are the feature extractor's: the stream decodes what
    the model will read."""
    return build_training_stream(
        args.data,
        _sources(args),
        audio_column=args.audio_column,
        sampling_rate=processor.feature_extractor.sampling_rate,
        window_seconds=args.window_seconds or processor.feature_extractor.window_seconds,
        seed=args.seed,
        rank=accelerator.process_index,
        world_size=accelerator.num_processes,
        augmentation=None if args.augmentation is None else AudioAugmentation.from_dict(args.augmentation),
        exclude={"soundfont": [args.holdout_sample_set]} if args.holdout_sample_set else None,
        tag_columns=args.tag_columns,
        feature_extractor=processor.feature_extractor,
    )


def tag_vocabulary(args: MuLanTrainingArguments, max_rows: int = 10_000) -> dict[str, list[str]]:
    """The tag loss's labels per tag column: `tag_vocabulary[column]` if given, else every value of the column
    among the training split's first `max_rows` rows (metadata only: audio is not decoded), sorted."""
    missing = [c for c in args.tag_columns if c not in args.tag_vocabulary]
    vocabulary = {c: list(args.tag_vocabulary[c]) for c in args.tag_columns if c in args.tag_vocabulary}
    if not missing:
        return vocabulary
    import itertools

    rows = undecoded(load_audio_text_dataset(args.data, split="train"), args.audio_column)
    unknown = [c for c in missing if rows.features is not None and c not in rows.features]
    if unknown:
        raise ValueError(f"tag_columns {unknown} are not columns of {args.data} ({sorted(rows.features)}).")
    names: dict[str, set[str]] = {c: set() for c in missing}
    for row in itertools.islice(rows.select_columns(missing), max_rows):
        for column in missing:
            value = row[column]
            names[column].update([value] if isinstance(value, str) else value or [])
    empty = [c for c in missing if not names[c]]
    if empty:
        raise ValueError(f"tag_columns {empty} of {args.data} hold no tags: give --tag_vocabulary.")
    return {c: vocabulary.get(c) or sorted(names[c]) for c in args.tag_columns}


def find_resume_point(args: MuLanTrainingArguments) -> tuple[Path | None, dict, dict]:
    """(checkpoint folder or None, the counters to start from, the checkpoint's saved trainer state)."""
    output_dir = Path(args.output_dir)
    state = {"step": 0, "epoch": 0, "examples": 0, "skipped": dict.fromkeys(SKIP_REASONS, 0), "bad_steps": 0}
    checkpoint = (
        latest_checkpoint(output_dir)
        if args.resume_from_checkpoint == "latest"
        else (Path(args.resume_from_checkpoint) if args.resume_from_checkpoint else None)
    )
    if args.resume_from_checkpoint and checkpoint is None:
        logger.warning(f"No checkpoint in {output_dir / 'checkpoints'}: starting from step 0.")
    saved = json.loads((checkpoint / "trainer_state.json").read_text()) if checkpoint is not None else {}
    state.update(saved.get("state", {}))
    return checkpoint, state, saved


def make_loader(stream, processor: MuLanProcessor, args: MuLanTrainingArguments, saved: dict, rank: int):
    """torchdata's StatefulDataLoader over the stream with the MuLan collator. Its state covers the stream's
    position inside every worker process, so a resumed run continues with the next unseen window even when
    DataLoader workers decode and augment. A resumed run takes the tag loss's labels from the checkpoint (the
    same labels in the same order, without reading the training split's metadata again)."""
    vocabulary = saved.get("tag_vocabulary")
    if not isinstance(vocabulary, dict) or list(vocabulary) != list(args.tag_columns):
        vocabulary = tag_vocabulary(args)  # a fresh run, or one resumed with other tag columns
    collator = MuLanCollator(processor, text_negatives=args.text_negatives, tag_vocabulary=vocabulary)
    loader = StatefulDataLoader(stream, batch_size=args.batch_size, collate_fn=collator, num_workers=args.num_workers)
    if "loader" in saved:
        loader.load_state_dict(saved["loader"][rank])
    elif "stream" in saved:  # a checkpoint from before the StatefulDataLoader: the stream's own state (no workers)
        stream.load_state_dict(saved["stream"][rank])
    return loader


def init_trackers(accelerator, args: MuLanTrainingArguments) -> None:
    """The run's hyperparameters to the trackers (TensorBoard's hparams take scalars: lists and dicts as JSON)."""
    if accelerator.is_main_process and args.log_with:
        config = {
            k: v if v is None or isinstance(v, (int, float, str, bool)) else json.dumps(v)
            for k, v in asdict(args).items()
        }
        accelerator.init_trackers("mulan", config=config)


def batch_loss(model, unwrapped: MuLanModel, batch: dict, loss_fn: MuLanLoss, device) -> torch.Tensor:
    """One batch of the collator through the (prepared) model and the loss; `unwrapped` holds the temperature and
    the bias. Text rows past the pairs' own are the counterfactual negatives."""
    inputs = {k: v.to(device) for k, v in batch.items()}
    groups = {name: inputs.pop(name, None) for name in ("text_group", "audio_group")}
    negative_mask, negative_group = inputs.pop("negative_mask", None), inputs.pop("negative_group", None)
    tag_targets, tag_spans = inputs.pop("tag_targets", None), inputs.pop("tag_spans", None)
    output = model(**inputs)
    pairs = inputs["input_features"].shape[0]
    labels = tag_targets.shape[1] if tag_targets is not None else 0
    text_rows = output.text_embeds[: len(output.text_embeds) - labels]
    negatives = None
    if negative_mask is not None:
        negatives = TextNegatives(text_rows[pairs:], negative_mask, negative_group, groups["text_group"])
    bias = getattr(unwrapped, "logit_bias", None)
    label_embeds = output.text_embeds[len(text_rows) :] if labels else None
    return loss_fn(
        output.audio_embeds,
        text_rows[:pairs],
        unwrapped.logit_scale,
        bias,
        negatives=negatives,
        label_embeds=label_embeds,
        tag_targets=tag_targets,
        tag_spans=tag_spans,
        **groups,
    )


def loss_is_finite(loss: torch.Tensor, state: dict, max_bad_steps: int) -> bool:
    """Counts non-finite losses in a row in `state["bad_steps"]` (their steps are skipped); after `max_bad_steps`
    in a row, stops the run with what to do."""
    if bool(torch.isfinite(loss)):
        state["bad_steps"] = 0
        return True
    state["bad_steps"] += 1
    if state["bad_steps"] >= max_bad_steps:
        raise RuntimeError(
            f"The loss was NaN/Inf in {state['bad_steps']} steps in a row: lower the learning rate or use "
            "--mixed_precision no."
        )
    return False


def step_record(state: dict, loss: torch.Tensor, model: MuLanModel, schedule) -> dict:
    """The figures logged after an optimiser step (loss, temperature, learning rate, skipped records)."""
    return {
        "step": state["step"],
        "loss": loss.item(),
        "temperature": float(torch.exp(-model.logit_scale.detach())),
        "lr": schedule.get_last_lr()[0],
        **{f"skipped/{k}": v for k, v in state["skipped"].items()},
    }


def finish(accelerator, model: MuLanModel, processor: MuLanProcessor, args: MuLanTrainingArguments, state: dict,
           validation: dict) -> dict:  # fmt: skip
    """After the last step: save model + processor, validate (if never done), zero-shot tag the test split and the
    held-out sample set, fit calibration.json, write the model card and summary.json, push if asked. Returns the
    summary (with `model_dir` on the main process)."""
    accelerator.wait_for_everyone()
    output_dir = Path(args.output_dir)
    summary = {
        "steps": state["step"],
        "examples": state["examples"],
        "skipped": state["skipped"],
        "validation": validation,
        "output_dir": str(output_dir),
    }
    if accelerator.is_main_process:
        final = output_dir / "model"
        summary["model_dir"] = str(final)
        model.save_pretrained(final)
        processor.save_pretrained(final)
        if not validation:
            summary["validation"] = validation_roc_auc(model, processor, args)
        if args.test_at_end:
            accelerator.print("Zero-shot tagging the test split and the held-out sample set ...")
            summary.update(final_corpus_scores(model, processor, args))
            summary["calibration"] = calibrate_on_validation(model, processor, args, final)
        from ..hub import write_model_card

        cache = TextStateCache.of(model.text_model)
        if cache is not None:
            summary["text_state_cache"] = {"hits": cache.hits, "misses": cache.misses, "kept": len(cache.states)}
        write_model_card(final, args, summary)
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
        if args.push_to_hub:
            from ..hub import push_model

            push_model(final, args.hub_model_id)
    cache = TextStateCache.of(model.text_model)
    if cache is not None:
        cache.uninstall()
    accelerator.end_training()
    return summary


def calibrate_on_validation(model: MuLanModel, processor, args: MuLanTrainingArguments, folder: Path) -> str | None:
    """calibration.json (per-label probabilities, fitted on the corpus's validation split) next to the model. Fitted
    on as many validation recordings as each validation uses (`eval_clips`): the whole split would cost the main job
    a minute more."""
    from ..evaluation.calibration import fit_calibration, save_calibration

    if not Path(str(args.data)).is_dir():
        return None
    try:
        return str(
            save_calibration(
                fit_calibration(model, processor, args.data, "validation", max_clips=args.eval_clips), folder
            )
        )
    except ValueError as error:  # e.g. a tiny corpus without enough validation recordings
        logger.warning(f"No calibration.json: {error}")
        return None


def save_checkpoint(accelerator, output_dir: Path, state: dict, loader, keep: int | None = None) -> Path:
    """accelerate's save_state (model, optimiser, schedule, RNG) plus the step counters and each process's data
    loader position (its stream's, in every worker); written to a temporary folder and renamed, so a kill mid-save
    never leaves a half checkpoint. Only the newest `keep` complete checkpoints stay."""
    from accelerate.utils import gather_object

    folder = output_dir / "checkpoints" / f"step-{state['step']}"
    partial = folder.with_name(folder.name + ".partial")
    loader_states = gather_object([loader.state_dict()])
    accelerator.save_state(str(partial))
    if accelerator.is_main_process:
        (partial / "trainer_state.json").write_text(
            json.dumps(
                {
                    "state": state,
                    "loader": loader_states,
                    "tag_vocabulary": getattr(loader.collate_fn, "tag_columns", {}),
                },
                default=_json_default,
            )
        )
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
        if keep:
            for old in complete_checkpoints(folder.parent)[:-keep]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return folder


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
