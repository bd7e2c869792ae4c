"""Holds a TCP port on 127.0.0.1 as soon as it is free (the `port-held` fault).

    python -m rollbook.sandbox.squatter --port 28000 --until-head COMMIT --checkout PATH

Like a leftover process that grabs the app's port while the app is stopped; it lets go when the
checkout has moved away from COMMIT and come back to it (the deploy it disturbed is back), or
after --hold seconds.
"""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hold", type=float, default=600.0, help="seconds to hold it at most")
    parser.add_argument("--until-head", help="let go when the checkout's HEAD is this commit")
    parser.add_argument("--checkout", type=Path, help="the checkout whose HEAD is watched")
    parser.add_argument("--wait", type=float, default=600.0, help="give up after this many seconds")
    options = parser.parse_args()
    deadline = time.monotonic() + options.wait
    while time.monotonic() < deadline:
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like any server
            try:
                server.bind(("127.0.0.1", options.port))
            except OSError:
                time.sleep(0.05)
                continue
            server.listen()
            held, moved = time.monotonic() + options.hold, False
            while time.monotonic() < held:
                head = current_head(options.checkout)
                moved = moved or head != options.until_head
                if moved and head == options.until_head:
                    return  # the deploy it disturbed is back
                time.sleep(0.2)
            return


def current_head(checkout: Path | None) -> str | None:
    return None if checkout is None else (checkout / ".git" / "HEAD").read_text().strip()


if __name__ == "__main__":
    main()
