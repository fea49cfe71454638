#!/bin/bash
# deliver end to end: a throwaway instance, real maps, real maildirs; TAP out.
set -u

SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
DELIVER=$BUILDDIR/deliver/deliver
MAPTOOL=$BUILDDIR/tools/postern-map
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

n=0
failed=0
ok() {	# ok STATUS DESCRIPTION: STATUS 0 is a pass
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
diag() { echo "# $*"; }
bail() { echo "Bail out! $*"; exit 1; }

for f in "$DELIVER" "$MAPTOOL"; do
	[ -x "$f" ] || bail "$f not built"
done

base=$(mktemp -d "${TESTTMP:-${TMPDIR:-/tmp}}/postern-deliver.XXXXXX") || bail "mktemp"
trap 'rm -rf "$base"' EXIT
inst=$base/etc
mail=$base/mail
mkdir -p "$inst" "$mail" "$base/spool" "$base/out"
out=$base/out

# deliver refuses to read mail as root, so a root run needs a mail user
user_line=
if [ "$(id -u)" -eq 0 ]; then
	if ! id postern >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin postern ||
			bail "cannot create user postern"
	fi
	user_line="user = postern"
fi

write_conf() {	# write_conf DIR [extra line]
	cat >"$1/postern.conf" <<EOF
# deliver integration test instance
hostname = mx.example.test
mail_root = $mail
spool = $base/spool
$user_line
fsync = yes
${2:-}
EOF
}

hash=$(openssl passwd -6 pw 2>/dev/null) ||
	hash=$("$PY" -c 'import crypt; print(crypt.crypt("pw", crypt.mksalt(crypt.METHOD_SHA512)))') ||
	bail "cannot make a password hash"

write_conf "$inst"
cat >"$inst/domains" <<EOF
example.test
example.net example.test
EOF
cat >"$inst/aliases" <<EOF
team@example.test: alice@example.test, bob@example.test
fwd@example.test: someone@remote.test
EOF
cat >"$inst/users" <<EOF
alice@example.test:$hash
bob@example.test:$hash
EOF
"$MAPTOOL" -q -C "$inst" >"$out/map.err" 2>&1 || {
	sed 's/^/# /' "$out/map.err"
	bail "postern-map failed"
}

if [ -n "$user_line" ]; then
	chown -R postern "$base" || bail "chown"
	runuser -u postern -- test -w "$mail" ||
		bail "postern cannot reach $mail (set TMPDIR to a world-searchable directory)"
fi

# run_deliver [args...] < message: status in $rc, stderr in $out/err
run_deliver() {
	timeout 60 "$DELIVER" "$@" >"$out/stdout" 2>"$out/err"
	rc=$?
}
count() {	# count new|tmp: files in that part of every maildir
	find "$mail" -path "*/$1/*" -type f 2>/dev/null | wc -l
}
newest_in() {	# the one file in the maildir of $1 (a user name)
	find "$mail" -path "*/$1/new/*" -type f 2>/dev/null | head -n 1
}
has_err() { grep -q -- "$1" "$out/err"; }

# 1-4: one recipient, byte-exact; CRLF -> LF, a lone CR kept, a final LF added
printf 'Subject: t\r\nFrom: x@example.net\r\n\r\nhello\r\nbare\rcr\r\nlast' >"$out/m1"
printf 'Return-Path: <sender@example.net>\nSubject: t\nFrom: x@example.net\n\nhello\nbare\rcr\nlast\n' >"$out/w1"
printf 'Return-Path: <>\nSubject: t\nFrom: x@example.net\n\nhello\nbare\rcr\nlast\n' >"$out/w1.null"
run_deliver -C "$inst" -f sender@example.net alice@example.test <"$out/m1"
ok $rc "single recipient: exit 0"
f=$(newest_in alice)
cmp -s "$f" "$out/w1"
ok $? "stored file is Return-Path + body with CRLF turned into LF"
size=$(stat -c %s "$out/w1")
lines=$(tr -cd '\n' <"$out/w1" | wc -c)
case $f in *",S=$size,W=$((size + lines))") r=0 ;; *) r=1; diag "name: $f" ;; esac
ok $r "name carries ,S=$size,W=$((size + lines))"
{ grep -q 'event=deliver' "$out/err" && grep -q 'result=ok' "$out/err" &&
	! grep -q hello "$out/err"; }
ok $? "one log line with result=ok and nothing from the body"

# 5-7: several recipients share one inode
rm -f "$mail"/example.test/*/new/*
run_deliver -C "$inst" alice@example.test '<bob@example.test>' <"$out/m1"
ok $rc "two recipients (one in angle brackets): exit 0"
fa=$(newest_in alice); fb=$(newest_in bob)
[ -n "$fa" ] && [ -n "$fb" ] && [ "$(stat -c %i "$fa")" = "$(stat -c %i "$fb")" ] &&
	[ "$(stat -c %h "$fa")" -eq 2 ]
ok $? "both mailboxes hold hard links of one file"
head -n 1 "$fa" | grep -qx 'Return-Path: <>'
ok $? "no -f and no SENDER: Return-Path: <>"

# 8-9: alias expansion
rm -f "$mail"/example.test/*/new/*
SENDER=env@example.net run_deliver -C "$inst" team@example.test <"$out/m1"
ok $rc "alias team -> alice, bob: exit 0"
fa=$(newest_in alice); fb=$(newest_in bob)
[ -n "$fa" ] && [ -n "$fb" ] && [ "$(count new)" -eq 2 ] &&
	head -n 1 "$fa" | grep -qx 'Return-Path: <env@example.net>'
ok $? "alias reached alice and bob; SENDER used for Return-Path"

# 10: alias domain
rm -f "$mail"/example.test/*/new/*
run_deliver -C "$inst" ALICE@Example.NET <"$out/m1"
[ $rc -eq 0 ] && [ -n "$(newest_in alice)" ]
ok $? "alias domain example.net reaches alice"

# 11-13: unknown user; nothing stored even for the good recipient
rm -f "$mail"/example.test/*/new/*
run_deliver -C "$inst" alice@example.test nobody@example.test <"$out/m1"
[ $rc -eq 67 ] && has_err 'no such user'
ok $? "unknown user: exit 67 with a message (got $rc)"
[ "$(count new)" -eq 0 ] && [ "$(count tmp)" -eq 0 ]
ok $? "unknown user: nothing stored for anyone"
[ "$(wc -l <"$out/err")" -ge 1 ] && grep -q 'event=deliver' "$out/err"
ok $? "unknown user: logged"

# 14-16: remote recipients go into the outbound queue
qenv() { cat "$base"/spool/queue/*.env 2>/dev/null; }
qcount() { ls "$base"/spool/queue/ 2>/dev/null | grep -c '\.env$'; }
run_deliver -C "$inst" -f sender@example.net someone@remote.test <"$out/m1"
[ $rc -eq 0 ] && [ "$(qcount)" -eq 1 ] && qenv | grep -qx 'rcpt pending 0 0 someone@remote.test' &&
	qenv | grep -qx 'from sender@example.net' && [ "$(count new)" -eq 0 ] &&
	cmp -s "$(ls "$base"/spool/queue/*.msg)" <(tail -n +2 "$out/w1")
ok $? "remote recipient: exit 0, queued without Return-Path (got $rc)"
rm -f "$base"/spool/queue/*
run_deliver -C "$inst" fwd@example.test <"$out/m1"
[ $rc -eq 0 ] && [ "$(count new)" -eq 0 ] && qenv | grep -qx 'rcpt pending 0 0 someone@remote.test'
ok $? "alias to a remote address: exit 0, forwarded through the queue (got $rc)"
rm -f "$base"/spool/queue/*
run_deliver -C "$inst" alice@example.test fwd@example.test other@remote.test <"$out/m1"
[ $rc -eq 0 ] && [ "$(count new)" -eq 1 ] && [ "$(qcount)" -eq 1 ] &&
	qenv | grep -qx 'rcpt pending 0 0 someone@remote.test' &&
	qenv | grep -qx 'rcpt pending 0 0 other@remote.test'
ok $? "local and remote together: one mailbox copy and one queued message for both remote addresses"
rm -f "$base"/spool/queue/* "$mail"/example.test/*/new/*

# 16: a missing map is a temporary failure
inst2=$base/etc2
mkdir "$inst2"
write_conf "$inst2"
cp "$inst"/aliases.cdb "$inst"/users.cdb "$inst2"/
[ -n "$user_line" ] && chown -R postern "$inst2"
run_deliver -C "$inst2" alice@example.test <"$out/m1"
[ $rc -eq 75 ] && [ "$(count new)" -eq 0 ]
ok $? "missing domains.cdb: exit 75, nothing stored (got $rc)"

# 17: a broken postern.conf names file:line
inst3=$base/etc3
mkdir "$inst3"
write_conf "$inst3" "no_such_key = 1"
cp "$inst"/*.cdb "$inst3"/
line=$(grep -n no_such_key "$inst3/postern.conf" | cut -d: -f1)
run_deliver -C "$inst3" alice@example.test <"$out/m1"
[ $rc -eq 78 ] && has_err "postern.conf:$line"
ok $? "bad postern.conf: exit 78 naming postern.conf:$line (got $rc)"

# 18-22: the commit protocol over a socketpair
commit_run() {	# commit_run BYTE|'' MESSAGE: prints "<reply> <status>"
	timeout 60 "$PY" - "$DELIVER" "$inst" "$1" "$2" 2>"$out/err" <<'EOF'
import socket, subprocess, sys
deliver, inst, byte, msg = sys.argv[1:5]
mine, theirs = socket.socketpair()
with open(msg, "rb") as f:
    p = subprocess.Popen([deliver, "-C", inst, "-c", str(theirs.fileno()),
                          "alice@example.test"], stdin=f,
                         pass_fds=[theirs.fileno()])
theirs.close()
if byte:
    mine.sendall(byte.encode())
mine.shutdown(socket.SHUT_WR)
mine.settimeout(30)
reply = b""
try:
    while not reply.endswith(b"\n"):
        c = mine.recv(256)
        if not c:
            break
        reply += c
except socket.timeout:
    pass
print(reply.decode(errors="replace").strip() or "-", p.wait(timeout=30))
EOF
}
rm -f "$mail"/example.test/*/new/*
res=$(commit_run C "$out/m1")
[ "$res" = "OK 0" ]
ok $? "-c: 'C' commits, answers OK, exit 0 (got: $res)"
f=$(newest_in alice)
[ -n "$f" ] && cmp -s "$f" "$out/w1.null"
ok $? "-c: committed message stored byte-exact"
rm -f "$mail"/example.test/*/new/*
res=$(commit_run '' "$out/m1")
[ "$res" = "- 75" ] && [ "$(count new)" -eq 0 ] && [ "$(count tmp)" -eq 0 ]
ok $? "-c: EOF on the commit fd stores nothing, exit 75 (got: $res)"
res=$(commit_run A "$out/m1")
[ "$res" = "- 75" ] && [ "$(count new)" -eq 0 ] && [ "$(count tmp)" -eq 0 ]
ok $? "-c: any other byte aborts, exit 75 (got: $res)"
grep -q 'result=abort' "$out/err"
ok $? "-c: abort is logged"

# 23-24: a CRLF split across the 64 KiB read boundary; a final lone CR ends the line
"$PY" -c '
import sys
sys.stdout.buffer.write(b"a" * 65535 + b"\r\nb" + b"c" * 70000 + b"\r\r\nend\r")' >"$out/m2"
"$PY" -c '
import sys
sys.stdout.buffer.write(b"Return-Path: <>\n" + b"a" * 65535 + b"\nb" + b"c" * 70000 + b"\r\nend\n")' >"$out/w2"
rm -f "$mail"/example.test/*/new/*
run_deliver -C "$inst" alice@example.test <"$out/m2"
ok $rc "large message across read boundaries: exit 0"
cmp -s "$(newest_in alice)" "$out/w2"
ok $? "CRLF split by the read boundary becomes LF; lone CRs stay"

# 25-29: usage
run_deliver -C "$inst" <"$out/m1"
[ $rc -eq 64 ]
ok $? "no recipient: exit 64 (got $rc)"
run_deliver -C "$inst" -x alice@example.test <"$out/m1"
[ $rc -eq 64 ]
ok $? "unknown option: exit 64 (got $rc)"
run_deliver -C "$inst" -c 99 alice@example.test <"$out/m1"
[ $rc -eq 64 ]
ok $? "-c with a closed descriptor: exit 64 (got $rc)"
run_deliver --help </dev/null
[ $rc -eq 0 ] && grep -q '^usage: deliver' "$out/stdout"
ok $? "--help: usage on stdout, exit 0"
rm -f "$mail"/example.test/*/new/*
run_deliver -C "$inst" "$(printf 'alice@example.test\r')" <"$out/m1"
[ $rc -ne 0 ] && [ "$(count new)" -eq 0 ]
ok $? "a recipient with CR is refused (got $rc)"

echo "1..$n"
[ $failed -eq 0 ]
