#!/usr/bin/env bash
# Start-up work of the per-connection programs: user = uid:gid drops
# privileges without an NSS lookup (and refuses uid or gid 0); a plain
# session opens no file it does not need before the banner.
. "$(dirname "$0")/../lib/common.sh"

smtp=$BUILDDIR/smtp-session/smtp-session
if [ "$(id -u)" -ne 0 ] || ! id postern >/dev/null 2>&1; then
	skip "user = uid:gid" "needs root and the postern user"
	done_testing
	exit
fi
ids="$(id -u postern):$(id -g postern)"
inst=$TESTTMP/startup
make_instance "$inst" || exit 1
sed -i "s/^user = .*/user = $ids/" "$inst/postern.conf"
msg='EHLO s.example.org\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n'
out=$(printf "$msg" | "$smtp" -C "$inst" 2>"$TESTTMP/startup.err")
grep -q '^250 2.0.0 Ok: queued' <<<"$out"
ok $? "user = $ids: message accepted"
f=$(ls "$inst"/mail/example.test/bob/new/ | head -n 1)
[ -n "$f" ] && [ "$(stat -c %u:%g "$inst/mail/example.test/bob/new/$f")" = "$ids" ]
ok $? "stored as $ids ($(stat -c %u:%g "$inst/mail/example.test/bob/new/$f" 2>/dev/null))"

for bad in 0:0 "0:$(id -g postern)" "$(id -u postern):0"; do
	sed -i "s/^user = .*/user = $bad/" "$inst/postern.conf"
	out=$(printf 'QUIT\r\n' | "$smtp" -C "$inst" 2>"$TESTTMP/startup.err")
	rc=$?
	[ "$rc" -eq 78 ] && grep -q '^421 ' <<<"$out" && ! grep -q '^220' <<<"$out"
	ok $? "user = $bad refused: exit $rc, 421 ($(grep -o 'has [ug]id 0' "$TESTTMP/startup.err"))"
done

if command -v strace >/dev/null; then
	sed -i "s/^user = .*/user = $ids/" "$inst/postern.conf"
	printf 'QUIT\r\n' | strace -f -qq -e trace=openat,connect -o "$TESTTMP/startup.strace" "$smtp" -C "$inst" >/dev/null 2>&1
	opened=$(grep -oE '"/[^"]*"' "$TESTTMP/startup.strace" | grep -vE '^"/(lib|usr/lib|etc/ld\.so|proc/self)' | grep -v "$inst" | tr '\n' ' ')
	! grep -Eq 'passwd|nsswitch|nscd|libpam|libcrypt|libssl|libcrypto|postern-tls' "$TESTTMP/startup.strace"
	ok $? "user = uid:gid, QUIT: no NSS, PAM, crypt or TLS file opened (others: ${opened:-none})"
	sed -i "s/^user = .*/user = postern/" "$inst/postern.conf"
	printf 'QUIT\r\n' | strace -f -qq -e trace=openat -o "$TESTTMP/startup.strace" "$smtp" -C "$inst" >/dev/null 2>&1
	grep -q '/etc/passwd' "$TESTTMP/startup.strace"
	ok $? "user = postern: the name is looked up (/etc/passwd read)"
else
	skip "no NSS lookup with uid:gid" "strace missing"
	skip "the name is looked up" "strace missing"
fi
done_testing
