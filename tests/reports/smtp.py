"""A small SMTP server for the reliability tests: the mail relay at the edge of the world.

It counts the messages it accepted (answered 250 after DATA). Told to stall (`stall_after` = n),
it reads the first message that comes once n are accepted and never answers, as a hung relay
does: the sending worker waits inside its delivery, where the test can kill it; a message never
acknowledged is not accepted.
"""
import socket
import threading


class StallingSmtpServer:
    def __init__(self):
        self.accepted: list[bytes] = []
        self.stall_after: int | None = None
        self.stalled = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 test-relay ESMTP\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    if not self._message(conn, lines):
                        return
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                    conn.sendall(b"250 ok\r\n")

    def _message(self, conn: socket.socket, lines) -> bool:
        body = []
        for line in lines:
            if line == b".\r\n":
                break
            body.append(line)
        with self._lock:
            stall = (self.stall_after is not None and not self.stalled.is_set()
                     and len(self.accepted) >= self.stall_after)
            if stall:
                self.stalled.set()
            else:
                self.accepted.append(b"".join(body))
        if stall:
            lines.read()  # hang until the sender goes away
            return False
        conn.sendall(b"250 accepted\r\n")
        return True
