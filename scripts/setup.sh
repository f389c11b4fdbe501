#!/usr/bin/env bash
# Sets up a fresh machine for mulan-hf: FFmpeg (for torchcodec / audio files), a virtual environment in .venv with
# the pinned torch + torchaudio pair, the synthesiser for the embedded corpus, and the package with its extras.
# Safe to re-run: finished steps are quick no-ops.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_PINS=("torch==2.14.1" "torchaudio==2.11.0")

if ! command -v ffmpeg >/dev/null 2>&1 || ! ldconfig -p | grep -q libavcodec; then
    if [ "$(id -u)" = "0" ]; then
        echo "[setup] installing FFmpeg (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
    else
        echo "[setup] FFmpeg is missing: install it (e.g. 'sudo apt-get install ffmpeg') and re-run." >&2
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
echo "[setup] installing mulan-hf with extras ${MULAN_EXTRAS:=dev}"
"${PIP[@]}" install -e ".[${MULAN_EXTRAS}]" "${TORCH_PINS[@]}"
echo "[setup] done: $(.venv/bin/python -c 'import torch, torchaudio, transformers; print("torch", torch.__version__, "torchaudio", torchaudio.__version__, "transformers", transformers.__version__)')"
