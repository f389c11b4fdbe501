"""Data for MuLan: rendering music with a General-MIDI SoundFont, and (later) corpora and training streams."""

from .synthesis import Note, Part, example_pieces, render, soundfont_path, write_wav

__all__ = ["Note", "Part", "example_pieces", "render", "soundfont_path", "write_wav"]
