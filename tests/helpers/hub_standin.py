"""A stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, enough for `HfApi.create_repo` and
`HfApi.upload_folder` of small files (the "regular" upload mode: contents inline in the commit). It keeps
what was committed, per repository, so a test can compare it with what was meant to be pushed."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HubStandIn:
    def __init__(self):
        self.repos: dict[str, dict] = {}  # repo id -> {"private": bool, "files": {path: bytes}, "commits": [...]}
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hub.requests.append(f"POST {self.path}")
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:3] == ["api", "repos", "create"]:
                    request = json.loads(body)
                    repo_id = (
                        f"{request['organization']}/{request['name']}"
                        if request.get("organization")
                        else request["name"]
                    )
                    hub.repos.setdefault(repo_id, {"private": request.get("private"), "files": {}, "commits": []})
                    return self._answer(200, {"url": f"http://{self.headers['Host']}/datasets/{repo_id}"})
                if parts[:2] == ["api", "validate-yaml"]:
                    return self._validate_card(json.loads(body)["content"])
                if parts[:2] == ["api", "datasets"] and parts[4] == "preupload":
                    files = json.loads(body)["files"]
                    return self._answer(
                        200,
                        {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
                    )
                if parts[:2] == ["api", "datasets"] and parts[4] == "commit":
                    repo_id = f"{parts[2]}/{parts[3]}"
                    repo = hub.repos[repo_id]
                    for raw in body.decode().splitlines():
                        item = json.loads(raw)
                        if item["key"] == "header":
                            repo["commits"].append(item["value"]["summary"])
                        elif item["key"] == "file":
                            repo["files"][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    oid = f"{len(repo['commits']):040x}"
                    url = f"http://{self.headers['Host']}/datasets/{repo_id}/commit/{oid}"
                    return self._answer(200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None})
                return self._answer(404, {"error": f"the stand-in does not serve {self.path}"})

            def _validate_card(self, content: str) -> None:
                """The Hub checks a README's YAML header before a commit; so does the stand-in."""
                import yaml

                try:
                    header = yaml.safe_load(content.split("---")[1]) if content.startswith("---") else None
                except yaml.YAMLError as exc:
                    return self._answer(400, {"errors": [{"message": str(exc)}]})
                if not isinstance(header, dict):
                    return self._answer(200, {"warnings": [{"message": "empty or missing yaml metadata"}]})
                return self._answer(200, {"warnings": []})

            def do_GET(self):
                hub.requests.append(f"GET {self.path}")
                return self._answer(404, {"error": f"the stand-in does not serve {self.path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
