"""Regenerate the grouping fixtures (`../fixtures/<client>/<case>/`) with the real SDKs.

Every case runs one real client against a recording HTTP server on 127.0.0.1 and keeps the
requests that carry an event, byte for byte, in the capture layout of
shared/reference/sdk-capture (`NNN_METHOD_path/` with `meta.json`, `body.raw` and, when the
body was compressed, `body.decoded`). The clients and their cases:

- python: `py_cases.py` with the venv's sentry-sdk;
- node: `node_cases.cjs` with @sentry/node from tests/e2e/js (`make install-test`);
- browser: `browser_app/`, bundled and minified by esbuild from tests/e2e/js, loaded in Debian's
  chromium through Playwright;
- go: `go/main.go`, built offline in GOPATH mode against Debian's
  golang-github-getsentry-sentry-go-dev (it posts to the legacy /store/ endpoint).

Run from the repository root, then refresh the snapshots and read their diff:

    .venv/bin/python -m spyglass.grouping.tests.capture.regenerate [python|node|browser|go ...]
    SPYGLASS_UPDATE_SNAPSHOTS=1 .venv/bin/pytest -p spyglass.pytest_env spyglass/grouping

Only the stored fixtures take part in the test suite; nothing here runs there.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import brotli

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
ROOT = HERE.parents[3]
JS = ROOT / "tests" / "e2e" / "js"
GOPATH = Path("/usr/share/gocode")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
GRACE = 1.0  # seconds to wait for requests a client sends after it exits

CASES = {
    "python": [
        "chained_raise_from",
        "chained_during_handling",
        "exception_group",
        "logging_params_a",
        "logging_params_b",
        "logging_formatted_a",
        "logging_formatted_b",
        "recursion",
        "message_threads",
        "thread_unhandled",
        "library_frames",
        "library_package_frames",
    ],
    "node": [
        "error_cause",
        "aggregate_error",
        "unhandled_rejection_non_error",
        "message_numbers_a",
        "message_numbers_b",
    ],
    "browser": ["minified_type_error", "anonymous_function_throw", "promise_rejection"],
    "go": [
        "errors_new",
        "wrapped_errorf",
        "custom_error_type",
        "panic_recovered",
        "panic_message",
        "message_numbers_a",
        "message_numbers_b",
        "custom_fingerprint",
    ],
}


@dataclass
class Request:
    meta: dict[str, Any]
    raw: bytes
    decoded: bytes | None


@dataclass
class Recording:
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _decode(raw: bytes, encoding: str) -> bytes | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    if encoding == "br":
        return bytes(brotli.decompress(raw))
    raise ValueError(f"unexpected Content-Encoding {encoding}")


def _item_types(meta: dict[str, Any], body: bytes) -> list[str]:
    """The envelope's item types; a /store/ body is one event."""
    if meta["path"].rstrip("/").endswith("/store"):
        return ["event"]
    types: list[str] = []
    lines = iter(body.split(b"\n")[1:])
    for line in lines:
        if not line.strip():
            continue
        header = json.loads(line)
        types.append(header.get("type", ""))
        if "length" in header:
            # the payload may hold newlines; skip whole lines until its length is covered
            remaining = int(header["length"])
            while remaining > 0:
                remaining -= len(next(lines)) + 1
        else:
            next(lines, None)
    return types


class RecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    recording: Recording

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self) -> None:
        self._answer(200, b"")

    def do_POST(self) -> None:
        raw = self._read_body()
        split = urlsplit(self.path)
        decoded = _decode(raw, self.headers.get("Content-Encoding") or "")
        meta: dict[str, Any] = {
            "method": self.command,
            "raw_path": self.path,
            "path": split.path,
            "query": parse_qsl(split.query, keep_blank_values=True),
            "http_version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_len": len(raw),
        }
        if decoded is not None:
            meta["decoded_len"] = len(decoded)
        meta["envelope_item_types"] = _item_types(meta, raw if decoded is None else decoded)
        with self.recording.lock:
            meta = {"seq": len(self.recording.requests) + 1, **meta}
            self.recording.requests.append(Request(meta, raw, decoded))
        self._answer(200, json.dumps({"id": uuid.uuid4().hex}).encode())


@contextmanager
def serve(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


def record(run: Callable[[str], None]) -> list[Request]:
    """Run one client against a fresh recorder; `run` gets the DSN."""
    recording = Recording()
    handler = type("Handler", (RecordingHandler,), {"recording": recording})
    with serve(handler) as port:
        run(f"http://publickey@127.0.0.1:{port}/1")
        time.sleep(GRACE)
    return recording.requests


def store(client: str, case: str, requests: list[Request]) -> int:
    """Keep the requests that carry an event; returns how many events were kept."""
    out = FIXTURES / client / case
    shutil.rmtree(out, ignore_errors=True)
    kept = [r for r in requests if "event" in r.meta["envelope_item_types"]]
    # Numbered among the kept requests (`seq` in meta.json is the order of all of them), so
    # that a recapture keeps the names, and the snapshot diff shows changed hashes in place.
    for number, request in enumerate(kept, 1):
        slug = "_".join(p for p in request.meta["path"].split("/") if p)
        directory = out / f"{number:03d}_{request.meta['method']}_{slug}"
        directory.mkdir(parents=True)
        (directory / "meta.json").write_text(json.dumps(request.meta, indent=2) + "\n")
        (directory / "body.raw").write_bytes(request.raw)
        if request.decoded is not None:
            (directory / "body.decoded").write_bytes(request.decoded)
    return sum(r.meta["envelope_item_types"].count("event") for r in kept)


def run_process(command: list[str], env: dict[str, str]) -> Callable[[str], None]:
    def run(dsn: str) -> None:
        subprocess.run(command, env={**env, "SENTRY_DSN": dsn}, check=True, timeout=120)

    return run


def base_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def python_runner(work: Path) -> Callable[[str], Callable[[str], None]]:
    script = str(HERE / "py_cases.py")
    return lambda case: run_process([sys.executable, script, case], base_env(work))


def node_runner(work: Path) -> Callable[[str], Callable[[str], None]]:
    env = {**base_env(work), "NODE_PATH": str(JS / "node_modules")}
    script = str(HERE / "node_cases.cjs")
    return lambda case: run_process(["node", script, case], env)


def go_runner(work: Path) -> Callable[[str], Callable[[str], None]]:
    assert (GOPATH / "src/github.com/getsentry/sentry-go").is_dir(), "install sentry-go-dev"
    env = {**base_env(work), "GOPATH": str(GOPATH), "GO111MODULE": "off"}
    env["GOCACHE"] = str(work / "gocache")
    binary = work / "go-capture"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=HERE / "go", env=env, check=True)
    return lambda case: run_process([str(binary), case], base_env(work))


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def browser_runner(work: Path) -> Callable[[str], Callable[[str], None]]:
    from playwright.sync_api import sync_playwright

    page_dir = work / "browser_app"
    page_dir.mkdir()
    shutil.copy(HERE / "browser_app" / "index.html", page_dir)
    subprocess.run(
        [
            *(str(JS / "node_modules" / ".bin" / "esbuild"), str(HERE / "browser_app" / "app.js")),
            *("--bundle", "--minify", "--format=iife", "--target=es2020"),
            *("--log-level=warning", f"--outfile={page_dir / 'app.js'}"),
        ],
        cwd=JS,
        env={**base_env(work), "NODE_PATH": str(JS / "node_modules")},  # app.js is outside JS
        check=True,
    )

    def runner(case: str) -> Callable[[str], None]:
        def run(dsn: str) -> None:
            files = functools.partial(QuietFiles, directory=str(page_dir))
            with serve(files) as port, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page()
                    page.goto(f"http://127.0.0.1:{port}/index.html?case={case}&dsn={dsn}")
                    page.wait_for_function(
                        "document.getElementById('status').textContent == 'done'"
                    )
                finally:
                    browser.close()

        return run

    return runner


RUNNERS = {"python": python_runner, "node": node_runner, "browser": browser_runner, "go": go_runner}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clients", nargs="*", help=f"some of {', '.join(CASES)} (default: all)")
    clients: list[str] = parser.parse_args().clients or list(CASES)
    if unknown := set(clients) - set(CASES):
        parser.error(f"unknown clients {sorted(unknown)}")
    with tempfile.TemporaryDirectory(prefix="grouping-capture-") as tmp:
        for client in clients:
            work = Path(tmp) / client
            work.mkdir()
            runner = RUNNERS[client](work)
            for case in CASES[client]:
                events = store(client, case, record(runner(case)))
                flag = "" if events == 1 else f"  <- expected one event, got {events}"
                print(f"{client}/{case}: {events} event(s){flag}")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
