"""Small client helpers for the hostile, fault, crash and concurrency
tests (python3, loopback only).  Import with sys.path.insert(0, tests/lib).

Everything here is bounded: every socket has a timeout, every loop a
count or a deadline."""
import os
import re
import socket
import ssl
import sys
import time

_n = 0


def ok(cond, desc, extra=None):
    """One "ok - desc" / "not ok - desc" line for tap_lines."""
    print(("ok - " if cond else "not ok - ") + desc.replace("\n", " "))
    if not cond and extra:
        for l in str(extra).splitlines()[:20]:
            print("  " + l)
    sys.stdout.flush()
    return cond


def diag(msg):
    print("# " + msg)
    sys.stdout.flush()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Conn:
    """A line-oriented client: SMTP replies (multi-line aware) or POP3."""

    def __init__(self, port, timeout=20, host="127.0.0.1", rcvbuf=None, wrap=False):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect((host, port))
        if wrap:
            s = tls_context().wrap_socket(s, server_hostname="mx.example.test")
        self.s = s
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self):
        """One line without its CRLF, or None at EOF."""
        while b"\n" not in self.buf:
            try:
                d = self.s.recv(65536)
            except (socket.timeout, OSError):
                d = b""
            if not d:
                if self.buf:
                    l, self.buf = self.buf, b""
                    return l
                return None
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        return l.rstrip(b"\r")

    def reply(self):
        """An SMTP reply: (code, [lines]); (0, []) at EOF."""
        lines = []
        while True:
            l = self.line()
            if l is None:
                return (0, lines)
            lines.append(l)
            if len(l) < 4 or l[3:4] != b"-":
                try:
                    return (int(l[:3]), lines)
                except ValueError:
                    return (-1, lines)

    def cmd(self, text):
        self.send(text + "\r\n" if isinstance(text, str) else text + b"\r\n")
        return self.reply()

    def ehlo(self, name="client.example.org"):
        return self.cmd("EHLO " + name)

    def pop(self, text):
        """A POP3 command and its status line."""
        self.send(text + "\r\n")
        return self.line() or b""

    def multiline(self):
        """A POP3 multi-line body after +OK, dot-unstuffed, or None."""
        out = []
        while True:
            l = self.line()
            if l is None:
                return None
            if l == b".":
                return out
            out.append(l[1:] if l.startswith(b"..") else l)

    def starttls(self):
        self.s = tls_context().wrap_socket(self.s, server_hostname="mx.example.test")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def children(ppid):
    """Pids whose parent is ppid."""
    try:
        with open("/proc/%d/task/%d/children" % (ppid, ppid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        pass
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may contain spaces
        rest = st[st.rfind(")") + 2:].split()
        if int(rest[1]) == ppid:
            out.append(int(d))
    return out


def child_of(ppid, wait=5.0, exclude=()):
    """The one child of ppid (a session under systemd-socket-activate),
    waiting up to `wait` seconds for it to appear; pids in exclude (an
    earlier session that may still be exiting) are not it."""
    end = time.time() + wait
    while time.time() < end:
        c = [p for p in children(ppid) if p not in exclude]
        if c:
            return c[0]
        time.sleep(0.01)
    return None


def vm(pid, key="VmHWM"):
    """A /proc/PID/status value in KiB, or None once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for l in f:
                if l.startswith(key + ":"):
                    return int(l.split()[1])
    except OSError:
        return None
    return None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rfind(")") + 2] != "Z"


def maildir_files(inst, subs=("new", "cur")):
    """Every message file under inst/mail, as a list of paths."""
    out = []
    root = os.path.join(inst, "mail")
    for dom in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        for user in sorted(os.listdir(os.path.join(root, dom))):
            for s in subs:
                d = os.path.join(root, dom, user, s)
                if os.path.isdir(d):
                    out += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    return out


NAME_RE = re.compile(r"^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.[A-Za-z0-9.\-\\]+,S=[0-9]+,W=[0-9]+(:2,[A-Z]*)?$")


def asan_build(binary):
    """True when the program was built with AddressSanitizer."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False
