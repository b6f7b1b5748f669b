"""What bench/compare/run (decision mode) and bench/compare/proxy (proxy mode) share.

Process bookkeeping (every process started is stopped by PID, also on a signal), the Debian
packages the peers need, ports, CPU ticks from /proc/PID/stat, starting sluiced / nginx /
HAProxy by hand on loopback with a config text, the load generator pinned to LOAD_CPU, and the
PERF.md section writer. Nothing here knows a scenario.
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_CPU = os.environ.get("SERVER_CPU", "0")
LOAD_CPU = os.environ.get("LOAD_CPU", "1")
HZ = os.sysconf("SC_CLK_TCK")
# NICE=-10: every process the benchmark starts runs at that niceness (root only), so that on a
# shared machine other users' jobs take less of the benchmark's cores. 0: inherit.
NICE = int(os.environ.get("NICE", "0"))

started = []  # every Popen we started, stopped by PID on exit
worker_pids = []  # nginx workers (children of a master we started), killed by PID if left


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def stop_all():
    """SIGTERM to every process we started (newest first), SIGKILL after 3 s, by PID only."""
    for proc in reversed(started):
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 3
    for proc in reversed(started):
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    started.clear()
    for pid in worker_pids:
        try:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
    worker_pids.clear()


def on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


def install_signal_handlers():
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def ensure_packages():
    """nginx, haproxy, wrk and gnuplot from Debian when missing (needs root)."""
    missing = [pkg for pkg, binary in [("nginx", "nginx"), ("haproxy", "haproxy"), ("wrk", "wrk"),
                                       ("gnuplot-nox", "gnuplot")]
               if shutil.which(binary) is None and not os.path.exists("/usr/sbin/" + binary)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing {' '.join(missing)}: run as root or apt-get install -y {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    # policy-rc.d 101: Debian's postinst must not start the services; we start them by hand.
    rc = "/usr/sbin/policy-rc.d"
    had_rc = os.path.exists(rc)
    if not had_rc:
        with open(rc, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(rc, 0o755)
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, check=True, env=env)
    finally:
        if not had_rc:
            os.remove(rc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def cpu_times(pid):
    """(utime, stime) in ticks of the whole process (every thread), fields 14 and 15."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def cpu_ticks(pid):
    return sum(cpu_times(pid))


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def pinned(cpu):
    """The command prefix that pins to `cpu` (and applies NICE)."""
    return (["nice", "-n", str(NICE)] if NICE else []) + ["taskset", "-c", cpu]


def start_sluiced(binary, cfg_text, tmp, name="sluiced", cpu=None):
    """sluiced with this config (listen and admin on port 0), pinned; returns
    (port, admin_port, pid)."""
    cfg = os.path.join(tmp, name + ".yaml")
    with open(cfg, "w") as f:
        f.write(cfg_text)
    out = open(os.path.join(tmp, name + ".out"), "w+")
    proc = subprocess.Popen(pinned(cpu or SERVER_CPU) + [binary, "--config", cfg], stdout=out,
                            stderr=subprocess.STDOUT)
    started.append(proc)
    deadline = time.time() + 5
    while time.time() < deadline:
        out.seek(0)
        text = out.read()
        m = re.search(r"listening on [0-9.]+:(\d+)", text)
        a = re.search(r"admin on [0-9.]+:(\d+)", text)
        if m and a:
            port = int(m.group(1))
            if wait_port(port, proc):
                return port, int(a.group(1)), proc.pid
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    out.seek(0)
    sys.exit(f"{name} did not start:\n" + out.read())


def start_nginx(cfg_text, tmp, port, name="nginx", cpu=None):
    """nginx (master + one worker) with this config, which listens on `port`; returns the
    worker's PID (the process that serves)."""
    cfg = os.path.join(tmp, name + ".conf")
    with open(cfg, "w") as f:
        f.write(cfg_text)
    err = os.path.join(tmp, name + ".err")
    proc = subprocess.Popen(pinned(cpu or SERVER_CPU) + ["nginx", "-c", cfg, "-p", tmp + "/"],
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    started.append(proc)
    if not wait_port(port, proc):
        sys.exit(f"{name} did not start: " + open(err).read())
    workers = []
    for _ in range(100):
        workers = children(proc.pid)
        if workers:
            break
        time.sleep(0.02)
    if len(workers) != 1:
        sys.exit(f"{name}: expected one worker, found {workers}")
    worker_pids.append(workers[0])
    return workers[0]


def nginx_common(tmp, name="nginx"):
    """The top of every nginx config: foreground, one worker, temp paths under tmp."""
    return f"""daemon off;
master_process on;
worker_processes 1;
pid {tmp}/{name}.pid;
error_log {tmp}/{name}-error.log error;
events {{ worker_connections 4096; }}
"""


def nginx_temp_paths(tmp):
    return (f"client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; "
            f"scgi_temp_path {tmp}/scgi;")


def start_haproxy(cfg_text, tmp, port, name="haproxy", cpu=None):
    """haproxy -db with this config, which listens on `port`; returns its PID."""
    cfg = os.path.join(tmp, name + ".cfg")
    with open(cfg, "w") as f:
        f.write(cfg_text)
    err = os.path.join(tmp, name + ".err")
    proc = subprocess.Popen(pinned(cpu or SERVER_CPU) + ["haproxy", "-f", cfg, "-db"],
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    started.append(proc)
    if not wait_port(port, proc):
        sys.exit(f"{name} did not start: " + open(err).read())
    return proc.pid


def run_client(cmd, cpu=None):
    """Runs a load generator pinned to LOAD_CPU; returns (stdout, its CPU seconds)."""
    proc = subprocess.Popen(pinned(cpu or LOAD_CPU) + cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    started.append(proc)
    out = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    started.remove(proc)
    return out, usage.ru_utime + usage.ru_stime


def sluice_load(binary, port, duration, connections, keys, pipeline=1, rate=0, path="/ok",
                requests=0):
    """One sluice-load run (1 thread) for `duration` seconds, or until `requests` are answered
    (every one of them: nothing is left in flight); returns (its JSON report, its CPU seconds)."""
    cmd = [binary, "--json", "--progress=false", f"--connections={connections}", "--threads=1",
           f"--pipeline={pipeline}", f"--keys={keys}"]
    cmd.append(f"--requests={requests}" if requests else f"--duration={duration}s")
    if rate:
        cmd.append(f"--rate={rate}")
    out, cpu = run_client(cmd + [f"http://127.0.0.1:{port}{path}"])
    return json.loads(out), cpu


def http_get(port, path, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.read().decode()


def wrk_latency(text, pct):
    m = re.search(rf"^\s*{pct}%\s+([0-9.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        return float("nan")
    scale = {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
    return float(m.group(1)) * scale


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def fmt_rps(x):
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"


def fmt_us(x):
    return f"{x / 1e3:.2f} ms" if x >= 1000 else f"{x:.0f} µs"


def write_perf_md(section, begin="<!-- compare:begin -->", end="<!-- compare:end -->"):
    path = os.path.join(ROOT, "PERF.md")
    with open(path) as f:
        text = f.read()
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        print(f"PERF.md has no {begin} ... {end} markers; not written", file=sys.stderr)
        return
    text = text[:i + len(begin)] + "\n" + section + "\n" + text[j:]
    with open(path, "w") as f:
        f.write(text)


def compiler_line(build):
    """The C++ compiler of a CMake build dir, from its cache."""
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_CXX_COMPILER:\w+=(.*)$", f.read(), re.M)
        if m:
            v = subprocess.run([m.group(1), "--version"], capture_output=True, text=True).stdout
            return v.split("\n")[0]
    except OSError:
        pass
    return "unknown compiler"


def machine_line():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            model = m.group(1).strip() if m else model
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    haproxy_v = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return (f"{os.cpu_count()} CPUs ({model}), kernel {os.uname().release}, commit `{commit}`"
            f"{' + local changes' if dirty else ''}; {nginx_v.replace('nginx version: ', '')}, "
            f"{' '.join(haproxy_v.split()[:3])}; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
