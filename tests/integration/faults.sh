#!/usr/bin/env bash
# Faults: a full disk (a 2 MB tmpfs under mail_root and spool, internal
# delivery and the deliver program), missing and corrupt CDB maps, an
# unreadable certificate, a mail store that cannot be written (a file
# where a directory should be: root ignores modes).  Each gives a clear
# temporary error and a log line; nothing half-written is left behind;
# the session goes on or ends cleanly.  There is no mailbox quota
# feature: that case is skipped.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null || ! command -v openssl >/dev/null; then
	skip "faults" "systemd-socket-activate or openssl missing"
	done_testing
	exit
fi
SMTPD=$BUILDDIR/smtp-session/smtp-session
POP3D=$BUILDDIR/pop3-session/pop3-session
DELIVER=$BUILDDIR/deliver/deliver
full=$TESTTMP/f-full
trap 'umount "$full" 2>/dev/null; stop_all; [ -n "$OWN_TMP" ] && rm -rf "$OWN_TMP"' EXIT

start() {       # start VAR INSTANCE PROGRAM: a server on a free port
	local p
	p=$(free_port)
	serve "$p" "$TESTTMP/$(basename "$2").log" "$3" -C "$2" || return 1
	printf -v "$1" '%s' "$p"
}
relay_local() { # relay_local INSTANCE: 127.0.0.1 may send to remote domains
	printf '127.0.0.1 relay\ndefault allow\n' >"$1/relay"
	"$BUILDDIR/tools/postern-map" -q -C "$1" relay
	[ "$(id -u)" -ne 0 ] || chown -R postern:postern "$1"
}

# 1. disk full
mkdir -p "$full"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=2m,mode=0755 tmpfs "$full" 2>/dev/null; then
	skip "disk full" "cannot mount a tmpfs here (not root, or not permitted)"
else
	for k in int dlv; do
		mkdir -p "$full/mail-$k" "$full/spool-$k"
	done
	make_instance "$TESTTMP/f-dfi" "mail_root = $full/mail-int" "spool = $full/spool-int" "max_message_size = 4M" &&
		make_instance "$TESTTMP/f-dfd" "mail_root = $full/mail-dlv" "spool = $full/spool-dlv" \
			"max_message_size = 4M" "delivery = deliver" &&
		relay_local "$TESTTMP/f-dfi" && relay_local "$TESTTMP/f-dfd"
	ok $? "two instances with mail_root and spool on a 2 MB tmpfs"
	chown -R postern:postern "$full"
	start p_dfi "$TESTTMP/f-dfi" "$SMTPD" && start p_dfd "$TESTTMP/f-dfd" "$SMTPD"
	ok $? "servers up"
	"$PY" - "$full" "$p_dfi" "$p_dfd" >"$TESTTMP/f-full.out" 2>&1 <<'PYEOF'
import sys, os
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, diag
full, ports = sys.argv[1], {"int": int(sys.argv[2]), "dlv": int(sys.argv[3])}
filler = os.path.join(full, "filler")
def free():
    st = os.statvfs(full)
    return st.f_bavail * st.f_frsize
def fill(leave):
    """Leave about `leave` bytes free."""
    try: os.unlink(filler)
    except FileNotFoundError: pass
    with open(filler, "wb") as f:
        n = max(free() - leave, 0)
        while n > 0:
            k = min(n, 65536)
            try:
                f.write(b"\0" * k); f.flush()
            except OSError:
                break
            n -= k
def files(top):
    out = []
    for d, _, fs in os.walk(top):
        out += [os.path.join(d, f) for f in fs if not f.startswith(".")]
    return out
body = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 600      # ~600 KB
small = b"Subject: small\r\n\r\nsmall\r\n"
def send(c, rcpts, data):
    c.send(b"MAIL FROM:<a@example.org>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r for r in rcpts) + b"DATA\r\n")
    codes = [c.reply()[0] for _ in range(len(rcpts) + 2)]
    if codes[-1] != 354:
        return codes
    c.send(data + b".\r\n")
    return codes + [c.reply()[0]]
for k in ("int", "dlv"):
    mail, spool = os.path.join(full, "mail-" + k), os.path.join(full, "spool-" + k)
    label = "internal delivery" if k == "int" else "delivery = deliver"
    # the maildirs exist already: full disk hits the message, not mkdir
    c = Conn(ports[k]); c.reply(); c.ehlo()
    r = send(c, [b"alice@example.test", b"bob@example.test"], small)
    ok(r[-1] == 250, "%s: a first message fits (%r)" % (label, r))
    fill(64 * 1024)
    diag("%s: %d bytes free" % (label, free()))
    for name, rcpts in (("local", [b"alice@example.test", b"bob@example.test"]),
                        ("remote", [b"v@remote.test"]),
                        ("local and remote", [b"bob@example.test", b"w@remote.test"])):
        before = set(files(mail)) | set(files(spool))
        r = send(c, rcpts, body)
        after = set(files(mail)) | set(files(spool))
        ok(r[-1] in (451, 452), "%s, disk full, %s recipients: %d" % (label, name, r[-1]))
        ok(after == before, "%s, disk full, %s: no file left behind in new/, tmp/ or the queue (%r)" % (label, name, sorted(after - before)[:3]))
        n = c.cmd("NOOP")[0]
        ok(n == 250, "%s: the session goes on after the failure" % label)
    os.unlink(filler)
    r = send(c, [b"bob@example.test", b"x@remote.test"], small)
    ok(r[-1] == 250, "%s: space back, the same session delivers (%r)" % (label, r))
    c.cmd("QUIT"); c.close()
    q = [f for f in os.listdir(os.path.join(spool, "queue"))]
    ok(sorted(x.rsplit(".", 1)[1] for x in q) == ["env", "msg"], "%s: the queue holds that one message whole (%r)" % (label, q))
    ok(not os.listdir(os.path.join(spool, "tmp")), "%s: nothing left in the spool's tmp/" % label)
    for u in ("alice", "bob"):
        d = os.path.join(mail, "example.test", u)
        ok(not os.listdir(os.path.join(d, "tmp")), "%s: nothing left in %s's tmp/" % (label, u))
    news = sorted(os.listdir(os.path.join(mail, "example.test", "bob", "new")))
    ok(len(news) == 2, "%s: bob has exactly the two messages that got 250 (%d)" % (label, len(news)))
    # a full disk for a new mailbox: mkdir or the file fails, cleanly
    fill(0)
    c = Conn(ports[k]); c.reply(); c.ehlo()
    r = send(c, [b"carol@other.test"], body)
    ok(r[-1] in (451, 452), "%s: completely full disk, catch-all mailbox: %r" % (label, r[-1:]))
    c.cmd("QUIT"); c.close()
    os.unlink(filler)
PYEOF
	ok $? "disk-full scenario ran"
	tap_lines "$TESTTMP/f-full.out"
	grep -q 'smtp-session.*No space left on device' "$TESTTMP/f-dfi.log"
	ok $? "log (internal): the failure names ENOSPC" || grep -E 'error|fail' "$TESTTMP/f-dfi.log" | head -n 5 | sed 's/^/# /'

	grep -q 'event=deliver .*result=tempfail reason=.*No space left on device' "$TESTTMP/f-dfd.log"
	ok $? "log (deliver): a tempfail line naming ENOSPC"
	umount "$full"
	ok $? "tmpfs unmounted"
fi

# 2. missing and corrupt maps: temporary errors, never "accept everything"
nodom=$TESTTMP/f-nodom    # domains.cdb missing
make_instance "$nodom" "delivery = deliver" && rm -f "$nodom/domains.cdb"
bad=$TESTTMP/f-badcdb     # aliases.cdb garbage, users.cdb cut short
make_instance "$bad" && head -c 4096 /dev/urandom >"$bad/aliases.cdb" &&
	head -c 100 "$bad/users.cdb" >"$bad/u" && mv "$bad/u" "$bad/users.cdb" &&
	{ [ "$(id -u)" -ne 0 ] || chown postern:postern "$bad"/*.cdb; }
ok $? "instances with a missing and with corrupt maps"
start p_nodom "$nodom" "$SMTPD" && start p_bad "$bad" "$SMTPD" && start p_badpop "$bad" "$POP3D" &&
	start p_nodompop "$nodom" "$POP3D"
ok $? "servers up"
"$PY" - "$p_nodom" "$p_bad" "$p_badpop" "$p_nodompop" "$nodom" "$bad" >"$TESTTMP/f-maps.out" 2>&1 <<'PYEOF'
import sys, os, base64
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, maildir_files
p_nodom, p_bad, p_badpop, p_nodompop = map(int, sys.argv[1:5])
nodom, bad = sys.argv[5], sys.argv[6]
c = Conn(p_nodom); c.reply(); c.ehlo(); c.cmd("MAIL FROM:<a@example.org>")
r = [c.cmd("RCPT TO:<%s>" % a) for a in ("alice@example.test", "v@remote.test", "x@other.test")]
ok(all(x[0] == 451 for x in r), "domains.cdb missing: RCPT 451 for local, remote and catch-all (%r)" % [x[0] for x in r])
ok(c.cmd("NOOP")[0] == 250, "the session goes on")
c.cmd("QUIT"); c.close()
c = Conn(p_bad); c.reply(); c.ehlo(); c.cmd("MAIL FROM:<a@example.org>")
r = [c.cmd("RCPT TO:<%s>" % a)[0] for a in ("team@example.test", "alice@example.test", "nobody@example.test")]
ok(r == [451, 451, 451], "aliases.cdb garbage: RCPT 451, even for a plain user (%r)" % r)
c.cmd("RSET")
r = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0alice-secret").decode())[0]
ok(r == 454, "users.cdb cut short: AUTH gets 454 (%d)" % r)
c.cmd("QUIT"); c.close()
for port, name in ((p_badpop, "users.cdb cut short"),):
    c = Conn(port); c.line()
    c.pop("USER alice@example.test")
    r = c.pop("PASS alice-secret")
    ok(r.startswith(b"-ERR [SYS/TEMP]"), "POP3 with %s: %r" % (name, r))
    c.pop("QUIT"); c.close()
c = Conn(p_nodompop); c.line()
c.pop("USER alice@example.test")
r = c.pop("PASS alice-secret")
ok(r.startswith(b"-ERR [SYS/TEMP]"), "POP3 with domains.cdb missing: fails closed (%r)" % r)
c.pop("QUIT"); c.close()
ok(not maildir_files(nodom, ("new", "cur", "tmp")) and not maildir_files(bad, ("new", "cur", "tmp")), "nothing stored")
PYEOF
ok $? "maps scenario ran"
tap_lines "$TESTTMP/f-maps.out"
grep -q 'event=reject .*why="domains map unavailable"' "$TESTTMP/f-nodom.log"
ok $? "log: domains map unavailable"
grep -q 'why="aliases map unavailable"' "$TESTTMP/f-badcdb.log"
ok $? "log: aliases map unavailable"
grep -Eq 'pop3-session\[[0-9]+\]: .*(users|map|unavailable)' "$TESTTMP/f-badcdb.log"
ok $? "log: POP3 login failure names the map"
printf 'Subject: x\n\nx\n' | "$DELIVER" -C "$nodom" alice@example.test 2>/dev/null
ok $([ $? -eq 75 ]; echo $?) "deliver with domains.cdb missing: exit 75"
printf 'Subject: x\n\nx\n' | "$DELIVER" -C "$bad" alice@example.test 2>/dev/null
ok $([ $? -eq 75 ]; echo $?) "deliver with a garbage aliases.cdb: exit 75"

# 3. an unreadable certificate (a directory, and garbage) and key
tlsdir=$TESTTMP/f-tlsdir
make_instance "$tlsdir" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" "auth_plaintext = no" &&
	make_tls "$tlsdir" && rm -f "$tlsdir/cert.pem" && mkdir "$tlsdir/cert.pem"
tlsgarb=$TESTTMP/f-tlsgarb
make_instance "$tlsgarb" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" "auth_plaintext = no" &&
	make_tls "$tlsgarb" && printf -- '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n' >"$tlsgarb/cert.pem"
tlsimp=$TESTTMP/f-tlsimp
make_instance "$tlsimp" "tls = implicit" "tls_cert = cert.pem" "tls_key = key.pem" &&
	make_tls "$tlsimp" && head -c 300 /dev/urandom >"$tlsimp/key.pem"
ok $? "instances with a directory, a garbage certificate and a garbage key"
start p_tlsdir "$tlsdir" "$SMTPD" && start p_tlsgarb "$tlsgarb" "$SMTPD" && start p_tlsimp "$tlsimp" "$SMTPD" &&
	start p_popgarb "$tlsgarb" "$POP3D" && start p_popimp "$tlsimp" "$POP3D"
ok $? "servers up"
"$PY" - "$p_tlsdir" "$p_tlsgarb" "$p_tlsimp" "$p_popgarb" "$p_popimp" >"$TESTTMP/f-tls.out" 2>&1 <<'PYEOF'
import sys, os, time
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok
p_dir, p_garb, p_imp, p_popgarb, p_popimp = map(int, sys.argv[1:6])
# A certificate path that cannot be read is found at start: STARTTLS is
# not offered (502).  A file that reads but does not parse is found when
# STARTTLS builds the context, before it answers: 454, and the session
# goes on in clear.  Either way mail still flows, and nothing is promised
# that the handshake then breaks.
for port, name, want in ((p_dir, "certificate path is a directory", 502), (p_garb, "garbage certificate", 454)):
    c = Conn(port)
    b = c.reply()
    e = c.ehlo()
    caps = b"\n".join(e[1])
    ok(b"AUTH" not in caps, "%s: AUTH never offered in clear" % name)
    st = c.cmd("STARTTLS")
    ok(st[0] == want, "%s: STARTTLS answered %d, not promised (%d)" % (name, want, st[0]))
    e = c.ehlo()
    ok(b"STARTTLS" not in b"\n".join(e[1]), "%s: STARTTLS not offered again" % name)
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: clear\r\n\r\nx\r\n.\r\nQUIT\r\n")
    r = [c.reply()[0] for _ in range(5)]
    ok(r == [250, 250, 354, 250, 221], "%s: mail still flows in clear (%r)" % (name, r))
    c.close()
t0 = time.time()
c = Conn(p_imp)
d = c.s.recv(100)
ok(d == b"" and time.time() - t0 < 5, "implicit TLS with a garbage key: the connection is closed at once, nothing in clear (%r)" % d[:20])
c.close()
c = Conn(p_popgarb); c.line()
ok(c.pop("USER alice@example.test").startswith(b"-ERR"), "POP3 with a garbage certificate: no USER in clear")
r = c.pop("STLS")
ok(r.startswith(b"-ERR [SYS/TEMP]"), "POP3 STLS with a garbage certificate: -ERR before any promise (%r)" % r)
r = c.pop("CAPA")
ok(r.startswith(b"+OK"), "POP3: the session goes on in clear (%r)" % r)
c.close()
c = Conn(p_popimp)
d = c.s.recv(100)
ok(d == b"", "POP3S with a garbage key: closed at once, nothing in clear (%r)" % d[:20])
c.close()
PYEOF
ok $? "certificate scenario ran"
tap_lines "$TESTTMP/f-tls.out"
for n in tlsdir tlsgarb tlsimp; do
	grep -Eq 'event=error msg="tls: .*cert.pem|tls_error="[^"]*(cert|key).pem: ' "$TESTTMP/f-$n.log"
	ok $? "log ($n): the TLS error names the file"
done

# 4. mailbox quota: not a postern feature
skip "full mailbox quota" "postern has no mailbox quota (no quota key in postern.conf)"

# 5. a mail store that cannot be written: a file where a directory should be
ro=$TESTTMP/f-ro
make_instance "$ro" && relay_local "$ro" &&
	mkdir -p "$ro/mail/example.test/bob" && : >"$ro/mail/example.test/alice" &&
	mkdir -p "$ro/mail/example.test/carol" && : >"$ro/mail/example.test/bob/new" &&
	rm -rf "$ro/spool" && : >"$ro/spool"
ro2=$TESTTMP/f-ro2
make_instance "$ro2" "delivery = deliver" && rm -rf "$ro2/mail" && : >"$ro2/mail"
rop=$TESTTMP/f-rop        # POP3: alice's cur/ is a file
make_instance "$rop" && mkdir -p "$rop/mail/example.test/alice/new" && : >"$rop/mail/example.test/alice/cur"
[ "$(id -u)" -ne 0 ] || chown -R postern:postern "$ro" "$ro2" "$rop"
ok $? "instances with files for mail_root, a maildir, a new/ and the spool"
start p_ro "$ro" "$SMTPD" && start p_ro2 "$ro2" "$SMTPD" && start p_rop "$rop" "$POP3D"
ok $? "servers up"
"$PY" - "$p_ro" "$p_ro2" "$p_rop" "$ro" >"$TESTTMP/f-ro.out" 2>&1 <<'PYEOF'
import sys, os
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok
p_ro, p_ro2, p_rop, ro = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def send(port, rcpt):
    c = Conn(port); c.reply(); c.ehlo()
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt.encode())
    r = [c.reply()[0] for _ in range(3)]
    if r[-1] == 354:
        c.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
        r.append(c.reply()[0])
    r.append(c.cmd("NOOP")[0])
    c.cmd("QUIT"); c.close()
    return r
r = send(p_ro, "alice@example.test")
ok(r[-2] == 451 and r[-1] == 250, "maildir path is a file: 451, session goes on (%r)" % r)
r = send(p_ro, "bob@example.test")
ok(r[-2] == 451 and r[-1] == 250, "new/ is a file: 451 (%r)" % r)
ok(os.listdir(os.path.join(ro, "mail/example.test/bob/tmp")) == [], "new/ is a file: nothing left in tmp/")
r = send(p_ro, "v@remote.test")
ok(r[-2] == 451 and r[-1] == 250, "spool is a file: remote recipient 451 (%r)" % r)
r = send(p_ro2, "alice@example.test")
ok(r[-2] == 451 and r[-1] == 250, "mail_root is a file (delivery = deliver): 451 (%r)" % r)
c = Conn(p_rop); c.line(); c.pop("USER alice@example.test")
r = c.pop("PASS alice-secret")
ok(r.startswith(b"-ERR [SYS/TEMP]"), "POP3, cur/ is a file: %r" % r)
c.pop("QUIT"); c.close()
PYEOF
ok $? "unwritable store scenario ran"
tap_lines "$TESTTMP/f-ro.out"
grep -q 'Not a directory\|not a directory' "$TESTTMP/f-ro.log" && grep -q 'Not a directory\|not a directory' "$TESTTMP/f-ro2.log"
ok $? "log: the failing path and 'Not a directory'"
grep -q 'pop3-session.*event=error .*Not a directory' "$TESTTMP/f-rop.log"
ok $? "log (POP3): the failing path"
done_testing
