#!/usr/bin/env python3
"""The same Debian nginx three ways: empty_gif alone, with limit_req, with sluice_req
(ngx_http_sluice_module). One and two workers; 10k keys or one hot key; plain or pipelined
(16 requests per write). Every decision admits (a budget nothing reaches), so the rows measure
the limiter's cost per request, not a reject path.

Per run: wrk (pinned to the last CPU) for DURATION s against one config; the nginx workers'
CPU time from /proc/PID/schedstat (ns on CPU) over the run; CPU per request = that / requests.
"added" = a config's CPU per request minus empty_gif's in the same worker/key/pipeline cell.
Runs are interleaved (rep 1 of every config, then rep 2, ...) and reported as medians.

  bench/compare/nginx_module.py --module build/release/integrations/nginx/ngx_http_sluice_module.so
      [--duration 5] [--reps 3] [--workers 1,2] [--cells 10000:1,10000:16,1:1,1:16]
Needs wrk (SLUICE_WITH_PEERS=1 tools/install-deps.sh). Loopback only.

  bench/compare/nginx_module.py --module ... --held 8192,32768,65536,131072
T3 instead: keys a 1m zone holds under each working set, limit_req's and sluice_req's
(see held()).
"""
import argparse
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = ("empty_gif", "limit_req", "sluice_req")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nginx_conf(module, d, ports, workers):
    # Budgets nothing reaches: every request is decided and admitted. limit_req needs a burst
    # (its ms clock rejects a second request in the same ms at burst 0).
    return f"""
load_module {module};
worker_processes {workers};
worker_cpu_affinity {' '.join(format(1 << i, 'b') for i in range(workers))};
pid {d}/nginx.pid;
error_log {d}/error.log crit;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f;
  uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
  limit_req_zone $http_x_api_key zone=lr:10m rate=1000000r/s;
  sluice_req_zone $http_x_api_key zone=sl:10m rate=1000000r/s;
  server {{ listen 127.0.0.1:{ports['empty_gif']}; location / {{ empty_gif; }} }}
  server {{ listen 127.0.0.1:{ports['limit_req']};
           location / {{ limit_req zone=lr burst=100000 nodelay; empty_gif; }} }}
  server {{ listen 127.0.0.1:{ports['sluice_req']};
           location / {{ sluice_req zone=sl burst=100000 nodelay; empty_gif; }} }}
}}
"""


def workers_of(master):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = open(f"/proc/{name}/stat").read()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2:].split()[1]) == master:
            out.append(int(name))
    return out


def cpu_ns(pids):
    total = 0
    for p in pids:
        with open(f"/proc/{p}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def run_wrk(port, keys, pipeline, duration, cpu):
    env = dict(os.environ, KEYS=str(keys), PIPELINE=str(pipeline))
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", "-c50", f"-d{duration}s",
           "-s", os.path.join(HERE, "nginx_keys.lua"), f"http://127.0.0.1:{port}/"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(m.group(1)), int(non2xx.group(1)) if non2xx else 0


def poisson_held(keys, buckets, ways=4):
    """Keys a table of `buckets` buckets of `ways` slots holds when `keys` distinct live keys
    arrive (each bucket keeps min(its keys, ways)): buckets * E[min(Poisson(keys/buckets), 4)]."""
    lam = keys / buckets
    term = math.exp(-lam)
    short = 0.0  # E[(ways - X)+]
    for x in range(ways):
        short += (ways - x) * term
        term *= lam / (x + 1)
    return buckets * (ways - short)


def send_keys(port, path, keys, batch=64):
    """GETs `path` once per key (X-Key), pipelined `batch` at a time on one connection;
    returns {status: count}."""
    statuses = {}
    sock = socket.create_connection(("127.0.0.1", port))
    buf = b""
    for at in range(0, len(keys), batch):
        chunk = keys[at:at + batch]
        sock.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\nX-Key: %s\r\n\r\n"
                              % (path.encode(), k) for k in chunk))
        for _ in chunk:
            while True:
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    head = buf[:end]
                    m = re.search(rb"(?i)content-length: *(\d+)", head)
                    total = end + 4 + (int(m.group(1)) if m else 0)
                    if len(buf) >= total:
                        break
                data = sock.recv(1 << 16)
                if not data:
                    raise RuntimeError("connection closed")
                buf += data
            status = int(head.split(b" ", 2)[1])
            statuses[status] = statuses.get(status, 0) + 1
            buf = buf[total:]
    sock.close()
    return statuses


def held(args):
    """T3: keys a 1m zone actually holds. For each working set W: W distinct keys (1r/m, so
    every state stays live), then the keys held. sluice_req: the zone's occupied slots from
    sluice_req_stats (installs less evictions: no probe disturbs the table). limit_req: the same
    keys replayed newest first; a key limit_req still holds is rejected (503), one it lost is
    admitted (and takes a node from the oldest, which the newest-first order has already
    probed). Every W gets fresh zones of its own."""
    sizes = [int(w) for w in args.held.split(",")]
    d = tempfile.mkdtemp(prefix="sluice-nginx-held-")
    port = free_port()
    zones = "".join(f"  limit_req_zone $http_x_key zone=lr{w}:1m rate=1r/m;\n"
                    f"  sluice_req_zone $http_x_key zone=sl{w}:1m rate=1r/m;\n" for w in sizes)
    locations = "".join(f"    location = /lr{w} {{ limit_req zone=lr{w}; empty_gif; }}\n"
                        f"    location = /sl{w} {{ sluice_req zone=sl{w}; empty_gif; }}\n"
                        for w in sizes)
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(f"""
load_module {os.path.abspath(args.module)};
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log crit;
events {{ worker_connections 64; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f;
  uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
  limit_req_status 503;
  limit_req_log_level info;
{zones}  server {{ listen 127.0.0.1:{port};
{locations}    location = /stats {{ sluice_req_stats; }} }}
}}
""")
    master = subprocess.Popen([args.nginx, "-p", d + "/", "-c", f"{d}/nginx.conf",
                               "-g", "daemon off; master_process on;"])
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        print("| working set (keys) | limit_req holds | sluice_req holds | Poisson expectation "
              "(16384 buckets x 4) | sluice / limit_req |")
        print("|---:|---:|---:|---:|---:|")
        for w in sizes:
            keys = [b"k%07d" % i for i in range(w)]
            lr_first = send_keys(port, f"/lr{w}", keys)
            sl_first = send_keys(port, f"/sl{w}", keys)
            assert sl_first.get(200) == w, sl_first
            lr_held = send_keys(port, f"/lr{w}", keys[::-1]).get(503, 0)
            stats = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/stats"],
                                   capture_output=True, text=True, check=True).stdout
            m = re.search(r'sluice_nginx_zone_occupied_keys\{zone="sl%d"\} (\d+)' % w, stats)
            sl_held = int(m.group(1))
            print(f"| {w:,} | {lr_held:,} (first pass: {lr_first.get(200, 0):,} admitted) | "
                  f"{sl_held:,} | {poisson_held(w, 16384):,.0f} | {sl_held / lr_held:.1f}x |")
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--label", default="")
    ap.add_argument("--cells", default="10000:1,10000:16,1:1,1:16",
                    help="keys:pipeline cells, comma-separated (1 key: the one hot key)")
    ap.add_argument("--held", default="",
                    help="T3 instead: working-set sizes, e.g. 8192,32768,65536,131072")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip empty_gif (T2's paired limit_req/sluice_req ratios only)")
    args = ap.parse_args()
    if args.held:
        return held(args)
    cells = [tuple(int(x) for x in c.split(":")) for c in args.cells.split(",")]
    configs = CONFIGS[1:] if args.no_baseline else CONFIGS
    if not shutil.which("wrk"):
        sys.exit("wrk missing: SLUICE_WITH_PEERS=1 tools/install-deps.sh")
    ncpu = os.cpu_count()
    results = {}  # (workers, keys, pipeline, config) -> [(req/s, cpu us/req)]
    started = time.time()
    for workers in [int(w) for w in args.workers.split(",")]:
        d = tempfile.mkdtemp(prefix="sluice-nginx-bench-")
        ports = {c: free_port() for c in CONFIGS}
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(nginx_conf(os.path.abspath(args.module), d, ports, workers))
        master = subprocess.Popen([args.nginx, "-p", d + "/", "-c", f"{d}/nginx.conf",
                                   "-g", "daemon off; master_process on;"])
        try:
            for _ in range(100):
                if len(workers_of(master.pid)) == workers:
                    break
                time.sleep(0.05)
            pids = workers_of(master.pid)
            for k, p in cells:  # warm every zone with the keys
                for c in configs:
                    run_wrk(ports[c], k, p, 1, ncpu - 1)
            for rep in range(args.reps):
                for k, p in cells:
                    for c in configs:
                        before = cpu_ns(pids)
                        n, bad = run_wrk(ports[c], k, p, args.duration, ncpu - 1)
                        used = cpu_ns(pids) - before
                        if bad:
                            print(f"warning: {bad} non-2xx in {c}", file=sys.stderr)
                        results.setdefault((workers, k, p, c), []).append(
                            (n / args.duration, used / 1e3 / n))
                        print(f"rep {rep} workers={workers} keys={k} pipe={p} {c}: "
                              f"{n / args.duration:,.0f} req/s, {used / 1e3 / n:.2f} us/req",
                              file=sys.stderr)
        finally:
            master.send_signal(signal.SIGTERM)
            master.wait(timeout=10)
            shutil.rmtree(d, ignore_errors=True)

    print(f"{args.label} Medians of {args.reps} interleaved repetitions of {args.duration} s; "
          f"nginx workers pinned to CPU 0..N-1 (worker_cpu_affinity), wrk -t1 -c50 on CPU "
          f"{ncpu - 1}; total {time.time() - started:.0f} s.\n")
    print("| workers | keys | pipeline | config | req/s | CPU µs/req | added over empty_gif "
          "| added vs limit_req |")
    print("|---|---|---|---|---|---|---|---|")
    for workers in [int(w) for w in args.workers.split(",")] if not args.no_baseline else []:
        for k, p in cells:
            med = {c: (statistics.median(x for x, _ in results[(workers, k, p, c)]),
                       statistics.median(y for _, y in results[(workers, k, p, c)]))
                   for c in CONFIGS}
            base = med["empty_gif"][1]
            lr_added = med["limit_req"][1] - base
            for c in CONFIGS:
                rps, cpu = med[c]
                added = cpu - base
                ratio = ""
                if c == "sluice_req" and lr_added > 0:
                    ratio = f"{added / lr_added:.2f}x"
                keys = "10k" if k > 1 else "1 hot"
                print(f"| {workers} | {keys} | {p} | {c} | {rps:,.0f} | {cpu:.2f} | "
                      f"{added:+.2f} | {ratio} |")

    # Paired ratios: within one repetition the configs ran back to back, so the machine's
    # drift between repetitions cancels out of their ratio.
    print("\n| workers | keys | pipeline | sluice_req / limit_req req/s, per repetition: median "
          "(min-max) |")
    print("|---|---|---|---|")
    for workers in [int(w) for w in args.workers.split(",")]:
        for k, p in cells:
            ratios = [s[0] / l[0] for s, l in zip(results[(workers, k, p, "sluice_req")],
                                                   results[(workers, k, p, "limit_req")])]
            keys = "10k" if k > 1 else "1 hot"
            print(f"| {workers} | {keys} | {p} | {statistics.median(ratios):.2f}x "
                  f"({min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} reps) |")


if __name__ == "__main__":
    main()
