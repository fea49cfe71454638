#!/usr/bin/env bash
# OpenSSL reaches the sessions only as the postern-tls.so module, loaded
# when TLS starts: the programs do not link libssl, libcrypto or libpam;
# the module exports one table; a session under systemd-socket-activate
# maps the module (and OpenSSL) only after STARTTLS; a missing module
# means no STARTTLS (implicit TLS: closed with a log line); a module that
# does not load or does not match gets 454 / -ERR and a log line, never a
# crash.
. "$(dirname "$0")/../lib/common.sh"

smtp=$BUILDDIR/smtp-session/smtp-session
pop3=$BUILDDIR/pop3-session/pop3-session
mod=$BUILDDIR/lib/postern-tls.so

for p in "$smtp" "$pop3"; do
	needed=$(readelf -d "$p" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	! grep -Eq 'libssl|libcrypto|libpam' <<<"$needed"
	ok $? "$(basename "$p") links neither OpenSSL nor PAM ($needed)"
done
[ -f "$mod" ]
ok $? "lib/postern-tls.so built"
syms=$(nm -D --defined-only "$mod" | awk '$2 ~ /^[A-Z]$/ { print $3 }' | grep -v '^_' | tr '\n' ' ')
[ "$syms" = "postern_tls_module " ]
ok $? "the module exports postern_tls_module only (${syms})"

st=$TESTTMP/tlsmod-st
im=$TESTTMP/tlsmod-im
make_instance "$st" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" || exit 1
make_instance "$im" "tls = implicit" "tls_cert = cert.pem" "tls_key = key.pem" || exit 1
make_tls "$st" && cp -p "$st/key.pem" "$st/cert.pem" "$im"/
ok $? "instances with a certificate"

# 1. libcrypto is mapped only once STARTTLS has run
if command -v systemd-socket-activate >/dev/null; then
	port=$(free_port)
	serve "$port" "$TESTTMP/tlsmod.log" "$smtp" -C "$st"
	"$PY" - "$port" "$SERVER_PID" >"$TESTTMP/tlsmod.out" 2>&1 <<'PYEOF'
import os, socket, ssl, sys, time
port, ppid = int(sys.argv[1]), sys.argv[2]
def ok(c, d): print(("ok" if c else "not ok"), "-", d)
def child():
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open("/proc/%s/stat" % p).read()
            except OSError:
                continue
            if st.rsplit(")", 1)[1].split()[1] == ppid:
                return p
def mapped(pid):
    m = open("/proc/%s/maps" % pid).read()
    return "libcrypto" in m or "postern-tls.so" in m
c = socket.create_connection(("127.0.0.1", port), timeout=10)
f = c.makefile("rb")
f.readline()
c.sendall(b"EHLO m.example.org\r\n")
ehlo = b""
while True:
    l = f.readline()
    ehlo += l
    if l[3:4] == b" " or not l:
        break
ok(b"STARTTLS" in ehlo, "STARTTLS offered with the module in place")
pid = None
for i in range(50):
    pid = child()
    if pid:
        break
    time.sleep(0.05)
ok(pid and not mapped(pid), "before STARTTLS: neither the module nor libcrypto in the session (pid %s)" % pid)
c.sendall(b"STARTTLS\r\n")
ok(f.readline().startswith(b"220 "), "STARTTLS: 220")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(c, server_hostname="mx.example.test")
ok(t.version() in ("TLSv1.2", "TLSv1.3"), "handshake through the module: %s" % t.version())
ok(pid and mapped(pid), "after STARTTLS: the module is mapped")
t.sendall(b"QUIT\r\n")
ok(t.recv(512).startswith(b"221"), "QUIT over TLS: 221")
t.close()
PYEOF
	pyrc=$?
	tap_lines "$TESTTMP/tlsmod.out"
	ok $pyrc "the STARTTLS client ran to its end"
	stop_all
else
	skip "libcrypto mapped only after STARTTLS" "systemd-socket-activate missing"
fi

# 2. no module beside the program: no STARTTLS, implicit TLS closes
nomod=$TESTTMP/tlsmod-bin
mkdir -p "$nomod/bin"
cp "$smtp" "$pop3" "$nomod/bin/"
chmod 755 "$TESTTMP" "$nomod" "$nomod/bin"
out=$(printf 'EHLO x.example.org\r\nSTARTTLS\r\nQUIT\r\n' | "$nomod/bin/smtp-session" -C "$st" 2>"$TESTTMP/err")
! grep -q STARTTLS <<<"$out" && grep -q '^502 ' <<<"$out" && grep -q '^221 ' <<<"$out"
ok $? "module missing: STARTTLS not offered, 502, the session goes on"
grep -q 'TLS module not found' "$TESTTMP/err"
ok $? "module missing: logged ($(grep -o 'msg=.*' "$TESTTMP/err" | head -n 1))"
out=$(printf 'QUIT\r\n' | "$nomod/bin/smtp-session" -C "$im" 2>"$TESTTMP/err")
rc=$?
[ -z "$out" ] && [ "$rc" -ne 0 ] && grep -q 'TLS module not found' "$TESTTMP/err"
ok $? "module missing, implicit TLS: nothing sent, exit $rc, logged"
out=$(printf 'CAPA\r\nSTLS\r\nQUIT\r\n' | "$nomod/bin/pop3-session" -C "$st" 2>"$TESTTMP/err")
! grep -q '^STLS' <<<"$out" && grep -q 'TLS module not found' "$TESTTMP/err"
ok $? "pop3-session, module missing: no STLS in CAPA, logged"

# 3. a module that does not load, or is not ours
printf 'not an ELF file\n' >"$nomod/bin/postern-tls.so"
chmod 644 "$nomod/bin/postern-tls.so"
out=$(printf 'EHLO x.example.org\r\nSTARTTLS\r\nEHLO x.example.org\r\nQUIT\r\n' | "$nomod/bin/smtp-session" -C "$st" 2>"$TESTTMP/err")
rc=$?
[ "$(grep -c '^250-STARTTLS' <<<"$out")" -eq 1 ] && grep -q '^454 4.7.0' <<<"$out" && grep -q '^221 ' <<<"$out" && [ "$rc" -eq 0 ]
ok $? "broken module: 454 at STARTTLS, not offered again, the session goes on"
grep -q 'cannot load the TLS module' "$TESTTMP/err"
ok $? "broken module: logged"
out=$(printf 'QUIT\r\n' | "$nomod/bin/smtp-session" -C "$im" 2>"$TESTTMP/err")
[ -z "$out" ] && grep -q 'cannot load the TLS module' "$TESTTMP/err"
ok $? "broken module, implicit TLS: closed with a log line"
out=$(printf 'STLS\r\nCAPA\r\nQUIT\r\n' | "$nomod/bin/pop3-session" -C "$st" 2>"$TESTTMP/err")
grep -q '^-ERR \[SYS/TEMP\] TLS not available' <<<"$out" && ! grep -q '^STLS' <<<"$out" && grep -q '^+OK' <<<"$out"
ok $? "pop3-session, broken module: -ERR [SYS/TEMP] at STLS, then no STLS in CAPA"
if command -v cc >/dev/null; then
	printf 'const unsigned postern_tls_module[2] = { 99, 8 };\n' >"$TESTTMP/other.c"
	cc -shared -fPIC -o "$nomod/bin/postern-tls.so" "$TESTTMP/other.c"
	out=$(printf 'STARTTLS\r\nQUIT\r\n' | "$nomod/bin/smtp-session" -C "$st" 2>"$TESTTMP/err")
	grep -q '^454 4.7.0' <<<"$out" && grep -q 'module interface 99' "$TESTTMP/err"
	ok $? "module of another interface version: refused ($(grep -o 'postern-tls.so: [^"]*' "$TESTTMP/err" | head -n 1))"
else
	skip "module of another interface version" "no cc"
fi
done_testing
