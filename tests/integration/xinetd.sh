#!/usr/bin/env bash
# smtp-session and pop3-session under a real xinetd in the foreground, on
# free 127.0.0.1 ports, configured like etc/xinetd (user, env
# CREDENTIALS_DIRECTORY, instances, per_source): SMTP in with swaks
# (plain and STARTTLS), POP3 out with poplib, per_source enforced.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v xinetd >/dev/null && [ ! -x /usr/sbin/xinetd ]; then
	skip "xinetd" "xinetd missing (scripts/ensure-deps test installs it)"
	done_testing
	exit
fi
XINETD=$(command -v xinetd || echo /usr/sbin/xinetd)

inst=$TESTTMP/xinetd-inst
make_instance "$inst" "tls = starttls" "tls_cert = cert.pem" \
	'tls_key = $CREDENTIALS_DIRECTORY/tls.key' || { echo "1..0 # skip cannot build instance"; exit 1; }
make_tls "$inst" || { echo "1..0 # skip openssl missing"; exit 1; }
mv "$inst/key.pem" "$inst/tls.key"
# as in etc/xinetd: the sessions run as postern and read the key through
# the group
user_lines=
if [ "$(id -u)" -eq 0 ]; then
	chown root:postern "$inst/tls.key"
	chmod 640 "$inst/tls.key"
	user_lines=$'\tuser\t\t= postern\n\tgroup\t\t= postern'
fi

x=$TESTTMP/xinetd
rm -rf "$x"
mkdir -p "$x"
sport=$(free_port)
pport=$(free_port)
while [ "$pport" = "$sport" ]; do pport=$(free_port); done
service() {     # service NAME PORT PROGRAM
	cat <<EOF
service $1
{
	id		= $1
	type		= UNLISTED
	socket_type	= stream
	protocol	= tcp
	port		= $2
	bind		= 127.0.0.1
	wait		= no
$user_lines
	server		= $3
	server_args	= -C $inst
	env		= CREDENTIALS_DIRECTORY=$inst
	instances	= 20
	per_source	= 2
}
EOF
}
{
	printf 'defaults\n{\n\tlog_type = FILE %s\n\tinstances = 50\n}\n' "$x/xinetd.log"
	service postern-test-smtp "$sport" "$BUILDDIR/smtp-session/smtp-session"
	service postern-test-pop3 "$pport" "$BUILDDIR/pop3-session/pop3-session"
} >"$x/xinetd.conf"

"$XINETD" -dontfork -f "$x/xinetd.conf" -pidfile "$x/xinetd.pid" >"$x/stdout" 2>&1 &
XPID=$!
PIDS+=("$XPID")
wait_port "$sport" && wait_port "$pport"
ok $? "xinetd listens on 127.0.0.1:$sport (SMTP) and :$pport (POP3)"
if ! kill -0 "$XPID" 2>/dev/null; then
	diag "$(cat "$x/stdout" "$x/xinetd.log" 2>/dev/null)"
	done_testing
	exit
fi

new() { ls "$inst/mail/example.test/$1/new" 2>/dev/null | wc -l; }

if command -v swaks >/dev/null; then
	swaks --server "127.0.0.1:$sport" --from sender@example.org --to alice@example.test \
		--header "Subject: via xinetd" --body "hello through xinetd" >"$x/swaks1" 2>&1
	ok $? "swaks delivers through xinetd"
	[ "$(new alice)" -eq 1 ]
	ok $? "alice has the message"
	grep -q '^<-  220 mx.example.test ESMTP' "$x/swaks1"
	ok $? "the banner came from smtp-session"
	swaks --tls --server "127.0.0.1:$sport" --from sender@example.org --to bob@example.test \
		--body "over STARTTLS" >"$x/swaks2" 2>&1
	ok $? "STARTTLS through xinetd (key read via CREDENTIALS_DIRECTORY)"
	[ "$(new bob)" -eq 1 ]
	ok $? "bob has the STARTTLS message"
	f=$(ls "$inst"/mail/example.test/bob/new/* 2>/dev/null | head -n 1)
	grep -q 'ESMTPS' "$f" 2>/dev/null
	ok $? "its Received: header says ESMTPS"
else
	skip "swaks through xinetd" "swaks missing"
fi
if [ "$(id -u)" -eq 0 ] && [ -n "${f:-}" ]; then
	[ "$(stat -c %U "$f")" = postern ]
	ok $? "the session ran as postern (owner of the stored file)"
fi

"$PY" - "$pport" >"$x/py.out" 2>&1 <<'PYEOF'
import poplib, ssl, sys
port = int(sys.argv[1])
def ok(c, d):
    print(("ok" if c else "not ok"), "-", d)
p = poplib.POP3("127.0.0.1", port, timeout=20)
ok(p.getwelcome().startswith(b"+OK"), "POP3 greeting through xinetd")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
p.stls(context=ctx)
p.user("alice@example.test")
p.pass_("alice-secret")
n, _ = p.stat()
ok(n == 1, "alice sees one message after STLS + login")
body = b"\n".join(p.retr(1)[1])
ok(b"hello through xinetd" in body, "RETR returns the message sent through xinetd")
p.quit()
PYEOF
tap_lines "$x/py.out"

# per_source = 2: a third connection from the same address is refused
"$PY" - "$sport" >"$x/ps.out" 2>&1 <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(2):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.recv(512)
    held.append(s)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    data = s.recv(512)
except OSError:
    data = b""
print(("ok" if not data.startswith(b"220") else "not ok"),
      "- per_source = 2: the third connection gets no banner")
for h in held:
    h.sendall(b"QUIT\r\n")
    h.close()
PYEOF
tap_lines "$x/ps.out"

kill "$XPID" 2>/dev/null
wait "$XPID" 2>/dev/null
PIDS=()
! kill -0 "$XPID" 2>/dev/null
ok $? "xinetd stopped by its PID"

done_testing
