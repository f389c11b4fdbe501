import numpy as np
import pytest
import torch
import torchaudio
from conftest import SAMPLING_RATE, TINY_MEL_BINS, TINY_WINDOW_FRAMES, tone
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging

from mulan_hf import MuLanFeatureExtractor
from mulan_hf.processing import feature_extraction_mulan

WINDOW = TINY_WINDOW_FRAMES * 160  # samples per tiny window


def reference_log_mel(fe: MuLanFeatureExtractor, clip: np.ndarray) -> torch.Tensor:
    """Whole-clip centred STFT log-mel with torchaudio's own transform (zeros beyond the clip's ends)."""
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=fe.sampling_rate,
        n_fft=fe.n_fft,
        win_length=fe.win_length,
        hop_length=fe.hop_length,
        f_min=fe.f_min,
        n_mels=fe.num_mel_bins,
        window_fn=lambda n: torch.hann_window(n, periodic=False),
        center=True,
        pad_mode="constant",
        mel_scale="htk",
        norm=None,
        power=2.0,
    )
    mel = transform(torch.from_numpy(clip)).T.clamp(min=1e-10).log()
    return (mel - fe.mel_mean) / (2 * fe.mel_std)


def test_window_splitting_shapes_and_mask(feature_extractor):
    clips = [tone(440, 0.5), np.zeros(WINDOW, np.float32), tone(220, 2.5 * WINDOW / SAMPLING_RATE)]
    out = feature_extractor(clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    assert out["input_features"].shape == (3, 3, TINY_WINDOW_FRAMES, TINY_MEL_BINS)
    assert out["window_mask"].tolist() == [[1, 0, 0], [1, 0, 0], [1, 1, 1]]
    assert torch.all(out["input_features"][0, 1:] == 0)  # padding windows are zeros
    assert feature_extractor.window_seconds == pytest.approx(1.28)
    assert MuLanFeatureExtractor().window_seconds == pytest.approx(10.24)


def test_matches_torchaudio_whole_clip_reference(feature_extractor):
    rng = np.random.default_rng(0)
    clip = (rng.standard_normal(3 * WINDOW) * 0.1).astype(np.float32)
    ours = feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"][0]
    reference = reference_log_mel(feature_extractor, clip)[: 3 * TINY_WINDOW_FRAMES]
    torch.testing.assert_close(ours.reshape(-1, TINY_MEL_BINS), reference, atol=2e-4, rtol=1e-4)


def test_last_window_is_padded_with_silence(feature_extractor):
    clip = tone(440, 1.5 * WINDOW / SAMPLING_RATE)
    ours = feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"][0]
    padded = np.concatenate([clip, np.zeros(WINDOW // 2, np.float32)])
    reference = reference_log_mel(feature_extractor, padded)[: 2 * TINY_WINDOW_FRAMES]
    torch.testing.assert_close(ours.reshape(-1, TINY_MEL_BINS), reference, atol=2e-4, rtol=1e-4)


def test_batch_equals_one_clip_at_a_time(feature_extractor, music):
    clips = [music["piano_ballad"][: 2 * WINDOW + 77], music["rock_drums"][:5000], music["violin_melody"]]
    batch = feature_extractor(clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    for i, clip in enumerate(clips):
        alone = feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")
        windows = alone["input_features"].shape[1]
        torch.testing.assert_close(batch["input_features"][i, :windows], alone["input_features"][0])
        assert batch["window_mask"][i].sum() == windows


def test_numpy_torch_list_and_float64_inputs_agree(feature_extractor):
    clip = tone(330, 1.0)
    expected = feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"]
    for variant in (torch.from_numpy(clip), clip.astype(np.float64), clip.tolist(), [clip]):
        got = feature_extractor(variant, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"]
        torch.testing.assert_close(got, expected)
    as_numpy = feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="np")
    assert isinstance(as_numpy["input_features"], np.ndarray)
    np.testing.assert_allclose(as_numpy["input_features"], expected.numpy())


def test_stereo_is_downmixed_to_mono(feature_extractor):
    left, right = tone(440, 1.0), tone(660, 1.0)
    stereo = feature_extractor(np.stack([left, right]), sampling_rate=SAMPLING_RATE, return_tensors="pt")
    mono = feature_extractor((left + right) / 2, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    torch.testing.assert_close(stereo["input_features"], mono["input_features"])


def test_samples_by_channels_layout_is_rejected_with_advice(feature_extractor):
    with pytest.raises(ValueError, match=r"\(channels, samples\).*audio\.T"):
        feature_extractor(np.zeros((16000, 2), np.float32), sampling_rate=SAMPLING_RATE)


def test_resamples_other_rates(feature_extractor):
    at_16k = feature_extractor(tone(1000, 1.0), sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"]
    at_44k = feature_extractor(tone(1000, 1.0, 44100), sampling_rate=44100, return_tensors="pt")["input_features"]
    assert at_44k.shape == at_16k.shape
    middle = slice(10, 90)  # away from the clip edges, where resampling filters ring
    peak_16k = at_16k[0, 0, middle].mean(0).argmax()
    peak_44k = at_44k[0, 0, middle].mean(0).argmax()
    assert peak_16k == peak_44k
    # Bands within ~40 dB of the tone agree; far below it only the resampler's stop-band residue differs.
    loud = at_16k[0, 0, middle] > at_16k[0, 0, middle].max() - 1.0
    torch.testing.assert_close(at_44k[0, 0, middle][loud], at_16k[0, 0, middle][loud], atol=0.05, rtol=0.0)


def test_first_and_random_windows(feature_extractor):
    # Silence with a loud tone only in the last of ten windows: random windows sometimes catch it.
    clip = np.concatenate([np.zeros(9 * WINDOW, np.float32), tone(880, WINDOW / SAMPLING_RATE)])
    first = feature_extractor(clip, sampling_rate=SAMPLING_RATE, windows="first", return_tensors="pt")
    every = feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    torch.testing.assert_close(first["input_features"][0, 0], every["input_features"][0, 0])

    torch.manual_seed(0)
    draws = [
        feature_extractor([clip, clip], sampling_rate=SAMPLING_RATE, windows="random", return_tensors="pt")
        for _ in range(30)
    ]
    assert all(d["input_features"].shape == (2, 1, TINY_WINDOW_FRAMES, TINY_MEL_BINS) for d in draws)
    loudness = torch.stack([d["input_features"][:, 0].mean(dim=(1, 2)) for d in draws]).flatten()
    assert loudness.max() > loudness.min() + 0.1  # different windows were drawn
    torch.manual_seed(0)
    again = feature_extractor([clip, clip], sampling_rate=SAMPLING_RATE, windows="random", return_tensors="pt")
    torch.testing.assert_close(again["input_features"], draws[0]["input_features"])  # seeded, reproducible

    short = tone(440, 0.5)
    random_short = feature_extractor(short, sampling_rate=SAMPLING_RATE, windows="random", return_tensors="pt")
    first_short = feature_extractor(short, sampling_rate=SAMPLING_RATE, windows="first", return_tensors="pt")
    torch.testing.assert_close(random_short["input_features"], first_short["input_features"])


def test_max_windows_keeps_evenly_spaced_windows(feature_extractor):
    clip = np.concatenate([tone(200 * (i + 1), WINDOW / SAMPLING_RATE) for i in range(10)])
    every = feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")
    capped = feature_extractor(clip, sampling_rate=SAMPLING_RATE, max_windows=3, return_tensors="pt")
    assert capped["input_features"].shape[1] == 3
    torch.testing.assert_close(capped["input_features"][0], every["input_features"][0, [0, 3, 6]])
    default_cap = MuLanFeatureExtractor(num_mel_bins=TINY_MEL_BINS, window_frames=TINY_WINDOW_FRAMES, max_windows=2)
    assert default_cap(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"].shape[1] == 2


def test_silence_and_tiny_clips_give_finite_features(feature_extractor):
    out = feature_extractor([np.zeros(16000, np.float32), np.ones(3, np.float32) * 0.1], sampling_rate=SAMPLING_RATE)
    assert np.isfinite(out["input_features"]).all()
    assert out["window_mask"].tolist() == [[1], [1]]


@pytest.mark.parametrize(
    ("audio", "error", "message"),
    [
        (np.zeros(0, np.float32), ValueError, "empty"),
        (np.array([0.0, np.nan, 0.1], np.float32), ValueError, "NaN or Inf"),
        (np.array([0.0, np.inf, 0.1], np.float32), ValueError, "NaN or Inf"),
        (np.zeros((2, 2, 100), np.float32), ValueError, "3 dimensions"),
        ([], ValueError, "empty"),
        ("song.mp3", TypeError, "numpy array"),
        ([np.zeros(100), "x"], TypeError, "clip 1"),
        (np.array(["a", "b"]), TypeError, "dtype"),
    ],
)
def test_bad_audio_gets_a_clear_error(feature_extractor, audio, error, message):
    with pytest.raises(error, match=message):
        feature_extractor(audio, sampling_rate=SAMPLING_RATE)


def test_bad_arguments(feature_extractor):
    clip = tone(440, 0.5)
    with pytest.raises(ValueError, match="windows must be one of"):
        feature_extractor(clip, sampling_rate=SAMPLING_RATE, windows="middle")
    with pytest.raises(ValueError, match="sampling_rate"):
        feature_extractor(clip, sampling_rate=0)
    with pytest.raises(ValueError, match="max_windows"):
        feature_extractor(clip, sampling_rate=SAMPLING_RATE, max_windows=0)


def test_missing_sampling_rate_warns(feature_extractor):
    logger = logging.get_logger(feature_extraction_mulan.__name__)
    with CaptureLogger(logger) as captured:
        feature_extractor(tone(440, 0.5))
    assert "No sampling_rate given" in captured.out


def test_save_and_load_round_trip(tmp_path, feature_extractor, music):
    feature_extractor.save_pretrained(tmp_path)
    loaded = MuLanFeatureExtractor.from_pretrained(tmp_path)
    assert loaded.to_dict() == feature_extractor.to_dict()
    clip = music["brass_band"]
    torch.testing.assert_close(
        loaded(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"],
        feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"],
        atol=0,
        rtol=0,
    )


def test_pad_stacks_clips_with_different_window_counts(feature_extractor):
    one = feature_extractor(tone(440, 0.5), sampling_rate=SAMPLING_RATE, return_tensors="pt")
    three = feature_extractor(tone(440, 3.0), sampling_rate=SAMPLING_RATE, return_tensors="pt")
    padded = feature_extractor.pad([one, three])
    assert padded["input_features"].shape == (2, 3, TINY_WINDOW_FRAMES, TINY_MEL_BINS)
    assert padded["window_mask"].tolist() == [[1, 0, 0], [1, 1, 1]]
    torch.testing.assert_close(padded["input_features"][1], three["input_features"][0])


def test_window_chunking_does_not_change_features(music):
    clips = [music["piano_ballad"], music["rock_drums"][:9000]]
    one = MuLanFeatureExtractor(num_mel_bins=TINY_MEL_BINS, window_frames=TINY_WINDOW_FRAMES)
    many = MuLanFeatureExtractor(num_mel_bins=TINY_MEL_BINS, window_frames=TINY_WINDOW_FRAMES, cpu_windows_per_chunk=5)
    torch.testing.assert_close(
        one(clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"],
        many(clips, sampling_rate=SAMPLING_RATE, return_tensors="pt")["input_features"],
    )


def test_hour_long_recording_is_capped_to_evenly_spaced_windows():
    fe = MuLanFeatureExtractor()  # the real 10.24 s windows
    hour = np.zeros(3600 * SAMPLING_RATE, np.float32)
    hour[::1000] = 0.5  # a click train, so windows are not silent
    out = fe(hour, sampling_rate=SAMPLING_RATE, max_windows=6, return_tensors="pt")
    assert out["input_features"].shape == (1, 6, 1024, 128)
    assert torch.isfinite(out["input_features"]).all()
    every = int(np.ceil(len(hour) / fe.window_samples))
    assert every == 352  # what windows="all" would compute without the cap (about 184 MB of features)
