"""Data for MuLan: the embedded corpus, training streams from any dataset, the source mixture and text filtering."""

from .corpus import TEXT_SOURCES, gallery_caption, make_corpus, make_recording, write_gallery
from .streams import (
    PAPER_PROPORTIONS,
    MuLanCollator,
    TextSource,
    build_training_stream,
    default_sources,
    is_example,
    load_audio_text_dataset,
    mix_sources,
    open_audio,
    source_stream,
)
from .synthesis import Note, Part, example_pieces, render, soundfont_path, write_wav
from .text_filter import (
    FilterReport,
    MusicTextClassifier,
    clean_short_form,
    clean_short_form_column,
    filter_text_column,
    labelled_sentences,
    train_music_text_classifier,
)

__all__ = [
    "PAPER_PROPORTIONS",
    "TEXT_SOURCES",
    "FilterReport",
    "MuLanCollator",
    "MusicTextClassifier",
    "Note",
    "Part",
    "TextSource",
    "build_training_stream",
    "clean_short_form",
    "clean_short_form_column",
    "default_sources",
    "example_pieces",
    "filter_text_column",
    "gallery_caption",
    "is_example",
    "labelled_sentences",
    "load_audio_text_dataset",
    "make_corpus",
    "make_recording",
    "mix_sources",
    "open_audio",
    "render",
    "soundfont_path",
    "source_stream",
    "train_music_text_classifier",
    "write_gallery",
    "write_wav",
]
