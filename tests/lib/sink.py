#!/usr/bin/env python3
"""A small SMTP sink for the relay tests: loopback only, records what it saw.

Every command line goes to LOG (one line each, prefixed with the
connection number); every accepted message becomes OUT/<n>.eml with the
envelope in OUT/<n>.env (MAIL FROM, RCPT TO lines, "tls yes|no", "auth
USER").  Behaviour per flags: --tls CERT KEY offers STARTTLS, --auth
USER:PASS offers AUTH PLAIN/LOGIN (only after TLS), --reject-rcpt SUBSTR
answers 550 to matching RCPTs, --defer-rcpt SUBSTR 451, --no-pipelining,
--size N, --data-delay S (sleep before the final reply, for crash tests),
--data-reply "CODE text".
"""
import argparse
import base64
import os
import socket
import ssl
import sys
import threading

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--log", required=True)
p.add_argument("--out", required=True)
p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
p.add_argument("--auth")
p.add_argument("--reject-rcpt", default=None)
p.add_argument("--defer-rcpt", default=None)
p.add_argument("--no-pipelining", action="store_true")
p.add_argument("--size", type=int, default=0)
p.add_argument("--data-delay", type=float, default=0)
p.add_argument("--data-reply", default="250 2.0.0 queued")
p.add_argument("--pidfile")
args = p.parse_args()

os.makedirs(args.out, exist_ok=True)
lock = threading.Lock()
counter = [0]
logf = open(args.log, "a", buffering=1)


def log(cid, line):
    with lock:
        logf.write("%d %s\n" % (cid, line))


class Conn:
    def __init__(self, sock, cid):
        self.sock = sock
        self.cid = cid
        self.f = sock.makefile("rb")
        self.tls = False
        self.authed = None

    def send(self, s):
        self.sock.sendall(s.encode() + b"\r\n")

    def readline(self):
        line = self.f.readline(4096)
        if not line:
            return None
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    def ehlo_lines(self):
        ext = ["8BITMIME"]
        if not args.no_pipelining:
            ext.append("PIPELINING")
        if args.size:
            ext.append("SIZE %d" % args.size)
        if args.tls and not self.tls:
            ext.append("STARTTLS")
        if args.auth and self.tls:
            ext.append("AUTH PLAIN LOGIN")
        return ext

    def run(self):
        self.send("220 sink.test ESMTP test sink")
        mail, rcpts = None, []
        while True:
            line = self.readline()
            if line is None:
                return
            log(self.cid, line)
            cmd = line.split(" ", 1)[0].upper()
            if cmd == "EHLO":
                ext = self.ehlo_lines()
                out = ["250-sink.test"] + ["250-" + e for e in ext[:-1]] + ["250 " + ext[-1]]
                self.sock.sendall(("\r\n".join(out) + "\r\n").encode())
            elif cmd == "HELO":
                self.send("250 sink.test")
            elif cmd == "STARTTLS" and args.tls and not self.tls:
                self.send("220 2.0.0 go ahead")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(args.tls[0], args.tls[1])
                self.sock = ctx.wrap_socket(self.sock, server_side=True)
                self.f = self.sock.makefile("rb")
                self.tls = True
                log(self.cid, "[tls %s]" % self.sock.version())
            elif cmd == "AUTH" and args.auth and self.tls:
                parts = line.split()
                user, pw = args.auth.split(":", 1)
                if parts[1].upper() == "PLAIN":
                    got = base64.b64decode(parts[2]).split(b"\0")
                    good = got[1:] == [user.encode(), pw.encode()]
                else:
                    self.send("334 VXNlcm5hbWU6")
                    u = base64.b64decode(self.readline() or "")
                    self.send("334 UGFzc3dvcmQ6")
                    w = base64.b64decode(self.readline() or "")
                    good = (u, w) == (user.encode(), pw.encode())
                if good:
                    self.authed = user
                    self.send("235 2.7.0 ok")
                else:
                    self.send("535 5.7.8 bad credentials")
            elif cmd == "MAIL":
                mail, rcpts = line[10:], []
                self.send("250 2.1.0 ok")
            elif cmd == "RCPT":
                addr = line[8:]
                if args.reject_rcpt and args.reject_rcpt in addr:
                    self.send("550 5.1.1 %s: no such user here" % addr)
                elif args.defer_rcpt and args.defer_rcpt in addr:
                    self.send("451 4.3.0 try again later")
                else:
                    rcpts.append(addr)
                    self.send("250 2.1.5 ok")
            elif cmd == "DATA":
                if not rcpts:
                    self.send("554 5.5.1 no valid recipients")
                    continue
                self.send("354 go ahead")
                body = []
                while True:
                    raw = self.f.readline(1 << 20)
                    if not raw:
                        return
                    if raw == b".\r\n":
                        break
                    if raw.startswith(b".."):
                        raw = raw[1:]
                    body.append(raw)
                if args.data_delay:
                    log(self.cid, "[data received, waiting]")
                    import time
                    time.sleep(args.data_delay)
                if args.data_reply.startswith("2"):
                    with lock:
                        counter[0] += 1
                        n = counter[0]
                    with open(os.path.join(args.out, "%d.eml" % n), "wb") as f:
                        f.write(b"".join(body))
                    with open(os.path.join(args.out, "%d.env" % n), "w") as f:
                        f.write("MAIL FROM:%s\n" % mail)
                        for r in rcpts:
                            f.write("RCPT TO:%s\n" % r)
                        f.write("tls %s\n" % ("yes" if self.tls else "no"))
                        if self.authed:
                            f.write("auth %s\n" % self.authed)
                self.send(args.data_reply)
                mail, rcpts = None, []
            elif cmd == "RSET":
                mail, rcpts = None, []
                self.send("250 2.0.0 ok")
            elif cmd == "NOOP":
                self.send("250 2.0.0 ok")
            elif cmd == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.2 not here")


def serve(sock, cid):
    try:
        Conn(sock, cid).run()
    except Exception as e:  # a test peer that goes away is not an error
        log(cid, "[closed: %s]" % e)
    finally:
        sock.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", args.port))
srv.listen(64)
if args.pidfile:
    with open(args.pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
cid = 0
while True:
    c, _ = srv.accept()
    cid += 1
    threading.Thread(target=serve, args=(c, cid), daemon=True).start()
