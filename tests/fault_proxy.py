"""A TCP proxy on loopback that is a bad network: each connection it accepts is passed through,
slowed down, cut off part-way (a clean close), or reset (RST), at random."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Sequence

FAULTS = ("pass", "delay", "cut", "reset")


class FaultProxy:
    def __init__(
        self,
        target_port: int,
        *,
        seed: int,
        weights: Sequence[float] = (0.15, 0.25, 0.35, 0.25),
    ) -> None:
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.weights = weights
        self.faults: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._running = False
        self._server.close()
        with self._lock:
            for sock in self._open:
                _close(sock)

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                fault = self.rng.choices(FAULTS, self.weights)[0]
                budget = self.rng.randint(0, 300_000)  # response bytes let through before a cut
                pause = self.rng.uniform(0.01, 0.3)
                self.faults[fault] += 1
            threading.Thread(
                target=self._serve, args=(client, fault, budget, pause), daemon=True
            ).start()

    def _serve(self, client: socket.socket, fault: str, budget: int, pause: float) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            _close(client)
            return
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
        sent = 0
        try:
            while True:
                chunk = upstream.recv(4096)
                if not chunk:
                    break
                if fault == "delay":
                    time.sleep(pause)
                if fault in ("cut", "reset") and sent + len(chunk) > budget:
                    client.sendall(chunk[: budget - sent])
                    if fault == "reset":  # close with RST instead of FIN
                        client.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    break
                client.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(4096):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        _close(target)


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
