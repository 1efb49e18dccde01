"""`scrapeguard broker`: one line when it accepts connections, clean stop on signals."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from stream.harness.embedded_broker import free_port, port_open


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_broker_command_announces_and_stops_cleanly(sig: int) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"broker: accepting connections on kafka://127.0.0.1:{port}")
        assert port_open("127.0.0.1", port)
        proc.send_signal(sig)
        assert proc.wait(15) == 0
        assert not port_open("127.0.0.1", port)
    finally:
        proc.kill()


def test_broker_refuses_a_busy_port() -> None:
    port = free_port()
    first = subprocess.Popen(
        [sys.executable, "-m", "stream", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None and first.stdout.readline()
        second = subprocess.run(
            [sys.executable, "-m", "stream", "broker", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert second.returncode == 1
        assert f"already listens on 127.0.0.1:{port}" in second.stderr
    finally:
        first.terminate()
        first.wait(10)
