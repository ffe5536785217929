"""A real Schema Registry for the tests and the demo: Apicurio Registry, Confluent-compatible.

Apicurio Registry 3.0.9 is published on Maven Central as a ready-to-run assembly (a Quarkus
runner jar and its ``lib/``); it runs on Java 17 with its embedded H2 database (in a file
of the work directory, so a restart keeps the schemas, as a real registry's would) and answers
Confluent's REST API at ``/apis/ccompat/v7``, which is what the connector and
confluent-kafka's serializers speak. The assembly is fetched once into a cache outside the
repository (beside the Kafka jars) and runs as a plain ``java`` child process on loopback.
Nothing about the registry is mocked. (3.3.x needs Java 21 and breaks Protobuf fetches.)

CLI::

    python -m sandbox.schema_registry fetch
    python -m sandbox.schema_registry run [--port 8081]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from sandbox.processes import JVM_FLAGS, ChildProcess, free_ports, serve_until_signal, tail

VERSION = "3.0.9"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"
RUNNER = f"apicurio-registry-app-{VERSION}-runner.jar"
#: Where the Confluent-compatible API lives on an Apicurio server.
CCOMPAT = "/apis/ccompat/v7"
MARKER = ".complete"


class RegistryStartError(RuntimeError):
    """The registry process died or did not become ready; the message carries its log tail."""


def cache_dir() -> Path:
    """``$KAFKA_TIMEPLUS_REGISTRY_CACHE`` or a per-version directory under ``~/.cache/kafka-timeplus``."""
    env = os.environ.get("KAFKA_TIMEPLUS_REGISTRY_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "kafka-timeplus" / f"apicurio-registry-{VERSION}"


def fetch() -> Path:
    """Download and unpack the assembly once; return the directory holding the runner jar.

    mvn copies the archive into a scratch directory, which is unpacked and renamed into
    place only when complete, so an interrupted download never looks like a cache.
    """
    home = cache_dir()
    if (home / MARKER).is_file() and (home / RUNNER).is_file():
        return home
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("mvn not found on PATH; it is needed to fetch Apicurio Registry")
    home.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="apicurio-", dir=home.parent))
    try:
        cmd = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={scratch}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=scratch)
        archives = list(scratch.glob("*.tar.gz"))
        if proc.returncode != 0 or len(archives) != 1:
            raise RuntimeError(f"mvn failed to fetch {ARTIFACT} (exit {proc.returncode}):\n"
                               f"{tail(proc.stdout + proc.stderr, 40)}")  # fmt: skip
        with tarfile.open(archives[0]) as archive:
            archive.extractall(scratch / "app", filter="data")
        archives[0].unlink()
        if not (scratch / "app" / RUNNER).is_file():
            raise RuntimeError(f"{ARTIFACT} holds no {RUNNER}")
        (scratch / "app" / MARKER).write_text(ARTIFACT + "\n")
        shutil.rmtree(home, ignore_errors=True)
        (scratch / "app").rename(home)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return home


class SchemaRegistry:
    """One Apicurio Registry server as a child process; a context manager.

    The port is chosen on the first ``start`` and kept, and the schemas live in an H2 file in
    ``workdir``, so ``stop`` then ``start`` brings the same registry back at the same address,
    as the end of an outage would.
    """

    def __init__(self, workdir: Path | None = None, heap: str = "384m", port: int | None = None) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="schema-registry-")) if workdir is None else workdir
        self.heap = heap
        self.port = port
        self.log_file = self.workdir / "registry.log"
        self._process = ChildProcess("registry", RegistryStartError)

    @property
    def url(self) -> str:
        """The Confluent-compatible API's base URL, as a connector or serializer is given it."""
        if self.port is None:
            raise RuntimeError("registry has not been started")
        return f"http://127.0.0.1:{self.port}{CCOMPAT}"

    def is_running(self) -> bool:
        return self._process.is_running()

    def start(self, timeout: float = 120) -> None:
        """Start the registry and return once it answers ``GET /subjects``."""
        if self.is_running():
            return
        home = fetch()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_ports(1)[0]
        cmd = ["java", *JVM_FLAGS, f"-Xmx{self.heap}", "-Dquarkus.http.host=127.0.0.1",
               f"-Dquarkus.http.port={self.port}", f"-Dapicurio.datasource.url=jdbc:h2:file:{self.workdir / 'db'}",
               "-jar", str(home / RUNNER)]  # fmt: skip
        self._process.launch(cmd, self.log_file, cwd=self.workdir)
        self._process.wait_ready(self._ready, timeout, self.log_tail)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=2) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL after ``timeout``."""
        self._process.stop(timeout)

    def log_tail(self, n: int = 40) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return tail(text, n) or "(no registry output)"

    def __enter__(self) -> SchemaRegistry:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.schema_registry")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="download the registry into the cache; print the path")
    run = sub.add_parser("run", help="run a registry in the foreground until SIGTERM/SIGINT")
    run.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    if args.cmd == "fetch":
        print(fetch())
        return 0
    with SchemaRegistry(port=args.port) as registry:
        return serve_until_signal(f"url={registry.url}", registry.is_running, registry.log_tail)


if __name__ == "__main__":
    sys.exit(main())
