#!/usr/bin/env bash
# smtp-session over a real socket (systemd-socket-activate), driven by
# swaks and python3 smtplib; stored messages checked byte for byte.
. "$(dirname "$0")/../lib/common.sh"

inst=$TESTTMP/smtp-int
make_instance "$inst" || { echo "1..0 # skip cannot build instance"; exit 1; }
port=$(free_port)
log=$TESTTMP/smtp-int.log
if ! command -v systemd-socket-activate >/dev/null; then
	skip "smtp over socket" "systemd-socket-activate missing"
	done_testing
	exit
fi
serve "$port" "$log" "$BUILDDIR/smtp-session/smtp-session" -C "$inst"
ok $? "smtp-session listening under systemd-socket-activate on 127.0.0.1:$port"

new() { ls "$inst/mail/$1/$2/new" 2>/dev/null | wc -l; }

# 1. swaks, plain message
if command -v swaks >/dev/null; then
	swaks --server "127.0.0.1:$port" --from sender@example.org --to alice@example.test \
		--header "Subject: swaks test" --body "Hello from swaks" >"$TESTTMP/swaks1.out" 2>&1
	ok $? "swaks delivers to alice"
	ok $([ "$(new example.test alice)" -eq 1 ]; echo $?) "alice has one message"
	f=$(ls "$inst"/mail/example.test/alice/new/* | head -n 1)
	grep -q '^Subject: swaks test$' "$f"
	ok $? "stored message has the subject"
	grep -q "^Received: from .* (\[127.0.0.1\])$" "$f"
	ok $? "Received header names the peer address"
	# swaks to an unknown user: refused at RCPT
	swaks --server "127.0.0.1:$port" --from sender@example.org --to nobody@example.test \
		>"$TESTTMP/swaks2.out" 2>&1
	grep -q '<\*\* *550 5.1.1' "$TESTTMP/swaks2.out"
	ok $? "swaks: unknown user gets 550 5.1.1"
	swaks --server "127.0.0.1:$port" --from sender@example.org --to v@remote.test \
		>"$TESTTMP/swaks3.out" 2>&1
	grep -q '<\*\* *554 5.7.1' "$TESTTMP/swaks3.out"
	ok $? "swaks: relay attempt gets 554 5.7.1"
	# BDAT via swaks? swaks has no CHUNKING; alias expansion via team
	swaks --server "127.0.0.1:$port" --from sender@example.org --to team@example.test \
		--body "to the team" >/dev/null 2>&1
	ok $? "swaks delivers to an alias"
	ok $([ "$(new example.test bob)" -eq 1 ] && [ "$(new example.test alice)" -eq 2 ]; echo $?) \
		"alias reached alice and bob"
	a=$(ls -t "$inst"/mail/example.test/alice/new/* | head -n 1)
	b=$(ls -t "$inst"/mail/example.test/bob/new/* | head -n 1)
	ok $([ "$(stat -c %i "$a")" = "$(stat -c %i "$b")" ]; echo $?) "one file, hard-linked into both mailboxes"
else
	skip "swaks tests" "swaks missing"
fi

# 2. python3 smtplib with pipelining, byte-for-byte check of the stored file
"$PY" - "$port" "$inst" >"$TESTTMP/py.out" 2>&1 <<'PYEOF'
import smtplib, sys, os, glob
port, inst = int(sys.argv[1]), sys.argv[2]
n = 0
def ok(c, d):
    global n
    n += 1
    print(("ok" if c else "not ok"), "- py", d)
body = (b"From: Sender <sender@example.org>\r\n"
        b"To: bob@example.test\r\n"
        b"Subject: byte exact\r\n"
        b"\r\n"
        b"line one\r\n"
        b".leading dot\r\n"
        b"..two dots\r\n"
        b"8bit: caf\xc3\xa9\r\n"
        b"\r\n"
        b"last line\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
code, _ = s.ehlo("py.example.org")
ok(code == 250 and s.has_extn("pipelining") and s.has_extn("chunking"), "EHLO advertises PIPELINING and CHUNKING")
ok(int(s.esmtp_features.get("size", "0")) == 1048576, "SIZE advertised as configured")
refused = s.sendmail("sender@example.org", ["bob@example.test", "nobody@example.test"], body,
                     mail_options=["BODY=8BITMIME"])
ok(list(refused) == ["nobody@example.test"], "sendmail: one recipient refused, one accepted")
before = set(glob.glob(inst + "/mail/example.test/bob/new/*"))
s.sendmail("sender@example.org", ["bob@example.test"], body)
after = set(glob.glob(inst + "/mail/example.test/bob/new/*"))
new = sorted(after - before)
ok(len(new) == 1, "second message stored")
data = open(new[0], "rb").read()
want = body.replace(b"\r\n", b"\n").replace(b"\n.leading", b"\nleading").replace(b"\n..two", b"\n.two")
# smtplib dot-stuffs; the server unstuffs: the stored body is the original
want = body.replace(b"\r\n", b"\n")
i = data.index(b"From: Sender")
ok(data[i:] == want, "stored message equals what was sent (after trace headers)")
ok(data.startswith(b"Return-Path: <sender@example.org>\n"), "Return-Path first")
name = os.path.basename(new[0])
ok(",S=%d," % len(data) in name and name.endswith(",W=%d" % (len(data) + data.count(b"\n"))),
   "file name carries S= and W= sizes")
# a pipelined transaction written in one go, raw
import socket
c = socket.create_connection(("127.0.0.1", port), timeout=20)
f = c.makefile("rb")
f.readline()
c.sendall(b"EHLO raw\r\nMAIL FROM:<r@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
          b"Subject: raw\r\n\r\nx\r\n.\r\nQUIT\r\n")
lines = [l.decode() for l in f.read().split(b"\r\n") if l]
codes = [l[:4] for l in lines if not l.startswith("250-")]
ok(codes == ["250 ", "250 ", "250 ", "354 ", "250 ", "221 "], "pipelined group answered in order: %r" % codes)
c.close()
s.quit()
PYEOF
ok $? "python smtplib scenario ran to the end"
tap_lines "$TESTTMP/py.out"

# 3. the log has connect, message and disconnect lines
sleep 0.2
grep -q 'smtp-session\[[0-9]*\]: event=connect ip=127.0.0.1 port=' "$log"; ok $? "log: connect line"
grep -q 'event=message id=[0-9A-F]* ip=127.0.0.1 from=sender@example.org .*result=ok' "$log"; ok $? "log: message line"
grep -q 'event=disconnect ip=127.0.0.1 reason=quit messages=' "$log"; ok $? "log: disconnect line"
if [ "$(id -u)" -eq 0 ]; then
	owner=$(stat -c %U "$inst/mail/example.test/alice/new")
	ok $([ "$owner" = postern ]; echo $?) "mailbox written as the mail user, not root"
fi
done_testing
