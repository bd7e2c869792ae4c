"""Asking a server over HTTP how it is, without caring whether the answer is good news."""

from __future__ import annotations

import urllib.error
import urllib.request

# The sandbox is on 127.0.0.1: never go through a proxy from the caller's environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status `url` answers with (500 is an answer), or None when nothing answers."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None
