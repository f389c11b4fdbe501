"""Load on the demo Space over loopback: N concurrent gradio_client users each send M tagging requests.

    python benchmarks/bench_space.py [--model outputs/mulan-tiny/model] [--clients 8] [--requests 25]

Starts spaces/mulan-demo/app.py on a free port with the given checkpoint (default: the main job's), tags a gallery
clip with the app's default label vocabulary, and prints the errors (there must be none), throughput and the
p50/p95/max latency.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "spaces" / "mulan-demo" / "app.py"


def start_app(model: str, gallery: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "MULAN_MODEL": model, "MULAN_GALLERY": str(gallery), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    process = subprocess.Popen([sys.executable, str(APP)], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The app exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(1)
    process.kill()
    raise SystemExit("The app did not start in 5 minutes.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "outputs" / "mulan-tiny" / "model"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25)
    args = parser.parse_args()
    sys.path.insert(0, str(APP.parent))
    from app import DEFAULT_LABELS

    with tempfile.TemporaryDirectory() as tmp:
        from mulan_hf.data import write_gallery

        gallery = Path(tmp) / "gallery"
        entries = write_gallery(gallery, count=4)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        process = start_app(args.model, gallery, port, Path(tmp) / "app.log")
        url = f"http://127.0.0.1:{port}/"
        clip = str(gallery / entries[0]["file_name"])
        latencies: list[float] = []
        errors: list[str] = []

        def user() -> None:
            client = Client(url, verbose=False)
            for _ in range(args.requests):
                start = time.perf_counter()
                try:
                    client.predict(handle_file(clip), DEFAULT_LABELS, api_name="/tag")
                except Exception as error:  # counted and printed
                    errors.append(repr(error))
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        threads = [threading.Thread(target=user) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        process.terminate()
        process.wait(timeout=30)
    p50, p95, worst = np.percentile(latencies, [50, 95, 100])
    labels = len(DEFAULT_LABELS.split(","))
    concurrency = os.environ.get("MULAN_CONCURRENCY", 2)
    print(f"model: {args.model}; {args.clients} clients x {args.requests} tagging requests")
    print(f"(10 s clip, {labels} labels, app concurrency {concurrency})")
    print(f"errors: {len(errors)} {errors[:3] if errors else ''}")
    print(f"throughput {len(latencies) / wall:.1f} requests/s")
    print(f"latency p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {worst * 1000:.0f} ms")


if __name__ == "__main__":
    main()
