"""Loopback proxies that break what they carry, on a schedule, for the fault-injection suite.

``S3FaultProxy`` sits in front of an S3 API (the moto server) and speaks HTTP/1.1 with keep-alive,
so every request can be given its own fault: ``reset`` (the connection is torn down with a TCP
RST before any answer), ``cut`` (half of the answer, then a RST), ``delay`` (the answer after a
pause longer than nothing, shorter than the client's read timeout), ``503`` (S3's ``SlowDown``
answer, nothing forwarded), or ``refuse`` (the listener is closed: new connections are refused
until it reopens). ``TcpFaultProxy`` carries any TCP stream (the ledger's PostgreSQL) and can be
taken down (live connections reset, new ones refused) and brought back.

Which requests get which fault is a ``FaultPlan``: a function of the request's number, method and
path that answers None (forward it) or a fault. Every request and its fault is counted, so a
scenario can say how many faults it injected.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

FAULTS = ("reset", "cut", "delay", "503", "refuse")
FaultPlan = Callable[[int, str, str], str | None]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


def no_faults(_number: int, _method: str, _path: str) -> None:
    return None


def every(n: int, fault: str, *, methods: tuple[str, ...] = (), after: int = 0) -> FaultPlan:
    """``fault`` on every ``n``-th request (of ``methods``, when given) after the first ``after``."""

    def plan(number: int, method: str, _path: str) -> str | None:
        if methods and method not in methods:
            return None
        return fault if number > after and number % n == 0 else None

    return plan


def mixed(periods: dict[int, str]) -> FaultPlan:
    """Several faults at once: request n gets the fault of the first period that divides n."""

    def plan(number: int, _method: str, _path: str) -> str | None:
        return next((fault for period, fault in periods.items() if number % period == 0), None)

    return plan


def burst(start: int, count: int, fault: str) -> FaultPlan:
    """``fault`` on requests ``start`` .. ``start + count - 1``: an outage of a few requests."""
    return lambda number, _method, _path: fault if start <= number < start + count else None


def _reset(connection: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed server or a middlebox would. The
    shutdown wakes a thread blocked reading the socket (a close alone would leave the kernel's
    socket open under it, and the peer waiting forever)."""
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()


class _Listener:
    """A loopback listener on a fixed port that can be closed (connections refused) and reopened."""

    def __init__(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._socket: socket.socket | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self.open()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def open(self) -> None:
        with self._lock:
            if self._socket is None:
                listener = socket.socket()
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("127.0.0.1", self.port))
                listener.listen(64)
                listener.settimeout(0.2)
                self._socket = listener

    def close_listener(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def stop(self) -> None:
        self._stopped.set()
        self.close_listener()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            listener = self._socket
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            connection.settimeout(None)
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection: socket.socket) -> None:
        raise NotImplementedError


@dataclass
class FaultLog:
    """What a proxy did: requests seen and faults injected, by kind."""

    requests: int = 0
    faults: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_request(self) -> int:
        with self.lock:
            self.requests += 1
            return self.requests

    def injected(self, fault: str) -> None:
        with self.lock:
            self.faults[fault] += 1


class S3FaultProxy(_Listener):
    """An HTTP reverse proxy to ``upstream`` (``http://host:port``) that applies ``plan``."""

    def __init__(self, upstream: str, plan: FaultPlan = no_faults, delay_s: float = 2.0, refuse_s: float = 1.5) -> None:
        host, port = upstream.removeprefix("http://").rstrip("/").split(":")
        self.upstream, self.plan, self.delay_s, self.refuse_s = (host, int(port)), plan, delay_s, refuse_s
        self.log = FaultLog()
        super().__init__()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, connection: socket.socket) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                number = proxy.log.next_request()
                fault = proxy.plan(number, self.command, self.path)
                if fault is not None:
                    proxy.log.injected(fault)
                if fault == "reset":
                    _reset(self.connection)
                    self.close_connection = True
                    return
                if fault == "refuse":  # this connection dies; no new one is taken for refuse_s
                    proxy.close_listener()
                    threading.Timer(proxy.refuse_s, proxy.open).start()
                    _reset(self.connection)
                    self.close_connection = True
                    return
                if fault == "503":
                    self.send_response(503, "Slow Down")
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(SLOW_DOWN)))
                    self.end_headers()
                    self.wfile.write(SLOW_DOWN)
                    return
                if fault == "delay":
                    time.sleep(proxy.delay_s)
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {key: value for key, value in self.headers.items() if key.lower() not in HOP_BY_HOP | {"expect"}}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                head = [f"HTTP/1.1 {answer.status} {answer.reason}\r\n".encode()]
                head += [
                    f"{key}: {value}\r\n".encode()
                    for key, value in answer.getheaders()
                    if key.lower() not in HOP_BY_HOP | {"content-length"}
                ]
                length_header = answer.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                if length_header is not None:
                    head.append(f"Content-Length: {length_header}\r\n".encode())
                message = b"".join(head) + b"\r\n" + (b"" if self.command == "HEAD" else data)
                if fault == "cut":
                    self.wfile.write(message[: max(1, len(message) // 2)])
                    self.wfile.flush()
                    _reset(self.connection)
                    self.close_connection = True
                    return
                self.wfile.write(message)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        try:
            Handler(connection, ("127.0.0.1", 0), None)
        except (ConnectionError, OSError):
            pass


class TcpFaultProxy(_Listener):
    """A byte-level TCP proxy to ``upstream`` (host, port) that can be taken down and brought back."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._live: set[socket.socket] = set()
        self._live_lock = threading.Lock()
        self.outages = 0
        super().__init__()

    def down(self) -> None:
        """An outage: live connections reset, new ones refused."""
        self.outages += 1
        self.close_listener()
        with self._live_lock:
            live, self._live = self._live, set()
        for connection in live:
            _reset(connection)

    def up(self) -> None:
        self.open()

    def serve(self, connection: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _reset(connection)
            return
        upstream.settimeout(None)
        with self._live_lock:
            self._live |= {connection, upstream}

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for end in (source, sink):
                    try:
                        end.close()
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, connection), daemon=True).start()
        pump(connection, upstream)
