#!/usr/bin/env bash
# Sets up a fresh machine for mulan-hf: FFmpeg (for torchcodec / audio files), the SoundFonts of the corpus, Chromium (the Space's browser test), a virtual environment in .venv with
# the pinned torch + torchaudio pair, the synthesiser for the embedded corpus, the pretrained musicnn weights, and the
# package with its extras.
# Safe to re-run: finished steps are quick no-ops.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_PINS=("torch==2.14.1" "torchaudio==2.11.0")

APT_PACKAGES=()
if ! command -v ffmpeg >/dev/null 2>&1 || ! ldconfig -p | grep -q libavcodec; then
    APT_PACKAGES+=(ffmpeg)
fi
# The embedded corpus renders with several independent General-MIDI sample sets (mulan_hf.data.synthesis.SAMPLE_SETS).
for package in csound-soundfont:/usr/share/sounds/sf2/sf_GMbank.sf2 opl3-soundfont:/usr/share/sounds/sf2/OPL-3_FM_128M.sf2; do
    if [ ! -f "${package#*:}" ]; then
        APT_PACKAGES+=("${package%%:*}")
    fi
done
# The demo Space's browser test drives the system's Chromium (no browser downloads); only the dev setup needs it.
if [[ "${MULAN_EXTRAS:-dev}" == *dev* ]] && ! { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }; then
    APT_PACKAGES+=(chromium chromium-driver)
fi
if [ ${#APT_PACKAGES[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ]; then
        echo "[setup] installing ${APT_PACKAGES[*]} (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
    else
        echo "[setup] missing system packages: install them (e.g. 'sudo apt-get install ${APT_PACKAGES[*]}') and re-run." >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv"
    python3 -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
echo "[setup] installing ${TORCH_PINS[*]}"
"${PIP[@]}" install "${TORCH_PINS[@]}"
# tinysoundfont without its pyaudio dependency (live playback only; it needs PortAudio headers to build).
"${PIP[@]}" install --no-deps "tinysoundfont>=0.3.6"
# The default audio tower's pretrained weights: the musicnn package ships them (MagnaTagATune). Installed without
# its dependencies (it pins TensorFlow-1-era numpy and TensorFlow); mulan-hf reads its checkpoint files itself.
"${PIP[@]}" install --no-deps "musicnn==0.1.0"
echo "[setup] installing mulan-hf with extras ${MULAN_EXTRAS:=dev}"
"${PIP[@]}" install -e ".[${MULAN_EXTRAS}]" "${TORCH_PINS[@]}"
# HEAR 2021's submission validator checks mulan_hf.integrations.hear in the tests. Installed without its declared
# TensorFlow dependency: its torch path does not use it (tests/test_integrations.py says how the import is met).
if [[ "${MULAN_EXTRAS}" == *dev* ]]; then
    "${PIP[@]}" install --no-deps "hearvalidator==2021.0.2"
fi
echo "[setup] done: $(.venv/bin/python -c 'import torch, torchaudio, transformers; print("torch", torch.__version__, "torchaudio", torchaudio.__version__, "transformers", transformers.__version__)')"
