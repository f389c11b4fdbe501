"""A stand-in for the Hugging Face Hub's HTTP API, for tests only: the real Hub cannot be reached from the test
machines. It answers the calls huggingface_hub makes for `create_repo` and `upload_folder` (repo creation, the README
metadata check, the "preupload" negotiation, where it asks for every file inline, and the NDJSON commit) and
keeps what it received. Any other request gets a 404 and is recorded, so a test sees calls it did not expect."""

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

PREFIX = {"models": "", "spaces": "spaces/", "datasets": "datasets/"}


class HubStandIn:
    def __init__(self):
        self.created: list[dict] = []
        self.validated: list[dict] = []  # README metadata checks
        self.commits: list[dict] = []  # {"repo_type", "repo_id", "revision", "summary", "files": {path: bytes}}
        self.unexpected: list[str] = []
        self.tokens: set[str] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "HubStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo_id: str) -> dict[str, bytes]:
        merged: dict[str, bytes] = {}
        for commit in self.commits:
            if commit["repo_id"] == repo_id:
                merged.update(commit["files"])
        return merged

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                # huggingface_hub looks up a registry of AI-agent harnesses for its user agent (cached a day): not
                # part of any upload, answered "not found" like every other GET.
                if not self.path.startswith("/api/agent-harnesses"):
                    hub.unexpected.append(f"GET {self.path}")
                self._reply(404, {"error": "not in the stand-in"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.tokens.add(self.headers.get("Authorization", ""))
                path = self.path.split("?")[0]
                if path == "/api/validate-yaml":  # the README's metadata block must be valid YAML
                    payload = json.loads(body)
                    hub.validated.append(payload)
                    try:
                        metadata = yaml.safe_load(payload["content"].split("---")[1])
                        assert isinstance(metadata, dict)
                    except Exception as error:
                        return self._reply(400, {"errors": [{"message": f"invalid YAML: {error}"}]})
                    return self._reply(200, {"warnings": []})
                if path == "/api/repos/create":
                    payload = json.loads(body)
                    hub.created.append(payload)
                    kind = {"model": "models", "space": "spaces", "dataset": "datasets"}[payload.get("type", "model")]
                    repo_id = (
                        f"{payload['organization']}/{payload['name']}"
                        if payload.get("organization")
                        else (payload["name"])
                    )
                    return self._reply(200, {"url": f"{hub.endpoint}/{PREFIX[kind]}{repo_id}", "name": repo_id})
                match = re.fullmatch(r"/api/(models|spaces|datasets)/(.+)/(preupload|commit)/([^/]+)", path)
                if not match:
                    hub.unexpected.append(f"POST {self.path}")
                    return self._reply(404, {"error": "not in the stand-in"})
                kind, repo_id, action, revision = match.groups()
                if action == "preupload":
                    files = json.loads(body)["files"]
                    return self._reply(
                        200,
                        {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
                    )
                lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                header = next(line["value"] for line in lines if line["key"] == "header")
                files = {
                    line["value"]["path"]: base64.b64decode(line["value"]["content"])
                    for line in lines
                    if line["key"] == "file"
                }
                others = [line["key"] for line in lines if line["key"] not in ("header", "file")]
                if others:
                    hub.unexpected.append(f"commit operations {others}")
                hub.commits.append(
                    {
                        "repo_type": kind,
                        "repo_id": repo_id,
                        "revision": revision,
                        "summary": header["summary"],
                        "files": files,
                    }
                )
                oid = f"{len(hub.commits):040x}"
                return self._reply(
                    200,
                    {
                        "commitUrl": f"{hub.endpoint}/{PREFIX[kind]}{repo_id}/commit/{oid}",
                        "commitOid": oid,
                        "pullRequestUrl": None,
                    },
                )

        return Handler
