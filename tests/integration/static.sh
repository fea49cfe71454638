#!/bin/bash
# Static analysis: cppcheck and clang-tidy (.clang-tidy at the top) over
# lib/, smtp-session/, pop3-session/, deliver/ and tools/; one case per
# tool, ok when it reports nothing.  A tool that is not installed is a
# skip (and both are skipped in the sanitizer build's pass: the sources
# are the same).  False positives are silenced in the source where they occur,
# with the reason (cppcheck-suppress / NOLINT).  TAP out.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

dirs="lib smtp-session pop3-session deliver tools"
srcs=$(cd "$SRCDIR" && ls $(for d in $dirs; do echo "$d/*.c"; done) 2>/dev/null)
incs="-I$BUILDDIR -I$SRCDIR/lib -I$SRCDIR/smtp-session -I$SRCDIR/pop3-session -I$SRCDIR/tools"
defs='-DSYSCONFDIR="/etc" -DLIBEXECDIR="/usr/libexec/postern" -DSBINDIR="/usr/sbin"'
out=$TESTTMP/static
mkdir -p "$out"

# the sources are the same in both of run-tests' passes: once is enough
if grep -qE '^SAN_CFLAGS *= *[^ ]' "$BUILDDIR/Makefile" 2>/dev/null; then
	skip "cppcheck: no findings" "checked in the pass without sanitizers"
	skip "clang-tidy: no warnings" "checked in the pass without sanitizers"
	done_testing
	exit 0
fi

if command -v cppcheck >/dev/null 2>&1; then
	# warning: real defects; portability: what differs between ABIs.
	# (style and performance are taste, not defects)
	# shellcheck disable=SC2086
	(cd "$SRCDIR" && cppcheck -q --std=c11 --enable=warning,portability \
		--inline-suppr --error-exitcode=1 -j "$(nproc)" \
		--suppress=missingIncludeSystem $incs -D__GNUC__ -D__linux__ $dirs) \
		>"$out/cppcheck.log" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && [ ! -s "$out/cppcheck.log" ]
	ok $? "cppcheck $(cppcheck --version | sed 's/Cppcheck //'): no findings"
	sed 's/^/# /' "$out/cppcheck.log" | head -n 60
else
	skip "cppcheck: no findings" "cppcheck not installed"
fi

tidy=$(command -v clang-tidy || command -v clang-tidy-14 || true)
if [ -n "$tidy" ]; then
	# one process per file, as many at once as there are CPUs
	tidy_one() {
		# shellcheck disable=SC2086
		"$tidy" --quiet "$SRCDIR/$1" -- -std=c11 $incs -DSYSCONFDIR='"/etc"' \
			-DLIBEXECDIR='"/usr/libexec/postern"' -DSBINDIR='"/usr/sbin"' \
			$(pkg-config --cflags openssl 2>/dev/null) \
			>"$out/tidy/$(echo "$1" | tr / _).log" 2>&1 || echo "$1" >>"$out/tidy/failed"
	}
	export -f tidy_one
	export tidy incs out SRCDIR
	mkdir -p "$out/tidy"
	printf '%s\n' $srcs | xargs -P "$(nproc)" -I{} bash -c 'tidy_one {}'
	[ ! -s "$out/tidy/failed" ]
	ok $? "clang-tidy $("$tidy" --version | grep -oE '[0-9]+\.[0-9.]+' | head -n 1): no warnings ($(echo $srcs | wc -w) files)"
	cat "$out"/tidy/*.log 2>/dev/null | grep -E 'warning:|error:' | sort -u | head -n 60 | sed 's/^/# /'
else
	skip "clang-tidy: no warnings" "clang-tidy not installed"
fi

done_testing
