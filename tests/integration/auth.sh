#!/usr/bin/env bash
# SMTP AUTH over TLS: the brute-force delay and limit, submission rules
# with swaks, and PAM for real through pam_wrapper + pam_matrix (a test
# PAM stack that never touches the machine's accounts), with the root
# monitor when we are root.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null || ! command -v openssl >/dev/null; then
	skip "auth" "systemd-socket-activate or openssl missing"
	done_testing
	exit
fi
sub=$TESTTMP/auth-sub
make_instance "$sub" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" \
	"submission = yes" "auth_plaintext = no" "auth_fail_delay = 300ms" "max_auth_failures = 3" || exit 1
make_tls "$sub"
ok $? "submission instance with a self-signed certificate"
psub=$(free_port)
serve "$psub" "$TESTTMP/auth-sub.log" "$BUILDDIR/smtp-session/smtp-session" -C "$sub"
ok $? "submission instance on 127.0.0.1:$psub"

# 1. brute force: every failure waits auth_fail_delay, the third ends it
"$PY" - "$psub" >"$TESTTMP/auth-bf.out" 2>&1 <<'PYEOF'
import smtplib, ssl, sys, time
def ok(c, d): print(("ok" if c else "not ok"), "- brute force:", d)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.starttls(context=ctx); s.ehlo("bf")
code, _ = s.docmd("MAIL", "FROM:<alice@example.test>")
ok(code == 530, "MAIL before AUTH: 530 (%d)" % code)
replies = []
import base64
for user in ("alice@example.test", "nobody@example.test", "alice@example.test"):
    t0 = time.time()
    ir = base64.b64encode(b"\0" + user.encode() + b"\0guess-Xy7").decode()
    try:
        code, _ = s.docmd("AUTH", "PLAIN " + ir)
    except smtplib.SMTPServerDisconnected:
        code = 0
    replies.append((code, time.time() - t0))
codes = [r[0] for r in replies]
ok(codes[:2] == [535, 535], "unknown user and wrong password: the same 535 (%r)" % codes)
ok(all(r[1] >= 0.29 for r in replies), "each failure delayed >= 300 ms: %s" % ["%.2f" % r[1] for r in replies])
ok(codes[2] == 421, "third failure: 421 and the connection closes (%r)" % codes)
try:
    s.noop()
    ok(False, "connection closed after the limit")
except Exception:
    ok(True, "connection closed after the limit")
PYEOF
ok $? "brute-force scenario ran"
tap_lines "$TESTTMP/auth-bf.out"
grep -q 'event=auth-fail ip=127.0.0.1 mech=PLAIN user=nobody@example.test why="no such user" failures=2' "$TESTTMP/auth-sub.log"
ok $? "log: failed login names user and reason, never the password"
! grep -q 'guess-Xy7' "$TESTTMP/auth-sub.log"
ok $? "log: no password in the log"

# 2. submission with swaks: own address, alias, someone else's address
if command -v swaks >/dev/null; then
	sw() { swaks --server "127.0.0.1:$psub" --tls --auth PLAIN --auth-user alice@example.test \
		--auth-password alice-secret "$@" >"$TESTTMP/sw.out" 2>&1; }
	sw --from alice@example.test --to bob@example.test
	ok $? "submission: alice sends as herself"
	sw --from team@example.test --to bob@example.test
	ok $? "submission: alice sends as an alias that includes her"
	sw --from bob@example.test --to bob@example.test
	grep -Eq '^<~?\*+ *553 5\.7\.1' "$TESTTMP/sw.out"
	ok $? "submission: alice may not send as bob (553 5.7.1)"
	sw --from alice@example.test --to friend@remote.test
	ok $? "submission: a remote recipient is accepted for relay"
	ls "$sub"/spool/queue/*.env >/dev/null 2>&1
	ok $? "submission: the remote message is in the outbound queue"
	swaks --server "127.0.0.1:$psub" --from alice@example.test --to bob@example.test >"$TESTTMP/sw.out" 2>&1
	grep -q '<\*\* *530 5.7.0' "$TESTTMP/sw.out"
	ok $? "submission: no AUTH, no mail (530 5.7.0)"
else
	skip "swaks submission" "swaks missing"
fi

# 3. PAM through pam_wrapper and pam_matrix
wrap=/usr/lib/x86_64-linux-gnu/libpam_wrapper.so
matrix=/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so
[ -f "$wrap" ] || wrap=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -n 1)
[ -f "$matrix" ] || matrix=$(ls /usr/lib/*/pam_wrapper/pam_matrix.so 2>/dev/null | head -n 1)
if [ -z "$wrap" ] || [ -z "$matrix" ]; then
	skip "PAM" "libpam-wrapper missing"
	done_testing
	exit
fi
if ldd "$BUILDDIR/smtp-session/smtp-session" | grep -q libasan; then
	# pam_wrapper dlopens libpam with RTLD_DEEPBIND, which ASan refuses
	skip "PAM through pam_wrapper" "not possible in an AddressSanitizer build"
	done_testing
	exit
fi
svc=$TESTTMP/pam.d
mkdir -p "$svc"
printf 'carol:carol-pam:postern\nalice:alice-pam:postern\n' >"$TESTTMP/passdb"
for t in auth account; do
	printf '%s required %s passdb=%s\n' "$t" "$matrix" "$TESTTMP/passdb"
done >"$svc/postern"
chmod 644 "$TESTTMP/passdb"
for mode in pam users,pam; do
	inst=$TESTTMP/auth-${mode/,/-}
	make_instance "$inst" "tls = implicit" "tls_cert = cert.pem" "tls_key = key.pem" \
		"auth = $mode" "auth_fail_delay = 0" "max_auth_failures = 5" || exit 1
	cp -p "$sub/cert.pem" "$sub/key.pem" "$inst"/
	port=$(free_port)
	serve "$port" "$TESTTMP/auth-$mode.log" \
		-E LD_PRELOAD="$wrap" -E PAM_WRAPPER=1 -E PAM_WRAPPER_SERVICE_DIR="$svc" \
		-E PAM_WRAPPER_DISABLE_DEEPBIND=1 \
		-E ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$BUILDDIR/smtp-session/smtp-session" -C "$inst"
	"$PY" - "$port" "$mode" "$(id -u)" >"$TESTTMP/pam.out" 2>&1 <<'PYEOF'
import smtplib, ssl, subprocess, sys
port, mode, uid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def ok(c, d): print(("ok" if c else "not ok"), "- auth = %s:" % mode, d)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def login(user, pw):
    s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=20, context=ctx)
    try:
        s.login(user, pw)
        return 235, s
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code, s
code, s = login("carol@example.test", "carol-pam")
ok(code == 235, "PAM user carol logs in (%d)" % code)
if uid == 0:
    ps = subprocess.run(["ps", "-C", "smtp-session", "-o", "user=,pid=,ppid="],
                        capture_output=True, text=True).stdout.split("\n")
    rows = [l.split() for l in ps if l.strip()]
    sess = [r for r in rows if r[0] == "postern"]
    mon = [r for r in rows if r[0] == "root" and any(r[2] == x[1] for x in sess)]
    ok(len(sess) >= 1 and len(mon) >= 1, "session runs as postern, its PAM monitor as root: %r" % rows)
code2, _ = s.docmd("MAIL", "FROM:<alice@example.test>")
ok(code2 == 553, "authenticated carol may not send as alice (%d)" % code2)
s.rset()
code2, _ = s.docmd("MAIL", "FROM:<carol@example.test>")
ok(code2 == 250, "carol may send as carol@example.test (%d)" % code2)
s.quit()
code, s = login("carol@example.test", "wrong"); s.close()
ok(code == 535, "wrong PAM password: 535 (%d)" % code)
code, s = login("carol@remote.test", "carol-pam"); s.close()
ok(code == 535, "PAM user in a domain that is not ours: 535 (%d)" % code)
code, s = login("alice@example.test", "alice-secret"); s.close()
ok(code == (235 if mode == "users,pam" else 535), "users.cdb password: %d" % code)
code, s = login("alice@example.test", "alice-pam"); s.close()
ok(code == 235, "alice's PAM password: %d" % code)
PYEOF
	ok $? "PAM scenario ($mode) ran"
	tap_lines "$TESTTMP/pam.out"
	grep -q 'event=auth ip=127.0.0.1 mech=PLAIN user=carol@example.test' "$TESTTMP/auth-$mode.log"
	ok $? "log: PAM login of carol ($mode)"
done
done_testing
