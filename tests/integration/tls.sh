#!/usr/bin/env bash
# smtp-session with TLS under systemd-socket-activate: STARTTLS and
# implicit TLS with openssl s_client, swaks and python3 smtplib; the
# STARTTLS injection and downgrade checks; the Received header; session
# tickets across processes; failed handshakes, a silent client and a
# broken record in the middle of DATA.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null || ! command -v openssl >/dev/null; then
	skip "tls" "systemd-socket-activate or openssl missing"
	done_testing
	exit
fi
st=$TESTTMP/tls-st
im=$TESTTMP/tls-im
make_instance "$st" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" \
	"tls_ticket_key = tickets" "auth_plaintext = no" "auth_fail_delay = 100ms" || exit 1
make_instance "$im" "tls = implicit" "tls_cert = cert.pem" "tls_key = key.pem" \
	"tls_ticket_key = tickets" "auth_plaintext = no" "idle_timeout = 1s" || exit 1
make_tls "$st" && cp -p "$st/key.pem" "$st/cert.pem" "$st/tickets" "$im"/
ok $? "self-signed certificate and ticket key made"
pst=$(free_port)
serve "$pst" "$TESTTMP/tls-st.log" "$BUILDDIR/smtp-session/smtp-session" -C "$st"
ok $? "STARTTLS instance on 127.0.0.1:$pst"
pim=$(free_port)
serve "$pim" "$TESTTMP/tls-im.log" "$BUILDDIR/smtp-session/smtp-session" -C "$im"
ok $? "implicit TLS instance on 127.0.0.1:$pim"
new() { ls "$1/mail/example.test/$2/new" 2>/dev/null | wc -l; }

# 1. openssl s_client -starttls smtp
out=$(printf 'EHLO s.example.org\r\nQUIT\r\n' | timeout 10 openssl s_client -starttls smtp \
	-connect "127.0.0.1:$pst" -servername mx.example.test -ign_eof 2>&1)
grep -q 'Protocol *: TLSv1.3' <<<"$out"; ok $? "s_client -starttls smtp: TLS 1.3"
grep -q '250-AUTH PLAIN LOGIN' <<<"$out" && ! grep -q '250-STARTTLS' <<<"$out"
ok $? "after TLS: AUTH offered, STARTTLS no longer"
out=$(printf 'QUIT\r\n' | timeout 10 openssl s_client -tls1_2 -starttls smtp -connect "127.0.0.1:$pst" 2>&1)
grep -q 'Protocol *: TLSv1.2' <<<"$out" && grep -Eq 'Cipher *: ECDHE-.*(GCM|CHACHA)' <<<"$out"
ok $? "TLS 1.2 with an ECDHE AEAD cipher"

# 2. python smtplib: downgrade, starttls(), login(), sender rule, headers
"$PY" - "$pst" "$st" >"$TESTTMP/tls-py.out" 2>&1 <<'PYEOF'
import smtplib, ssl, sys, glob
port, inst = int(sys.argv[1]), sys.argv[2]
def ok(c, d): print(("ok" if c else "not ok"), "- py", d)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.ehlo("py.example.org")
ok(s.has_extn("starttls") and not s.has_extn("auth"), "before TLS: STARTTLS offered, AUTH not (no downgrade)")
code, msg = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1zZWNyZXQ=")
ok(code == 538, "AUTH in clear refused with 538 (%d)" % code)
s.starttls(context=ctx)
s.ehlo("py.example.org")
ok(s.has_extn("auth") and not s.has_extn("starttls"), "after TLS: AUTH offered, STARTTLS not")
ok("PLAIN" in s.esmtp_features.get("auth", "") and "LOGIN" in s.esmtp_features.get("auth", ""), "AUTH PLAIN LOGIN")
code, _ = s.docmd("STARTTLS")
ok(code == 503, "second STARTTLS refused with 503 (%d)" % code)
s.login("alice@example.test", "alice-secret")
ok(True, "login() as alice")
try:
    s.sendmail("bob@example.test", ["bob@example.test"], b"Subject: x\r\n\r\nx\r\n")
    ok(False, "sending as bob refused")
except smtplib.SMTPSenderRefused as e:
    ok(e.smtp_code == 553, "sending as bob refused with 553")
s.rset()
refused = s.sendmail("alice@example.test", ["bob@example.test"], b"Subject: over tls\r\n\r\nhello\r\n")
ok(refused == {}, "alice -> bob accepted over TLS")
refused = s.sendmail("alice@example.test", ["x@remote.test"], b"Subject: y\r\n\r\ny\r\n")
ok(refused == {}, "remote recipient of an authenticated user accepted for relay")
s.quit()
f = sorted(glob.glob(inst + "/mail/example.test/bob/new/*"))[-1]
data = open(f, "rb").read()
ok(b"with ESMTPSA id" in data, "Received: protocol ESMTPSA")
ok(b"\t(using TLSv1.3 with cipher TLS_" in data, "Received: TLS version and cipher")
# plain STARTTLS without AUTH: ESMTPS
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.starttls(context=ctx)
s.sendmail("someone@example.org", ["bob@example.test"], b"Subject: esmtps\r\n\r\nx\r\n")
s.quit()
f = sorted(glob.glob(inst + "/mail/example.test/bob/new/*"), key=lambda p: open(p, "rb").read().count(b"esmtps"))[-1]
ok(b"with ESMTPS id" in open(f, "rb").read(), "Received: protocol ESMTPS without AUTH")
PYEOF
ok $? "python smtplib STARTTLS scenario ran to the end"
tap_lines "$TESTTMP/tls-py.out"

# 3. STARTTLS injection: "STARTTLS\r\nNOOP\r\n" in one write; the NOOP
# must never be answered, before or after the handshake
"$PY" - "$pst" >"$TESTTMP/tls-inj.out" 2>&1 <<'PYEOF'
import socket, ssl, sys
port = int(sys.argv[1])
def ok(c, d): print(("ok" if c else "not ok"), "- injection:", d)
def lines(sock, n):
    buf = b""
    while buf.count(b"\r\n") < n:
        d = sock.recv(4096)
        if not d: break
        buf += d
    return buf
c = socket.create_connection(("127.0.0.1", port), timeout=10)
lines(c, 1)
c.sendall(b"EHLO inj\r\n")
b = b""
while not b.endswith(b"250 ENHANCEDSTATUSCODES\r\n"):
    b += c.recv(4096)
c.sendall(b"STARTTLS\r\nNOOP\r\n")
r = lines(c, 1)
ok(r == b"220 2.0.0 Ready to start TLS\r\n", "only the 220 before the handshake: %r" % r)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(c, server_hostname="mx.example.test")
t.sendall(b"EHLO inj\r\n")
b = b""
while not b.endswith(b"250 ENHANCEDSTATUSCODES\r\n"):
    d = t.recv(4096)
    if not d: break
    b += d
ok(b.startswith(b"250-mx.example.test\r\n"), "first reply over TLS is EHLO's, not the NOOP's")
ok(b"2.0.0 Ok" not in b, "the injected NOOP was never answered")
t.sendall(b"MAIL FROM:<a@example.org>\r\n")
ok(lines(t, 1).startswith(b"250 2.1.0"), "session state was reset: MAIL after the new EHLO works")
t.close()
PYEOF
ok $? "injection scenario ran"
tap_lines "$TESTTMP/tls-inj.out"

# 4. swaks: STARTTLS with AUTH PLAIN and LOGIN, implicit TLS
if command -v swaks >/dev/null; then
	swaks --server "127.0.0.1:$pst" --tls --auth PLAIN --auth-user alice@example.test \
		--auth-password alice-secret --from alice@example.test --to bob@example.test \
		--header "Subject: swaks plain" >"$TESTTMP/sw1.out" 2>&1
	ok $? "swaks --tls --auth PLAIN"
	swaks --server "127.0.0.1:$pst" --tls --auth LOGIN --auth-user alice@example.test \
		--auth-password alice-secret --from alice@example.test --to bob@example.test \
		--header "Subject: swaks login" >"$TESTTMP/sw2.out" 2>&1
	ok $? "swaks --tls --auth LOGIN"
	swaks --server "127.0.0.1:$pim" --tlsc --auth PLAIN --auth-user bob@example.test \
		--auth-password bob-secret --from bob@example.test --to alice@example.test \
		--header "Subject: swaks implicit" >"$TESTTMP/sw3.out" 2>&1
	ok $? "swaks --tlsc (implicit TLS) --auth PLAIN"
	grep -q 'Subject: swaks implicit' "$im"/mail/example.test/alice/new/* 2>/dev/null
	ok $? "implicit TLS message stored"
else
	skip "swaks" "swaks missing"
fi

# 5. session tickets: a second process resumes the first one's session
for v in -tls1_3 -tls1_2; do
	rm -f "$TESTTMP/sess"
	printf 'QUIT\r\n' | timeout 10 openssl s_client $v -connect "127.0.0.1:$pim" -sess_out "$TESTTMP/sess" -ign_eof >/dev/null 2>&1
	out=$(printf 'QUIT\r\n' | timeout 10 openssl s_client $v -connect "127.0.0.1:$pim" -sess_in "$TESTTMP/sess" -ign_eof 2>&1)
	grep -q '^Reused, TLSv1' <<<"$out"
	ok $? "ticket from one process resumed by another ($v)"
done
grep -q 'event=tls ip=127.0.0.1 version=TLSv1.3 cipher=TLS_[A-Z0-9_]* resumed=yes' "$TESTTMP/tls-im.log"
ok $? "log: tls line says resumed=yes"

# 6. failures: old protocol, a silent client, a broken record mid-DATA
timeout 10 openssl s_client -tls1_1 -connect "127.0.0.1:$pim" </dev/null >/dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "TLS 1.1 refused"
"$PY" - "$pim" >"$TESTTMP/tls-silent.out" 2>&1 <<'PYEOF'
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t0 = time.time()
d = c.recv(100)
took = time.time() - t0
print(("ok" if d == b"" and took < 5 else "not ok"), "- silent client closed after %.1f s (idle_timeout 1s), nothing sent" % took)
PYEOF
tap_lines "$TESTTMP/tls-silent.out"
before=$(new "$st" alice)
"$PY" - "$pst" >"$TESTTMP/tls-mid.out" 2>&1 <<'PYEOF'
import smtplib, ssl, sys, os, time
def ok(c, d): print(("ok" if c else "not ok"), "- mid-DATA:", d)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.starttls(context=ctx)
s.ehlo("mid")
s.mail("x@example.org"); s.rcpt("alice@example.test")
code, _ = s.docmd("DATA")
ok(code == 354, "DATA accepted")
s.send(b"Subject: cut\r\n\r\nhalf a message\r\n")
# raw garbage under the TLS layer: the server sees a bad record
os.write(s.sock.fileno(), b"\x15\x03\x03\x00\x02\x02\x50garbage")
time.sleep(0.5)
try:
    s.sock.settimeout(3)
    d = s.sock.recv(100)
except Exception as e:
    d = b""
ok(d == b"", "server closed the connection")
PYEOF
tap_lines "$TESTTMP/tls-mid.out"
sleep 0.3
ok $([ "$(new "$st" alice)" -eq "$before" ]; echo $?) "nothing delivered from the broken DATA"
grep -q 'event=disconnect ip=127.0.0.1 reason=disconnect .*tls_error=' "$TESTTMP/tls-st.log"
ok $? "log: one disconnect line with the TLS error"
grep -q 'reason=tls-failed .*tls_error="timeout before ClientHello"' "$TESTTMP/tls-im.log"
ok $? "log: silent client logged as timeout before ClientHello"
grep -q 'reason=tls-failed .*tls_error="handshake failed: .*unsupported protocol' "$TESTTMP/tls-im.log"
ok $? "log: TLS 1.1 handshake failure logged"
c=$(grep -c 'event=connect' "$TESTTMP/tls-im.log")
d=$(grep -c 'event=disconnect' "$TESTTMP/tls-im.log")
n=$(grep -c 'reason=tls-failed .*tls_error="timeout before ClientHello"' "$TESTTMP/tls-im.log")
ok $([ "$c" -eq "$d" ] && [ "$n" -eq 1 ]; echo $?) "one disconnect line per connection ($c connects, $d disconnects)"
if [ "$(id -u)" -eq 0 ]; then
	ok $([ "$(stat -c %U "$st/key.pem")" = root ] && [ "$(stat -c %a "$st/key.pem")" = 600 ]; echo $?) \
		"key file readable by root only, yet the unprivileged session served TLS"
fi
done_testing
