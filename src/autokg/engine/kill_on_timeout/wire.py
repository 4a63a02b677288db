"""The socket protocol between a serving worker and a query child: length-prefixed messages, a job out, an outcome back."""

from __future__ import annotations

import os
import pickle
import socket
import struct
import time
from dataclasses import replace

from autokg.engine.jobs import Outcome

#: the length that comes before each message on a query child's socket
LENGTH = struct.Struct("!Q")


def send_message(sock: socket.socket, data: bytes | bytearray) -> None:
    """Send one message: its length, then the data as it is."""
    sock.sendall(LENGTH.pack(len(data)))
    sock.sendall(data)


def receive_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    """Read `size` bytes into one buffer, by `deadline` (time.monotonic) if one is given.

    Raises TimeoutError past the deadline, and EOFError when the other end hangs up first.
    """
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the deadline passed")
            sock.settimeout(left)
        count = sock.recv_into(view[got:])
        if count == 0:
            raise EOFError("the other end hung up in the middle of a message")
        got += count
    return data


def receive_message(sock: socket.socket, deadline: float | None = None) -> bytearray:
    """One message sent by `send_message`; raises what `receive_exactly` raises."""
    (size,) = LENGTH.unpack(receive_exactly(sock, LENGTH.size, deadline))
    return receive_exactly(sock, size, deadline)


def send_outcome(sock: socket.socket, outcome: Outcome) -> None:
    """Send an outcome in two messages, the rest and then the body, so that the body is not copied."""
    send_message(sock, pickle.dumps(replace(outcome, body=b""), protocol=pickle.HIGHEST_PROTOCOL))
    send_message(sock, outcome.body)


def receive_outcome(sock: socket.socket, deadline: float | None = None) -> Outcome:
    """An outcome sent by `send_outcome`; raises what `receive_exactly` raises."""
    outcome = pickle.loads(receive_message(sock, deadline))
    return replace(outcome, body=receive_message(sock, deadline))


PEER_CREDENTIALS = struct.Struct("3i")


def same_user(sock: socket.socket) -> bool:
    """Whether the process at the other end of a Unix socket runs as this process's user.

    An abstract socket has no file permissions: anyone on the host may connect to it.
    """
    _pid, uid, _gid = PEER_CREDENTIALS.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_CREDENTIALS.size))
    return uid == os.getuid()
