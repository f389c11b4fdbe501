"""The demo Space, started on localhost from the folder `mulan-hf deploy-space --dry-run` stages, in a process that
cannot import mulan_hf (as on the Hub: the checkpoint's remote code), driven through gradio_client and a headless
Chromium."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from mulan_hf import MuLanModel, MuLanProcessor
from mulan_hf.data import write_wav
from mulan_hf.hub import stage_space_repo

gradio_client = pytest.importorskip("gradio_client", reason="the demo extra (gradio) is not installed")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

LABELS = ["piano", "drums", "violin", "trumpet", "calm", "energetic"]
CALIBRATION = {
    "fitted_on": "corpus (validation), 20 clips",
    "shared": {"slope": 4.0, "intercept": -2.0, "positives": 9},
    "labels": {"piano": {"slope": 8.0, "intercept": -1.0, "positives": 5}},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def space(saved_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("space")
    stage_space_repo(folder, "someone/mulan", gallery_size=6)
    model_dir = tmp_path_factory.mktemp("calibrated") / "model"
    shutil.copytree(saved_model_dir, model_dir)
    (model_dir / "calibration.json").write_text(json.dumps(CALIBRATION))  # what `mulan-hf calibrate` writes
    port = _free_port()
    env = {
        **os.environ,
        "MULAN_MODEL": str(model_dir),
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }
    # As on a Space: the app file alone, with mulan_hf not importable (the model brings its remote code).
    launcher = "import runpy, sys; sys.modules['mulan_hf'] = None; runpy.run_path('app.py', run_name='__main__')"
    log = open(folder / "app.log", "w")
    process = subprocess.Popen([sys.executable, "-c", launcher], cwd=folder, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The app exited: {(folder / 'app.log').read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(1)
    else:
        process.kill()
        raise RuntimeError(f"The app did not start: {(folder / 'app.log').read_text()[-3000:]}")
    yield {"url": url, "folder": folder, "gallery": json.loads((folder / "gallery" / "gallery.json").read_text())}
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def client(space):
    return Client(space["url"], verbose=False)


@pytest.fixture(scope="module")
def reference(saved_model_dir):
    """The same model in this process, to check what the app answers."""
    return MuLanModel.from_pretrained(saved_model_dir).eval(), MuLanProcessor.from_pretrained(saved_model_dir)


def _decode(path: Path) -> np.ndarray:
    from torchcodec.decoders import AudioDecoder

    return AudioDecoder(str(path), sample_rate=16000, num_channels=1).get_all_samples().data.mean(0).numpy()


@torch.no_grad()
def _embed(reference, audio=None, text=None) -> torch.Tensor:
    model, processor = reference
    if audio is not None:
        return model.get_audio_features(
            **processor(audio=audio, sampling_rate=16000, return_tensors="pt")
        ).pooler_output
    inputs = processor(text=text, padding=True, return_tensors="pt")
    return model.get_text_features(**inputs).pooler_output


def _gallery_clip(space, i: int = 0) -> Path:
    return space["folder"] / "gallery" / space["gallery"][i]["file_name"]


def test_tagging_ranks_labels_like_the_model(space, client, reference):
    clip = _gallery_clip(space)
    labels, probabilities, timeline, notice = client.predict(
        handle_file(str(clip)), ", ".join(LABELS + ["piano "]), api_name="/tag"
    )
    scores = {c["label"]: c["confidence"] for c in labels["confidences"]}
    assert set(scores) == set(LABELS)  # duplicates and blanks dropped
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert notice == ""
    model, _ = reference
    logits = model.logit_scale.exp() * _embed(reference, audio=_decode(clip)) @ _embed(reference, text=LABELS).T
    expected = dict(zip(LABELS, logits.softmax(-1)[0].tolist()))
    for label in LABELS:
        assert scores[label] == pytest.approx(expected[label], abs=1e-4)
    assert labels["label"] == max(expected, key=expected.get)
    # Each label's own probability: calibration.json's map for "piano", the shared map for the others.
    cosines = (_embed(reference, audio=_decode(clip)) @ _embed(reference, text=LABELS).T)[0]
    own = {c["label"]: c["confidence"] for c in probabilities["confidences"]}
    for label, cosine in zip(LABELS, cosines.tolist()):
        fitted = CALIBRATION["labels"].get(label, CALIBRATION["shared"])
        assert own[label] == pytest.approx(
            1 / (1 + np.exp(-(fitted["slope"] * cosine + fitted["intercept"]))), abs=1e-4
        )
    # Scores over time: the 5 top-ranked labels' probabilities in each analysis window, at the window's centre.
    model, processor = reference
    inputs = processor(audio=[_decode(clip)], sampling_rate=16000, return_tensors="pt")
    num_windows = inputs["window_mask"].shape[1]
    assert num_windows > 1
    with torch.no_grad():
        windows = model.get_audio_features(
            input_features=inputs["input_features"].reshape(num_windows, 1, *inputs["input_features"].shape[2:])
        ).pooler_output
    per_window = windows @ _embed(reference, text=LABELS).T
    top = sorted(expected, key=expected.get, reverse=True)[:5]
    rows = timeline["value"]["data"]
    assert timeline["visible"] and len(rows) == 5 * num_windows
    seconds = processor.feature_extractor.window_seconds
    for time_s, score, label in rows:
        w = round(time_s / seconds - 0.5)
        assert label in top and time_s == pytest.approx((w + 0.5) * seconds, abs=0.01)
        fitted = CALIBRATION["labels"].get(label, CALIBRATION["shared"])
        cosine = float(per_window[w, LABELS.index(label)])
        assert score == pytest.approx(1 / (1 + np.exp(-(fitted["slope"] * cosine + fitted["intercept"]))), abs=1e-4)


def test_text_search_returns_the_nearest_gallery_clips(space, client, reference):
    table, *players = client.predict("a calm piano ballad", api_name="/search")
    rows = table["data"]
    assert len(rows) == len(players) == 3
    similarity = (_embed(reference, text=["a calm piano ballad"]) @ _stack_gallery(space, reference).T)[0]
    order = similarity.argsort(descending=True)[:3].tolist()
    assert [row[3] for row in rows] == [space["gallery"][i]["file_name"] for i in order]
    assert [row[1] for row in rows] == [space["gallery"][i]["caption"] for i in order]
    assert [row[2] for row in rows] == pytest.approx(similarity[order].tolist(), abs=1e-3)
    for player, row in zip(players, rows):  # playable copies of the same clips
        path = Path(player["value"] if isinstance(player, dict) else player)
        assert path.read_bytes() == (space["folder"] / "gallery" / row[3]).read_bytes()


def _stack_gallery(space, reference) -> torch.Tensor:
    return torch.cat([_embed(reference, audio=_decode(_gallery_clip(space, i))) for i in range(len(space["gallery"]))])


def test_music_to_music_finds_the_clip_itself_first(space, client):
    table, *_ = client.predict(handle_file(str(_gallery_clip(space, 2))), api_name="/similar")
    first = table["data"][0]
    assert first[3] == space["gallery"][2]["file_name"]
    assert first[2] == pytest.approx(1.0, abs=1e-3)
    assert [row[2] for row in table["data"]] == sorted((row[2] for row in table["data"]), reverse=True)


def _write_empty_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
    return path


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "notes.txt").write_text("this is not audio\n" * 100)
    return {
        "not_audio": folder / "notes.txt",
        "empty": _write_empty_wav(folder / "empty.wav"),
        "silent": write_wav(folder / "silent.wav", np.zeros(16000 * 5, dtype=np.float32), 16000),
    }


@pytest.mark.parametrize(
    ("case", "labels", "message"),
    [
        ("not_audio", "piano", "could not be read as audio"),
        ("empty", "piano", "The recording is empty"),
        ("silent", "piano", "The recording is silent"),
        ("good", "", "No labels"),
        ("good", " , ,", "No labels"),
        (None, "piano", "No audio yet"),
    ],
)
def test_bad_input_gets_a_readable_message_and_the_app_keeps_serving(space, client, bad_files, case, labels, message):
    audio = None if case is None else handle_file(str(_gallery_clip(space) if case == "good" else bad_files[case]))
    with pytest.raises(AppError, match=message) as error:
        client.predict(audio, labels, api_name="/tag")
    assert "Traceback" not in str(error.value)
    labels_out, *_ = client.predict(handle_file(str(_gallery_clip(space))), "piano, drums", api_name="/tag")
    assert {c["label"] for c in labels_out["confidences"]} == {"piano", "drums"}


def test_bad_input_on_search_and_similarity(client, bad_files):
    with pytest.raises(AppError, match="Type a description"):
        client.predict("   ", api_name="/search")
    with pytest.raises(AppError, match="could not be read as audio"):
        client.predict(handle_file(str(bad_files["not_audio"])), api_name="/similar")
    with pytest.raises(AppError, match="silent"):
        client.predict(handle_file(str(bad_files["silent"])), api_name="/similar")


def test_a_two_hour_file_is_analysed_up_to_the_cap_with_a_notice(client, tmp_path):
    path = tmp_path / "two-hours.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=8000:duration=7200",
         "-ac", "1", "-b:a", "8k", str(path)],
        check=True,
    )  # fmt: skip
    labels, _, _, notice = client.predict(handle_file(str(path)), "piano, drums", api_name="/tag")
    assert {c["label"] for c in labels["confidences"]} == {"piano", "drums"}
    assert "Only the first 5:00 of this 2:00:00 recording were analysed" in notice


def test_load_eight_clients_twenty_five_tagging_requests_each(space):
    """Bounded load on loopback: every request must succeed; latencies are reported, not asserted (speed targets
    live in benchmarks/)."""
    clip = str(_gallery_clip(space))
    latencies: list[float] = []
    errors: list[str] = []

    def user():
        own = Client(space["url"], verbose=False)
        for _ in range(25):
            start = time.perf_counter()
            try:
                labels, *_ = own.predict(handle_file(clip), "piano, drums, calm, energetic", api_name="/tag")
                assert len(labels["confidences"]) == 4
            except Exception as error:  # collected, asserted below
                errors.append(repr(error))
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=user) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(latencies) == 200
    p50, p95 = np.percentile(latencies, [50, 95])
    print(f"\nload test: 8 clients x 25 tagging requests, p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        pytest.fail("Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver).")
    return browser, driver


def test_browser_runs_an_example_and_shows_ranked_labels(space, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(space["url"])
        wait = WebDriverWait(driver, 120)
        example = wait.until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, ".gallery-item, tr.tr-body"))
        )
        example.click()
        labels = wait.until(
            lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, "#ranked-labels") if "%" in e.text]
        )
        screenshot = tmp_path / "space.png"
        driver.save_screenshot(str(screenshot))
        text = labels[0]
        assert any(label in text for label in ("piano", "drums", "rock", "jazz", "calm", "fast"))
        assert screenshot.stat().st_size > 10_000
        keep = os.environ.get("MULAN_SCREENSHOT_DIR")
        if keep:
            shutil.copy(screenshot, Path(keep) / "space.png")
    finally:
        driver.quit()


def test_a_clip_of_one_window_has_no_timeline(client, tmp_path):
    path = write_wav(
        tmp_path / "short.wav", 0.3 * np.sin(np.linspace(0, 440 * 2 * np.pi, 16000)).astype(np.float32), 16000
    )
    labels, probabilities, timeline, _ = client.predict(handle_file(str(path)), "piano, drums", api_name="/tag")
    assert len(labels["confidences"]) == len(probabilities["confidences"]) == 2
    assert timeline["visible"] is False and timeline["value"]["data"] == []
