"""A local TCP proxy that cuts the link after every N bytes client -> server: a village's dropping 4G.

Shared by the benchmarks (studies_bench, ops_uploads_bench); not a benchmark itself.
"""
import socket
import threading

from common import free_port  # bench/, beside this file


class CuttingProxy(threading.Thread):
    """Forwards TCP to 127.0.0.1:upstream_port; cuts the connection each time `cut_every` more bytes
    went client -> server (counted over all its connections); `cut_every=None` never cuts (a baseline)."""

    def __init__(self, upstream_port: int, cut_every: int | None = 2 * 1024 * 1024):
        super().__init__(daemon=True)
        self.upstream_port, self.cut_every, self.port = upstream_port, cut_every, free_port()
        self.sent_total = self.since_cut = self.cuts = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _pump(self, source, target, counted: bool):
        try:
            while data := source.recv(65536):
                cut = False
                if counted:
                    with self.lock:
                        if self.cut_every is not None:
                            data = data[:self.cut_every - self.since_cut]
                        self.sent_total += len(data)
                        self.since_cut += len(data)
                        if self.cut_every is not None and self.since_cut >= self.cut_every:
                            self.since_cut, self.cuts, cut = 0, self.cuts + 1, True
                target.sendall(data)
                if cut:
                    raise ConnectionAbortedError
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
