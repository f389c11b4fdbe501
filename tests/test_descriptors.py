"""Musical descriptors beside the audio tower: the pitch-class profile (key and mode) and the onset autocorrelation
(tempo), from real audio through the real feature extractor."""

import json

import numpy as np
import pytest
import torch
from conftest import SAMPLING_RATE, TINY_MEL_BINS, TINY_WINDOW_FRAMES, make_tiny_model, tone
from transformers import pipeline

from mulan_hf import MuLanConfig, MuLanFeatureExtractor, MuLanModel, MuLanProcessor
from mulan_hf.modeling.modeling_mulan import KEY_PROFILE_STARTS, MuLanAudioDescriptors, _centred_unit

MAJOR_TRIAD, MINOR_TRIAD = (0, 4, 7), (0, 3, 7)


def chord(root_midi: int, intervals: tuple[int, ...], seconds: float) -> np.ndarray:
    """A sustained triad of sine tones (each with two harmonics), root `root_midi`."""
    waves = []
    for interval in intervals:
        frequency = 440.0 * 2 ** ((root_midi + interval - 69) / 12)
        waves += [tone(frequency, seconds, amplitude=0.3), tone(2 * frequency, seconds, amplitude=0.1)]
    return np.sum(waves, axis=0).astype(np.float32)


def cadence(root_midi: int, minor: bool) -> np.ndarray:
    """I-IV-V-I (major) or i-iv-v-i (minor) in 1.4 s: enough chords to define a key, as one triad does not."""
    triad = MINOR_TRIAD if minor else MAJOR_TRIAD
    steps = [(0, 0.4), (5, 0.3), (7, 0.3), (0, 0.4)]
    return np.concatenate([chord(root_midi + step, triad, seconds) for step, seconds in steps])


def clicks(bpm: float, seconds: float) -> np.ndarray:
    """A 2 ms noise burst on every beat."""
    audio = np.zeros(int(seconds * SAMPLING_RATE), dtype=np.float32)
    burst = np.random.default_rng(0).normal(0, 0.5, int(0.002 * SAMPLING_RATE)).astype(np.float32)
    for start in np.arange(0, seconds - 0.01, 60.0 / bpm):
        first = int(start * SAMPLING_RATE)
        audio[first : first + len(burst)] = burst
    return audio


@pytest.fixture(scope="module")
def pitch_extractor() -> MuLanFeatureExtractor:
    return MuLanFeatureExtractor(num_mel_bins=TINY_MEL_BINS, window_frames=TINY_WINDOW_FRAMES, pitch_class_profile=True)


def test_pitch_class_profile_hears_the_chord_tones_and_pads_like_the_windows(pitch_extractor, tmp_path):
    c_major = chord(60, MAJOR_TRIAD, 3.0)  # C E G
    a_minor = chord(57, MINOR_TRIAD, 1.0)  # A C E, one window
    out = pitch_extractor([c_major, a_minor], sampling_rate=SAMPLING_RATE, return_tensors="pt")
    profile = out["pitch_class_profile"]
    assert profile.shape == (2, out["window_mask"].shape[1], 12)
    assert set(profile[0, 0].topk(3).indices.tolist()) == {0, 4, 7}
    assert set(profile[1, 0].topk(3).indices.tolist()) == {9, 0, 4}
    assert bool((profile[1, 1:] == 0).all()) and bool(out["window_mask"][1, 1:].eq(0).all())
    # Batched through pad (as the pipeline does), each clip keeps its own profile.
    padded = pitch_extractor.pad(
        [pitch_extractor([clip], sampling_rate=SAMPLING_RATE, return_tensors="pt") for clip in (c_major, a_minor)]
    )
    torch.testing.assert_close(padded["pitch_class_profile"], profile, atol=1e-4, rtol=1e-4)
    # Off by default; the switch survives save/load, and the JSON holds the switch, not the derived input names.
    assert "pitch_class_profile" not in MuLanFeatureExtractor()([c_major], sampling_rate=SAMPLING_RATE)
    pitch_extractor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["pitch_class_profile"] is True and "model_input_names" not in saved
    assert "pitch_class_profile" in MuLanFeatureExtractor.from_pretrained(tmp_path).model_input_names


def test_pitch_class_context_gives_each_window_the_profile_of_the_seconds_around_it(tmp_path):
    """`pitch_class_seconds`: each window's profile covers that many seconds centred on it, kept inside the clip
    (the whole clip when shorter), equal to `clip_pitch_class_profile` of that context; the window alone hears
    only its own chord."""
    c_major, f_sharp_major = chord(60, MAJOR_TRIAD, 4.0), chord(66, MAJOR_TRIAD, 4.0)  # C E G, F# A# C#
    clip = np.concatenate([c_major, f_sharp_major])
    window_only = MuLanFeatureExtractor(
        num_mel_bins=TINY_MEL_BINS, window_frames=TINY_WINDOW_FRAMES, pitch_class_profile=True
    )
    context = MuLanFeatureExtractor(
        num_mel_bins=TINY_MEL_BINS, window_frames=TINY_WINDOW_FRAMES, pitch_class_profile=True, pitch_class_seconds=30
    )
    alone = window_only([clip], sampling_rate=SAMPLING_RATE, return_tensors="pt")["pitch_class_profile"][0]
    out = context([clip], sampling_rate=SAMPLING_RATE, return_tensors="pt")
    profiles = out["pitch_class_profile"][0]
    assert set(alone[0].topk(3).indices.tolist()) == {0, 4, 7}
    assert set(profiles[0].topk(6).indices.tolist()) == {0, 4, 7, 6, 10, 1}  # both chords, from the first window
    whole = torch.as_tensor(context.clip_pitch_class_profile(clip))
    for profile in profiles[out["window_mask"][0].bool()]:
        torch.testing.assert_close(profile, whole, atol=1e-4, rtol=1e-4)
    # A 4 s context: the first window's is the clip's first 4 s (C major), the last window's its last 4 s.
    short = MuLanFeatureExtractor(
        num_mel_bins=TINY_MEL_BINS, window_frames=TINY_WINDOW_FRAMES, pitch_class_profile=True, pitch_class_seconds=4
    )
    out = short([clip], sampling_rate=SAMPLING_RATE, return_tensors="pt")
    last = int(out["window_mask"][0].sum()) - 1
    four = 4 * SAMPLING_RATE
    for index, part in ((0, clip[:four]), (last, clip[-four:])):
        expected = torch.as_tensor(short.clip_pitch_class_profile(part))
        torch.testing.assert_close(out["pitch_class_profile"][0, index], expected, atol=1e-4, rtol=1e-4)
    # Saved with the extractor; refused without the profile or shorter than one analysis frame.
    context.save_pretrained(tmp_path)
    assert MuLanFeatureExtractor.from_pretrained(tmp_path).pitch_class_seconds == 30.0
    with pytest.raises(ValueError, match="pitch_class_profile=True"):
        MuLanFeatureExtractor(pitch_class_seconds=30)
    with pytest.raises(ValueError, match="at least 0.256 s"):
        MuLanFeatureExtractor(pitch_class_profile=True, pitch_class_seconds=0.1)
    with pytest.raises(ValueError, match="one mono clip"):
        context.clip_pitch_class_profile(np.stack([clip, clip]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        context.clip_pitch_class_profile(np.full(8000, np.nan, dtype=np.float32))


def test_key_descriptor_tells_major_from_minor_in_every_key_and_ignores_transposition(pitch_extractor):
    descriptors = MuLanModel(
        MuLanConfig(audio_descriptors=["pitch_class"], audio_config={"model_type": "musicnn"})
    ).audio_descriptors
    for root in range(48, 60):
        profiles = pitch_extractor(
            [cadence(root, minor=False), cadence(root, minor=True)], sampling_rate=SAMPLING_RATE
        )["pitch_class_profile"][:, 0]
        features = descriptors.key_features(torch.as_tensor(profiles))  # [best major, best minor, ...]
        assert features[0, 0] > features[0, 1] + 0.05, f"a major cadence on {root} heard as minor"
        assert features[1, 1] > features[1, 0] + 0.05, f"a minor cadence on {root} heard as major"
    profile = torch.rand(5, 12)
    for shift in (1, 5, 11):
        torch.testing.assert_close(
            descriptors.key_features(profile.roll(shift, dims=-1)), descriptors.key_features(profile)
        )


@pytest.mark.parametrize("bpm", [125.0, 75.0])  # beats of 30 and 50 frames of 16 ms
def test_rhythm_descriptor_peaks_at_the_beat(bpm):
    extractor = MuLanFeatureExtractor(num_mel_bins=96, window_frames=192, hop_length=256, win_length=512)
    features = extractor([clicks(bpm, 3.2)], sampling_rate=SAMPLING_RATE, windows="first")["input_features"]
    descriptors = MuLanAudioDescriptors(MuLanConfig(audio_descriptors=["rhythm"], rhythm_max_lag=96))
    autocorrelation = descriptors.rhythm_features(torch.as_tensor(features[:, 0]))
    beat_frames = 60.0 / bpm * SAMPLING_RATE / 256
    assert autocorrelation.shape == (1, 96)
    assert abs(int(autocorrelation[0].argmax()) + 1 - beat_frames) <= 1.0  # lag k sits at index k - 1


def test_a_model_with_descriptors_trains_them_saves_them_and_needs_the_profile(tokenizer, pitch_extractor, tmp_path):
    model = make_tiny_model(tokenizer, audio_descriptors=["pitch_class", "rhythm"], num_key_profiles=4)
    assert model.audio_projection.in_features == 32 + 2 * 4 + 96
    starts = model.audio_descriptors.key_profiles  # Albrecht–Shanahan's and Temperley's major and minor first
    torch.testing.assert_close(starts[:4], 4.0 * _centred_unit(torch.tensor(KEY_PROFILE_STARTS[:4])))
    assert KEY_PROFILE_STARTS[0][:3] == (0.238, 0.006, 0.111) and KEY_PROFILE_STARTS[3][:4] == (5.0, 2.0, 3.5, 4.5)
    gain = model.audio_descriptors.norm.weight  # the key numbers start louder than the rhythm's
    assert gain[:8].tolist() == [10.0] * 8 and gain[8:].tolist() == [1.0] * 96
    processor = MuLanProcessor(pitch_extractor, tokenizer)
    clips = [chord(60, MAJOR_TRIAD, 2.0), chord(57, MINOR_TRIAD, 1.5)]
    inputs = processor(
        text=["a major chord", "a minor chord"], audio=clips, sampling_rate=SAMPLING_RATE, return_tensors="pt"
    )
    model.train()
    model(**inputs, return_loss=True).loss.backward()
    assert model.audio_descriptors.key_profiles.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        expected = model.get_audio_features(**{k: inputs[k] for k in pitch_extractor.model_input_names})
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    reloaded = MuLanModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        again = reloaded.get_audio_features(**{k: inputs[k] for k in pitch_extractor.model_input_names})
    torch.testing.assert_close(again.pooler_output, expected.pooler_output)
    # Loaded in half precision (the descriptors are computed in float32, then normalised in the weights' dtype).
    for dtype in (torch.bfloat16, torch.float16):
        low = MuLanModel.from_pretrained(tmp_path, dtype=dtype).eval()
        with torch.no_grad():
            half = low.get_audio_features(**{k: inputs[k] for k in pitch_extractor.model_input_names}).pooler_output
        assert half.dtype == dtype and (half.float() * expected.pooler_output).sum(-1).min() > 0.99, dtype
    # The pipeline batches the profile with the windows.
    tagger = pipeline("zero-shot-audio-classification", model=str(tmp_path))
    scores = tagger(clips[0], candidate_labels=["major", "minor"])
    assert sorted(s["label"] for s in scores) == ["major", "minor"]
    with pytest.raises(ValueError, match="pitch_class_profile=True"):
        model.get_audio_features(inputs["input_features"], inputs["window_mask"])
    with pytest.raises(ValueError, match=r"expected \(batch, windows, 12\)"):
        model.get_audio_features(
            inputs["input_features"], inputs["window_mask"], pitch_class_profile=torch.zeros(2, 1, 12)
        )


def test_unknown_descriptors_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="pitch_class.*rhythm.*unknown: \\['tempo'\\]"):
        MuLanConfig(audio_descriptors=["tempo"])
