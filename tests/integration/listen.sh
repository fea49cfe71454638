#!/usr/bin/env bash
# Listener mode: smtp-session and pop3-session given listening sockets
# (systemd-socket-activate without -a, i.e. Accept=no) accept and fork
# one child per connection.  Mail in with swaks and smtplib (20 at once),
# POP3 out with poplib (and over STLS), max_sessions_per_ip (421 / -ERR
# [SYS/TEMP]), max_sessions (the next client waits in the backlog),
# SIGHUP re-reads the limits, SIGTERM stops accepting while a running
# session finishes, two sockets at once, a connected fd 3 (Accept=yes)
# still means per connection, garbage in LISTEN_FDS is refused, xinetd
# "wait = yes".
. "$(dirname "$0")/../lib/common.sh"

SMTP=$BUILDDIR/smtp-session/smtp-session
POP3=$BUILDDIR/pop3-session/pop3-session
inst=$TESTTMP/listen-inst
make_instance "$inst" "max_sessions_per_ip = 2" || { echo "1..0 # skip cannot build instance"; exit 1; }
log=$TESTTMP/listen.log
: >"$log"

# listen PORT... -- PROGRAM ARGS: Accept=no on each port; sets LPID
listen() {
	local a=()
	while [ "$1" != -- ]; do
		a+=(-l "127.0.0.1:$1")
		shift
	done
	shift
	systemd-socket-activate "${a[@]}" "$@" >>"$log" 2>&1 &
	LPID=$!
	PIDS+=("$LPID")
}

port=$(free_port)
listen "$port" -- "$SMTP" -C "$inst"
pid1=$LPID
wait_port "$port"

# 1. swaks through the listener
if command -v swaks >/dev/null; then
	swaks --server "127.0.0.1:$port" --from sender@example.org --to alice@example.test \
		--header "Subject: listener" --body "through the listener" >"$TESTTMP/swaks.out" 2>&1
	ok $? "swaks: message accepted by a listener child"
	grep -q '<-  250 2.0.0' "$TESTTMP/swaks.out"
	ok $? "swaks saw 250 2.0.0 after DATA"
else
	skip "swaks through the listener" "swaks missing"
	skip "swaks saw 250" "swaks missing"
fi
grep -q 'event=listen sockets=1 max_sessions=100 max_sessions_per_ip=2' "$log"
ok $? "the listener logs its start and limits"
for _ in $(seq 50); do [ -z "$(pgrep -P "$pid1")" ] && break; sleep 0.1; done
[ -z "$(pgrep -P "$pid1")" ]
ok $? "no child is left once the session ended"
[ "$(cat /proc/"$pid1"/comm 2>/dev/null)" = smtp-session ]
ok $? "systemd-socket-activate exec'd the listener in place (one long-lived process)"

# 2. twenty clients at once (a per-ip limit of 2 would refuse most, so a
#    second instance without it)
inst2=$TESTTMP/listen-inst2
make_instance "$inst2" "max_sessions_per_ip = 0"
port2=$(free_port)
listen "$port2" -- "$SMTP" -C "$inst2"
wait_port "$port2"
"$PY" - "$port2" >"$TESTTMP/many.out" 2>&1 <<'EOF'
import smtplib, sys, threading
port = int(sys.argv[1])
res = []
def one(i):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=20)
        s.sendmail("s@example.org", ["bob@example.test"],
                   "Subject: many %d\r\n\r\nbody %d\r\n" % (i, i))
        s.quit()
        res.append(i)
    except Exception as e:
        print("client %d: %r" % (i, e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
[t.start() for t in ts]
[t.join(30) for t in ts]
print("sent", len(res))
EOF
grep -q '^sent 20$' "$TESTTMP/many.out"
ok $? "20 concurrent smtplib clients all got 250"
n=$(ls "$inst2/mail/example.test/bob/new" 2>/dev/null | wc -l)
[ "$n" -eq 20 ]
ok $? "20 messages in bob's new/ (saw $n)"
subjects=$(cat "$inst2"/mail/example.test/bob/new/* | grep -c '^Subject: many ')
[ "$subjects" -eq 20 ]
ok $? "each stored whole (20 Subject lines)"
pids=$(grep 'event=connect' "$log" | sed -E 's/^smtp-session\[([0-9]+)\].*/\1/' | sort -u | wc -l)
[ "$pids" -ge 21 ]
ok $? "one process per connection (distinct pids in the connect lines: $pids)"

# 2b. the listener keeps the maps open for its children, and a child
#     takes such a mapping only while the file is the same and readable
#     to it: a rebuilt aliases map counts at once; a map the mail user may
#     not read fails closed as it would per connection
sleep 1.1       # the listener looks at its maps at most once a second
printf 'fresh@example.test: bob@example.test\n' >>"$inst2/aliases"
"$BUILDDIR/tools/postern-map" -q -C "$inst2" aliases
[ "$(id -u)" -eq 0 ] && chown postern:postern "$inst2/aliases.cdb"
"$PY" - "$port2" >"$TESTTMP/fresh.out" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.sendmail("s@example.org", ["fresh@example.test"], "Subject: fresh alias\r\n\r\nx\r\n")
s.quit()
print("sent")
EOF
grep -q '^sent' "$TESTTMP/fresh.out" && grep -l '^Subject: fresh alias' "$inst2"/mail/example.test/bob/new/* >/dev/null 2>&1
ok $? "an alias added and compiled while the listener runs works at the next connection"
if [ "$(id -u)" -eq 0 ]; then
	sleep 1.1
	chown root:root "$inst2/domains.cdb"
	chmod 600 "$inst2/domains.cdb"
	"$PY" - "$port2" >"$TESTTMP/unread.out" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("x")
s.mail("s@example.org")
print("rcpt", s.rcpt("bob@example.test")[0])
s.quit()
EOF
	grep -q '^rcpt 4' "$TESTTMP/unread.out"
	ok $? "a domains.cdb the mail user cannot read: RCPT gets a 4xx, not the listener's copy ($(tr '\n' ' ' <"$TESTTMP/unread.out"))"
	chown postern:postern "$inst2/domains.cdb"
	chmod 644 "$inst2/domains.cdb"
else
	skip "unreadable map fails closed" "needs root"
fi

# A small client: open N connections, print each first line; then act.
probe() {       # probe PORT N [hold-seconds]: print banners of N connections held open
	"$PY" - "$@" <<'EOF'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
hold = float(sys.argv[3]) if len(sys.argv) > 3 else 0
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        line = s.makefile("rb").readline().decode().strip()
    except socket.timeout:
        line = "(no banner in 3 s)"
    print(line)
    socks.append(s)
time.sleep(hold)
EOF
}

# 3. max_sessions_per_ip = 2: the third connection from 127.0.0.1 is refused
probe "$port" 3 >"$TESTTMP/perip.out" 2>&1
sed -n 1p "$TESTTMP/perip.out" | grep -q '^220 ' && sed -n 2p "$TESTTMP/perip.out" | grep -q '^220 '
ok $? "two connections from one address get banners"
sed -n 3p "$TESTTMP/perip.out" | grep -q '^421 4.7.0 .*Too many connections from your address'
ok $? "the third gets 421 4.7.0 (max_sessions_per_ip = 2)"
grep -q 'event=busy ip=127.0.0.1 max_sessions_per_ip=2' "$log"
ok $? "the refusal is logged"
out=$(probe "$port" 1)
case $out in 220*) r=0 ;; *) r=1 ;; esac
ok $r "once they have gone, the address is served again"

# The children take the configuration the listener read while
# postern.conf is the same file; a changed one is read by the next
# session, with no SIGHUP: edited in place, replaced, put back.
b1=$(probe "$port" 1)
printf 'banner = edited in place\n' >>"$inst/postern.conf"
b2=$(probe "$port" 1)
sed -i 's/^banner = edited in place$/banner = replaced file/' "$inst/postern.conf"
b3=$(probe "$port" 1)
sed -i '/^banner = replaced file$/d' "$inst/postern.conf"
b4=$(probe "$port" 1)
[ "$b1" = "220 mx.example.test ESMTP postern" ] && [ "$b2" = "220 mx.example.test ESMTP edited in place" ] &&
	[ "$b3" = "220 mx.example.test ESMTP replaced file" ] && [ "$b4" = "$b1" ]
ok $? "a changed postern.conf reaches the next session without SIGHUP ($b1 | $b2 | $b3 | $b4)"

# A client that keeps max_sessions_per_ip sessions busy, each one QUIT
# and reconnecting at once (after the server closed), is never refused:
# sessions that have ended count no more, even before their SIGCHLD is
# handled.  Two at a time, 40 sessions each.
"$PY" - "$port" >"$TESTTMP/churn.out" 2>&1 <<'EOF'
import socket, sys, threading
port = int(sys.argv[1])
bad = []
def worker():
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        f = s.makefile("rb")
        banner = f.readline().decode().strip()
        if not banner.startswith("220 "):
            bad.append(banner)
            s.close()
            continue
        s.sendall(b"QUIT\r\n")
        f.readline()
        f.read()  # until the server closes
        s.close()
ts = [threading.Thread(target=worker) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join(60)
print("refused", len(bad), bad[:1])
EOF
grep -q '^refused 0 ' "$TESTTMP/churn.out"
ok $? "2 sessions at a time from one address, reconnecting at once: never refused (max 2; $(cat "$TESTTMP/churn.out"))"

# 4. SIGHUP re-reads the limits: max_sessions = 1, the second client waits
sed -i -E '/^max_sessions/d' "$inst/postern.conf"
printf 'max_sessions = 1\nmax_sessions_per_ip = 0\n' >>"$inst/postern.conf"
kill -HUP "$pid1"
for _ in $(seq 50); do
	grep -q 'event=reload max_sessions=1 max_sessions_per_ip=0' "$log" && break
	sleep 0.1
done
grep -q 'event=reload max_sessions=1 max_sessions_per_ip=0' "$log"
ok $? "SIGHUP: the listener re-reads max_sessions and max_sessions_per_ip"
"$PY" - "$port" >"$TESTTMP/max.out" 2>&1 <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port), timeout=5)
fa = a.makefile("rb")
print("first:", fa.readline().decode().strip())
b = socket.create_connection(("127.0.0.1", port), timeout=5)
b.settimeout(1.0)
try:
    got = b.recv(100).decode().strip()
except socket.timeout:
    got = "(waiting)"
print("second while first is open:", got)
a.sendall(b"QUIT\r\n")
print("first quit:", fa.readline().decode().strip())
a.close()
b.settimeout(5)
print("second after first left:", b.makefile("rb").readline().decode().strip())
EOF
grep -q '^first: 220 ' "$TESTTMP/max.out"
ok $? "max_sessions = 1: the first client is served"
grep -q '^second while first is open: (waiting)' "$TESTTMP/max.out"
ok $? "the second waits in the backlog, no banner, no refusal"
grep -q '^second after first left: 220 ' "$TESTTMP/max.out"
ok $? "it gets its banner once the first has quit"
grep -q 'event=listen-full sessions=1' "$log"
ok $? "reaching max_sessions is logged"
sed -i -E '/^max_sessions/d' "$inst/postern.conf"
printf 'max_sessions = 5\nmax_sessions_per_ip = 0\n' >>"$inst/postern.conf"
kill -HUP "$pid1"
sleep 0.3

# 5. SIGTERM: no new connections, a running session finishes
"$PY" - "$port" "$pid1" >"$TESTTMP/term.out" 2>&1 <<'EOF'
import os, signal, smtplib, socket, sys, time
port, lpid = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("t")
os.kill(lpid, signal.SIGTERM)
refused = False
for _ in range(50):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=1)
        c.close()
        time.sleep(0.1)
    except OSError:
        refused = True
        break
print("new connections refused:", refused)
s.sendmail("s@example.org", ["alice@example.test"], "Subject: after term\r\n\r\nx\r\n")
print("running session:", s.quit()[0])
EOF
grep -q '^new connections refused: True' "$TESTTMP/term.out"
ok $? "SIGTERM: the listening socket is closed"
grep -q '^running session: 221' "$TESTTMP/term.out"
ok $? "the session already running delivers and quits"
grep -l '^Subject: after term' "$inst"/mail/example.test/alice/new/* >/dev/null 2>&1
ok $? "its message is stored"
for _ in $(seq 50); do kill -0 "$pid1" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pid1" 2>/dev/null
ok $? "the listener exits once its sessions have ended"
grep -q 'event=listen-stop' "$log"
ok $? "and logs that it stopped"

# 6. pop3-session as a listener, with its per-address refusal
pinst=$TESTTMP/listen-pop
make_instance "$pinst" "auth_plaintext = yes" "max_sessions_per_ip = 1"
"$BUILDDIR/tools/postern-user" -C "$pinst" add carol@example.test --password carol-secret >/dev/null 2>&1 ||
	"$BUILDDIR/tools/postern-user" -C "$pinst" add carol@example.test carol-secret >/dev/null 2>&1
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$pinst"
pport=$(free_port)
listen "$pport" -- "$POP3" -C "$pinst"
wait_port "$pport"
"$PY" - "$pport" >"$TESTTMP/pop.out" 2>&1 <<'EOF'
import poplib, socket, sys
port = int(sys.argv[1])
p = poplib.POP3("127.0.0.1", port, timeout=5)
print("banner:", p.getwelcome().decode())
c = socket.create_connection(("127.0.0.1", port), timeout=5)
print("second:", c.makefile("rb").readline().decode().strip())
c.close()
p.quit()
EOF
grep -q '^banner: +OK' "$TESTTMP/pop.out"
ok $? "pop3-session listener: poplib gets +OK"
grep -q '^second: -ERR \[SYS/TEMP\] too many connections from your address' "$TESTTMP/pop.out"
ok $? "pop3-session: max_sessions_per_ip = 1 refuses the second with -ERR [SYS/TEMP]"

# relro_moved PID: the listener's TLS module's relocated read-only data
# is a memfd mapping (shared; private before Linux 6.7), so that forking
# does not copy its page entries (relro.h), and nothing said otherwise
relro_moved() {
	grep 'memfd:postern-relro' "/proc/$1/maps" | grep -qE ' r--[sp] ' &&
		! grep -q 'read-only data stays private' "$log"
}

# 6b. pop3-session as a listener with STLS: the context prepared by the
#     listener, the TLS module's relocated data a memfd mapping there too
ptinst=$TESTTMP/listen-pop-tls
make_instance "$ptinst" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem"
make_tls "$ptinst"
mkdir -p "$ptinst/mail/example.test/alice/new" "$ptinst/mail/example.test/alice/cur" \
	"$ptinst/mail/example.test/alice/tmp"
printf 'Subject: one\n\nfirst message\n' >"$ptinst/mail/example.test/alice/new/1000000000.1.host"
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$ptinst" && chown root:root "$ptinst/key.pem"
ptport=$(free_port)
listen "$ptport" -- "$POP3" -C "$ptinst"
LPID_PTLS=$LPID
wait_port "$ptport"
"$PY" - "$ptport" >"$TESTTMP/poptls.out" 2>&1 <<'EOF'
import poplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for i in range(3):
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.stls(context=ctx)
    p.user("alice@example.test")
    p.pass_("alice-secret")
    print("stat", p.stat(), p.sock.version())
    p.quit()
EOF
[ "$(grep -c '^stat (1, [0-9]*) TLSv1.3$' "$TESTTMP/poptls.out")" -eq 3 ]
ok $? "pop3-session listener: 3 poplib sessions over STLS (TLS 1.3) log in ($(head -c 60 "$TESTTMP/poptls.out"))"
relro_moved "$LPID_PTLS"
ok $? "pop3-session listener: the TLS module's relocated data is a memfd mapping"

# 7. two sockets in one listener
pa=$(free_port)
pb=$(free_port)
while [ "$pb" = "$pa" ]; do pb=$(free_port); done
listen "$pa" "$pb" -- "$SMTP" -C "$inst2"
wait_port "$pa"
wait_port "$pb"
a=$(probe "$pa" 1)
b=$(probe "$pb" 1)
case "$a/$b" in 220*/220*) r=0 ;; *) r=1 ;; esac
ok $r "one listener serves two sockets"
grep -q 'event=listen sockets=2' "$log"
ok $? "it logs sockets=2"

# 8. Accept=yes also sets LISTEN_FDS=1, with the connection as fd 3: that
#    is per connection, not a listener
pc=$(free_port)
systemd-socket-activate -a -l "127.0.0.1:$pc" sh -c "exec \"$SMTP\" -C \"$inst2\" <&3 >&3" >>"$log" 2>&1 &
PIDS+=("$!")
wait_port "$pc"
out=$(probe "$pc" 1)
case $out in 220*) r=0 ;; *) r=1 ;; esac
ok $r "Accept=yes (connected fd 3, LISTEN_FDS=1): served per connection"

# 8b. TLS through a listener: the parent loaded the TLS module, set up
#     OpenSSL and parsed the certificate and key once; each child
#     handshakes on that context
tinst=$TESTTMP/listen-tls
make_instance "$tinst" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" \
	"tls_ticket_key = tickets" "max_sessions_per_ip = 0"
make_tls "$tinst"
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$tinst" && chown root:root "$tinst/key.pem" "$tinst/tickets"
pt=$(free_port)
listen "$pt" -- "$SMTP" -C "$tinst"
LPID_TLS=$LPID
wait_port "$pt"
"$PY" - "$pt" >"$TESTTMP/ltls.out" 2>&1 <<'EOF'
import smtplib, ssl, sys, threading
port = int(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ok = []
def one(i):
    s = smtplib.SMTP("127.0.0.1", port, timeout=20)
    s.starttls(context=ctx)
    s.sendmail("s@example.org", ["bob@example.test"], "Subject: tls %d\r\n\r\nx\r\n" % i)
    s.quit()
    ok.append(i)
ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
[t.start() for t in ts]
[t.join(30) for t in ts]
print("sent", len(ok))
EOF
grep -q '^sent 8$' "$TESTTMP/ltls.out"
ok $? "STARTTLS through a listener: 8 concurrent smtplib clients delivered"
[ "$(grep -c 'event=tls .*version=TLSv1.3' "$log")" -ge 8 ]
ok $? "each child did its own TLS 1.3 handshake"
relro_moved "$LPID_TLS"
ok $? "the listener shares the TLS module's relocated data read-only ($(grep -c 'memfd:postern-relro' "/proc/$LPID_TLS/maps") mapping)"
# The listener built the context (certificate and key parsed) once and
# the children share it: a ticket sealed by one child opens in another,
# and a renewed certificate is served within about a second.
cat >"$TESTTMP/tlsinfo.py" <<'EOF'
import hashlib, socket, ssl, sys
port = int(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def session(sess=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO c\r\n")
    while f.readline()[3:4] == b"-":
        pass
    s.sendall(b"STARTTLS\r\n")
    f.readline()
    t = ctx.wrap_socket(s, session=sess)
    t.sendall(b"NOOP\r\n")
    t.recv(100)   # TLS 1.3: the ticket comes before the reply
    out = (t.session, t.session_reused, hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest())
    t.sendall(b"QUIT\r\n")
    t.recv(100)
    t.close()
    return out
sess, r1, h1 = session()
_, r2, h2 = session(sess)
print("resumed", r1, r2, "cert", h1)
EOF
"$PY" "$TESTTMP/tlsinfo.py" "$pt" >"$TESTTMP/lres.out" 2>&1
old_fp=$(openssl x509 -in "$tinst/cert.pem" -outform DER | sha256sum | cut -d' ' -f1)
grep -q "^resumed False True cert $old_fp\$" "$TESTTMP/lres.out"
ok $? "a ticket sealed by one child resumes in another ($(cut -c1-40 "$TESTTMP/lres.out"))"
# renewal: new key and certificate moved into place, as certbot does
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=renewed.example.test -days 2 -keyout "$tinst/key.new" -out "$tinst/cert.new" >/dev/null 2>&1
[ "$(id -u)" -eq 0 ] && chown root:root "$tinst/key.new"
new_fp=$(openssl x509 -in "$tinst/cert.new" -outform DER | sha256sum | cut -d' ' -f1)
mv "$tinst/key.new" "$tinst/key.pem"
mv "$tinst/cert.new" "$tinst/cert.pem"
got=
for _ in $(seq 30); do
	sleep 0.2
	"$PY" "$TESTTMP/tlsinfo.py" "$pt" >"$TESTTMP/lres2.out" 2>&1
	grep -q "cert $new_fp\$" "$TESTTMP/lres2.out" && { got=1; break; }
done
[ -n "$got" ]
ok $? "a renewed certificate and key are served without a restart ($(cut -c1-40 "$TESTTMP/lres2.out"))"
! grep -q 'TLS context not prepared' "$log"
ok $? "the listener prepared the TLS context without a warning"

# a key that does not match the certificate: the listener says so once,
# not at every look; when the right key is back, TLS works again
cp "$tinst/key.pem" "$TESTTMP/key.good"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tinst/key.bad" 2>/dev/null
mv "$tinst/key.bad" "$tinst/key.pem"
for _ in $(seq 12); do
	sleep 0.25
	probe "$pt" 1 >/dev/null 2>&1
done
n=$(grep -c 'TLS context not prepared' "$log")
[ "$n" -eq 1 ]
ok $? "a mismatched key: one warning in 3 s of connections, not one a second ($n)"
# the session cannot build a context either: it says so before any promise
"$PY" - "$pt" >"$TESTTMP/lmis.out" 2>&1 <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rwb")
def reply():
    while True:
        l = f.readline()
        if len(l) < 4 or l[3:4] != b"-":
            return l[:3].decode()
def cmd(c):
    f.write(c.encode() + b"\r\n"); f.flush()
    return reply()
reply()
print(cmd("EHLO client.example.org"), cmd("STARTTLS"), cmd("NOOP"), cmd("QUIT"))
PYEOF
[ "$(cat "$TESTTMP/lmis.out")" = "250 454 250 221" ]
ok $? "a mismatched key: STARTTLS 454, the session goes on in clear ($(cat "$TESTTMP/lmis.out"))"
cp "$TESTTMP/key.good" "$tinst/key.pem.new"
mv "$tinst/key.pem.new" "$tinst/key.pem"
got=
for _ in $(seq 30); do
	sleep 0.2
	"$PY" "$TESTTMP/tlsinfo.py" "$pt" >"$TESTTMP/lres3.out" 2>&1 && grep -q "cert $new_fp\$" "$TESTTMP/lres3.out" && { got=1; break; }
done
[ -n "$got" ]
ok $? "the right key back: STARTTLS works again ($(cut -c1-40 "$TESTTMP/lres3.out"))"

# TLS turned off and SIGHUP: the listener frees the prepared context and
# wipes its keys, so no child forked from then on holds them.  Seen from
# outside: the ticket key bytes are in the listener's memory before, and
# nowhere in it after.
cat >"$TESTTMP/memfind.py" <<'EOF'
import sys
pid, needle = sys.argv[1], open(sys.argv[2], "rb").read()[:48]
found, chunk = 0, 1 << 22
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        f = line.split()
        if "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]", "[vvar_vclock]", "[vsyscall]")):
            continue
        a, b = (int(x, 16) for x in f[0].split("-"))
        # a sanitizer build reserves terabytes of shadow: no key lives there
        if b - a > 1 << 30:
            continue
        tail = b""
        while a < b:
            try:
                mem.seek(a)
                d = tail + mem.read(min(chunk, b - a))
            except (OSError, ValueError):
                break
            found += d.count(needle)
            tail = d[-(len(needle) - 1):]
            a += chunk
print(found)
EOF
cat >"$TESTTMP/offers.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rwb")
f.readline()
f.write(b"EHLO c\r\n"); f.flush()
caps = []
while True:
    l = f.readline()
    caps.append(l[4:].strip().decode())
    if l[3:4] != b"-":
        break
f.write(b"QUIT\r\n"); f.flush(); f.readline()
print("STARTTLS" in caps)
EOF
if [ "$(id -u)" -eq 0 ]; then
	# the listener looks at the files again at most once a second, at an
	# accept: until then STARTTLS children build their own context
	before=0
	for _ in $(seq 30); do
		sleep 0.2
		probe "$pt" 1 >/dev/null 2>&1
		before=$("$PY" "$TESTTMP/memfind.py" "$LPID_TLS" "$tinst/tickets" 2>&1)
		[ "$before" != 0 ] && break
	done
	reloads=$(grep -c 'event=reload' "$log")
	sed -i 's/^tls = starttls$/tls = off/' "$tinst/postern.conf"
	kill -HUP "$LPID_TLS"
	after=
	for _ in $(seq 50); do
		sleep 0.1
		[ "$(grep -c 'event=reload' "$log")" -gt "$reloads" ] || continue
		after=$("$PY" "$TESTTMP/memfind.py" "$LPID_TLS" "$tinst/tickets" 2>&1)
		break
	done
	[ "$before" -ge 1 ] 2>/dev/null && [ "$after" = 0 ]
	ok $? "tls = off and SIGHUP: the ticket key, in the listener's memory before ($before), is wiped ($after)"
	offers=$("$PY" "$TESTTMP/offers.py" "$pt" 2>&1)
	[ "$offers" = False ]
	ok $? "tls = off after SIGHUP: STARTTLS no longer offered ($offers)"
else
	skip "reading the listener's memory needs root"
	skip "reading the listener's memory needs root"
fi



# 9. garbage LISTEN_FDS is refused, naming it
bash -c 'export LISTEN_PID=$$ LISTEN_FDS=x; exec "$0" -C "$1"' "$SMTP" "$inst2" </dev/null >"$TESTTMP/garbage.out" 2>&1
rc=$?
[ "$rc" -eq 64 ] && grep -q 'LISTEN_FDS=x: not a number of sockets' "$TESTTMP/garbage.out"
ok $? "LISTEN_FDS=x: exit 64 and a message naming it (rc $rc)"

# 10. xinetd "wait = yes": the listening socket on fd 0
if command -v xinetd >/dev/null || [ -x /usr/sbin/xinetd ]; then
	XINETD=$(command -v xinetd || echo /usr/sbin/xinetd)
	xp=$(free_port)
	xconf=$TESTTMP/xinetd-wait.conf
	cat >"$xconf" <<EOF
defaults
{
	log_type	= FILE $TESTTMP/xinetd-wait.log
}
service postern-listen
{
	id		= postern-listen
	type		= UNLISTED
	socket_type	= stream
	protocol	= tcp
	port		= $xp
	bind		= 127.0.0.1
	wait		= yes
	user		= root
	server		= $SMTP
	server_args	= -C $inst2
}
EOF
	"$XINETD" -dontfork -f "$xconf" -pidfile "$TESTTMP/xinetd-wait.pid" >/dev/null 2>&1 &
	xpid=$!
	PIDS+=("$xpid")
	wait_port "$xp"
	"$PY" - "$xp" >"$TESTTMP/xwait.out" 2>&1 <<'EOF'
import smtplib, sys
port = int(sys.argv[1])
for i in range(3):
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.sendmail("s@example.org", ["alice@example.test"], "Subject: xinetd wait %d\r\n\r\nx\r\n" % i)
    s.quit()
print("sent 3")
EOF
	grep -q '^sent 3' "$TESTTMP/xwait.out"
	ok $? "xinetd wait = yes: three messages through one listener"
	n=$(grep -l '^Subject: xinetd wait' "$inst2"/mail/example.test/alice/new/* 2>/dev/null | wc -l)
	[ "$n" -eq 3 ]
	ok $? "all three stored (saw $n)"
	# the listener xinetd started outlives xinetd: stop it by its PID
	lk=$(pgrep -P "$xpid" smtp-session || true)
	[ -n "$lk" ]
	ok $? "xinetd's wait = yes server is one long-lived listener"
	for k in $lk; do kill "$k"; done
	for _ in $(seq 50); do
		[ -z "$(pgrep -P "$xpid" smtp-session)" ] && break
		sleep 0.1
	done
else
	skip "xinetd wait = yes" "xinetd missing"
	skip "xinetd wait = yes: stored" "xinetd missing"
	skip "xinetd wait = yes: one listener" "xinetd missing"
fi

done_testing
