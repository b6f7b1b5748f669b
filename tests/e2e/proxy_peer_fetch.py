#!/usr/bin/python3
"""Fetches the same requests with Python's http.client from two servers and compares them.

Usage: proxy_peer_fetch.py DIRECT_PORT PROXIED_PORT

DIRECT_PORT is nginx itself, PROXIED_PORT sluiced in front of it (tests/e2e/
e2e_proxy_peers_test.cc). Each server gets all requests on one keep-alive connection, so the
proxied run also checks that sluiced keeps a client connection usable across answers of every
framing. The answers must match in status, body and end-to-end headers (hop-by-hop ones and
Date aside). Prints one line per request and exits 1 on any difference.
"""
import http.client
import sys

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "date", "proxy-connection", "te",
              "trailer", "upgrade"}

REQUESTS = [
    ("GET", "/index.html", {}, None),
    ("GET", "/big.bin", {}, None),
    ("HEAD", "/big.bin", {}, None),
    ("GET", "/echo?a=1&b=%41", {"X-Custom": "v"}, None),
    ("GET", "/missing", {}, None),
    ("GET", "/redirect", {}, None),
    ("GET", "/gz/text.txt", {"Accept-Encoding": "gzip"}, None),
    ("GET", "/big.bin", {"Range": "bytes=100-199"}, None),
    ("POST", "/echo", {"Content-Type": "text/plain"}, b"posted body"),
    ("PUT", "/index.html", {}, b"x" * 5000),
    ("GET", "/empty.txt", {}, None),
]


def fetch(port, etag_from=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    out = []
    requests = list(REQUESTS)
    if etag_from is not None:
        requests.append(("GET", "/index.html", {"If-None-Match": etag_from}, None))
    for method, path, headers, body in requests:
        conn.request(method, path, body=body, headers=dict(headers, Host="peer.test"))
        resp = conn.getresponse()
        data = resp.read()
        kept = sorted((k.lower(), v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP)
        out.append((method, path, resp.status, kept, data))
        if resp.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.close()
    return out


def main():
    direct_port, proxied_port = int(sys.argv[1]), int(sys.argv[2])
    first = fetch(direct_port)
    etag = dict(first[0][3]).get("etag")
    direct = fetch(direct_port, etag)
    proxied = fetch(proxied_port, etag)
    failed = False
    for d, p in zip(direct, proxied):
        same = d == p
        failed = failed or not same
        print("%s %s %s: %d %d bytes%s" % ("ok  " if same else "DIFF", d[0], d[1], d[2],
                                           len(d[4]), "" if same else ""))
        if not same:
            print("  direct:  %r %r %r" % (d[2], d[3], d[4][:200]))
            print("  proxied: %r %r %r" % (p[2], p[3], p[4][:200]))
    if len(direct) != len(proxied):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
