#!/usr/bin/env bash
# Idle timeout, DATA deadline against a trickling client, the absolute
# session deadline, and logs that never reach the client when stderr is
# the socket (inetd style).  Each scenario is bounded by its settings.
. "$(dirname "$0")/../lib/common.sh"

inst=$TESTTMP/timeouts
make_instance "$inst" "idle_timeout = 1s" "data_timeout = 2s" "session_timeout = 5s" || exit 1
port=$(free_port)
serve "$port" "$TESTTMP/timeouts.log" "$BUILDDIR/smtp-session/smtp-session" -C "$inst"
ok $? "server up"
port2=$(free_port)
# stderr onto the socket, as inetd and xinetd do
serve "$port2" "$TESTTMP/timeouts2.log" sh -c "exec \"$BUILDDIR/smtp-session/smtp-session\" -C \"$inst\" 2>&1"
ok $? "inetd-style server up"

"$PY" - "$port" "$port2" "$inst" >"$TESTTMP/to.out" 2>&1 <<'PYEOF'
import socket, sys, time, os
port, port2, inst = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def ok(c, d): print(("ok - " if c else "not ok - ") + d)

def conn(p):
    s = socket.create_connection(("127.0.0.1", p), timeout=15)
    f = s.makefile("rb")
    return s, f

def read_all(f):
    try:
        return f.read().decode("utf-8", "replace")
    except Exception as e:
        return "ERR %r" % e

# 1. silent client: idle timeout
s, f = conn(port)
f.readline()
t0 = time.time()
rest = read_all(f)
ok(rest.startswith("421 4.4.2 Timeout"), "idle client gets 421 4.4.2 (%r)" % rest[:40])
s.close()

# 2. trickle inside DATA: idle never hit, data_timeout ends it
s, f = conn(port)
f.readline()
s.sendall(b"EHLO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
while not f.readline().startswith(b"354"):
    pass
closed = False
for i in range(40):               # at most 20 s
    try:
        s.sendall(b"x")
    except OSError:
        closed = True
        break
    time.sleep(0.5)
    s.settimeout(0.01)
    try:
        data = s.recv(200)
        if data:
            rest = data.decode()
            closed = True
            break
    except socket.timeout:
        pass
    except OSError:
        closed = True
        break
    finally:
        s.settimeout(15)
ok(closed and "421 4.4.2" in rest, "trickling DATA ends at data_timeout with 421 (%r)" % rest[:60])
s.close()
new = os.path.join(inst, "mail/example.test/alice/new")
tmp = os.path.join(inst, "mail/example.test/alice/tmp")
ok(not (os.path.isdir(new) and os.listdir(new)), "nothing delivered from the timed-out DATA")
ok(not (os.path.isdir(tmp) and os.listdir(tmp)), "nothing left in tmp/")

# 3. busy client: the absolute session deadline still ends it
s, f = conn(port)
f.readline()
t0 = time.time()
end = None
for i in range(40):               # at most 20 s
    try:
        s.sendall(b"NOOP\r\n")
        line = f.readline()
    except OSError:
        break
    if not line or line.startswith(b"421"):
        end = line
        break
    time.sleep(0.5)
ok(end is not None and end.startswith(b"421 4.4.2"), "session deadline ends a busy session (%r after %.1fs)" % (end, time.time() - t0))
s.close()

# 4. inetd style: stderr is the socket, yet the client sees only SMTP
s, f = conn(port2)
s.sendall(b"EHLO t\r\nRCPT TO:<x@y.test>\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<nobody@example.test>\r\nQUIT\r\n")
lines = read_all(f).split("\r\n")
bad = [l for l in lines if l and not l[:3].isdigit()]
ok(not bad and lines[0].startswith("220"), "no log line reaches the client when stderr is the socket (%r)" % bad[:2])
PYEOF
ok $? "timeout scenarios ran"
tap_lines "$TESTTMP/to.out"
done_testing
