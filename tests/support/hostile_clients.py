"""Clients that misbehave below the chat: one that never reads, one frozen with SIGSTOP, one that
writes what it should not; what the server shows.

- :func:`open_unread_socket`: a WebSocket opened by hand on a socket with a small receive buffer,
  which then reads nothing, so the server's writes back up into its own buffers.
- :func:`open_raw_socket`: the same for a client that writes what no WebSocket library would;
  :func:`close_code_from` reads the server's close code off it.
- :class:`FrozenClient`: a child process holding a real ``websockets`` connection (it answers
  pings while it runs) that the test stops with SIGSTOP, as a frozen tab or a suspended laptop.
- :func:`metric`, :func:`rss_mib` and :func:`peak_rss_mib`: the server's ``/metrics`` and resident
  memory (now, and the most it ever held), read from outside.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection

from tests.support.http_user import RemoteUser
from tests.support.server import ROOT, ChatServer


async def open_unread_socket(
    server: ChatServer, user: RemoteUser, room: str = "general", receive_buffer: int = 4096
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``user``'s room socket, upgraded by hand on a TCP socket whose receive buffer is small.

    The caller reads nothing from it after this returns: the kernel's buffers on both sides fill
    and the server's writes to it stop completing.
    """
    return await open_raw_socket(server, user, room, receive_buffer)


async def open_raw_socket(
    server: ChatServer, user: RemoteUser, room: str = "general", receive_buffer: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``user``'s room socket, upgraded by hand (no extension offered), for a client that writes
    what no WebSocket library would; ``receive_buffer`` sets the socket's before it connects."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before connect: sets the window
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=receive_buffer or 2**16)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /rooms/{room}/ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {server.base}\r\nCookie: {user.cookie_header()}\r\n\r\n"
        ).encode()
    )
    status = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).split(b"\r\n")[0]
    assert b" 101 " in status, status
    return reader, writer


async def close_code_from(reader: asyncio.StreamReader) -> int | None:
    """Read a raw socket's frames (wsproto decodes them) until the server's close; its code, or
    ``None`` when the connection ends without one."""
    frames = Connection(ConnectionType.CLIENT)
    while data := await reader.read(65536):
        frames.receive_data(data)
        for event in frames.events():
            if isinstance(event, CloseConnection):
                return event.code
    return None


CHILD = """
import asyncio, sys
from websockets.asyncio.client import connect

async def main(url, cookie, origin):
    async with connect(url, additional_headers={"Cookie": cookie}, origin=origin, ping_interval=None) as ws:
        await ws.recv()
        print("open", flush=True)
        async for _ in ws:
            pass

asyncio.run(main(*sys.argv[1:]))
"""


class FrozenClient:
    """A tab in its own process, to be frozen with SIGSTOP; stopped by its process id."""

    def __init__(self, server: ChatServer, user: RemoteUser, room: str = "general") -> None:
        url = f"{server.base.replace('http://', 'ws://', 1)}/rooms/{room}/ws"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, url, user.cookie_header(), server.base],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    async def wait_open(self, timeout: float = 15.0) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
        assert line.strip() == b"open", f"the child did not open its socket: {line!r}"

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # a stopped process only dies once it runs again
            self.proc.kill()
            self.proc.wait(5)


def kernel_send_buffer_max() -> int:
    """How far Linux may grow a TCP socket's send buffer (``tcp_wmem``'s maximum), in bytes: what a
    server can write to a client that reads nothing before its writes stop completing."""
    return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for pid {pid}")


def peak_rss_mib(pid: int) -> float:
    """The most memory a process has held resident since it started (VmHWM): what a burst cost,
    though it is freed again before anyone can look."""
    return rss_mib(pid, "VmHWM")
