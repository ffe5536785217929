"""``python -m connector.probe [URL]``: the container's health check, with nothing but the standard library.

The slim image has no curl or wget. Exit 0 when ``URL`` (by default the status server's
``/healthz`` on the port the image serves it on) answers 200; exit 1 otherwise, with one
line saying why. The Dockerfile's HEALTHCHECK, docker-compose.yml and the Kubernetes
example all run this same command.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from typing import Final

#: Where the image serves /metrics, /healthz and /readyz (its CMD passes ``--http :9108``).
DEFAULT_URL: Final = "http://127.0.0.1:9108/healthz"


def probe_command(url: str = DEFAULT_URL) -> list[str]:
    """The health-check command as the Dockerfile and docker-compose.yml write it."""
    return ["python", "-m", "connector.probe", url]


def probe(url: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """(True, body) when ``url`` answers 200; (False, why) otherwise."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return answer.status == 200, answer.read(200).decode(errors="replace").strip()
    except urllib.error.HTTPError as exc:
        with exc:
            return False, f"HTTP {exc.code}: {exc.read(200).decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return False, f"unreachable: {reason}"


def main(argv: list[str] | None = None) -> int:
    """Probe the URL given (or ``DEFAULT_URL``); print the outcome; 0 when healthy."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: python -m connector.probe [URL]", file=sys.stderr)
        return 2
    url = args[0] if args else DEFAULT_URL
    healthy, why = probe(url)
    print(f"{url}: {why}", file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
