#!/usr/bin/env bash
# pop3-session with TLS: STLS (and its injection test), implicit TLS,
# AUTH PLAIN (RFC 5034) and USER/PASS only over TLS, with curl, python3
# poplib and openssl s_client.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null || ! command -v openssl >/dev/null; then
	skip "pop3 tls" "systemd-socket-activate or openssl missing"
	done_testing
	exit
fi
st=$TESTTMP/pop3-st
im=$TESTTMP/pop3-im
make_instance "$st" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" \
	"auth_plaintext = no" "auth_fail_delay = 0" || exit 1
make_instance "$im" "tls = implicit" "tls_cert = cert.pem" "tls_key = key.pem" \
	"tls_ticket_key = tickets" "auth_plaintext = no" "auth_fail_delay = 0" || exit 1
make_tls "$st" && cp -p "$st/key.pem" "$st/cert.pem" "$st/tickets" "$im"/
ok $? "certificate made"
for d in "$st" "$im"; do
	m=$d/mail/example.test/alice
	mkdir -p "$m/new" "$m/cur" "$m/tmp"
	printf 'Subject: one\n\nfirst message\n' >"$m/new/1000000000.1.host"
	[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$d/mail"
done
pst=$(free_port)
serve "$pst" "$TESTTMP/pop3-st.log" "$BUILDDIR/pop3-session/pop3-session" -C "$st"
ok $? "POP3 STLS instance on 127.0.0.1:$pst"
pim=$(free_port)
serve "$pim" "$TESTTMP/pop3-im.log" "$BUILDDIR/pop3-session/pop3-session" -C "$im"
ok $? "POP3S (implicit) instance on 127.0.0.1:$pim"

"$PY" - "$pst" "$pim" >"$TESTTMP/pop3-tls.out" 2>&1 <<'PYEOF'
import poplib, socket, ssl, sys, base64
pst, pim = int(sys.argv[1]), int(sys.argv[2])
def ok(c, d): print(("ok" if c else "not ok"), "- py", d)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3("127.0.0.1", pst, timeout=20)
caps = p.capa()
ok("STLS" in caps and "USER" not in caps and "SASL" not in caps, "before TLS: STLS, no USER, no SASL: %r" % sorted(caps))
try:
    p.user("alice@example.test"); ok(False, "USER in clear refused")
except poplib.error_proto:
    ok(True, "USER in clear refused")
p.stls(context=ctx)
caps = p.capa()
ok("STLS" not in caps and "USER" in caps and caps.get("SASL") == ["PLAIN"], "after TLS: USER and SASL PLAIN, no STLS: %r" % sorted(caps))
p.user("alice@example.test"); p.pass_("alice-secret")
ok(p.stat()[0] == 1, "poplib stls() + USER/PASS: one message")
ok(b"first message" in b"\n".join(p.retr(1)[1]), "RETR over TLS")
p.quit()
# AUTH PLAIN with an initial response, then at the prompt, cancel, bad framing
p = poplib.POP3_SSL("127.0.0.1", pim, timeout=20, context=ctx)
ir = base64.b64encode(b"\0alice@example.test\0alice-secret").decode()
ok(p._shortcmd("AUTH PLAIN " + ir).startswith(b"+OK"), "implicit TLS: AUTH PLAIN with initial response")
p.quit()
p = poplib.POP3_SSL("127.0.0.1", pim, timeout=20, context=ctx)
for resp, want in (("*", b"-ERR authentication cancelled"),
                   (base64.b64encode(b"alice\0secret").decode(), b"-ERR malformed PLAIN message"),
                   ("Zh==", b"-ERR cannot decode"),
                   (base64.b64encode(b"\0alice@example.test\0nope").decode(), b"-ERR [AUTH]")):
    p._putcmd("AUTH PLAIN")
    first = p._getline()[0]
    p._putcmd(resp)
    got = p._getline()[0]
    ok(first == b"+ " and got.startswith(want), "AUTH PLAIN at the prompt %r -> %r" % (resp[:12], got))
p.quit()
# STLS injection: the NOOP sent in clear with STLS is never answered
c = socket.create_connection(("127.0.0.1", pst), timeout=10)
c.recv(1000)
c.sendall(b"STLS\r\nNOOP\r\n")
r = b""
while not r.endswith(b"\r\n"):
    r += c.recv(1000)
ok(r == b"+OK Begin TLS negotiation\r\n", "injection: only +OK before the handshake: %r" % r)
t = ctx.wrap_socket(c)
t.sendall(b"CAPA\r\n")
r = b""
while not r.endswith(b"\r\n.\r\n"):
    d = t.recv(4096)
    if not d: break
    r += d
ok(r.startswith(b"+OK Capability list follows"), "injection: first reply over TLS is CAPA's, the NOOP was dropped")
t.close()
PYEOF
ok $? "python poplib scenario ran"
tap_lines "$TESTTMP/pop3-tls.out"

if command -v curl >/dev/null; then
	out=$(curl -s --ssl-reqd -k -u alice@example.test:alice-secret "pop3://127.0.0.1:$pst/1" 2>&1)
	grep -q 'first message' <<<"$out"
	ok $? "curl --ssl-reqd pop3:// (STLS) retrieves message 1"
	out=$(curl -s -k -u alice@example.test:alice-secret "pop3s://127.0.0.1:$pim/1" 2>&1)
	grep -q 'first message' <<<"$out"
	ok $? "curl pop3s:// (implicit TLS) retrieves message 1"
	curl -s --ssl-reqd -k -u alice@example.test:wrong "pop3://127.0.0.1:$pst/1" >/dev/null 2>&1
	ok $([ $? -ne 0 ]; echo $?) "curl with a wrong password fails"
else
	skip "curl" "curl missing"
fi
out=$(printf 'CAPA\r\nQUIT\r\n' | timeout 10 openssl s_client -starttls pop3 -connect "127.0.0.1:$pst" -ign_eof 2>&1)
grep -q "^New, TLSv1.3" <<<"$out" && grep -q '^SASL PLAIN' <<<"$out"
ok $? "openssl s_client -starttls pop3: TLS 1.3, SASL PLAIN offered"
grep -q 'event=tls ip=127.0.0.1 version=TLSv1.3' "$TESTTMP/pop3-st.log"
ok $? "log: tls line"
done_testing
