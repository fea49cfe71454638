#!/usr/bin/env bash
# Memory stays flat whatever the client sends: a large message, an
# oversize message, a 5 MB line without LF.  Peak RSS from /usr/bin/time.
. "$(dirname "$0")/../lib/common.sh"

if [ ! -x /usr/bin/time ]; then
	skip "memory tests" "/usr/bin/time missing"
	done_testing
	exit
fi
inst=$TESTTMP/mem
make_instance "$inst" "max_message_size = 100M" || exit 1
small=$TESTTMP/mem-small
make_instance "$small" || exit 1

# gen MB: an SMTP session carrying an MB-megabyte message to bob
gen() {
	printf 'EHLO mem\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n'
	"$PY" -c "
import sys
line = b'y' * 998 + b'\r\n'
w = sys.stdout.buffer
for i in range($1 * 1048576 // 1000):
    w.write(line)
"
	printf '.\r\nQUIT\r\n'
}

rss() {         # rss INSTANCE < input: peak RSS in KiB of one session
	/usr/bin/time -f '%M' -o "$TESTTMP/rss" "$BUILDDIR/smtp-session/smtp-session" -C "$1" \
		>"$TESTTMP/mem.out" 2>/dev/null
	tail -n 1 "$TESTTMP/rss"
}

base=$(printf 'QUIT\r\n' | rss "$inst")
diag "baseline session RSS ${base} KiB"
gen 1 >"$TESTTMP/m1"
gen 40 >"$TESTTMP/m40"
r1=$(rss "$inst" <"$TESTTMP/m1")
r40=$(rss "$inst" <"$TESTTMP/m40")
diag "1 MB message: ${r1} KiB; 40 MB message: ${r40} KiB"
grep -q '^250 2.0.0 Ok: queued' "$TESTTMP/mem.out"
ok $? "40 MB message accepted"
f=$(ls -S "$inst"/mail/example.test/bob/new/ | head -n 1)
sz=$(stat -c %s "$inst/mail/example.test/bob/new/$f")
ok $([ "$sz" -gt 40000000 ]; echo $?) "40 MB message stored whole ($sz bytes)"
# flat: the 40 MB session needs no more than 1 MB over the 1 MB one
ok $([ $((r40 - r1)) -lt 1024 ]; echo $?) "memory does not grow with message size (${r1} -> ${r40} KiB)"

r=$(rss "$small" <"$TESTTMP/m40")
grep -q '^552 5.3.4' "$TESTTMP/mem.out"
ok $? "40 MB message over a 1 MB limit refused with 552"
ok $([ $((r - r1)) -lt 1024 ]; echo $?) "oversize message read with flat memory (${r} KiB)"
ok $([ -z "$(ls -A "$small/mail/example.test/bob/tmp" 2>/dev/null)" ]; echo $?) "nothing left in tmp/ after the refusal"

{
	printf 'EHLO mem\r\n'
	"$PY" -c "import sys; sys.stdout.buffer.write(b'N' * 5 * 1048576)"
	printf '\r\nNOOP\r\nQUIT\r\n'
} >"$TESTTMP/line"
r=$(rss "$inst" <"$TESTTMP/line")
grep -q '^500 5.5.2 Error: line too long' "$TESTTMP/mem.out" && grep -q '^250 2.0.0 Ok' "$TESTTMP/mem.out"
ok $? "5 MB line refused with 500, session goes on"
ok $([ $((r - base)) -lt 1024 ]; echo $?) "5 MB line read with flat memory (${base} -> ${r} KiB)"
done_testing
