#!/usr/bin/python3
"""Parses the bytes a server received (stdin) with h11, an independent HTTP/1.1 parser.

Prints one block per request: "METHOD TARGET HTTP/V", "name: value" per header (h11 lower-cases
names), "body: <hex>", "trailer name: value" per trailer, "end". Then "incomplete" if an
unfinished request remains, or "error: <reason>" if h11 refuses the bytes. Used by the proxy
tests (tests/e2e/recording_upstream.cc) to check what sluiced forwards.
"""
import sys

import h11


def main() -> int:
    data = sys.stdin.buffer.read()
    conn = h11.Connection(our_role=h11.SERVER, max_incomplete_event_size=1 << 20)
    conn.receive_data(data)
    out = []
    body = bytearray()
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if conn.their_state is h11.SEND_BODY or conn.trailing_data[0]:
                    out.append("incomplete")
                break
            if event is h11.PAUSED:
                conn.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
                conn.send(h11.EndOfMessage())
                conn.start_next_cycle()
                continue
            if isinstance(event, h11.Request):
                out.append("%s %s HTTP/%s" % (event.method.decode("latin-1"),
                                              event.target.decode("latin-1"),
                                              event.http_version.decode("latin-1")))
                for name, value in event.headers:
                    out.append("%s: %s" % (name.decode("latin-1"), value.decode("latin-1")))
                body = bytearray()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                out.append("body: " + body.hex())
                for name, value in event.headers:
                    out.append("trailer %s: %s" % (name.decode("latin-1"),
                                                   value.decode("latin-1")))
                out.append("end")
    except h11.RemoteProtocolError as e:
        out.append("error: %s" % e)
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
