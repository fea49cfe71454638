#!/bin/bash
# The transcript tests again, with smtp-session and pop3-session under
# valgrind (memcheck, full leak check): one case per transcript, ok when
# the transcript passes and valgrind reports no error and no definite or
# possible leak.  Only for a build without sanitizers (ASan and valgrind
# do not mix); skipped there, and when valgrind is missing.
# VALGRIND_TRANSCRIPTS="basic.smtp pop3-basic.pop3" runs a subset.  TAP out.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

tr=$SRCDIR/tests/transcripts
if [ -n "${VALGRIND_TRANSCRIPTS:-}" ]; then
	files=$(for f in $VALGRIND_TRANSCRIPTS; do echo "$tr/$f"; done)
else
	files=$(ls "$tr"/*.smtp "$tr"/*.pop3)
fi

why=
if ! command -v valgrind >/dev/null 2>&1; then
	why="valgrind not installed"
elif grep -qE '^SAN_CFLAGS *= *[^ ]' "$BUILDDIR/Makefile" 2>/dev/null; then
	why="sanitizer build"
fi
if [ -n "$why" ]; then
	for f in $files; do
		skip "valgrind: $(basename "$f")" "$why"
	done
	done_testing
	exit 0
fi

# a private copy of the compiled test instance (tests/run makes one)
vg=$TESTTMP/valgrind
mkdir -p "$vg/logs"
if [ -d "$TESTTMP/instance" ]; then
	cp -a "$TESTTMP/instance" "$vg/instance"
else
	mkdir -p "$vg/instance"
	cp "$SRCDIR"/tests/data/instance/* "$vg/instance"/
	chmod u+w "$vg/instance"/*
	[ "$(id -u)" -eq 0 ] && printf 'user = postern\n' >>"$vg/instance/postern.conf"
	"$BUILDDIR/tools/postern-map" -q -C "$vg/instance"
fi
[ "$(id -u)" -eq 0 ] && chmod 777 "$vg/logs"

for f in $files; do
	name=$(basename "$f")
	log=$vg/logs/$name
	# %p: one log per process; deliver, started by the session with
	# delivery = deliver, runs under valgrind too
	TESTTMP=$vg TRANSCRIPT_WRAPPER="valgrind -q --vgdb=no --trace-children=yes --error-exitcode=0 --leak-check=full \
		--errors-for-leak-kinds=definite,possible --show-leak-kinds=definite,possible \
		--log-file=$log.%p.vg" \
		"$PY" "$SRCDIR/tests/lib/transcript.py" "$f" >"$log.tap" 2>&1
	bad=$(grep -cE '^not ok' "$log.tap")
	errs=$(cat "$log".*.vg 2>/dev/null | grep -cE '^==[0-9]+== ')
	[ "$bad" -eq 0 ] && [ "$errs" -eq 0 ] && grep -qE '^1\.\.[1-9]' "$log.tap"
	ok $? "valgrind: $name (transcript cases failed: $bad, valgrind lines: $errs)"
	if [ "$bad" -ne 0 ] || [ "$errs" -ne 0 ]; then
		grep -E '^not ok' "$log.tap" | head -n 5 | sed 's/^/# /'
		cat "$log".*.vg 2>/dev/null | head -n 40 | sed 's/^/# /'
	fi
done

done_testing
