#!/usr/bin/env python3
"""Soak bench of the injector fleet (manual; run through tests/soak/run.sh).

On loopback only: two config servers on one configuration directory (the
`dir` source), three injectors streaming from them (injector 1 from config
server A, injectors 2 and 3 from B), and steady admission load from worker
threads over TLS with keep-alive. Meanwhile:

- a template rollout every ROLLOUT_EVERY seconds (the `values` key changes,
  so does the template hash; every fourth rollout is a broken `config` that
  the config servers must refuse, the next one repairs it);
- config server B is killed (SIGKILL) every RESTART_EVERY seconds and
  started again on its port three seconds later (A runs throughout, so its
  memory can be compared);
- every injector's certificate is rotated every ROTATE_EVERY seconds, by
  the symlink swap kubelet does for a mounted Secret.

Reports failed admissions (goal: 0), p50/p99 latency per INTERVAL, the
template hashes and serving certificates seen, and the RSS of every process
at the start (after WARMUP seconds of load) and at the end (goal: growth
under 10%). Exits 1 if any admission failed.

Bounded: DURATION (default 600 s) of load, RATE requests/s in all.
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def seconds(text):
    text = text.strip()
    if text.endswith("m"):
        return float(text[:-1]) * 60
    return float(text.rstrip("s"))


DURATION = seconds(os.environ.get("DURATION", "600"))
INTERVAL = seconds(os.environ.get("INTERVAL", "30"))
ROLLOUT_EVERY = seconds(os.environ.get("ROLLOUT_EVERY", "30"))
RESTART_EVERY = seconds(os.environ.get("RESTART_EVERY", "75"))
ROTATE_EVERY = seconds(os.environ.get("ROTATE_EVERY", "60"))
WARMUP = seconds(os.environ.get("WARMUP", "10"))
RATE = float(os.environ.get("RATE", "60"))
WORKERS_PER_INJECTOR = int(os.environ.get("WORKERS_PER_INJECTOR", "2"))
BROKEN_CONFIG = "templates:\n  sidecar: |\n    {{#if}}\n"

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ["SOAK_BIN_DIR"]
WORK = tempfile.mkdtemp(prefix="soak-")
processes = {}  # name -> Popen


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca():
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=soak-ca",
            "-keyout", f"{WORK}/ca.key", "-out", f"{WORK}/ca.crt")


def issue(directory, serial):
    """A new leaf for localhost and 127.0.0.1, swapped in as kubelet does:
    a new timestamped directory, then `..data` renamed over."""
    stamp = f"{directory}/..{serial}"
    os.makedirs(stamp)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-subj", "/CN=localhost", "-keyout", f"{stamp}/tls.key",
            "-out", f"{stamp}/tls.csr")
    with open(f"{stamp}/ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", f"{stamp}/tls.csr", "-CA", f"{WORK}/ca.crt",
            "-CAkey", f"{WORK}/ca.key", "-set_serial", str(serial), "-days", "1",
            "-extfile", f"{stamp}/ext", "-out", f"{stamp}/tls.crt")
    link = f"{directory}/..data_tmp"
    os.symlink(os.path.basename(stamp), link)
    os.rename(link, f"{directory}/..data")
    for name in ("tls.crt", "tls.key"):
        if not os.path.islink(f"{directory}/{name}"):
            os.symlink(f"..data/{name}", f"{directory}/{name}")


def spawn(name, args):
    out = open(f"{WORK}/{name}.log", "ab")
    env = dict(os.environ, RUST_LOG=os.environ.get("SOAK_RUST_LOG", "warn"))
    processes[name] = subprocess.Popen(args, stdout=out, stderr=out, env=env)


def wait_ok(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout}s")


def rss(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.split()[0] if value.split() else ""
    except FileNotFoundError:
        return None, None
    return int(fields.get("VmRSS", 0)), int(fields.get("VmHWM", 0))


# --- the configuration directory -------------------------------------------

config_dir = f"{WORK}/config"
embedded = f"{ROOT}/deploy/base/config"


def write_config(config_text, values):
    tmp = f"{WORK}/config.tmp"
    os.makedirs(tmp, exist_ok=True)
    with open(f"{tmp}/config", "w") as f:
        f.write(config_text)
    with open(f"{tmp}/values", "w") as f:
        json.dump(values, f)
    shutil.copy(f"{embedded}/mesh", f"{tmp}/mesh")
    for name in ("config", "values", "mesh"):
        os.replace(f"{tmp}/{name}", f"{config_dir}/{name}")


good_config = open(f"{embedded}/config").read()
base_values = json.load(open(f"{embedded}/values"))

# --- the load ----------------------------------------------------------------

review = json.dumps(json.load(open(f"{ROOT}/tests/data/ratings-review.json")),
                    separators=(",", ":")).encode()
lock = threading.Lock()
buckets = {}  # interval index -> [latencies ms]
failures = []  # (time, injector, reason)
hashes_seen = {}  # templateHash -> count
certs_seen = set()
answered = [0]
stop = threading.Event()
start_time = [0.0]


def template_hash(answer):
    for op in json.loads(base64.b64decode(answer["response"]["patch"])):
        value = op.get("value")
        if op["path"].endswith("sidecar.istio.io~1status"):
            return json.loads(value)["templateHash"]
        if isinstance(value, dict) and "sidecar.istio.io/status" in value:
            return json.loads(value["sidecar.istio.io/status"])["templateHash"]
    return "(none)"


def worker(index, port, rate):
    context = ssl.create_default_context(cafile=f"{WORK}/ca.crt")
    connection = None
    sent = 0
    period = 1.0 / rate
    next_at = time.time()
    while not stop.is_set():
        next_at += period
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
        began = time.time()
        reason = None
        try:
            if connection is None or sent % 100 == 0:
                if connection is not None:
                    connection.close()
                connection = http.client.HTTPSConnection("127.0.0.1", port, context=context,
                                                         timeout=15)
                connection.connect()
                cert = connection.sock.getpeercert(binary_form=True)
                with lock:
                    certs_seen.add(cert)
            sent += 1
            connection.request("POST", "/inject", body=review,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                reason = f"HTTP {response.status}: {body[:200]!r}"
            else:
                answer = json.loads(body)
                if not answer["response"]["allowed"] or "patch" not in answer["response"]:
                    reason = f"not injected: {body[:300]!r}"
                else:
                    h = template_hash(answer)
                    with lock:
                        hashes_seen[h] = hashes_seen.get(h, 0) + 1
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            reason = f"{type(e).__name__}: {e}"
            connection = None
        elapsed = (time.time() - began) * 1000
        bucket = int((began - start_time[0]) // INTERVAL)
        with lock:
            answered[0] += 1
            buckets.setdefault(bucket, []).append(elapsed)
            if reason:
                failures.append((began - start_time[0], index, reason))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main():
    make_ca()
    os.makedirs(config_dir)
    write_config(good_config, base_values)

    servers = {}
    for name in ("config-server-a", "config-server-b"):
        servers[name] = (free_port(), free_port())
    injectors = {}
    for i, server in ((1, "config-server-a"), (2, "config-server-b"), (3, "config-server-b")):
        name = f"injector-{i}"
        injectors[name] = (free_port(), free_port(), server)
        os.makedirs(f"{WORK}/{name}")
        issue(f"{WORK}/{name}", 1)

    def start_server(name):
        grpc, admin = servers[name]
        spawn(name, [f"{BIN}/config-server", "serve", "--source", f"dir:{config_dir}",
                     "--listen", f"127.0.0.1:{grpc}", "--admin-listen", f"127.0.0.1:{admin}",
                     "--pod-name", name])
        wait_ok(f"http://127.0.0.1:{admin}/healthz")

    for name in servers:
        start_server(name)
    for name, (port, admin, server) in injectors.items():
        spawn(name, [f"{BIN}/injector", "serve", "--listen", f"127.0.0.1:{port}",
                     "--admin-listen", f"127.0.0.1:{admin}",
                     "--tls-cert", f"{WORK}/{name}/tls.crt", "--tls-key", f"{WORK}/{name}/tls.key",
                     "--tls-reload-interval", "2s",
                     "--config-server", f"http://127.0.0.1:{servers[server][0]}"])
    for name, (port, admin, _) in injectors.items():
        wait_ok(f"http://127.0.0.1:{admin}/readyz")
    log(f"fleet up: 2 config servers, 3 injectors; work dir {WORK}")

    start_time[0] = time.time()
    per_worker = RATE / (len(injectors) * WORKERS_PER_INJECTOR)
    threads = []
    for i, (name, (port, _, _)) in enumerate(injectors.items()):
        for _ in range(WORKERS_PER_INJECTOR):
            t = threading.Thread(target=worker, args=(i + 1, port, per_worker), daemon=True)
            t.start()
            threads.append(t)

    time.sleep(WARMUP)
    rss_start = {name: rss(p.pid) for name, p in processes.items()}
    pids_start = {name: p.pid for name, p in processes.items()}

    events = []
    rollout, serial, restarts = 0, 1, 0
    next_rollout = start_time[0] + ROLLOUT_EVERY
    next_restart = start_time[0] + RESTART_EVERY
    next_rotate = start_time[0] + ROTATE_EVERY
    end = start_time[0] + DURATION
    while time.time() < end:
        now = time.time()
        if now >= next_rollout:
            rollout += 1
            broken = rollout % 4 == 3
            values = dict(base_values, soakRollout=rollout)
            write_config(BROKEN_CONFIG if broken else good_config, values)
            events.append((now - start_time[0], f"rollout {rollout}" + (" (broken)" if broken else "")))
            log(events[-1][1])
            next_rollout += ROLLOUT_EVERY
        if now >= next_restart:
            restarts += 1
            p = processes["config-server-b"]
            p.send_signal(signal.SIGKILL)
            p.wait()
            log("config-server-b killed")
            time.sleep(3)
            start_server("config-server-b")
            events.append((now - start_time[0], f"config-server-b killed and restarted ({restarts})"))
            log(events[-1][1])
            next_restart += RESTART_EVERY
        if now >= next_rotate:
            serial += 1
            for name in injectors:
                issue(f"{WORK}/{name}", serial)
            events.append((now - start_time[0], f"certificates rotated (serial {serial})"))
            log(events[-1][1])
            next_rotate += ROTATE_EVERY
        time.sleep(0.2)

    stop.set()
    for t in threads:
        t.join(timeout=20)
    rss_end = {name: rss(p.pid) for name, p in processes.items()}
    exited = {name: p.poll() for name, p in processes.items() if p.poll() is not None}

    print()
    print(f"soak: {DURATION:.0f} s, {RATE:.0f} requests/s asked over {len(threads)} workers, "
          f"{len(injectors)} injectors, 2 config servers, {os.cpu_count()} CPUs")
    print(f"rollouts {rollout} (every {ROLLOUT_EVERY:.0f} s, broken: every 4th), config-server-b "
          f"restarts {restarts}, certificate rotations {serial - 1}")
    print(f"admissions {answered[0]}, failed {len(failures)} (goal 0)")
    for at, injector, reason in failures[:20]:
        print(f"  failure at {at:6.1f} s, injector-{injector}: {reason}")
    print(f"{'interval':>14} {'answers':>8} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for bucket in sorted(buckets):
        values = buckets[bucket]
        failed = sum(1 for at, _, _ in failures if int(at // INTERVAL) == bucket)
        print(f"{bucket * INTERVAL:6.0f}-{(bucket + 1) * INTERVAL:<6.0f}s {len(values):8} {failed:7} "
              f"{percentile(values, 0.5):8.1f} {percentile(values, 0.99):8.1f} {max(values):8.1f}")
    print(f"template hashes seen in answers: {len(hashes_seen)} "
          f"({', '.join(f'{h[7:19]}: {n}' for h, n in hashes_seen.items())})")
    print(f"serving certificates seen by new connections: {len(certs_seen)}")
    print(f"{'process':>16} {'RSS start KiB':>14} {'RSS end KiB':>12} {'growth':>8} {'peak KiB':>9}")
    for name in processes:
        (start_kib, _), (end_kib, peak) = rss_start[name], rss_end[name]
        restarted = pids_start[name] != processes[name].pid
        growth = "" if not start_kib or not end_kib else f"{100 * (end_kib - start_kib) / start_kib:+.1f}%"
        note = " (restarted: end is a new process)" if restarted else ""
        print(f"{name:>16} {start_kib or 0:14} {end_kib or 0:12} {growth:>8} {peak or 0:9}{note}")
    if exited:
        print(f"processes that exited: {exited}")
    return 1 if failures or exited else 0


def cleanup():
    for p in processes.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes.values():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    if os.environ.get("KEEP") == "1":
        print(f"logs kept in {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    try:
        code = main()
    finally:
        cleanup()
    sys.exit(code)
