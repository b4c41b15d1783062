"""Small real servers on loopback that misbehave in one exact way each.

Each handler takes the connection's reader and writer; ``serve(handler)`` runs
it in an asyncio server on its own thread and yields the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

from turnout.demo.content import pattern

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.contextmanager
def serve(handler: Handler) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: list[asyncio.Server] = []

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await handler(reader, writer)
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(guarded, "127.0.0.1", 0)
        holder.append(server)
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await server.serve_forever()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(5)
    try:
        yield holder[0].sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(holder[0].close)
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(5)
        loop.close()


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def response(status: str, body: bytes, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def answer_502(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_head(reader)
        writer.write(response("502 Bad Gateway", b"bad gateway\n", "X-Release: v1"))
        await writer.drain()


async def answer_404(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_head(reader)
        writer.write(response("404 Not Found", b"nope\n", "X-Release: v1"))


async def reset_before_response(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    reset(writer)


async def reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Release: v1\r\n\r\n" + b"s" * 100)
    await writer.drain()
    await asyncio.sleep(0.05)
    reset(writer)


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    await reader.read()  # until the client gives up and closes


async def truncated_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Release: v1\r\n\r\n")
    for index in range(2):  # two good chunks of the four asked for, then a clean close
        writer.write(b"64\r\n" + pattern(index * 100, 100) + b"\r\n")
    await writer.drain()
    writer.close()


async def wrong_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        head = await read_head(reader)
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = bytearray(await reader.readexactly(length))
        body[length // 2] ^= 0x01  # one flipped bit in the middle
        writer.write(response("200 OK", bytes(body), "X-Release: v1"))


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    writer.write(b"HELLO THERE\r\n\r\n")
    await writer.drain()


def switching(after_s: float) -> Handler:
    """Answers GET / as release v1 until ``after_s`` after the first request, then as v2."""
    first: list[float] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_head(reader)
            first.append(first[0] if first else time.monotonic())
            release = "v1" if time.monotonic() - first[0] < after_s else "v2"
            writer.write(response("200 OK", f"shop {release}\n".encode(), f"X-Release: {release}"))

    return handler
