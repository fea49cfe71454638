#!/usr/bin/env python3
"""Measuring helpers for bench/run (loopback only, bounded waits).

  smtpbench.py inbound --maildirs D... --expected N [--queue Q] -- smtp-source ARGS...
      run smtp-source; wall time from its start until N files sit in the
      maildirs' new/ (and Q, a Postfix queue directory, is empty).
  smtpbench.py latency PORT SESSIONS MESSAGES SIZE RCPT
      SESSIONS threads, one connection per message like smtp-source; prints
      msg/s, p50 and p99 of connect -> 250 after DATA, in ms.
  smtpbench.py banner PORT N
      N sequential connects; median and p99 of connect -> first banner line.
  smtpbench.py large PORT MB RCPT --ppid PID [--names N,...] [--maildir D --queue Q]
      one MB-megabyte DATA; MB/s to the 250, then VmHWM/private RSS of the
      receiving processes (the children of PID, filtered by name) read from
      /proc before QUIT; with --maildir/--queue also the time until the
      message is in the maildir.
Each prints one line of key=value pairs.
"""
import os
import socket
import statistics
import subprocess
import sys
import threading
import time


def count_files(dirs):
    n = 0
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for e in it:
                    if not e.name.startswith("."):
                        n += 1
        except FileNotFoundError:
            pass
    return n


def queue_files(q):
    n = 0
    for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
        for _root, _dirs, files in os.walk(os.path.join(q, sub)):
            n += len(files)
    return n


def client_opts(argv):
    """[--maildirs D...] [--NAME VALUE]... -- CMD...: ({name: value,
    'maildirs': [D...]}, CMD)."""
    sep = argv.index("--")
    opts, cmd = argv[:sep], argv[sep + 1:]
    o, i = {}, 0
    while i < len(opts):
        name = opts[i][2:]
        if name == "maildirs":
            i += 1
            o["maildirs"] = []
            while i < len(opts) and not opts[i].startswith("--"):
                o["maildirs"].append(opts[i])
                i += 1
            continue
        o[name] = opts[i + 1]
        i += 2
    return o, cmd


def inbound(argv):
    o, cmd = client_opts(argv)
    maildirs, expected = o.get("maildirs", []), int(o.get("expected", 0))
    queue, timeout = o.get("queue"), float(o.get("timeout", 300.0))
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    t_client = time.monotonic() - t0
    deadline = t0 + timeout
    while True:
        if not maildirs:
            # a server that stores nothing (smtp-sink): what the client
            # sent, if it says it sent it all
            got, q = (expected if p.returncode == 0 else 0), 0
            break
        got = count_files(maildirs)
        q = queue_files(queue) if queue else 0
        if (got >= expected and q == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    wall = time.monotonic() - t0
    err = p.stdout.decode(errors="replace").strip().replace("\n", " | ")[:200]
    print(f"files={got} expected={expected} wall={wall:.3f} client={t_client:.3f} "
          f"files_per_s={got / wall:.1f} rc={p.returncode} queue_left={q} out={err!r}")


def window(argv):
    """window --maildirs D... --warm S --secs S -- CMD...: run CMD (a client
    that runs until stopped, such as postal), skip the first S seconds,
    count the files delivered over the next ones, stop CMD."""
    o, cmd = client_opts(argv)
    maildirs, warm, secs = o.get("maildirs", []), float(o.get("warm", 2.0)), float(o.get("secs", 10.0))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(warm)
        n0, t0 = count_files(maildirs), time.monotonic()
        time.sleep(secs)
        n1, t1 = count_files(maildirs), time.monotonic()
    finally:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    out = p.stdout.read().decode(errors="replace").strip().replace("\n", " | ")[-200:]
    alive = "yes" if p.returncode in (-15, 0) else f"no (exit {p.returncode})"
    print(f"files={n1 - n0} seconds={t1 - t0:.3f} files_per_s={(n1 - n0) / (t1 - t0):.1f} "
          f"client_ran_to_the_end={alive} out={out!r}")


class Conn:
    def __init__(self, port, timeout=60):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def reply(self):
        while True:
            l = self.line()
            if len(l) < 4 or l[3:4] != b"-":
                return int(l[:3]), l

    def cmd(self, c, want):
        self.s.sendall(c + b"\r\n")
        code, l = self.reply()
        if code != want:
            raise RuntimeError(f"{c!r}: {l!r}")
        return l

    def close(self):
        self.s.close()


def body(size):
    hdr = b"From: <bench@example.org>\r\nTo: <user@example.test>\r\nSubject: bench\r\n\r\n"
    line = b"x" * 78 + b"\r\n"
    n = max(0, size - len(hdr)) // len(line) + 1
    return hdr + line * n


def rcpts(n):
    # the names smtp-source -r N uses: user, 2user, ..., Nuser
    return [b"user@example.test"] + [b"%duser@example.test" % i for i in range(2, n + 1)]


def transaction(port, msg, rc, tls=None):
    t0 = time.monotonic()
    c = Conn(port)
    code, l = c.reply()
    if code != 220:
        raise RuntimeError(l)
    c.cmd(b"EHLO bench.example.org", 250)
    if tls:
        # a full handshake per connection, as most MX-to-MX clients do
        c.cmd(b"STARTTLS", 220)
        c.s = tls.wrap_socket(c.s, server_hostname="mx.example.test")
        c.buf = b""
        c.cmd(b"EHLO bench.example.org", 250)
    c.cmd(b"MAIL FROM:<bench@example.org>", 250)
    for r in rc:
        c.cmd(b"RCPT TO:<" + r + b">", 250)
    c.cmd(b"DATA", 354)
    c.s.sendall(msg + b".\r\n")
    code, l = c.reply()
    if code != 250:
        raise RuntimeError(l)
    t = time.monotonic() - t0
    try:
        c.cmd(b"QUIT", 221)
    except Exception:
        pass
    c.close()
    return t


def latency(argv):
    port, sessions, messages, size, nrcpt = (int(a) for a in argv[:5])
    msg, rc = body(size), rcpts(nrcpt)
    tls = None
    if len(argv) > 5 and argv[5] == "starttls":
        import ssl
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    lat, errors, lock = [], [], threading.Lock()
    per = [messages // sessions + (i < messages % sessions) for i in range(sessions)]

    def worker(n):
        for _ in range(n):
            try:
                t = transaction(port, msg, rc, tls)
                with lock:
                    lat.append(t)
            except Exception as e:  # counted, not fatal
                with lock:
                    errors.append(str(e))

    th = [threading.Thread(target=worker, args=(n,)) for n in per]
    t0 = time.monotonic()
    for t in th:
        t.start()
    for t in th:
        t.join()
    wall = time.monotonic() - t0
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
    print(f"n={len(lat)} errors={len(errors)} msgs_per_s={len(lat) / wall:.1f} "
          f"p50_ms={p(0.50):.2f} p90_ms={p(0.90):.2f} p99_ms={p(0.99):.2f} max_ms={p(1.0):.2f}"
          + (f" first_error={errors[0]!r}" if errors else ""))


def banner(argv):
    port, n = int(argv[0]), int(argv[1])
    lat = []
    for _ in range(n):
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        d = b""
        while b"\r\n" not in d:
            r = s.recv(4096)
            if not r:
                break
            d += r
        lat.append(time.monotonic() - t0)
        s.close()
    lat.sort()
    print(f"n={n} median_ms={statistics.median(lat) * 1000:.3f} "
          f"p90_ms={lat[int(0.9 * n)] * 1000:.3f} p99_ms={lat[min(n - 1, int(0.99 * n))] * 1000:.3f} "
          f"min_ms={lat[0] * 1000:.3f}")


def children(ppid, names):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            pp = int(st[st.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        if pp == ppid and (not names or comm in names):
            out.append((int(d), comm))
    return out


def mem(pid):
    r = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                k, _, v = l.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    r[k] = int(v.split()[0])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for l in f:
                k, _, v = l.partition(":")
                if k in ("Private_Clean", "Private_Dirty"):
                    r["Private"] = r.get("Private", 0) + int(v.split()[0])
    except OSError:
        pass
    return r


def large(argv):
    port, mb, nrcpt = int(argv[0]), int(argv[1]), int(argv[2])
    opts = dict(zip(argv[3::2], argv[4::2]))
    ppid = int(opts["--ppid"])
    names = set(opts.get("--names", "").split(",")) - {""}
    line = b"x" * 998 + b"\r\n"
    chunk = line * 64
    total = mb * 1048576
    c = Conn(port, timeout=600)
    c.reply()
    c.cmd(b"EHLO bench.example.org", 250)
    c.cmd(b"MAIL FROM:<bench@example.org>", 250)
    for r in rcpts(nrcpt):
        c.cmd(b"RCPT TO:<" + r + b">", 250)
    c.cmd(b"DATA", 354)
    t0 = time.monotonic()
    c.s.sendall(b"Subject: large\r\n\r\n")
    sent = 0
    while sent < total:
        c.s.sendall(chunk)
        sent += len(chunk)
    c.s.sendall(b".\r\n")
    code, l = c.reply()
    t = time.monotonic() - t0
    procs = children(ppid, names)
    ms = [(p, n, mem(p)) for p, n in procs]
    c.cmd(b"QUIT", 221)
    c.close()
    extra = ""
    if "--maildir" in opts:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if count_files([opts["--maildir"]]) >= 1 and queue_files(opts["--queue"]) == 0:
                break
            time.sleep(0.01)
        t2 = time.monotonic() - t0
        # the delivery agent has run by now: its peak too
        ms += [(p, n, mem(p)) for p, n in children(ppid, {"virtual"})]
        extra = f" to_maildir_s={t2:.3f} to_maildir_MB_per_s={sent / 1048576 / t2:.1f}"
    peak = max((m.get("VmHWM", 0) for _, _, m in ms), default=0)
    byname = {}
    for _, n, m in ms:
        byname[n] = max(byname.get(n, 0), m.get("VmHWM", 0))
    extra += "".join(f" hwm_{n.replace('-', '_')}_kib={v}" for n, v in sorted(byname.items()))
    desc = ",".join(f"{n}:{p}:hwm={m.get('VmHWM', 0)}:priv={m.get('Private', 0)}" for p, n, m in ms)
    print(f"reply={code} MB={sent / 1048576:.0f} seconds={t:.3f} MB_per_s={sent / 1048576 / t:.1f} "
          f"peak_hwm_kib={peak}{extra} procs={desc}")


def table(argv):
    import re
    rows = {}
    for l in open(argv[0]):
        w, sysname, rep, rest = l.rstrip("\n").split("\t", 3)
        kv = dict(re.findall(r"(\w+)=([^\s']+)", rest))
        rows.setdefault(w, {}).setdefault(sysname, []).append(kv)

    def med(w, sysname, key, scale=1.0):
        vals = []
        for kv in rows.get(w, {}).get(sysname, []):
            try:
                vals.append(float(kv[key]) * scale)
            except (KeyError, ValueError):
                pass
        return statistics.median(vals) if vals else None

    def fmt(v, d=1):
        return "-" if v is None else f"{v:.{d}f}"

    def best(*vals):
        vals = [v for v in vals if v]
        return max(vals) if vals else None

    named = {w: med(f"limit-fsync-w{w}", "limit", "files_per_s") for w in (1, 4, 32)}
    unnamed = {w: med(f"limit-fsync-unnamed-w{w}", "limit", "files_per_s") for w in (1, 4, 32)}
    # the floor is the faster of the two ways of making a durable file
    lim = {w: best(named[w], unnamed[w]) for w in (1, 4, 32)}
    out = []
    out.append("limits of this machine (bench/limits.c, medians):")
    for w in (1, 4, 32):
        out.append(f"  create 10 KB + write + fsync + rename + fsync dir, {w:2d} writer(s): {fmt(named[w])} files/s")
        out.append(f"  O_TMPFILE 10 KB + write + link + fsync + fsync dir, {w:2d} writer(s): {fmt(unnamed[w])} files/s")
    for kind in ("static", "dynamic"):
        vals_fe, vals_ps = [], []
        for l in open(argv[0]):
            if l.startswith(f"limit-spawn-{kind}\t"):
                m = re.findall(r"(fork\+exec|posix_spawn) prog=\S+ n=\d+ ms_each=([\d.]+)", l)
                for k, v in m:
                    (vals_fe if k == "fork+exec" else vals_ps).append(float(v))
        if vals_fe:
            out.append(f"  fork+exec+wait, trivial {kind} program: {statistics.median(vals_fe):.3f} ms;"
                       f" posix_spawn+wait: {statistics.median(vals_ps):.3f} ms")
    out.append(f"  loopback TCP, one connection: {fmt(med('limit-tcp', 'limit', 'MB_per_s'))} MB/s")
    out.append(f"  systemd-socket-activate + trivial static banner handler: connect->banner median"
               f" {fmt(med('banner', 'limit', 'median_ms'), 3)} ms")
    out.append("")
    hdr = f"{'workload':44s} {'postern':>10s} {'Postfix':>10s} {'ratio':>6s}  {'postern/limit':>13s}"
    out.append(hdr)
    out.append("-" * len(hdr))

    def row(label, w, key, higher=True, d=1, limit=None, sysname="postern", scale=1.0):
        a, b = med(w, sysname, key, scale), med(w, "postfix", key, scale)
        r = "-"
        if a and b:
            r = f"{(a / b if higher else b / a):.2f}"
        lf = ""
        if limit and a:
            lf = f"{a / limit * 100:.0f}%"
        out.append(f"{label:44s} {fmt(a, d):>10s} {fmt(b, d):>10s} {r:>6s}  {lf:>13s}")

    def sink_row(w):
        # the same client against a server that stores nothing: no
        # server can beat it, whatever its disk
        sink = med(w, "sink", "files_per_s")
        if not sink:
            return
        best_p = best(med(w, "postern", "files_per_s"), med(w, "postern-listen", "files_per_s"))
        share = f"  postern {best_p / sink * 100:.0f}% of it" if best_p else ""
        out.append(f"{'   smtp-sink beside it (stores nothing)':44s} {fmt(sink):>10s}{share}")

    for s in (1, 4, 32):
        for r in (1, 10):
            w = f"inbound-s{s}-r{r}"
            if w not in rows:
                continue
            here = best(med(w, "limit", "files_per_s"), med(w, "limit-unnamed", "files_per_s")) or lim[s]
            row(f"1. inbound msg/s, -s {s:2d} -r {r:2d}", w, "files_per_s", scale=1.0 / r,
                limit=here if r == 1 else None)
            if r == 10:
                row(f"   deliveries/s (files), -s {s:2d} -r {r:2d}", w, "files_per_s")
            if "postern-listen" in rows[w]:
                row("   same, postern in listener mode", w, "files_per_s", scale=1.0 / r,
                    sysname="postern-listen", limit=here if r == 1 else None)
            if r == 1 and "limit" in rows[w]:
                out.append(f"{'   fsync limit beside it, files/s':44s} {fmt(here):>10s}")
            sink_row(w)
            if s == 4 and r == 1 and "postern-deliver" in rows[w]:
                row("   same, postern delivery = deliver", w, "files_per_s", sysname="postern-deliver", limit=here)
    for s in (4, 32):
        w = f"inbound-s{s}-r1-keep"
        if w not in rows:
            continue
        here = best(med(w, "limit", "files_per_s"), med(w, "limit-unnamed", "files_per_s")) or lim[s]
        row(f"1. inbound msg/s, -s {s:2d} -r 1, -d (kept conn)", w, "files_per_s", limit=here)
        if "postern-listen" in rows[w]:
            row("   same, postern in listener mode", w, "files_per_s", sysname="postern-listen", limit=here)
        out.append(f"{'   fsync limit beside it, files/s':44s} {fmt(here):>10s}")
        sink_row(w)
    for t in (2, 4):
        for c in (1, 5):
            w = f"postal-t{t}-c{c}"
            if w not in rows:
                continue
            row(f"1. postal -t {t} -c {c}: msg/s", w, "files_per_s")
            if "postern-listen" in rows[w]:
                row("   same, postern in listener mode", w, "files_per_s", sysname="postern-listen")
    if "latency-s4" in rows:
        row("1. python client 4 sessions: msg/s", "latency-s4", "msgs_per_s")
        row("   p50 ms connect->250", "latency-s4", "p50_ms", higher=False, d=2)
        row("   p99 ms connect->250", "latency-s4", "p99_ms", higher=False, d=2)
        if "postern-listen" in rows["latency-s4"]:
            row("   listener mode: msg/s", "latency-s4", "msgs_per_s", sysname="postern-listen")
            row("   listener mode: p50 ms connect->250", "latency-s4", "p50_ms", higher=False, d=2, sysname="postern-listen")
            row("   listener mode: p99 ms connect->250", "latency-s4", "p99_ms", higher=False, d=2, sysname="postern-listen")
    if "starttls-s4" in rows:
        row("2. STARTTLS (TLS 1.3, full handshake), 4 sessions: msg/s", "starttls-s4", "msgs_per_s")
        row("   p50 ms connect->250", "starttls-s4", "p50_ms", higher=False, d=2)
        row("   p99 ms connect->250", "starttls-s4", "p99_ms", higher=False, d=2)
        if "postern-listen" in rows["starttls-s4"]:
            row("   listener mode: msg/s", "starttls-s4", "msgs_per_s", sysname="postern-listen")
            row("   listener mode: p50 ms connect->250", "starttls-s4", "p50_ms", higher=False, d=2, sysname="postern-listen")
            row("   listener mode: p99 ms connect->250", "starttls-s4", "p99_ms", higher=False, d=2, sysname="postern-listen")
    if "starttls-s32" in rows:
        row("2. STARTTLS, 32 sessions: msg/s", "starttls-s32", "msgs_per_s")
        if "postern-listen" in rows["starttls-s32"]:
            row("   listener mode: msg/s", "starttls-s32", "msgs_per_s", sysname="postern-listen")
    if "banner" in rows:
        row("connect->banner median ms (200 conns)", "banner", "median_ms", higher=False, d=3)
        row("connect->banner p99 ms", "banner", "p99_ms", higher=False, d=3)
        if "postern-listen" in rows["banner"]:
            row("   listener mode: median ms", "banner", "median_ms", higher=False, d=3, sysname="postern-listen")
            row("   listener mode: p99 ms", "banner", "p99_ms", higher=False, d=3, sysname="postern-listen")
    if "large" in rows:
        row("3. 100 MB DATA, MB/s to the 250", "large", "MB_per_s")
        b = med("large", "postfix", "to_maildir_MB_per_s")
        out.append(f"{'   Postfix MB/s until in the maildir':44s} {'':>10s} {fmt(b):>10s}")
        row("   peak RSS KiB (VmHWM, receiving procs)", "large", "peak_hwm_kib", higher=False, d=0)
        out.append(f"{'   of which Postfix smtpd / cleanup':44s} {'':>10s} "
                   f"{fmt(med('large', 'postfix', 'hwm_smtpd_kib'), 0) + ' / ' + fmt(med('large', 'postfix', 'hwm_cleanup_kib'), 0):>10s}")
    if "large-pipe" in rows:
        out.append(f"{'   postern from a pipe: peak RSS KiB':44s} {fmt(med('large-pipe', 'postern', 'peak_hwm_kib'), 0):>10s}")
        out.append(f"{'   postern from a pipe: MB/s':44s} {fmt(med('large-pipe', 'postern', 'MB_per_s')):>10s}")
    out.append("")
    out.append("raw runs (workload, system, rep, figures):")
    for l in open(argv[0]):
        out.append("  " + l.rstrip("\n").replace("\t", " ")[:300])
    print("\n".join(out))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, argv = sys.argv[1], sys.argv[2:]
    {"inbound": inbound, "window": window, "latency": latency, "banner": banner, "large": large, "table": table}[cmd](argv)


if __name__ == "__main__":
    main()
