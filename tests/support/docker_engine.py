"""A private Docker engine for the container tests, on host networking only.

Why a private one: the tests must not depend on (or disturb) a system Docker, and
these machines must never touch Docker's default bridge, which takes a private
address range. So we start our own ``dockerd`` with ``--bridge=none`` and no
iptables, on our own socket, build with ``--network host`` and run with
``--network host``. Images are kept in a cache folder between runs so the base
image (built from Debian packages by ``scripts/build_base_image.sh``) is made
once per machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.tools import missing

REPO = Path(__file__).resolve().parents[2]
BASE_TAG = "python:3.13-slim"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quart-chat" / "docker"


def require_tools() -> None:
    """Skip (or fail in CI) unless everything a private engine and the base image need is here."""
    needed = {
        "dockerd": "apt-get install docker.io (see .ci/install-docker.sh)",
        "docker": "apt-get install docker.io",
        "containerd": "apt-get install containerd (docker.io depends on it)",
        "runc": "apt-get install runc (docker.io depends on it)",
        "debootstrap": "apt-get install debootstrap",
    }
    for tool, hint in needed.items():
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed: {hint}")
    if os.geteuid() != 0:
        missing("dockerd and debootstrap need root")


@dataclass
class Timings:
    """Wall-clock seconds of the slow steps, reported at the end of the run."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def measure(self, what: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[what] = round(time.monotonic() - start, 1)


class DockerEngine:
    """One ``dockerd`` we started, stopped by its own pid; ``run`` drives the docker CLI at it."""

    def __init__(self, cache_dir: Path = DEFAULT_CACHE) -> None:
        self.cache_dir = cache_dir
        self.data_root = cache_dir / "data"
        # Unix socket paths are limited to ~108 bytes, so the runtime state lives in a short
        # temp path rather than beside the (possibly long) cache path.
        self.exec_root = Path(tempfile.mkdtemp(prefix="qcd-", dir="/tmp"))
        self.socket = self.exec_root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log_path = self.exec_root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._lock_file: int | None = None

    @property
    def env(self) -> dict[str, str]:
        # The legacy builder: it honours `--network host` without BuildKit entitlements, and
        # this Dockerfile needs nothing BuildKit-only.
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    def start(self, timeout: float = 60.0) -> None:
        self.data_root.mkdir(parents=True, exist_ok=True)
        self._lock(timeout)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={self.data_root}",
                f"--exec-root={self.exec_root / 'exec'}",
                f"--pidfile={self.exec_root / 'dockerd.pid'}",
                f"--host={self.host}",
                # Host networking only: no docker0 bridge, no NAT, no firewall rules.
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                "--ipv6=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.socket.exists() and self.run("version", check=False, timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"dockerd did not answer within {timeout}s:\n{self.log_tail()}")

    def _lock(self, timeout: float) -> None:
        """Two engines on one data-root would corrupt it; wait (bounded) for the other to finish."""
        fd = os.open(self.cache_dir / "engine.lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise RuntimeError(f"{self.data_root} is in use by another dockerd") from None
                time.sleep(0.5)
        self._lock_file = fd

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the dockerd we started (it stops its containerd), SIGKILL if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None
        self._unmount_leftovers()
        shutil.rmtree(self.exec_root, ignore_errors=True)

    def _unmount_leftovers(self) -> None:
        """dockerd leaves its default network namespace bind-mounted under exec-root."""
        with contextlib.suppress(OSError):
            mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
            for mount in sorted((m for m in mounts if m.startswith(f"{self.exec_root}/")), reverse=True):
                subprocess.run(["umount", mount], capture_output=True, timeout=10, check=False)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def run(
        self, *args: str, check: bool = True, timeout: float = 120.0, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS`` against this engine; output captured as text."""
        result = subprocess.run(
            ["docker", *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def has_image(self, tag: str) -> bool:
        return self.run("image", "inspect", tag, check=False).returncode == 0

    def inspect(self, ref: str) -> dict:
        return json.loads(self.run("inspect", ref).stdout)[0]

    def ensure_base_image(self, timeout: float = 1200.0) -> None:
        """Build the python:3.13-slim stand-in from Debian packages unless it is cached."""
        if self.has_image(BASE_TAG):
            return
        result = subprocess.run(
            ["bash", str(REPO / "scripts" / "build_base_image.sh")],
            env={**self.env, "BASE_TAG": BASE_TAG},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"build_base_image.sh failed ({result.returncode}):\n{result.stderr[-4000:]}")

    def build(
        self, tag: str, context: Path = REPO, build_args: Sequence[str] = (), timeout: float = 1200.0
    ) -> str:
        """``docker build --network host``; returns the build log for inspection."""
        args = ["build", "--network", "host", "--tag", tag]
        for arg in build_args:
            args += ["--build-arg", arg]
        result = self.run(*args, str(context), timeout=timeout, cwd=context)
        return result.stdout + result.stderr
