"""Data throughput: windowed vs whole-file decoding of 30 s files, and the training stream (decode one window + log-mel
+ tokenise, through a torch DataLoader) with 0 and 2 workers, next to what a tiny-preset training step consumes.
Then the default preset's stream as the main job runs it (its windows, front-end, text negatives, audio
augmentation on, its DataLoader workers) against its training step (its towers locked as the recipe says, bf16
autocast): target >= 5x.

    python benchmarks/bench_data.py [--corpus DIR] [--files 64] [--batches 12]

Without --corpus, a 64-recording corpus of 30 s clips is rendered into a temporary folder first.
"""

import argparse
import glob
import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from transformers import AutoTokenizer

from mulan_hf import MuLanFeatureExtractor, MuLanProcessor
from mulan_hf.data.corpus import make_corpus
from mulan_hf.data.streams import MuLanCollator, build_training_stream, open_audio
from mulan_hf.packaged import packaged_text_model_path

WINDOW_SECONDS = 10.24


def decode_seconds(files: list[str], windowed: bool, offsets: list[float]) -> float:
    start = time.perf_counter()
    for path, offset in zip(files, offsets):
        decoder = open_audio(path, 16000)  # the stream's own way of opening files
        if windowed:
            decoder.get_samples_played_in_range(offset, offset + WINDOW_SECONDS)
        else:
            decoder.get_all_samples().data[:, int(offset * 16000) : int((offset + WINDOW_SECONDS) * 16000)]
    return time.perf_counter() - start


def decode_rates(files: list[str], rounds: int = 5) -> tuple[float, float]:
    """Median files/s of windowed and whole-file decoding, alternated round by round (files already in the page
    cache), each round with new random window offsets."""
    rng = np.random.default_rng(0)
    for path in files:
        open(path, "rb").read()
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        offsets = rng.uniform(0, 30 - WINDOW_SECONDS, len(files)).tolist()
        for windowed in (True, False):
            times[windowed].append(decode_seconds(files, windowed, offsets))
    return len(files) / statistics.median(times[True]), len(files) / statistics.median(times[False])


def stream_rate(
    corpus: str,
    processor: MuLanProcessor,
    workers: int,
    batches: int,
    batch_size: int,
    window_seconds: float = WINDOW_SECONDS,
    augmentation=None,
    text_negatives=None,
) -> float:
    # With the extractor's pitch_class_seconds (the default preset) each example decodes its window's context too:
    # the first epoch's cost, before the profiles are remembered.
    stream = build_training_stream(
        corpus,
        window_seconds=window_seconds,
        seed=workers,
        augmentation=augmentation,
        feature_extractor=processor.feature_extractor,
    )
    loader = torch.utils.data.DataLoader(
        stream,
        batch_size=batch_size,
        collate_fn=MuLanCollator(processor, text_negatives=text_negatives),
        num_workers=workers,
    )
    iterator = iter(loader)
    next(iterator)  # start-up (worker processes, first files)
    start, examples = time.perf_counter(), 0
    for _ in range(batches):
        try:
            examples += len(next(iterator)["sources"])
        except StopIteration:
            iterator = iter(loader)
    return examples / (time.perf_counter() - start)


def tiny_training_rate(batch_size: int, steps: int = 3) -> float:
    """Examples/s of a training step of the tiny preset (tiny AST from scratch + the packaged MiniLM text tower)."""
    from transformers import ASTModel

    from mulan_hf import MuLanModel
    from mulan_hf.packaged import tiny_ast_config

    with tempfile.TemporaryDirectory() as folder:
        ASTModel(tiny_ast_config()).save_pretrained(folder)
        model = MuLanModel.from_audio_text_pretrained(folder, packaged_text_model_path()).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    features = torch.randn(batch_size, 1, 1024, 128)
    tokenizer = AutoTokenizer.from_pretrained(packaged_text_model_path())
    texts = tokenizer(
        ["a calm piano ballad with soft strings"] * batch_size, padding="max_length", max_length=24, return_tensors="pt"
    )

    def step() -> None:
        loss = model(input_features=features, **texts, return_loss=True).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


def default_preset_rates(corpus: str, batches: int) -> tuple[float, float, float, float, float, int]:
    """(augmented stream without workers, the same with 2 DataLoader workers, plain stream, training step)
    examples/s for the default preset, as the main job runs it (its text negatives included), its window in
    seconds and the DataLoader workers the preset uses."""
    from mulan_hf.data.augment import AudioAugmentation
    from mulan_hf.training.losses import TextNegatives, contrastive_loss, text_ids
    from mulan_hf.training.trainer import build_model_and_processor, lock_towers, resolve_arguments, train_mode

    with tempfile.TemporaryDirectory() as folder:
        args = resolve_arguments({"output_dir": folder})
        model, processor = build_model_and_processor(args)
    window = processor.feature_extractor.window_seconds
    augmentation = AudioAugmentation.from_dict(args.augmentation)
    negatives = args.text_negatives
    augmented = stream_rate(corpus, processor, 0, batches, args.batch_size, window, augmentation, negatives)
    augmented_workers = stream_rate(corpus, processor, 2, batches, args.batch_size, window, augmentation, negatives)
    plain = stream_rate(corpus, processor, 0, batches, args.batch_size, window, None, negatives)
    lock_towers(model, args)
    if model.config.audio_tower_type == "resnet":
        model.audio_model.to(memory_format=torch.channels_last)  # as the trainer does on CPU
    train_mode(model, args)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    batch = next(iter(torch.utils.data.DataLoader(
        build_training_stream(corpus, window_seconds=window), batch_size=args.batch_size,
        collate_fn=MuLanCollator(processor, text_negatives=negatives),
    )))  # fmt: skip
    inputs = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
    negative_mask = inputs.pop("negative_mask", None)
    pairs = len(batch["sources"])

    def step() -> None:  # the trainer's loss: duplicates masked, counterfactual twins as extra negatives
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.mixed_precision == "bf16"):
            output = model(**inputs)
            ids = text_ids(inputs["input_ids"], inputs.get("attention_mask"))
            twins = None
            if negative_mask is not None:
                twins = TextNegatives(output.text_embeds[pairs:], negative_mask, ids[pairs:], ids[:pairs])
            loss = contrastive_loss(
                output.audio_embeds, output.text_embeds[:pairs], model.logit_scale, ids[:pairs], None, twins
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    start, steps = time.perf_counter(), 5
    for _ in range(steps):
        step()
    consumed = steps * args.batch_size / (time.perf_counter() - start)
    return augmented, augmented_workers, plain, consumed, window, args.num_workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=None, help="an embedded corpus folder (default: render 64 recordings)")
    parser.add_argument("--files", type=int, default=64, help="files timed for decoding (default 64)")
    parser.add_argument("--batches", type=int, default=12, help="stream batches timed (default 12)")
    parser.add_argument("--batch-size", type=int, default=16, help="examples per batch (default 16)")
    args = parser.parse_args()

    temporary = None
    corpus = args.corpus
    if corpus is None:
        temporary = tempfile.TemporaryDirectory()
        corpus = temporary.name
        print(f"Rendering a 64-recording corpus into {corpus} ...")
        make_corpus(corpus, num_recordings=64, seed=0, progress=False)
    files = sorted(glob.glob(os.path.join(corpus, "train", "*.flac")))[: args.files]

    windowed, whole = decode_rates(files)
    print(f"decoding one 10.24 s window of {len(files)} 30 s FLAC files (16 kHz mono):")
    print(f"  windowed (get_samples_played_in_range)   {windowed:8.1f} files/s")
    print(f"  whole file, then slice                   {whole:8.1f} files/s")
    print(
        f"  ratio windowed / whole                   {windowed / whole:8.2f}x  (target >= 2x: "
        f"{'meets' if windowed / whole >= 2 else 'BELOW'})"
    )

    processor = MuLanProcessor(MuLanFeatureExtractor(), AutoTokenizer.from_pretrained(packaged_text_model_path()))
    rates = {w: stream_rate(corpus, processor, w, args.batches, args.batch_size) for w in (0, 2)}
    training = tiny_training_rate(args.batch_size)
    print(f"training stream (window decode + log-mel + tokenise, batch {args.batch_size}):")
    for workers, rate in rates.items():
        print(f"  {workers} DataLoader workers                      {rate:8.1f} examples/s")
    print(f"  ratio 2 workers / 0 workers              {rates[2] / rates[0]:8.2f}x")
    print(f"tiny preset training step (forward + backward + Adam), batch {args.batch_size}: {training:8.1f} examples/s")
    print(
        f"  stream (2 workers) / training consumption {rates[2] / training:7.2f}x  (target > 1x: "
        f"{'meets' if rates[2] > training else 'BELOW'})"
    )
    augmented, augmented_workers, plain, consumed, window, workers = default_preset_rates(corpus, args.batches)
    print(f"default preset as the main job runs it ({window:.2f} s windows, text negatives, {workers} workers):")
    print(f"  stream with audio augmentation, in-process  {augmented:8.1f} examples/s")
    print(f"  the same with 2 DataLoader workers          {augmented_workers:8.1f} examples/s")
    print(f"  stream without augmentation, in-process     {plain:8.1f} examples/s")
    print(f"  training step (default preset, bf16)        {consumed:8.1f} examples/s")
    print(f"  in-process augmented stream / consumption   {augmented / consumed:8.2f}x")
    ratio = (augmented_workers if workers >= 2 else augmented) / consumed
    verdict = "meets" if ratio >= 5 else "BELOW"
    print(f"  the preset's stream ({workers} workers) / consumption {ratio:6.2f}x  (target >= 5x: {verdict})")
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
