"""The Python http-echo as a learner's curl and Nomad's checks meet it: a real process on a
real port."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from conftest import wait_for
from labkit import free_port

from nomadlab.agent import port_free


def start(*args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nomadlab.echo", "-listen", f"127.0.0.1:{port}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: not port_free(port), timeout=30, what="http-echo to listen")
    return proc, f"http://127.0.0.1:{port}"


def raw(url: str, data: bytes) -> bytes:
    """Send ``data`` as it is and read the answer until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out, err


@pytest.fixture
def echo() -> Iterator[tuple[subprocess.Popen, str]]:
    proc, url = start("-text", "hello world")
    yield proc, url
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_serves_the_text_everywhere_and_health_and_logs_each_request(echo) -> None:
    proc, url = echo
    for path in ("/", "/any/path?x=1"):
        reply = requests.get(url + path, timeout=10)
        assert (reply.status_code, reply.text) == (200, "hello world\n")
        assert reply.headers["X-App-Name"] == "http-echo"
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert reply.headers["Server"].startswith("http-echo/")
    health = requests.get(url + "/health", timeout=10)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    posted = requests.post(url + "/", data=b"x" * 100_000, timeout=10)  # any method, as in Go
    assert (posted.status_code, posted.text) == (200, "hello world\n")
    head = requests.head(url + "/", timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == "12" and not head.text
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))):
        pass  # what a TCP check does: connect, then close without a request

    out, _ = stop(proc)
    lines = out.splitlines()
    assert lines[0] == f"[INFO] server is listening on {url.removeprefix('http://')}"
    assert '127.0.0.1 "GET / HTTP/1.1" 200 12' in lines
    assert '127.0.0.1 "GET /health HTTP/1.1" 200 16' in lines
    assert '127.0.0.1 "POST / HTTP/1.1" 200 12' in lines
    assert lines[-1] == "[INFO] server is shutting down"
    assert len(lines) == 7, "one line per request, none for the bare connection"


def test_status_codes_are_the_ones_asked_for() -> None:
    proc, url = start("-text", "teapot", "-status-code", "299", "-health-status", "503")
    try:
        reply = requests.get(url + "/", timeout=10)
        assert (reply.status_code, reply.text) == (299, "teapot\n")
        health = requests.get(url + "/health", timeout=10)
        assert (health.status_code, health.json()) == (503, {"status": "unhealthy"})
    finally:
        stop(proc)


def test_malformed_requests_get_a_4xx_and_the_server_keeps_serving(echo) -> None:
    proc, url = echo
    assert raw(url, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.0 400 Bad Request\r\n")
    long_line = b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n"
    assert raw(url, long_line).startswith(b"HTTP/1.0 414 ")
    many = b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n"
    assert raw(url, many).startswith(b"HTTP/1.0 431 ")
    huge = b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n"
    assert raw(url, huge).startswith(b"HTTP/1.0 413 ")
    for length in (b"\xb2", b"-1", b"ten"):  # "\xb2" is "²": a digit to str.isdigit
        odd = b"POST / HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n"
        assert raw(url, odd).startswith(b"HTTP/1.0 400 Bad Request\r\n")
    assert requests.get(url, timeout=10).text == "hello world\n"
    _, err = stop(proc)
    assert "Traceback" not in err


def test_a_port_in_use_is_one_line_and_exit_1(echo) -> None:
    _, url = echo
    taken = subprocess.run(
        [sys.executable, "-m", "nomadlab.echo", "-listen", url.removeprefix("http://"),
         "-text", "x"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert taken.returncode == 1
    assert taken.stderr.startswith("http-echo: cannot listen on 127.0.0.1:")
    assert "Traceback" not in taken.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "nomadlab.echo", "-listen", "nowhere", "-text", "x"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "invalid -listen address 'nowhere'" in bad.stderr
