"""The sandbox's incidents channel: a tiny HTTP receiver that keeps every message it gets.

    python -m rollbook.sandbox.receiver --port 28090 --out .sandbox/log/notifications.jsonl

Each POST body (apprise's json:// sends JSON) becomes one line of the output file. 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def handler(out: Path) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            text = body.decode("utf-8", "replace")
            try:
                message: object = json.loads(text)
            except ValueError:
                message = text
            line = {"ts": datetime.now(UTC).isoformat(), "path": self.path, "message": message}
            with out.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the output file is the record

    return Receiver


def main() -> None:
    parser = argparse.ArgumentParser(description="the sandbox's notification receiver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", options.port), handler(options.out)).serve_forever()


if __name__ == "__main__":
    main()
