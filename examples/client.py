#!/usr/bin/env python3
"""A minimal client of the exchange, in Python 3 with the standard library only.

It sends a <create> and a <transactions> in text framing (one connection per request), then the
same kind of requests in binary framing (one connection, pipelined), and prints every request and
answer. The protocol is described in docs/PROTOCOL.md.

    python3 examples/client.py [--host 127.0.0.1] [--port 12345] [--account ID] [--symbol SYM]

ACCOUNT (default: made from the clock, so that runs do not collide) is created with 10000 in cash
and 100 shares of SYM, and offers 10 of them at 12.50. Account ACCOUNT + "1" is created with 1000
in cash and buys 4 at up to 13: it meets the offer and pays 12.5 a share. Then it buys 10 more
"immediate or cancel" (tif="IOC"), with self-trade prevention (stp) and a client reference (ref):
6 fill, the other 4 are canceled at once; and it sends that order again, as a client does when an
answer is lost: the server answers with the first order (repeated="true") instead of placing a
second one.
"""

import argparse
import socket
import struct
import time
import xml.etree.ElementTree as ET

TIMEOUT_SECONDS = 10


def send_text(host, port, xml):
    """Text framing: the XML's length in ASCII digits, a newline, the XML. One request per
    connection; the answer is plain XML, and the server closes the connection after it."""
    body = xml.encode("utf-8")
    with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS) as sock:
        sock.sendall(str(len(body)).encode("ascii") + b"\n" + body)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8")


def recv_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection in the middle of an answer")
        data += chunk
    return data


def send_binary(sock, xml):
    """Binary framing: a 4-byte unsigned big-endian length, then the XML."""
    body = xml.encode("utf-8")
    sock.sendall(struct.pack(">I", len(body)) + body)


def recv_binary(sock):
    """One answer in binary framing: 4-byte big-endian length, then that many bytes of XML."""
    (length,) = struct.unpack(">I", recv_exactly(sock, 4))
    return recv_exactly(sock, length).decode("utf-8")


def opened_id(answer):
    """The transaction id of the first <opened> in an answer, or None."""
    opened = ET.fromstring(answer).find("opened")
    return None if opened is None else opened.get("id")


def show(framing, direction, xml):
    print(f"{framing:<6} {direction} {xml.strip()}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="A minimal client of the exchange.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12345)
    parser.add_argument("--account", default=str(int(time.time() * 1000)))
    parser.add_argument("--symbol", default="SPY")
    args = parser.parse_args()
    seller, buyer, sym = args.account, args.account + "1", args.symbol

    # Text framing: one request, one answer, one connection each.
    for request in [
        f'<create><account id="{seller}" balance="10000"/>'
        f'<symbol sym="{sym}"><account id="{seller}">100</account></symbol></create>',
        f'<transactions id="{seller}"><order sym="{sym}" amount="-10" limit="12.50"/>'
        "</transactions>",
    ]:
        show("text", ">", request)
        show("text", "<", send_text(args.host, args.port, request))

    # Binary framing: one connection; both requests are sent before reading either answer
    # (pipelining). The server runs them in order, so the order may use the new account.
    with socket.create_connection((args.host, args.port), timeout=TIMEOUT_SECONDS) as sock:
        requests = [
            f'<create><account id="{buyer}" balance="1000"/></create>',
            f'<transactions id="{buyer}"><order sym="{sym}" amount="4" limit="13"/>'
            "</transactions>",
        ]
        for request in requests:
            send_binary(sock, request)
        answers = []
        for request in requests:
            answer = recv_binary(sock)
            answers.append(answer)
            show("binary", ">", request)
            show("binary", "<", answer)
        # The answer to the order names its transaction id: ask for its status.
        query = f'<transactions id="{buyer}"><query id="{opened_id(answers[1])}"/></transactions>'
        send_binary(sock, query)
        show("binary", ">", query)
        show("binary", "<", recv_binary(sock))
        # Order instructions: an IOC buy with a client reference, then the very same order again
        # (a safe retry: the second answer is the first order's, nothing new is placed). stp:
        # had it met a resting order of its own account, it would have stopped there rather than
        # trade with itself.
        ioc = (
            f'<transactions id="{buyer}"><order sym="{sym}" amount="10" limit="13" tif="IOC"'
            ' stp="cancel-newest" ref="retry-1"/></transactions>'
        )
        for _ in range(2):
            send_binary(sock, ioc)
            show("binary", ">", ioc)
            show("binary", "<", recv_binary(sock))


if __name__ == "__main__":
    main()
