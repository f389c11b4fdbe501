"""Audio augmentation of training windows, with torchaudio's functional DSP: random gain, equaliser bands and
band-limiting, room reverb from synthetic impulse responses, pitch shift and time stretch within musical limits,
additive noise at a random SNR, and compression / clipping. Each effect is drawn per window with its own
probability, so the model hears one piece through many rooms, microphones and mixes and must learn the music, not
the recording chain or the sample set.

    augment = AudioAugmentation(reverb_probability=0.5)       # or AudioAugmentation.from_dict({...})
    window = augment(window, sampling_rate, rng, bpm=120)      # numpy float32 in, same length out

Labels stay true: pitch shifts stay under a semitone's fraction that keeps the key's name, and a time stretch never
moves a piece across a tempo bucket (slow < 80 ≤ moderate < 115 ≤ fast BPM) when the row's `bpm` is known."""

from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
import torch
import torchaudio.functional as F

TEMPO_BUCKETS = (80.0, 115.0)  # the corpus's slow / moderate / fast boundaries (music.tempo_word)


@dataclass(frozen=True)
class AudioAugmentation:
    """Probabilities (0-1) and ranges (low, high) of each effect; `AudioAugmentation.off()` changes nothing."""

    gain_probability: float = 0.8
    gain_db: tuple[float, float] = (-12.0, 6.0)  # above 0 dB a loud window clips: mild clipping comes with it
    eq_probability: float = 0.6
    eq_bands: tuple[int, int] = (1, 3)
    eq_gain_db: tuple[float, float] = (-10.0, 10.0)
    band_limit_probability: float = 0.35
    lowpass_hz: tuple[float, float] = (2500.0, 7500.0)
    highpass_hz: tuple[float, float] = (40.0, 400.0)
    reverb_probability: float = 0.5
    reverb_seconds: tuple[float, float] = (0.2, 1.6)  # RT60 of the synthetic room
    reverb_wet: tuple[float, float] = (0.1, 0.6)
    pitch_probability: float = 0.3
    pitch_semitones: tuple[float, float] = (-0.4, 0.4)
    stretch_probability: float = 0.3
    stretch_rate: tuple[float, float] = (0.92, 1.08)  # > 1 plays faster
    noise_probability: float = 0.4
    noise_snr_db: tuple[float, float] = (12.0, 40.0)
    compression_probability: float = 0.3
    compression_amount: tuple[float, float] = (20.0, 90.0)  # torchaudio's `contrast` enhancement

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_probability"):
                if not 0.0 <= float(value) <= 1.0:
                    problems.append(f"{f.name}={value} (a probability between 0 and 1)")
                continue
            if not (isinstance(value, (tuple, list)) and len(value) == 2 and value[0] <= value[1]):
                problems.append(f"{f.name}={value} (a range [low, high] with low <= high)")
                continue
            object.__setattr__(self, f.name, tuple(value))
        if not problems:
            positive = ("eq_bands", "lowpass_hz", "highpass_hz", "reverb_seconds", "stretch_rate", "compression_amount")
            problems += [
                f"{name}={getattr(self, name)} (must be above 0)" for name in positive if getattr(self, name)[0] <= 0
            ]
            if not (0.0 <= self.reverb_wet[0] and self.reverb_wet[1] <= 1.0):
                problems.append(f"reverb_wet={self.reverb_wet} (a mix between 0 and 1)")
            if self.compression_amount[1] > 100:
                problems.append(f"compression_amount={self.compression_amount} (at most 100)")
            if max(abs(s) for s in self.pitch_semitones) > 2:
                problems.append(f"pitch_semitones={self.pitch_semitones} (within ±2: larger shifts change the music)")
            if self.stretch_rate[0] < 0.5 or self.stretch_rate[1] > 2:
                problems.append(f"stretch_rate={self.stretch_rate} (between 0.5 and 2)")
        if problems:
            raise ValueError("Impossible augmentation settings: " + "; ".join(problems) + ".")

    @classmethod
    def from_dict(cls, settings: dict | None) -> "AudioAugmentation":
        """From a preset's or the command line's dict; unknown names are refused with the list of known ones."""
        settings = dict(settings or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ValueError(f"Unknown augmentation settings {unknown}; known: {known}.")
        return cls(**settings)

    @classmethod
    def off(cls) -> "AudioAugmentation":
        return cls(**{f.name: 0.0 for f in fields(cls) if f.name.endswith("_probability")})

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def max_length_factor(self) -> float:
        """How much longer than the output the input window should be, so a stretch or shift never pads."""
        factor = 1.0
        if self.stretch_probability > 0:
            factor *= self.stretch_rate[1]
        if self.pitch_probability > 0:
            factor *= 2 ** (max(abs(s) for s in self.pitch_semitones) / 12)
        return factor

    def __call__(
        self,
        audio: np.ndarray,
        sampling_rate: int,
        rng: np.random.Generator,
        bpm: float | None = None,
        length: int | None = None,
    ) -> np.ndarray:
        """One augmented copy of `audio` (mono) with `length` samples (default: `len(audio) / max_length_factor`,
        the input's length when no stretch or shift is enabled), float32, finite, within [-1, 1]. `bpm` keeps a
        time stretch inside the tempo bucket."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1 or audio.size == 0:
            raise ValueError(
                f"Augmentation takes one mono, non-empty window (samples,), got shape {audio.shape}: downmix first."
            )
        if not np.isfinite(audio).all():
            raise ValueError("The window holds NaN or Inf samples: check the decoder or the file it came from.")
        if length is None:
            length = int(round(len(audio) / self.max_length_factor))
        x = torch.as_tensor(audio)[None]

        def happens(probability: float) -> bool:
            return probability > 0 and rng.random() < probability

        def uniform(bounds: tuple[float, float]) -> float:
            return float(rng.uniform(bounds[0], bounds[1]))

        if happens(self.stretch_probability):
            x = _time_stretch(x, self._stretch_rate(rng, bpm))
        if happens(self.pitch_probability):
            x = _pitch_shift(x, sampling_rate, uniform(self.pitch_semitones))
        start = int(rng.integers(0, max(1, x.shape[-1] - length + 1)))
        x = x[..., start : start + length]
        if x.shape[-1] < length:
            x = torch.nn.functional.pad(x, (0, length - x.shape[-1]))
        if happens(self.eq_probability):
            for _ in range(int(rng.integers(self.eq_bands[0], self.eq_bands[1] + 1))):
                centre = float(np.exp(rng.uniform(np.log(80.0), np.log(0.45 * sampling_rate))))
                x = F.equalizer_biquad(x, sampling_rate, centre, uniform(self.eq_gain_db), Q=uniform((0.5, 2.0)))
        if happens(self.band_limit_probability):
            if rng.random() < 0.5:
                x = F.lowpass_biquad(x, sampling_rate, min(uniform(self.lowpass_hz), 0.45 * sampling_rate))
            else:
                x = F.highpass_biquad(x, sampling_rate, uniform(self.highpass_hz))
        if happens(self.reverb_probability):
            x = _reverb(x, sampling_rate, self.reverb_seconds, uniform(self.reverb_wet), rng)
        if happens(self.compression_probability):
            x = F.contrast(x / x.abs().max().clamp_min(1e-6), uniform(self.compression_amount))
        if happens(self.noise_probability):
            noise = _coloured_noise(x.shape[-1], rng)
            if x.abs().max() > 0:
                x = F.add_noise(x, noise[None], torch.tensor([uniform(self.noise_snr_db)]))
        if happens(self.gain_probability):
            x = x * 10 ** (uniform(self.gain_db) / 20)
        x = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).clamp(-1.0, 1.0)
        return x[0].numpy().astype(np.float32, copy=False)

    def _stretch_rate(self, rng: np.random.Generator, bpm: float | None) -> float:
        low, high = self.stretch_rate
        if bpm:  # keep the stretched tempo in the same bucket, so "slow" / "fast" stay true
            lower = max([b for b in TEMPO_BUCKETS if b <= bpm], default=0.0)
            upper = min([b for b in TEMPO_BUCKETS if b > bpm], default=float("inf"))
            low, high = max(low, (lower + 1e-3) / bpm), min(high, (upper - 1e-3) / bpm)
            if low > high:
                return 1.0
        return float(rng.uniform(low, high))


def _time_stretch(x: torch.Tensor, rate: float, n_fft: int = 512, hop: int = 128) -> torch.Tensor:
    """Tempo × `rate`, pitch kept (phase vocoder)."""
    if abs(rate - 1.0) < 1e-3:
        return x
    window = torch.hann_window(n_fft)
    spectrum = torch.stft(x, n_fft, hop, window=window, return_complex=True)
    stretched = phase_vocoder(spectrum, rate)
    return torch.istft(stretched, n_fft, hop, window=window, length=int(round(x.shape[-1] / rate)))


def phase_vocoder(spectrum: torch.Tensor, rate: float) -> torch.Tensor:
    """`torchaudio.functional.phase_vocoder(spectrum, rate, phase_advance)` computed with unit phasors instead of
    angles: the frame-to-frame phase step is the phasor of `S[t+1] * conj(S[t])`, and its running product is the
    accumulated phase, so no `atan2`, wrapping or `sin`/`cos` is needed (the expected advance cancels out, modulo
    2π). Same output to float precision (tests/test_transfer.py); measured 4x faster on CPU, where the angle and
    polar conversions took most of torchaudio's time (a third of the augmented stream's)."""
    if rate == 1.0:
        return spectrum
    steps = torch.arange(0, spectrum.shape[-1], rate, dtype=spectrum.real.dtype)
    alphas = steps[:, None] % 1.0
    # Frames first, real and imaginary parts as separate contiguous real planes: row gathers and plain real
    # arithmetic are the fast paths on CPU.
    padded = torch.nn.functional.pad(spectrum, [0, 2]).transpose(-1, -2)
    real, imag = padded.real.contiguous(), padded.imag.contiguous()
    index = steps.long()
    real_0, imag_0 = real.index_select(-2, index), imag.index_select(-2, index)
    real_1, imag_1 = real.index_select(-2, index + 1), imag.index_select(-2, index + 1)
    norm_0 = torch.hypot(real_0, imag_0)
    norm_1 = torch.hypot(real_1, imag_1)
    magnitude = alphas * norm_1 + (1 - alphas) * norm_0
    # The phase step from frame t to t+1 as a unit phasor S[t+1] * conj(S[t]) / |S[t+1] S[t]|; silent bins: no step.
    size = norm_0 * norm_1
    silent = size == 0
    size = size.masked_fill_(silent, 1.0)
    turn_real = (real_1 * real_0 + imag_1 * imag_0).div_(size).masked_fill_(silent, 1.0)
    turn_imag = (imag_1 * real_0 - real_1 * imag_0).div_(size)
    norm_start = torch.hypot(real[..., :1, :], imag[..., :1, :])
    start_silent = norm_start == 0
    norm_start = norm_start.masked_fill_(start_silent, 1.0)
    start = torch.complex(
        (real[..., :1, :] / norm_start).masked_fill_(start_silent, 1.0), imag[..., :1, :] / norm_start
    )
    turn = torch.complex(turn_real[..., :-1, :], turn_imag[..., :-1, :])
    accumulated = torch.cat([start, turn], dim=-2).cumprod(-2)
    return (magnitude * accumulated).transpose(-1, -2)


def _pitch_shift(x: torch.Tensor, sampling_rate: int, semitones: float) -> torch.Tensor:
    """Pitch × 2**(semitones / 12), tempo kept: play faster by resampling (the rate rounded to 50 Hz keeps the
    resampling kernel small), then stretch back with the phase vocoder."""
    played_rate = int(round(sampling_rate * 2 ** (semitones / 12) / 50)) * 50
    if played_rate == sampling_rate:
        return x
    faster = F.resample(x, played_rate, sampling_rate)
    return _time_stretch(faster, faster.shape[-1] / x.shape[-1])


ROOMS = 32  # synthetic impulse responses made once per process and range; each reverb draws one


@lru_cache(maxsize=8)
def _rooms(sampling_rate: int, rt60_range: tuple[float, float]) -> tuple[torch.Tensor, ...]:
    """Impulse responses of `ROOMS` rooms with RT60s spread over the range: a few early reflections, then
    exponentially decaying noise whose high frequencies die faster (made with a fixed seed: the same rooms in
    every process)."""
    rng = np.random.default_rng(0)
    rooms = []
    for rt60 in np.linspace(rt60_range[0], rt60_range[1], ROOMS):
        length = int(min(rt60, 2.0) * sampling_rate)
        t = torch.arange(length) / sampling_rate
        tail = torch.from_numpy(rng.standard_normal(length).astype(np.float32)) * torch.exp(-6.9 * t / rt60)
        tail = F.lowpass_biquad(tail[None], sampling_rate, float(rng.uniform(2000.0, 0.45 * sampling_rate)))[0]
        for _ in range(int(rng.integers(2, 6))):
            tail[int(rng.uniform(0.003, 0.05) * sampling_rate)] += float(rng.uniform(0.3, 0.9))
        tail[0] = 0.0
        rooms.append(tail / tail.abs().sum().clamp_min(1e-6))
    return tuple(rooms)


def _fft_size(length: int) -> int:
    """The smallest 2**a * 3**b * 5**c >= `length`: FFTs of these sizes are fast, and they waste less than the next
    power of two (torchaudio's fftconvolve uses the exact, often prime-rich length: measured 12x slower here)."""
    best = 1 << (length - 1).bit_length()
    five = 1
    while five < best:
        three = five
        while three < best:
            size = three * (1 << max(0, (length - 1) // three).bit_length())
            best = min(best, size)
            three *= 3
        five *= 5
    return best


@lru_cache(maxsize=256)
def _room_spectrum(sampling_rate: int, rt60_range: tuple[float, float], index: int, size: int) -> torch.Tensor:
    """The rFFT of room `index` at FFT size `size`, kept: training windows share one length, so each room's
    spectrum is computed once per process."""
    return torch.fft.rfft(_rooms(sampling_rate, rt60_range)[index], n=size)


def _reverb(
    x: torch.Tensor, sampling_rate: int, rt60_range: tuple[float, float], wet: float, rng: np.random.Generator
) -> torch.Tensor:
    """`x` played in one of the synthetic rooms, mixed `wet` parts reverberant to `1 - wet` dry."""
    index = int(rng.integers(ROOMS))
    size = _fft_size(x.shape[-1] + _rooms(sampling_rate, rt60_range)[index].shape[-1] - 1)
    wet_signal = torch.fft.irfft(
        torch.fft.rfft(x, n=size) * _room_spectrum(sampling_rate, rt60_range, index, size), n=size
    )
    wet_signal = wet_signal[..., : x.shape[-1]]
    scale = x.abs().max() / wet_signal.abs().max().clamp_min(1e-6)
    return (1 - wet) * x + wet * wet_signal * scale


@lru_cache(maxsize=4)
def _noise_bank(length: int) -> torch.Tensor:
    """White, pink and brown noise (power falling as 1 / f**0, 1, 2), `length` samples each, made once per process
    with a fixed seed; windows take random stretches of it."""
    rng = np.random.default_rng(0)
    frequencies = np.maximum(np.fft.rfftfreq(length), 1.0 / length)
    bank = []
    for exponent in (0.0, 1.0, 2.0):
        noise = np.fft.irfft(np.fft.rfft(rng.standard_normal(length)) / frequencies ** (exponent / 2), n=length)
        bank.append(noise / (np.abs(noise).max() + 1e-9))
    return torch.from_numpy(np.stack(bank).astype(np.float32))


def _coloured_noise(length: int, rng: np.random.Generator) -> torch.Tensor:
    """`length` samples of white, pink or brown noise (a random stretch of a bank four times that long)."""
    bank = _noise_bank(1 << (4 * length - 1).bit_length())
    start = int(rng.integers(0, bank.shape[1] - length))
    return bank[int(rng.integers(len(bank))), start : start + length]
