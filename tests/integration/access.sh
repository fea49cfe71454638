#!/usr/bin/env bash
# Connection control and relay rules from the relay map (IPv4, IPv6,
# longest prefix, default, per-rule limits, missing map), the greeting
# delay (pregreet talkers dropped) and the minimum DATA rate.  Clients bind
# to different loopback addresses (127.0.0.0/8) to look like different hosts.
. "$(dirname "$0")/../lib/common.sh"

inst=$TESTTMP/access
make_instance "$inst" || exit 1
cat >"$inst/relay" <<'MAP'
127.0.0.0/8       allow
127.0.0.2         deny
127.0.1.0/24      relay
127.0.1.9         allow size=2k rcpts=1
127.0.2.0/24      allow tls=required
::1               deny
default           deny
MAP
"$BUILDDIR/tools/postern-map" -q -C "$inst" relay
ok $? "relay map compiled"
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$inst"
port=$(free_port)
serve "$port" "$TESTTMP/access.log" "$BUILDDIR/smtp-session/smtp-session" -C "$inst"
ok $? "smtp server up"
pport=$(free_port)
serve "$pport" "$TESTTMP/access-pop.log" "$BUILDDIR/pop3-session/pop3-session" -C "$inst"
ok $? "pop3 server up"
# the same instance on IPv6 loopback
port6=$(free_port)
systemd-socket-activate --inetd -a -l "[::1]:$port6" "$BUILDDIR/smtp-session/smtp-session" -C "$inst" \
	>>"$TESTTMP/access6.log" 2>&1 &
PIDS+=("$!")

slow=$TESTTMP/access-slow
make_instance "$slow" "greeting_delay = 700ms" "min_data_rate = 2000" || exit 1
sport=$(free_port)
serve "$sport" "$TESTTMP/access-slow.log" "$BUILDDIR/smtp-session/smtp-session" -C "$slow"
ok $? "greeting-delay instance up"

nomap=$TESTTMP/access-nomap
make_instance "$nomap" || exit 1
rm -f "$nomap/relay.cdb"
nport=$(free_port)
serve "$nport" "$TESTTMP/access-nomap.log" "$BUILDDIR/smtp-session/smtp-session" -C "$nomap"
npport=$(free_port)
serve "$npport" "$TESTTMP/access-nomap-pop.log" "$BUILDDIR/pop3-session/pop3-session" -C "$nomap"
ok $? "instance without relay.cdb up"

"$PY" - "$port" "$pport" "$port6" "$sport" "$nport" "$npport" "$inst" >"$TESTTMP/access.out" 2>&1 <<'PYEOF'
import socket, sys, time, os, glob
port, pport, port6, sport, nport, npport = map(int, sys.argv[1:7])
inst = sys.argv[7]
def ok(c, d): print(("ok - " if c else "not ok - ") + d)

def session(p, src, lines, fam=socket.AF_INET, host="127.0.0.1", wait_banner=True):
    s = socket.socket(fam)
    s.settimeout(20)
    if src:
        s.bind((src, 0))
    s.connect((host, p))
    f = s.makefile("rb")
    out = []
    if wait_banner:
        out.append(f.readline().decode().rstrip())
    for l in lines:
        s.sendall(l.encode() + b"\r\n")
        while True:
            r = f.readline().decode()
            if not r:
                break
            out.append(r.rstrip())
            if len(r) < 4 or r[3] != "-":
                break
    s.close()
    return out

r = session(port, "127.0.0.2", [])
ok(r[0].startswith("554 5.7.1"), "127.0.0.2 (deny, longer than 127/8 allow): 554 in the banner (%r)" % r[0])
r = session(port, "127.0.0.1", ["EHLO a", "MAIL FROM:<x@example.org>", "RCPT TO:<v@remote.test>",
                                "RCPT TO:<alice@example.test>", "QUIT"])
ok(r[0].startswith("220") and r[-3].startswith("554 5.7.1") and r[-2].startswith("250"),
   "127.0.0.1 (allow): local delivery only, relay refused (%r)" % r[-3:])
r = session(port, "127.0.1.5", ["EHLO a", "MAIL FROM:<x@example.org>", "RCPT TO:<v@remote.test>", "QUIT"])
ok(r[-2].startswith("250 2.1.5"), "127.0.1.5 (relay): may send to a remote domain without AUTH (%r)" % r[-2])
r = session(port, "127.0.1.9", ["EHLO a", "MAIL FROM:<x@example.org> SIZE=5000", "MAIL FROM:<x@example.org>",
                                "RCPT TO:<alice@example.test>", "RCPT TO:<bob@example.test>", "QUIT"])
ok("250-SIZE 2048" in r, "per-rule size=2k advertised in EHLO")
ok(r[-5].startswith("552 5.3.4"), "per-rule size limit enforced at MAIL (%r)" % r[-5])
ok(r[-2].startswith("452 4.5.3"), "per-rule rcpts=1 enforced (%r)" % r[-2])
ok(r[-6:][0] != "" and not any(x.startswith("250 2.1.5") for x in r[-2:-1]), "127.0.1.9 is not a relay (allow)")
r = session(port, "127.0.2.7", ["EHLO a", "MAIL FROM:<x@example.org>", "QUIT"])
ok(r[-2].startswith("530 5.7.0"), "tls=required: MAIL before STARTTLS refused (%r)" % r[-2])
r = session(port6, None, [], fam=socket.AF_INET6, host="::1")
ok(r[0].startswith("554 5.7.1"), "::1 (IPv6 rule deny): 554 (%r)" % r[0])
r = session(pport, "127.0.0.2", [])
ok(r[0].startswith("-ERR"), "pop3: denied client gets -ERR before anything (%r)" % r[0])
r = session(pport, "127.0.0.1", ["QUIT"])
ok(r[0].startswith("+OK"), "pop3: allowed client gets +OK (%r)" % r[0])
r = session(nport, "127.0.0.1", [])
ok(r[0].startswith("421 4.3.0"), "missing relay.cdb: temporary 421, never open (%r)" % r[0])
r = session(npport, "127.0.0.1", [])
ok(r[0].startswith("-ERR [SYS/TEMP]"), "pop3, missing relay.cdb: -ERR [SYS/TEMP] (%r)" % r[0])

# greeting delay: a client that talks first is dropped; one that waits is served
r = session(sport, None, ["EHLO eager"], wait_banner=False)
ok(r and r[0].startswith("554 5.5.1"), "pregreet talker dropped with 554 5.5.1 (%r)" % r[:1])
t0 = time.time()
r = session(sport, None, ["QUIT"])
ok(r[0].startswith("220") and time.time() - t0 >= 0.6, "patient client gets the banner after the delay")

# minimum DATA rate (2000 B/s in this instance, after a 10 s grace)
s = socket.create_connection(("127.0.0.1", sport), timeout=30)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO slow\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
for i in range(4):
    f.readline()
end = b""
for i in range(60):                 # at most 15 s
    try:
        s.sendall(b"x" * 100)
    except OSError:
        break
    time.sleep(0.25)
    s.settimeout(0.01)
    try:
        end = s.recv(200)
        if end:
            break
    except socket.timeout:
        pass
    except OSError:
        break
    finally:
        s.settimeout(30)
ok(end.startswith(b"421 4.4.2 Data rate too low"), "400 B/s client ended below min_data_rate (%r)" % end[:50])
s.close()
PYEOF
ok $? "access scenarios ran"
tap_lines "$TESTTMP/access.out"
grep -q 'event=deny ip=127.0.0.2' "$TESTTMP/access.log"
ok $? "denied connection logged"
grep -q 'event=pregreet' "$TESTTMP/access-slow.log"
ok $? "pregreet logged"
done_testing
