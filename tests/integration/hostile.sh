#!/usr/bin/env bash
# Hostile clients over loopback sockets (systemd-socket-activate): SMTP
# smuggling with every end-of-data variant, envelope injection (nothing
# reaches a shell, logs and maildir names stay one clean line), open-relay
# vectors against an MX and a submission instance without AUTH, AUTH and
# STARTTLS/STLS pipelining, and resource abuse (a 5 MB line, 5 GB of
# DATA, 10,000 RCPTs, slowloris, a client that never reads) with each
# session's peak memory read from /proc/PID/status.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null || ! command -v openssl >/dev/null; then
	skip "hostile clients" "systemd-socket-activate or openssl missing"
	done_testing
	exit
fi
SMTPD=$BUILDDIR/smtp-session/smtp-session
POP3D=$BUILDDIR/pop3-session/pop3-session
# a unique stem for the "did a shell run this?" marker files
PWN=/tmp/postern-pwned-$$-$RANDOM
rm -f "$PWN"*

mx=$TESTTMP/h-mx          # inbound MX, delivery through the deliver program
make_instance "$mx" "delivery = deliver" "max_errors = 1000" || exit 1
mxi=$TESTTMP/h-mxi        # inbound MX, internal delivery
make_instance "$mxi" "max_errors = 1000" || exit 1
sub=$TESTTMP/h-sub        # submission, no TLS, no login yet
make_instance "$sub" "submission = yes" "max_errors = 1000" || exit 1
stls=$TESTTMP/h-stls      # submission with STARTTLS, AUTH only over TLS
make_instance "$stls" "submission = yes" "tls = starttls" "tls_cert = cert.pem" \
	"tls_key = key.pem" "auth_plaintext = no" "auth_fail_delay = 0" || exit 1
pop=$TESTTMP/h-pop        # POP3 with STLS, logins only over TLS
make_instance "$pop" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" \
	"auth_plaintext = no" "auth_fail_delay = 0" || exit 1
make_tls "$stls" && cp -p "$stls/key.pem" "$stls/cert.pem" "$pop"/
ok $? "instances and a throwaway certificate made"
m=$pop/mail/example.test/alice
mkdir -p "$m/new" "$m/cur" "$m/tmp"
printf 'Subject: keep me\n\nstays unless a logged-in QUIT deletes it\n' >"$m/new/1000000000.1.host,S=60,W=63"
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$pop/mail"

start() {       # start VAR INSTANCE PROGRAM: a server on a free port
	local p
	p=$(free_port)
	serve "$p" "$TESTTMP/$(basename "$2").log" "$3" -C "$2" || return 1
	printf -v "$1" '%s' "$p"
}
start p_mx "$mx" "$SMTPD" && start p_mxi "$mxi" "$SMTPD" && start p_sub "$sub" "$SMTPD" &&
	start p_stls "$stls" "$SMTPD" && start p_pop "$pop" "$POP3D"
ok $? "five servers listening"

# 1. SMTP smuggling: each variant of a false end of data, followed by a
# complete second transaction to bob; one DATA never makes two messages
"$PY" - "$p_mxi" "$mxi" >"$TESTTMP/h-smuggle.out" 2>&1 <<'PYEOF'
import sys, os
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, maildir_files
port, inst = int(sys.argv[1]), sys.argv[2]
second = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
          b"Subject: smuggled\r\n\r\nsecond\r\n.\r\n")
variants = [
    ("LF.LF", b"\n.\n"), ("LF.CRLF", b"\n.\r\n"), ("CRLF.LF", b"\r\n.\n"),
    ("CR.CR", b"\r.\r"), ("CRCRLF.CRCRLF", b"\r\r\n.\r\r\n"), ("CR.CRLF", b"\r.\r\n"),
    ("CRLF.CR", b"\r\n.\r"), ("CRLF.NUL.CRLF", b"\r\n.\0\r\n"), ("CRLF NUL.CRLF", b"\r\n\0.\r\n"),
    ("CRLF.CRNULLF", b"\r\n.\r\0\n"), ("LF.LF twice", b"\n.\n\n.\n"),
]
for name, eod in variants:
    c = Conn(port)
    c.reply()
    c.ehlo()
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
    codes = [c.reply()[0] for _ in range(3)]
    c.send(b"Subject: first\r\n\r\nfirst" + eod + second)
    rest = []
    c.send(b"QUIT\r\n")
    while True:
        code, lines = c.reply()
        if not code:
            break
        rest.append(code)
    c.close()
    got = maildir_files(inst, ("new", "cur", "tmp"))
    ok(codes == [250, 250, 354] and rest[0] == 554 and 250 not in rest and rest[-1] == 221,
       "smuggling %s: one reply for the DATA, 554, no 250 (%r)" % (name, rest))
    ok(not got, "smuggling %s: no message stored at all (%d files)" % (name, len(got)))
# the honest case: stuffed dots and command-like text inside one message
c = Conn(port)
c.reply(); c.ehlo()
c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
[c.reply() for _ in range(3)]
c.send(b"Subject: honest\r\n\r\nx\r\n..\r\n" + second.replace(b"\r\n.\r\n", b"\r\n..\r\n") + b".\r\nQUIT\r\n")
code, _ = c.reply()
c.close()
got = maildir_files(inst)
ok(code == 250 and len(got) == 1 and "/alice/" in got[0], "stuffed '..' lines and commands in the body: one message to alice")
body = open(got[0], "rb").read() if got else b""
ok(b"\n.\nMAIL FROM:<evil@example.org>\nRCPT TO:<bob@example.test>\n" in body,
   "the command-like lines are content, unstuffed")
# BDAT: a chunk's bytes are never framing
c = Conn(port)
c.reply(); c.ehlo()
chunk = b"Subject: bdat\r\n\r\nx\r\n.\r\n" + second
c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT %d LAST\r\n" % len(chunk) + chunk + b"QUIT\r\n")
codes = [c.reply()[0] for _ in range(4)]
c.close()
got = maildir_files(inst)
ok(codes == [250, 250, 250, 221] and len(got) == 2 and not [g for g in got if "/bob/" in g],
   "BDAT with CRLF.CRLF and a transaction inside: one message, to alice only (%r)" % codes)
PYEOF
ok $? "smuggling scenario ran"
tap_lines "$TESTTMP/h-smuggle.out"

# 2. envelope injection through the deliver program (execve arguments)
"$PY" - "$p_mx" "$mx" "$PWN" >"$TESTTMP/h-inject.out" 2>&1 <<'PYEOF'
import sys, os
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, maildir_files, NAME_RE
port, inst, pwn = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sh = [b"$(touch %s-a)" % pwn.encode(), b"`touch %s-b`" % pwn.encode(), b";touch %s-c;" % pwn.encode(),
      b"|touch %s-d" % pwn.encode(), b"'$(touch %s-e)'" % pwn.encode(), b"${IFS}touch${IFS}%s-f" % pwn.encode()]
def session(cmds):
    c = Conn(port)
    c.reply()
    out = []
    for x in cmds:
        c.send(x + b"\r\n")
        out.append(c.reply()[0])
    c.send(b"QUIT\r\n"); c.reply(); c.close()
    return out
# HELO: printable words are kept (they only reach a header), others 501
bad_helo = [b"a b", b"a\tb", b"caf\xc3\xa9", b"a\rb", b"a\0b", b"x" * 256, b""]
codes = session([b"HELO " + h for h in bad_helo])
ok(all(c in (500, 501) for c in codes), "HELO with space, TAB, 8-bit, CR, NUL, 256 bytes, empty: 500/501 (%r)" % codes)
# MAIL and RCPT with shell text: refused, or accepted as a plain mailbox
cmds = [b"EHLO x"]
for s in sh:
    cmds += [b"MAIL FROM:<\"" + s.replace(b"\"", b"") + b"\"@example.org>", b"RSET"]
    cmds += [b"MAIL FROM:<" + s + b"@example.org>", b"RSET"]
codes = session(cmds)
ok(all(c in (250, 501, 553) for c in codes), "MAIL with $() ` ; | ${IFS}: 250, 501 or 553 only (%r)" % codes)
# accepted ones go all the way through deliver: quoted senders and
# recipients with shell text, and the recipient delimiter
msgs = 0
for i, s in enumerate(sh):
    q = s.replace(b"\"", b"")
    c = Conn(port)
    c.reply(); c.ehlo()
    r1 = c.cmd(b"MAIL FROM:<\"" + q + b"\"@example.org>")[0]
    r2 = c.cmd(b"RCPT TO:<\"alice+" + q.replace(b" ", b"${IFS}") + b"\"@example.test>")[0]
    r3 = c.cmd(b"RCPT TO:<\"" + q + b"\"@example.test>")[0]
    r4 = c.cmd(b"RCPT TO:<" + q.replace(b" ", b"") + b"@example.test>")[0]
    r5 = c.cmd(b"RCPT TO:<bob@example.test>")[0]
    r6 = c.cmd(b"DATA")[0]
    if r6 == 354:
        c.send(b"Subject: inj %d\r\n\r\nbody\r\n.\r\n" % i)
        r6 = c.reply()[0]
        msgs += r6 == 250
    c.send(b"QUIT\r\n"); c.reply(); c.close()
    ok(r1 == 250 and r2 in (250, 550) and r3 in (501, 550, 553) and r4 in (501, 550, 553) and r5 == 250 and r6 == 250,
       "shell text %r: quoted sender and alice+detail taken as data or refused, as a mailbox refused, message delivered (%r)" % (s[:12], [r1, r2, r3, r4, r5, r6]))
# CR, LF, NUL, TAB, 8-bit and over-long parts in MAIL and RCPT
bad = [b"<a\rb@example.org>", b"<a\0b@example.org>", b"<a\tb@example.org>", b"<\"a\rb\"@example.org>",
       b"<\"a\\\rb\"@example.org>", b"<a@exa\rmple.org>", b"<caf\xc3\xa9@example.org>", b"<a\xff@example.org>",
       b"<" + b"l" * 65 + b"@example.org>", b"<a@" + (b"d" * 63 + b".") * 4 + b"org>",
       b"<a@" + b"d" * 64 + b".org>", b"<a@example.org> SIZE=1" + b"0" * 30, b"<a@example.org> X-EVIL=\x01"]
cmds = [b"EHLO x"]
for b in bad:
    cmds += [b"MAIL FROM:" + b, b"RSET"]
cmds += [b"MAIL FROM:<a@example.org>"]
for b in bad:
    cmds += [b"RCPT TO:" + b.replace(b"example.org", b"example.test")]
codes = session(cmds)
mail = codes[1:1 + 2 * len(bad):2]
rcpt = codes[2 + 2 * len(bad):]
ok(all(c in (500, 501, 553, 555) for c in mail), "MAIL with CR, NUL, TAB, 8-bit, over-long parts, bad parameters: 5xx (%r)" % mail)
ok(all(c in (500, 501, 550, 553, 555) for c in rcpt), "RCPT with the same: 5xx (%r)" % rcpt)
# a bare LF inside a command is a line end, never part of an address
codes = session([b"EHLO x", b"MAIL FROM:<a@example.org>\nRCPT TO:<bob@example.test>\nRCPT TO:<alice@example.test\n>"])
ok(len(codes) == 2 and codes[1] == 250, "LF splits command lines, it never joins an address (%r)" % codes)
# AUTH: injected text in the initial response and in AUTH LOGIN
import base64
b64 = lambda x: base64.b64encode(x)
cmds = [b"EHLO x",
        b"AUTH PLAIN " + b64(b"\0alice@example.test\r\nMAIL FROM:<x@y>\0alice-secret"),
        b"AUTH PLAIN " + b64(b"\0$(touch " + pwn.encode() + b"-g)@example.test\0x"),
        b"AUTH PLAIN " + b64(b"\0" + b"a" * 2000 + b"\0x"),
        b"AUTH PLAIN =\r\x00", b"AUTH LOGIN " + b64(b"`touch " + pwn.encode() + b"-h`"), b"*",
        b"AUTH PLAIN " + b"QUFB" * 400]
codes = session(cmds)
ok(all(c in (334, 500, 501, 535, 501) for c in codes[1:]) and 235 not in codes,
   "AUTH with CRLF, shell text, 2000-byte names, NUL, junk: never 235 (%r)" % codes)
got = maildir_files(inst, ("new", "cur", "tmp"))
ok(len([g for g in got if "/bob/new/" in g]) == msgs == len(sh), "%d messages with injected envelopes stored for bob" % msgs)
names = [os.path.basename(g) for g in got]
ok(all(NAME_RE.match(n) for n in names), "maildir names are plain: %r" % [n for n in names if not NAME_RE.match(n)][:3])
rp = [open(g, "rb").read().split(b"\n", 1)[0] for g in got if "/new/" in g]
ok(rp and all(r.startswith(b"Return-Path: <") and r.endswith(b"@example.org>") and b"\r" not in r for r in rp),
   "Return-Path carries the sender, quoted where needed, on one line")
PYEOF
ok $? "injection scenario ran"
tap_lines "$TESTTMP/h-inject.out"
sleep 0.3
# shellcheck disable=SC2086
ok $([ -z "$(ls $PWN* 2>/dev/null)" ]; echo $?) "no shell ran: no $PWN-* file"

# 3. open-relay vectors from unauthenticated clients, on the MX and on a
# submission instance without AUTH; afterwards nothing queued or stored
before_mx=$(ls "$mx"/mail/*/*/new 2>/dev/null | wc -l)
"$PY" - "$p_mx" "$p_sub" "$mx" "$sub" >"$TESTTMP/h-relay.out" 2>&1 <<'PYEOF'
import sys, os
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, maildir_files
p_mx, p_sub, mx, sub = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
vectors = ["<v@remote.test>", "<v%remote.test@example.test>", "<\"v@remote.test\"@example.test>",
           "<v@remote.test@example.test>", "<remote.test!v@example.test>", "<@example.test:v@remote.test>",
           "<v@[192.0.2.1]>", "<v@[IPv6:2001:db8::1]>", "<v@[127.0.0.1]>", "<v%remote.test@[127.0.0.1]>",
           "<\"v@remote.test\">", "<v@remote.test.>", "<v@REMOTE.test>", "<postmaster@remote.test>",
           "<v@example.test.remote.test>", "<fwd@example.test.>"]
for name, port in (("MX", p_mx), ("submission without AUTH", p_sub)):
    c = Conn(port)
    c.reply(); c.ehlo()
    m = c.cmd("MAIL FROM:<spammer@example.org>")[0]
    codes = [c.cmd("RCPT TO:" + v)[0] for v in vectors]
    d = c.cmd("DATA")[0]
    if d == 354:
        c.send(b"Subject: relayed\r\n\r\nx\r\n.\r\n")
        d = (d, c.reply()[0])
    c.cmd("QUIT"); c.close()
    ok(all(500 <= x < 600 for x in codes), "%s: every relay vector refused with 5xx (MAIL %d, RCPT %r)" % (name, m, codes))
    ok(d in (503, 554), "%s: DATA after them finds no recipient (%r)" % (name, d))
for name, inst in (("MX", mx), ("submission", sub)):
    q = os.path.join(inst, "spool", "queue")
    ok(not (os.path.isdir(q) and os.listdir(q)), "%s: nothing in the outbound queue" % name)
ok(not maildir_files(sub, ("new", "cur", "tmp")), "submission: nothing stored")
PYEOF
ok $? "relay scenario ran"
tap_lines "$TESTTMP/h-relay.out"
ok $([ "$(ls "$mx"/mail/*/*/new 2>/dev/null | wc -l)" -eq "$before_mx" ]; echo $?) "MX: no new message from the relay attempts"

# 4. AUTH and STARTTLS/STLS boundaries: pipelined AUTH + MAIL, injected
# AUTH/USER/PASS before the handshake, logins before TLS
"$PY" - "$p_stls" "$p_pop" "$stls" "$pop" >"$TESTTMP/h-tls.out" 2>&1 <<'PYEOF'
import sys, os, base64
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, maildir_files
p_stls, p_pop, stls, pop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
good = b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0alice-secret")
bad = b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0wrong")
tx = (b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<v@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
      b"DATA\r\nSubject: pipelined\r\n\r\nx\r\n.\r\n")
def codes(c, n):
    return [c.reply()[0] for _ in range(n)]
# in clear: AUTH refused (538), and the MAIL pipelined behind it too
c = Conn(p_stls); c.reply(); c.ehlo()
c.send(good + b"\r\n" + tx + b"QUIT\r\n")
r = codes(c, 8)
ok(r[0] == 538 and r[1] == 530 and 250 not in r and 235 not in r,
   "before TLS: AUTH 538 and the pipelined MAIL 530, nothing accepted (%r)" % r)
c.close()
# STARTTLS with AUTH and a transaction injected behind it in clear
c = Conn(p_stls); c.reply(); c.ehlo()
c.send(b"STARTTLS\r\n" + good + b"\r\n" + tx)
r1 = c.reply()[0]
c.starttls()
c.ehlo()
r = c.cmd("MAIL FROM:<alice@example.test>")[0]
ok(r1 == 220 and r == 530, "AUTH injected with STARTTLS does not authenticate the TLS session (MAIL %d)" % r)
c.close()
# over TLS: a failed AUTH with a transaction pipelined behind it
c = Conn(p_stls); c.reply(); c.ehlo(); c.cmd("STARTTLS"); c.starttls(); c.ehlo()
c.send(bad + b"\r\n" + tx + b"QUIT\r\n")
r = codes(c, 8)
ok(r[0] == 535 and r[1] == 530 and 250 not in r, "over TLS: bad AUTH 535, the pipelined transaction refused (%r)" % r)
c.close()
# over TLS: a good AUTH with MAIL sent before its 235 arrives
c = Conn(p_stls); c.reply(); c.ehlo(); c.cmd("STARTTLS"); c.starttls(); c.ehlo()
c.send(good + b"\r\n" + tx + b"QUIT\r\n")
r = codes(c, 8)
ok(r == [235, 250, 250, 250, 354, 250, 221, 0] or r[:6] == [235, 250, 250, 250, 354, 250],
   "over TLS: good AUTH, the transaction pipelined behind it runs after the 235 (%r)" % r)
c.close()
# AUTH LOGIN: a pipelined command is read as the username, never run
c = Conn(p_stls); c.reply(); c.ehlo(); c.cmd("STARTTLS"); c.starttls(); c.ehlo()
c.send(b"AUTH LOGIN\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n")
r = codes(c, 3)
ok(r[0] == 334 and r[1] in (501, 535) and r[2] in (503, 530), "AUTH LOGIN: the MAIL behind it is a (bad) username (%r)" % r)
c.close()
q = os.path.join(stls, "spool", "queue")
ok(len(os.listdir(q)) == 2 if os.path.isdir(q) else False, "exactly one message queued (.msg + .env), from the authenticated session")
# POP3: USER/PASS/AUTH before TLS, and injected behind STLS
c = Conn(p_pop); c.line()
r = [c.pop("USER alice@example.test"), c.pop("PASS alice-secret"),
     c.pop("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0alice-secret").decode()), c.pop("STAT")]
ok(all(x.startswith(b"-ERR") for x in r), "POP3 before TLS: USER, PASS, AUTH PLAIN, STAT all -ERR")
c.send(b"QUIT\r\n"); c.close()
c = Conn(p_pop); c.line()
c.send(b"STLS\r\nUSER alice@example.test\r\nPASS alice-secret\r\nDELE 1\r\nQUIT\r\n")
r1 = c.line()
c.starttls()
r = c.pop("STAT")
ok(r1.startswith(b"+OK") and r.startswith(b"-ERR"), "USER/PASS/DELE/QUIT injected behind STLS: not logged in after TLS (%r)" % r)
c.close()
ok(len(maildir_files(pop)) == 1, "the message is still there")
PYEOF
ok $? "TLS/AUTH pipelining scenario ran"
tap_lines "$TESTTMP/h-tls.out"

# 5. resource abuse, each on its own instance and in parallel; the
# session's peak RSS (VmHWM) is read from /proc while it runs
rbig=$TESTTMP/h-rbig      # 5 GB of DATA against a 1 MB limit
make_instance "$rbig" "max_message_size = 1M" "data_timeout = 240s" "session_timeout = 240s" || exit 1
rline=$TESTTMP/h-rline    # 5 MB line without LF; also the baseline
make_instance "$rline" "idle_timeout = 5s" || exit 1
rrcpt=$TESTTMP/h-rrcpt    # 10,000 RCPTs
make_instance "$rrcpt" "max_recipients = 20" || exit 1
rslow=$TESTTMP/h-rslow    # slowloris: one byte every 2 s
make_instance "$rslow" "idle_timeout = 3s" "session_timeout = 6s" || exit 1
rdeaf=$TESTTMP/h-rdeaf    # a client that never reads its replies
make_instance "$rdeaf" "idle_timeout = 2s" "session_timeout = 30s" || exit 1
spids=
for i in rbig rline rrcpt rslow rdeaf; do
	start "p_$i" "${!i}" "$SMTPD" || break
	spids="$spids $SERVER_PID"
done
ok $? "five resource-abuse servers listening"
# HOSTILE_DATA_GB: the size of the oversize DATA.  5 GB takes ~10 s here
# (0.5 GB/s: the session reads 5 KB at a time); an ASan build reads at
# 0.1 GB/s, so it gets 1 GB, which shows the same flat memory.
gb=5
grep -q __asan_init "$SMTPD" && gb=1
"$PY" - "${HOSTILE_DATA_GB:-$gb}" "$SMTPD" "$rbig" "$rrcpt" $spids "$p_rbig" "$p_rline" "$p_rrcpt" "$p_rslow" "$p_rdeaf" \
	>"$TESTTMP/h-res.out" 2>&1 <<'PYEOF'
import sys, os, time, threading, socket, select
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, diag, child_of, vm, alive, maildir_files, asan_build
gb, smtpd, rbig, rrcpt = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ssa = dict(zip(["big", "line", "rcpt", "slow", "deaf"], map(int, sys.argv[5:10])))
port = dict(zip(["big", "line", "rcpt", "slow", "deaf"], map(int, sys.argv[10:15])))
asan = asan_build(smtpd)
results = {}

class Watch:
    """The session under one systemd-socket-activate: its pid, the peak
    of its VmHWM while it lives, and when it ended."""
    def __init__(self, name):
        # not the baseline session, which may still be exiting (slowly
        # in an ASan build, which checks for leaks at exit)
        self.pid = child_of(ssa[name], exclude=seen)
        seen.add(self.pid)
        self.hwm = 0
        self.ended = None
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
    def run(self):
        end = time.time() + 300
        while self.pid and time.time() < end:
            v = vm(self.pid)
            if v is None or not alive(self.pid):
                break
            self.hwm = max(self.hwm, v)
            time.sleep(0.05)
        self.ended = time.time()
    def wait(self, limit):
        self.t.join(limit)
        return self.ended is not None

# baseline: a session that only got the banner and a NOOP
seen = set()
c = Conn(port["line"]); c.reply(); c.cmd("NOOP")
bpid = child_of(ssa["line"])
seen.add(bpid)
base = (vm(bpid) if bpid else None) or 0
c.cmd("QUIT"); c.close()
diag("baseline session VmHWM %d KiB%s" % (base, " (ASan build)" if asan else ""))
# flat: at most 1.5 MiB over a fresh session; 8 MiB absolute without ASan
def flat(hwm):
    return hwm > 0 and hwm - base < 1536 and (asan or hwm < 8192)

def big():
    c = Conn(port["big"], timeout=60)
    c.reply(); c.ehlo()
    w = Watch("big")
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    r = [c.reply()[0] for _ in range(3)]
    chunk = (b"y" * 1022 + b"\r\n") * 1024
    t0 = time.time()
    n = int(gb * 1024)
    try:
        for i in range(n):
            c.send(chunk)
        c.send(b".\r\n")
        end = c.reply()
        c.send(b"NOOP\r\nQUIT\r\n")
        after = [c.reply()[0], c.reply()[0]]
    except OSError as e:
        end, after = (0, [repr(e)]), []
    dt = time.time() - t0
    c.close()
    w.wait(10)
    results["big"] = (r, end, after, dt, w.hwm)

def line():
    c = Conn(port["line"])
    c.reply()
    w = Watch("line")
    c.send(b"EHLO x\r\n")
    c.reply()
    block = b"N" * 65536
    for i in range(80):
        c.send(block)
    c.send(b"\r\nNOOP\r\nQUIT\r\n")
    r = [c.reply()[0] for _ in range(3)]
    c.close()
    w.wait(10)
    results["line"] = (r, w.hwm)

def rcpt():
    c = Conn(port["rcpt"], timeout=60)
    c.reply(); c.ehlo()
    w = Watch("rcpt")
    c.send(b"MAIL FROM:<a@example.org>\r\n")
    c.reply()
    # pipelined in blocks of 500, replies read as they come
    codes = []
    for b in range(20):
        c.send(b"".join(b"RCPT TO:<bob+%d@example.test>\r\n" % (b * 500 + i) for i in range(500)))
        codes += [c.reply()[0] for _ in range(500)]
    c.send(b"DATA\r\n")
    d = c.reply()[0]
    c.send(b"Subject: many\r\n\r\nx\r\n.\r\nQUIT\r\n")
    r = [c.reply()[0], c.reply()[0]]
    c.close()
    w.wait(10)
    results["rcpt"] = (codes, d, r, w.hwm)

def slow():
    c = Conn(port["slow"], timeout=30)
    c.reply()
    w = Watch("slow")
    t0 = time.time()
    got = b""
    for ch in b"EHLO slowly.example.org":
        try:
            c.send(bytes([ch]))
        except OSError:
            break
        r, _, _ = select.select([c.s], [], [], 2.0)
        if r:
            got = c.s.recv(1000)
            break
        if time.time() - t0 > 20:
            break
    dt = time.time() - t0
    c.close()
    w.wait(10)
    results["slow"] = (got, dt, w.hwm)

def deaf():
    c = Conn(port["deaf"], timeout=30, rcvbuf=4096)
    c.reply()
    w = Watch("deaf")
    c.s.setblocking(False)
    t0 = time.time()
    sent = 0
    blocked = None
    cmd = b"NOOP\r\n" * 1000
    # write until the server stops reading (its replies fill our window)
    while time.time() - t0 < 20:
        _, wr, _ = select.select([], [c.s], [], 1.0)
        if not wr:
            blocked = time.time()
            break
        try:
            sent += c.s.send(cmd)
        except BlockingIOError:
            continue
        except OSError:
            break
    # never read; the server must give up by itself
    gone = w.wait(20)
    dt = (w.ended or time.time()) - (blocked or t0)
    c.close()
    results["deaf"] = (sent, blocked is not None, gone, dt, w.hwm)

ts = [threading.Thread(target=f) for f in (big, line, rcpt, slow, deaf)]
t0 = time.time()
for t in ts: t.start()
for t in ts: t.join(280)
diag("resource scenarios took %.1f s" % (time.time() - t0))
ok(all(not t.is_alive() for t in ts), "every resource scenario finished")

r, end, after, dt, hwm = results.get("big", ([], (0, []), [], 0, 0))
diag("%.2f GB of DATA in %.1f s (%.2f GB/s), VmHWM %d KiB" % (gb, dt, gb / dt if dt else 0, hwm))
ok(r == [250, 250, 354] and end[0] == 552, "%.1f GB DATA over a 1 MB limit read to the end, then 552 (%r)" % (gb, end[1][:1]))
ok(after == [250, 221], "the session goes on after the 552 (%r)" % after)
ok(flat(hwm), "%.1f GB DATA: memory flat (VmHWM %d KiB, base %d)" % (gb, hwm, base))
ok(not maildir_files(rbig, ("new", "cur", "tmp")), "nothing stored or left in tmp/ from the oversize DATA")

r, hwm = results.get("line", ([], 0))
ok(r == [500, 250, 221], "5 MB line without LF: 500, session goes on (%r)" % r)
ok(flat(hwm), "5 MB line: memory flat (VmHWM %d KiB)" % hwm)

codes, d, r, hwm = results.get("rcpt", ([], 0, [], 0))
ok(len(codes) == 10000 and codes[:20] == [250] * 20 and set(codes[20:]) == {452},
   "10,000 RCPTs: 20 accepted, then 452 for each of the rest (%r)" % sorted(set(codes)))
ok(d == 354 and r == [250, 221], "the message still goes through (%r %r)" % (d, r))
files = [f for f in maildir_files(rrcpt) if "/bob/" in f]
ok(len(files) == 1, "bob gets it once, not once per recipient (%d)" % len(files))
ok(flat(hwm), "10,000 RCPTs: memory flat (VmHWM %d KiB)" % hwm)

got, dt, hwm = results.get("slow", (b"", 0, 0))
ok(got.startswith(b"421") and dt < 10, "slowloris (1 byte / 2 s, idle timer never fires) ended by the 6 s session deadline after %.1f s: %r" % (dt, got[:30]))
ok(flat(hwm), "slowloris: memory flat (VmHWM %d KiB)" % hwm)

sent, blocked, gone, dt, hwm = results.get("deaf", (0, False, False, 0, 0))
ok(blocked and gone and dt < 10, "client that never reads: server blocked after %d bytes, ended %.1f s later (idle_timeout 2 s)" % (sent, dt))
ok(flat(hwm), "client that never reads: memory flat (VmHWM %d KiB)" % hwm)
PYEOF
ok $? "resource abuse scenario ran"
tap_lines "$TESTTMP/h-res.out"
grep -q 'reason=timeout' "$TESTTMP/h-rslow.log"
ok $? "log: the slowloris session ended with reason=timeout"
for l in "$TESTTMP"/h-*.log; do
	bad=$(tr -d '\n' <"$l" | grep -c $'\r')
	# every line is one of ours or systemd-socket-activate's own
	other=$(grep -cvE '^(smtp-session|pop3-session|deliver)\[[0-9]+\]: |^(Listening on|Communication attempt on fd|Execing |Connection from|Spawned |Child [0-9]+ died)' "$l")
	ok $([ "$bad" -eq 0 ] && [ "$other" -eq 0 ]; echo $?) \
		"log $(basename "$l"): no raw CR, every line starts with a program's tag ($other other)"
done
grep -q 'event=reject .*cmd=MAIL' "$TESTTMP/h-mx.log"
ok $? "log: the refused MAIL commands are logged"
done_testing
