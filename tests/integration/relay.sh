#!/bin/bash
# The outbound path end to end: deliver / postern-sendmail / pickup -> queue ->
# postern-relay -> a loopback test sink (tests/lib/sink.py); routes, HELO,
# smart host, STARTTLS, AUTH, retries, bounces, lifetime, a killed runner.
. "$(dirname "$0")/../lib/common.sh"

RELAY=$BUILDDIR/tools/postern-relay
SENDMAIL=$BUILDDIR/tools/postern-sendmail
DELIVER=$BUILDDIR/deliver/deliver
MAPTOOL=$BUILDDIR/tools/postern-map
SINK=$SRCDIR/tests/lib/sink.py

base=$(mktemp -d "$TESTTMP/relay.XXXXXX")
chmod 755 "$base"
inst=$base/etc
mkdir -p "$inst"
make_instance "$inst" "retry_min = 300ms" "retry_max = 1s" "relay_timeout = 5s" \
	"queue_lifetime = 1h" "relay_concurrency = 4" || { echo "Bail out! instance"; exit 1; }
spool=$inst/spool
mbox=$inst/mail/example.test

# a throwaway certificate for the sink's STARTTLS, valid for 127.0.0.1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$base/key.pem" -out "$base/cert.pem" >/dev/null 2>&1
cp "$base/cert.pem" "$inst/ca.pem"
printf 's3cret\n' >"$inst/relay.secret"

P1=$(free_port) P2=$(free_port) P3=$(free_port) P4=$(free_port) P5=$(free_port) P6=$(free_port)
cat >"$inst/routes" <<EOF
remote.test    host=[127.0.0.1]:$P1
helo.test      host=[127.0.0.1]:$P2 helo=helo
plain.test     host=[127.0.0.1]:$P1 tls=require
tls.test       host=[127.0.0.1]:$P3 tls=require
verify.test    host=[127.0.0.1]:$P3 tls=verify
auth.test      host=[127.0.0.1]:$P3 tls=require auth=relayuser:relay.secret
down.test      host=[127.0.0.1]:$P4
reject.test    host=[127.0.0.1]:$P5
slow.test      host=[127.0.0.1]:$P6
EOF
setconf() {	# setconf KEY VALUE: replace a setting
	sed -i -E "/^[[:space:]]*$1[[:space:]]*=/d" "$inst/postern.conf"
	printf '%s = %s\n' "$1" "$2" >>"$inst/postern.conf"
}
setconf tls_ca_file ca.pem
"$MAPTOOL" -q -C "$inst" || { echo "Bail out! maps"; exit 1; }
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$inst"

sink() {	# sink NAME PORT [flags]: start a sink; SINK_PID
	local name=$1 port=$2
	shift 2
	"$PY" "$SINK" --port "$port" --log "$base/$name.log" --out "$base/$name" "$@" \
		>>"$base/$name.err" 2>&1 &
	SINK_PID=$!
	PIDS+=("$SINK_PID")
	wait_port "$port"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
relay() { "$RELAY" -C "$inst" "$@" 2>>"$base/relay.log"; }
send() {	# send FROM RCPT... : a small message through postern-sendmail
	local from=$1
	shift
	printf 'Subject: test %s\n\nbody line\n.leading dot\n' "$*" |
		"$SENDMAIL" -C "$inst" -f "$from" "$@" 2>>"$base/relay.log"
}
queued() { ls "$spool/queue" 2>/dev/null | grep -c '\.env$'; }
got() { ls "$base/$1" 2>/dev/null | grep -c '\.eml$'; }   # messages a sink accepted
newest() { ls -t "$mbox/$1/new/" 2>/dev/null | head -n 1 | sed "s|^|$mbox/$1/new/|"; }

sink s1 "$P1"; S1=$SINK_PID
sink s2 "$P2"; S2=$SINK_PID
sink s3 "$P3" --tls "$base/cert.pem" "$base/key.pem" --auth relayuser:s3cret; S3=$SINK_PID
sink s5 "$P5" --reject-rcpt nobody; S5=$SINK_PID

# 1-4: a route, EHLO, pipelining, dot-stuffing, no TLS offered = plain
send alice@example.test bob@remote.test carol@remote.test
ok $? "postern-sendmail queues two remote recipients"
[ "$(queued)" -eq 1 ]
ok $? "one message in the queue"
relay -q
[ "$(got s1)" -eq 1 ] && [ "$(queued)" -eq 0 ] &&
	grep -qx 'RCPT TO:<bob@remote.test>' "$base/s1/1.env" && grep -qx 'RCPT TO:<carol@remote.test>' "$base/s1/1.env"
ok $? "route remote.test: one transaction with both recipients, queue empty"
grep -q '^2 EHLO mx.example.test' "$base/s1.log" && grep -qx 'tls no' "$base/s1/1.env" &&
	grep -q '^\.leading dot' "$base/s1/1.eml"
ok $? "EHLO, plain (no STARTTLS offered), dot-stuffing undone by the sink"

# 5: HELO per route
send alice@example.test x@helo.test && relay -q
grep -q ' HELO mx.example.test' "$base/s2.log" && ! grep -q ' EHLO' "$base/s2.log" && [ "$(got s2)" -eq 1 ]
ok $? "route helo=helo greets with HELO"

# 6-8: STARTTLS opportunistic, required, required but not offered
send alice@example.test y@tls.test && relay -q
[ "$(got s3)" -eq 1 ] && grep -qx 'tls yes' "$base/s3/1.env"
ok $? "tls=require with a sink that offers STARTTLS: sent over TLS"
send alice@example.test z@plain.test && relay -q
[ "$(queued)" -eq 1 ] && relay -l | grep -q 'z@plain.test deferred' &&
	grep -q 'to=z@plain.test.*result=deferred.*TLS required but STARTTLS not offered' "$base/relay.log"
ok $? "tls=require with a sink without STARTTLS: deferred, not sent in clear"
relay --remove "$(relay -l | awk 'NR==1 {print $1}')"
[ "$(queued)" -eq 0 ]
ok $? "--remove takes it out"

# 9: certificate verification against tls_ca_file
send alice@example.test v@verify.test && relay -q
[ "$(got s3)" -eq 2 ] && grep -qx 'tls yes' "$base/s3/2.env"
ok $? "tls=verify: certificate verified against tls_ca_file"
setconf tls_ca_file /nonexistent-ca.pem
send alice@example.test w@verify.test && relay -q
[ "$(got s3)" -eq 2 ] && [ "$(queued)" -eq 1 ] && grep -q 'to=w@verify.test.*result=deferred' "$base/relay.log"
ok $? "tls=verify without the right CA: deferred"
relay --remove "$(relay -l | awk 'NR==1 {print $1}')"
setconf tls_ca_file ca.pem

# 10: AUTH to a smart host route over TLS
send alice@example.test a@auth.test && relay -q
[ "$(got s3)" -eq 3 ] && grep -qx 'auth relayuser' "$base/s3/3.env"
ok $? "auth=relayuser:secretfile: AUTH over TLS, accepted"

# 11: smarthost for a domain without a route
setconf smarthost "[127.0.0.1]:$P2"
send alice@example.test someone@elsewhere.test && relay -q
[ "$(got s2)" -eq 2 ] && grep -qx 'RCPT TO:<someone@elsewhere.test>' "$base/s2/2.env"
ok $? "smarthost takes domains without a route"
setconf smarthost '""'
sed -i '/^smarthost/d' "$inst/postern.conf"

# 12-14: sink down, then up: deferred, retried, delivered
send alice@example.test later@down.test && relay -q
relay -l | grep -q 'later@down.test deferred attempts=1'
ok $? "sink down: deferred with one attempt"
relay -q
relay -l | grep -q 'later@down.test deferred attempts=1'
ok $? "a second pass before retry_min does not try again"
sink s4 "$P4"; S4=$SINK_PID
sleep 0.4
relay -q
[ "$(got s4)" -eq 1 ] && [ "$(queued)" -eq 0 ]
ok $? "sink up: delivered on the retry"

# 15-18: a 5xx makes a bounce in the sender's maildir (RFC 3464)
rm -f "$mbox"/alice/new/*
send alice@example.test good@reject.test nobody@reject.test && relay -q
[ "$(got s5)" -eq 1 ] && grep -qx 'RCPT TO:<good@reject.test>' "$base/s5/1.env" && [ "$(queued)" -eq 0 ]
ok $? "the accepted recipient got it; the message left the queue"
b=$(newest alice)
[ -n "$b" ] && grep -q '^Return-Path: <>' "$b" && grep -q '^Content-Type: multipart/report; report-type=delivery-status' "$b"
ok $? "bounce in alice's maildir from <>, multipart/report"
"$PY" - "$b" <<'PYEOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
parts = m.get_payload()
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status"
types = [p.get_content_type() for p in parts]
assert types == ["text/plain", "message/delivery-status", "text/rfc822-headers"], types
ds = parts[1].get_payload()
per = [dict(x.items()) for x in ds[1:]]
assert len(per) == 1, per
assert per[0]["Final-Recipient"] == "rfc822; nobody@reject.test", per
assert per[0]["Action"] == "failed" and per[0]["Status"] == "5.1.1", per
assert per[0]["Diagnostic-Code"].startswith("smtp; 550 5.1.1"), per
assert ds[0]["Reporting-MTA"] == "dns; mx.example.test"
assert "Subject: test" in parts[2].get_payload()
PYEOF
ok $? "RFC 3464 structure: three parts, one failed recipient, Status 5.1.1, Diagnostic-Code"
! grep -q 'good@reject.test' <(sed -n '/^Final-Recipient/p' "$b")
ok $? "only the failed recipient is reported"

# 19-20: lifetime expiry
setconf queue_lifetime 1s
rm -f "$mbox"/alice/new/*
send alice@example.test gone@down.test
stop "$S4"
relay -q
relay -l | grep -q 'gone@down.test deferred'
ok $? "lifetime: first attempt deferred"
sleep 1.2
relay -q
b=$(newest alice)
[ "$(queued)" -eq 0 ] && [ -n "$b" ] && grep -q 'Status: 4.4.7' "$b" && grep -q 'queue lifetime expired' "$b"
ok $? "after queue_lifetime: failed, bounce says lifetime expired (4.4.7)"
setconf queue_lifetime 1h

# 21: a bounce that cannot be delivered goes to badmail
send '' nobody@reject.test && relay -q
[ "$(queued)" -eq 0 ] && [ "$(ls "$spool/badmail" | grep -c '\.env$')" -eq 1 ]
ok $? "a failed message from <> is never bounced: badmail"

# 22-23: hold and release
send alice@example.test held@remote.test
id=$(relay -l | awk 'NR==1 {print $1}')
relay --hold "$id" && relay -q
[ "$(queued)" -eq 1 ] && relay -l | grep -q ' held'
ok $? "--hold keeps it queued through a pass"
relay --release "$id" && relay -q
[ "$(queued)" -eq 0 ]
ok $? "--release lets it go"

# 24-25: kill -9 of the runner while the server holds the final reply
sink s6 "$P6" --data-delay 2; S6=$SINK_PID
send alice@example.test crash@slow.test
"$RELAY" -C "$inst" -q 2>>"$base/relay.log" &
rp=$!
for _ in $(seq 1 100); do
	grep -q 'data received' "$base/s6.log" 2>/dev/null && break
	sleep 0.05
done
kill -9 "$rp"
wait "$rp" 2>/dev/null
[ "$(queued)" -eq 1 ]
ok $? "runner killed mid-delivery: the message is still queued"
sleep 2.5
stop "$S6"
sink s6b "$P6"; S6=$SINK_PID
relay -f
n=$(($(got s6) + $(got s6b)))
[ "$(queued)" -eq 0 ] && [ "$n" -ge 1 ] && [ "$n" -le 2 ]
ok $? "after a new pass: delivered, $n copies in all (at most one more, never lost)"

# 26-28: pickup folder: To/Cc/Bcc, Bcc removed, local recipient delivered
rm -f "$mbox"/bob/new/*
cat >"$spool/pickup/.m1" <<'EOF'
From: "Alice A." <alice@example.test>
To: "Rem, Ote" <p1@remote.test>,
  bob@example.test (local)
Cc: p2@remote.test
Bcc: hidden@remote.test
Subject: pickup test

dropped in pickup
EOF
mv "$spool/pickup/.m1" "$spool/pickup/m1"
relay -q
e=$(grep -l 'RCPT TO:<hidden@remote.test>' "$base"/s1/*.env | head -n 1)
[ -n "$e" ] && grep -qx 'RCPT TO:<p1@remote.test>' "$e" && grep -qx 'RCPT TO:<p2@remote.test>' "$e" &&
	grep -qx 'MAIL FROM:<alice@example.test>' "$e"
ok $? "pickup: To, Cc and Bcc addresses sent from the From address"
! grep -qi '^bcc:' "${e%.env}.eml" && grep -q '^Message-ID: ' "${e%.env}.eml" && grep -q 'dropped in pickup' "${e%.env}.eml"
ok $? "pickup: Bcc removed, Message-ID added, body intact"
b=$(newest bob)
[ -n "$b" ] && grep -q 'dropped in pickup' "$b" && ! grep -qi '^bcc:' "$b" && [ ! -e "$spool/pickup/m1" ]
ok $? "pickup: local recipient delivered at once, file removed"

# 29-30: postern-sendmail -t -i with a dot line, -F
rm -f "$mbox"/alice/new/*
printf 'To: t1@remote.test\nCc: alice@example.test\nBcc: t2@remote.test\nSubject: t\n\nline\n.\nafter the dot\n' |
	"$SENDMAIL" -C "$inst" -t -i -oem -odb -f bob@example.test -F 'Bob B' 2>>"$base/relay.log"
rc=$?
b=$(newest alice)
[ $rc -eq 0 ] && [ -n "$b" ] && grep -q 'after the dot' "$b" && grep -q '^From: "Bob B" <bob@example.test>' "$b" &&
	! grep -qi '^bcc:' "$b"
ok $? "sendmail -t -i: local copy at once, -F in From, Bcc removed, a lone dot kept"
relay -q
e=$(grep -l 'RCPT TO:<t2@remote.test>' "$base"/s1/*.env | head -n 1)
[ -n "$e" ] && grep -qx 'RCPT TO:<t1@remote.test>' "$e" && ! grep -q 'alice' "$e"
ok $? "sendmail -t: remote To and Bcc queued and relayed, the local one not relayed"

# 31-32: sendmail exit codes
printf 'Subject: x\n\nx\n' | "$SENDMAIL" -C "$inst" -f bob@example.test nosuchuser@example.test 2>/dev/null
[ $? -eq 67 ]
ok $? "sendmail to an unknown local user: exit 67, nothing queued ($(queued) queued)"
printf 'Subject: x\n\nx\n' | "$SENDMAIL" -C "$inst" -bs 2>/dev/null
[ $? -eq 64 ]
ok $? "sendmail -bs: usage error 64"

# 33: deliver forwards an alias to a remote address through the queue
printf 'Subject: fwd\n\nforward me\n' | "$DELIVER" -C "$inst" -f carol@example.net fwd@example.test 2>>"$base/relay.log"
rc=$?
relay -q
e=$(grep -l 'RCPT TO:<someone@remote.test>' "$base"/s1/*.env | head -n 1)
[ $rc -eq 0 ] && [ -n "$e" ] && grep -qx 'MAIL FROM:<carol@example.net>' "$e" && grep -q 'forward me' "${e%.env}.eml"
ok $? "deliver fwd@example.test: queued and relayed to someone@remote.test"

# 34: logs: one line per attempt per recipient with the fields
grep -q 'event=relay id=[^ ]* from=alice@example.test to=bob@remote.test relay=127.0.0.1\[127.0.0.1\]:[0-9]* result=delivered attempts=1 reply="250 2.0.0 queued" delay_ms=' "$base/relay.log"
ok $? "log line per recipient: id, to, relay, result, reply, delay"

[ "$T_FAILED" -gt 0 ] && sed 's/^/# /' "$base/relay.log" | tail -n 40
done_testing
