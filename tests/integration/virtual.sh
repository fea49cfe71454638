#!/usr/bin/env bash
# Two virtual servers side by side, as postern(7) sets them up: two
# instance directories with their own domains, users, host names and mail
# stores, each under systemd-socket-activate on its own loopback address
# (127.0.0.1 and 127.0.0.2).  Mail for a domain is accepted only by its
# own server.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null; then
	skip "virtual servers" "systemd-socket-activate missing"
	done_testing
	exit
fi
# free_port2: a free port on 127.0.0.2
free_port2() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0)); print(s.getsockname()[1])'
}
# listen ADDR PORT LOG PROGRAM ARGS...
listen() {
	local addr=$1 port=$2 log=$3 i
	shift 3
	systemd-socket-activate --inetd -a -l "$addr:$port" "$@" >>"$log" 2>&1 &
	PIDS+=("$!")
	for i in $(seq 1 100); do
		"$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('$addr', $port)))" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

a=$TESTTMP/vs-a
b=$TESTTMP/vs-b
make_instance "$a" "hostname = mx.example.test" "banner = server A" || exit 1
make_instance "$b" "hostname = mx.beta.test" "banner = server B" \
	"postmaster = postmaster@beta.test" || exit 1
# B: its own domains (a primary and an alias domain), aliases and users
printf 'beta.test\nbeta.net beta.test\n' >"$b/domains"
printf 'postmaster@beta.test: carol@beta.test\n@beta.test: carol@beta.test\n' >"$b/aliases"
printf 'carol@beta.test:%s\n' "$(openssl passwd -6 carol-secret)" >"$b/users"
chmod 600 "$b/users"
"$BUILDDIR/tools/postern-map" -q -C "$b"
ok $? "instance B compiles its own maps"
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$b"

sa=$(free_port)
sb=$(free_port2)
pb=$(free_port2)
while [ "$pb" = "$sb" ]; do pb=$(free_port2); done
log=$TESTTMP/vs.log
listen 127.0.0.1 "$sa" "$log" "$BUILDDIR/smtp-session/smtp-session" -C "$a"
ok $? "server A: smtp-session -C vs-a on 127.0.0.1:$sa"
listen 127.0.0.2 "$sb" "$log" "$BUILDDIR/smtp-session/smtp-session" -C "$b"
ok $? "server B: smtp-session -C vs-b on 127.0.0.2:$sb"
listen 127.0.0.2 "$pb" "$log" "$BUILDDIR/pop3-session/pop3-session" -C "$b"
ok $? "server B: pop3-session -C vs-b on 127.0.0.2:$pb"

"$PY" - "$sa" "$sb" "$pb" "$a" "$b" >"$TESTTMP/vs.out" 2>&1 <<'PYEOF'
import glob, poplib, smtplib, sys
sa, sb, pb = (int(x) for x in sys.argv[1:4])
a, b = sys.argv[4:6]
def ok(c, d):
    print(("ok" if c else "not ok"), "-", d)
def send(host, port, rcpt, subject):
    s = smtplib.SMTP(host, port, timeout=20)
    banner = s.ehlo_resp
    code, ehlo = s.ehlo("client.example.org")
    try:
        refused = s.sendmail("sender@example.org", [rcpt],
                             "Subject: %s\r\n\r\n%s\r\n" % (subject, subject))
        res = 250 if not refused else 550
    except smtplib.SMTPRecipientsRefused as e:
        res = list(e.recipients.values())[0][0]
    s.quit()
    return ehlo, res
def banner(host, port):
    s = smtplib.SMTP(timeout=20)
    code, msg = s.connect(host, port)
    s.quit()
    return msg
ba, bb = banner("127.0.0.1", sa), banner("127.0.0.2", sb)
ok(ba.startswith(b"mx.example.test") and b"server A" in ba, "A's banner: mx.example.test, server A")
ok(bb.startswith(b"mx.beta.test") and b"server B" in bb, "B's banner: mx.beta.test, server B")
ea, r = send("127.0.0.1", sa, "alice@example.test", "to alice via A")
ok(ea.startswith(b"mx.example.test"), "A's EHLO names mx.example.test")
ok(r == 250, "A accepts alice@example.test")
eb, r = send("127.0.0.2", sb, "carol@beta.test", "to carol via B")
ok(eb.startswith(b"mx.beta.test"), "B's EHLO names mx.beta.test")
ok(r == 250, "B accepts carol@beta.test")
_, r = send("127.0.0.2", sb, "alice@example.test", "to alice via B")
ok(r >= 500, "B refuses alice@example.test (not its domain): %d" % r)
_, r = send("127.0.0.1", sa, "carol@beta.test", "to carol via A")
ok(r >= 500, "A refuses carol@beta.test (not its domain): %d" % r)
_, r = send("127.0.0.2", sb, "carol@beta.net", "alias domain")
ok(r == 250, "B accepts carol@beta.net (alias domain of beta.test)")
_, r = send("127.0.0.2", sb, "anyone@beta.test", "catch-all")
ok(r == 250, "B's catch-all takes anyone@beta.test")
ok(sorted(glob.glob(a + "/mail/*")) == [a + "/mail/example.test"], "A's store holds example.test only")
ok(sorted(glob.glob(b + "/mail/*")) == [b + "/mail/beta.test"], "B's store holds beta.test only")
ok(len(glob.glob(b + "/mail/beta.test/carol/new/*")) == 3, "carol has 3 messages (direct, alias domain, catch-all)")
ok(len(glob.glob(a + "/mail/example.test/alice/new/*")) == 1, "alice has 1 message")
p = poplib.POP3("127.0.0.2", pb, timeout=20)
p.user("carol@beta.test")
p.pass_("carol-secret")
ok(p.stat()[0] == 3, "carol reads her 3 messages from B's POP3")
p.quit()
p = poplib.POP3("127.0.0.2", pb, timeout=20)
p.user("alice@example.test")
try:
    p.pass_("alice-secret")
    ok(False, "alice cannot log in to B")
except poplib.error_proto:
    ok(True, "alice cannot log in to B")
PYEOF
tap_lines "$TESTTMP/vs.out"

stop_all
done_testing
