#!/usr/bin/env bash
# pop3-session over a real socket (systemd-socket-activate): mail in with
# smtp-session, out with python3 poplib byte for byte, fetchmail, mpop and
# curl; the lock, a delivery during a session, dropped connections,
# vanished messages, failed logins, flat memory.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null; then
	skip "pop3 over a socket" "systemd-socket-activate missing"
	done_testing
	exit
fi
inst=$TESTTMP/pop3-int
make_instance "$inst" "auth_plaintext = yes" "auth_fail_delay = 300ms" "max_auth_failures = 3" ||
	{ echo "1..0 # skip cannot build instance"; exit 1; }
sport=$(free_port)
serve "$sport" "$TESTTMP/pop3-smtp.log" "$BUILDDIR/smtp-session/smtp-session" -C "$inst"
ok $? "smtp-session listening on 127.0.0.1:$sport"
pport=$(free_port)
plog=$TESTTMP/pop3.log
serve "$pport" "$plog" "$BUILDDIR/pop3-session/pop3-session" -C "$inst"
ok $? "pop3-session listening on 127.0.0.1:$pport"
md=$inst/mail/example.test/alice
total() { find "$inst/mail/example.test/$1/new" "$inst/mail/example.test/$1/cur" -type f 2>/dev/null | wc -l; }

# 1. SMTP in, POP3 out: python3 poplib, byte for byte
out=$TESTTMP/pop3-py.out
SPORT=$sport PPORT=$pport "$PY" - >"$out" 2>&1 <<'PYEOF'
import os, poplib, smtplib, socket, time
sport, pport = int(os.environ["SPORT"]), int(os.environ["PPORT"])
def t(cond, desc):
    print(("ok - " if cond else "not ok - ") + desc, flush=True)

msg1 = (b"From: sender@example.org\r\nTo: alice@example.test\r\nSubject: poplib 1\r\n\r\n"
        b"first line\r\n.leading dot\r\n..two dots\r\n.\r\n\r\nlast line\r\n")
msg2 = (b"Subject: poplib 2\r\n\r\n" + b"".join(b"line %05d " % i + b"x" * 60 + b"\r\n" for i in range(2000)))
with smtplib.SMTP("127.0.0.1", sport, timeout=20) as s:
    s.sendmail("sender@example.org", ["alice@example.test"], msg1)
    s.sendmail("sender@example.org", ["alice@example.test"], msg2)
t(True, "two messages delivered over SMTP")

p = poplib.POP3("127.0.0.1", pport, timeout=20)
t(p.getwelcome() == b"+OK postern POP3 server ready", "greeting")
caps = p.capa()
t(all(k in caps for k in ("TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE",
                          "PIPELINING", "EXPIRE", "LOGIN-DELAY", "IMPLEMENTATION")),
  "CAPA lists every capability")
p.user("alice@example.test")
p.pass_("alice-secret")
n, size = p.stat()
t(n == 2, "two messages after login")
resp, listing, _ = p.list()
sizes = [int(l.split()[1]) for l in listing]
t(sum(sizes) == size, "LIST sizes add up to STAT")
uidls = [l.split()[1] for l in p.uidl()[1]]
t(len(set(uidls)) == 2 and all(1 <= len(u) <= 70 for u in uidls), "UIDLs unique, 1-70 chars")
good = True
for i, orig in enumerate((msg1, msg2), 1):
    resp, lines, octets = p.retr(i)
    got = b"\r\n".join(lines) + b"\r\n"
    good &= resp == b"+OK %d octets" % sizes[i - 1]
    good &= len(got) == sizes[i - 1]
    good &= got.startswith(b"Return-Path: <sender@example.org>\r\nReceived: from ")
    good &= got.endswith(orig)
    # only the trace headers come before the original
    head = got[:len(got) - len(orig)]
    good &= all(l.startswith((b"Return-Path:", b"Received:", b"\t", b" ")) for l in head.split(b"\r\n")[:-1])
t(good, "RETR gives trace headers + the original CRLF message, exact size")
resp, lines, _ = p.top(1, 2)
t(lines[-2:] == [b"first line", b".leading dot"] and lines[-3] == b"", "TOP 1 2 after the header")
p.quit()

p = poplib.POP3("127.0.0.1", pport, timeout=20)
p.user("alice@example.test"); p.pass_("alice-secret")
t([l.split()[1] for l in p.uidl()[1]] == uidls, "UIDLs stable across sessions (and new/ -> cur/)")
p.quit()

# two sessions on one mailbox: the second is told [IN-USE]
a = poplib.POP3("127.0.0.1", pport, timeout=20)
a.user("alice@example.test"); a.pass_("alice-secret")
b = poplib.POP3("127.0.0.1", pport, timeout=20)
b.user("alice@example.test")
try:
    b.pass_("alice-secret")
    t(False, "second session refused with [IN-USE]")
except poplib.error_proto as e:
    t(str(e).startswith("b'-ERR [IN-USE]"), "second session refused with [IN-USE]")
bob = poplib.POP3("127.0.0.1", pport, timeout=20)
bob.user("bob@example.test"); bob.pass_("bob-secret")
t(True, "another mailbox is not locked")
bob.quit()

# a delivery landing during a session shows at the next login
with smtplib.SMTP("127.0.0.1", sport, timeout=20) as s:
    s.sendmail("sender@example.org", ["alice@example.test"], b"Subject: during\r\n\r\nlate\r\n")
t(a.stat()[0] == 2, "a delivery during the session is not in the snapshot")
a.quit()
b.user("alice@example.test"); b.pass_("alice-secret")
t(b.stat()[0] == 3, "the lock is gone after QUIT; the new message is there")
b.quit()

# killed session: the kernel drops the lock with the process
c = socket.create_connection(("127.0.0.1", pport), timeout=20)
c.recv(100)
c.sendall(b"USER alice@example.test\r\nPASS alice-secret\r\nDELE 1\r\nDELE 2\r\n")
buf = b""
while buf.count(b"\r\n") < 4:
    buf += c.recv(1000)
c.close()
time.sleep(0.3)
p = poplib.POP3("127.0.0.1", pport, timeout=20)
p.user("alice@example.test"); p.pass_("alice-secret")
t(p.stat()[0] == 3, "a dropped connection deletes nothing and leaves no lock")
p.quit()
PYEOF
tap_lines "$out"

# 2. a vanished message (removed behind the session's back)
out=$TESTTMP/pop3-vanish.out
MD=$md PPORT=$pport "$PY" - >"$out" 2>&1 <<'PYEOF'
import os, poplib
def t(cond, desc):
    print(("ok - " if cond else "not ok - ") + desc, flush=True)
p = poplib.POP3("127.0.0.1", int(os.environ["PPORT"]), timeout=20)
p.user("alice@example.test"); p.pass_("alice-secret")
n = p.stat()[0]
first = sorted(os.listdir(os.path.join(os.environ["MD"], "cur")))[0]
os.unlink(os.path.join(os.environ["MD"], "cur", first))
try:
    p.retr(1)
    t(False, "RETR of a vanished message")
except poplib.error_proto as e:
    t(b"vanished" in e.args[0], "RETR of a vanished message: %r" % e.args[0])
t(p.noop().startswith(b"+OK"), "the session goes on")
p.dele(1)
r = p.quit()
t(r.startswith(b"+OK"), "QUIT after deleting a vanished message: %r" % r)
PYEOF
tap_lines "$out"
ok $([ "$(total alice)" -eq 2 ]; echo $?) "two messages left"

# 3. curl pop3://
if command -v curl >/dev/null; then
	curl -s --max-time 20 -u alice@example.test:alice-secret "pop3://127.0.0.1:$pport/" >"$TESTTMP/curl.list"
	ok $? "curl lists the mailbox"
	ok $([ "$(wc -l <"$TESTTMP/curl.list")" -eq 2 ]; echo $?) "curl LIST: two lines"
	curl -s --max-time 20 -u alice@example.test:alice-secret "pop3://127.0.0.1:$pport/2" >"$TESTTMP/curl.msg"
	grep -q '^Subject: during' "$TESTTMP/curl.msg"
	ok $? "curl RETR 2 is the message delivered mid-session"
	curl -s --max-time 20 -u alice@example.test:wrong "pop3://127.0.0.1:$pport/" >/dev/null
	ok $([ $? -ne 0 ]; echo $?) "curl with a wrong password fails"
else
	skip "curl pop3://" "curl missing"
fi

# 4. mpop keeps, then fetchmail fetches and deletes
fetched=$TESTTMP/fetched
mkdir -p "$fetched"/{new,cur,tmp}
if command -v mpop >/dev/null; then
	mpop --host=127.0.0.1 --port="$pport" --tls=off --auth=user --user=alice@example.test \
		--passwordeval='echo alice-secret' --keep=on --only-new=off \
		--uidls-file="$TESTTMP/mpop.uidls" --delivery=maildir,"$fetched" >"$TESTTMP/mpop.out" 2>&1
	ok $? "mpop retrieves (keep)"
	[ "$(ls "$fetched/new" | wc -l)" -eq 2 ] && [ "$(total alice)" -eq 2 ]
	ok $? "mpop delivered two messages and the server kept them"
	grep -l '^Subject: during' "$fetched"/new/* >/dev/null
	ok $? "mpop's copy has the message"
else
	skip "mpop" "mpop missing"
fi
if command -v fetchmail >/dev/null; then
	rc=$TESTTMP/fetchmailrc
	printf 'poll 127.0.0.1 port %s protocol pop3 user "alice@example.test" password "alice-secret" sslproto "" mda "cat >>%s"\n' \
		"$pport" "$TESTTMP/fetchmail.mbox" >"$rc"
	chmod 600 "$rc"
	HOME=$TESTTMP timeout 60 fetchmail --nosyslog -f "$rc" -a --nodetach -d0 >"$TESTTMP/fetchmail.out" 2>&1
	ok $? "fetchmail retrieves all and deletes"
	[ "$(grep -c '^Subject: ' "$TESTTMP/fetchmail.mbox")" -eq 2 ] && [ "$(total alice)" -eq 0 ]
	ok $? "fetchmail got two messages, the mailbox is empty"
	grep '' "$TESTTMP/fetchmail.out" | head -n 5 | sed 's/^/# /'
else
	skip "fetchmail" "fetchmail missing"
fi

# 5. failed logins: delayed, same reply, the limit closes the connection
out=$TESTTMP/pop3-auth.out
PPORT=$pport "$PY" - >"$out" 2>&1 <<'PYEOF'
import os, socket, time
def t(cond, desc):
    print(("ok - " if cond else "not ok - ") + desc, flush=True)
s = socket.create_connection(("127.0.0.1", int(os.environ["PPORT"])), timeout=20)
f = s.makefile("rb")
f.readline()
replies, times = [], []
for user in (b"alice@example.test", b"nobody@example.test", b"alice@example.test"):
    s.sendall(b"USER " + user + b"\r\n")
    f.readline()
    t0 = time.monotonic()
    s.sendall(b"PASS not-the-password\r\n")
    replies.append(f.readline())
    times.append(time.monotonic() - t0)
t(replies[0] == replies[1] == b"-ERR [AUTH] invalid user name or password\r\n",
  "same reply for a wrong password and an unknown user")
t(all(x >= 0.29 for x in times), "every failure is delayed by auth_fail_delay: %s" % ["%.2f" % x for x in times])
t(abs(times[0] - times[1]) < 0.25, "unknown user costs about the same as a known one")
t(replies[2].startswith(b"-ERR [AUTH] too many"), "third failure: %r" % replies[2])
t(f.readline() == b"", "and the connection is closed")
PYEOF
tap_lines "$out"

grep -q 'event=login user=alice@example.test ip=127.0.0.1' "$plog"
ok $? "login logged with user and ip"
grep -Eq 'event=logout user=alice@example.test ip=127.0.0.1 reason=quit retrieved=[0-9]+ deleted=[0-9]+ bytes=[0-9]+' "$plog"
ok $? "logout logged with retrieved, deleted, bytes"
grep -q 'event=auth-fail user=nobody@example.test' "$plog"
ok $? "failed login logged"
! grep -q 'alice-secret\|not-the-password' "$plog" "$TESTTMP/pop3-smtp.log"
ok $? "no password in the logs"
stop_all

# 6. memory stays flat: a 5 MB command line, a 30 MB message
if [ -x /usr/bin/time ]; then
	big=$TESTTMP/pop3-mem
	make_instance "$big" "auth_plaintext = yes" || exit 1
	bmd=$big/mail/example.test/bob
	mkdir -p "$bmd"/{new,cur,tmp}
	"$PY" -c "
import sys
line = b'z' * 78 + b'\n'
with open(sys.argv[1] + '/new/1700000000.big,S=%d,W=%d' % (len(line) * 400000, len(line) * 400000 + 400000), 'wb') as f:
    f.write(b'Subject: big\n\n' + line * 400000)
with open(sys.argv[1] + '/new/1700000001.small,S=14,W=16', 'wb') as f:
    f.write(b'Subject: s\n\nx\n')
" "$bmd"
	[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$bmd"
	rss() {
		/usr/bin/time -f '%M' -o "$TESTTMP/rss" "$BUILDDIR/pop3-session/pop3-session" -C "$big" \
			>"$TESTTMP/pmem.out" 2>/dev/null
		tail -n 1 "$TESTTMP/rss"
	}
	login='USER bob@example.test\r\nPASS bob-secret\r\n'
	r0=$(printf "${login}RETR 2\r\nQUIT\r\n" | rss)
	r1=$(printf "${login}RETR 1\r\nQUIT\r\n" | rss)
	bytes=$(wc -c <"$TESTTMP/pmem.out")
	ok $([ "$bytes" -gt 32000000 ]; echo $?) "30 MB message sent whole ($bytes bytes)"
	ok $([ $((r1 - r0)) -lt 1024 ]; echo $?) "RETR memory does not grow with message size (${r0} -> ${r1} KiB)"
	{ printf 'NOOP\r\n'; head -c 5000000 /dev/zero | tr '\0' 'A'; printf '\r\nNOOP\r\nQUIT\r\n'; } >"$TESTTMP/longline"
	r2=$(rss <"$TESTTMP/longline")
	grep -q '^-ERR line too long' "$TESTTMP/pmem.out"
	ok $? "a 5 MB line gets -ERR line too long"
	ok $([ $((r2 - r0)) -lt 1024 ]; echo $?) "and memory stays flat (${r0} -> ${r2} KiB)"
else
	skip "memory" "/usr/bin/time missing"
fi

done_testing
