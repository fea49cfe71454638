#!/bin/bash
# Manual pages: every page passes mandoc's lint, and every program that is
# built answers --help and has a page.  TAP out.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

# Pages: mandoc -Tlint -Wwarning prints nothing for a clean page.
have_mandoc=0
command -v mandoc >/dev/null 2>&1 && have_mandoc=1
pages=0
for page in "$SRCDIR"/man/*.[0-9]; do
	[ -f "$page" ] || continue
	pages=$((pages + 1))
	name=man/$(basename "$page")
	if [ "$have_mandoc" -eq 0 ]; then
		skip "$name: mandoc -Tlint is clean" "mandoc missing"
		continue
	fi
	out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
	[ -z "$out" ]
	ok $? "$name: mandoc -Tlint is clean"
	[ -n "$out" ] && diag "$out"
done
[ "$pages" -gt 0 ]
ok $? "man/ holds manual pages"

# Programs: --help exits 0 and prints a usage line on standard output,
# and each program has a page under man/.
# every installed program, as Makefile.am lists them
progs=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$SRCDIR/Makefile.am" |
	sed -n -E 's/^(pkglibexec|sbin|bin)_PROGRAMS[[:space:]]*\+?=//p')
for prog in $progs; do
	name=$(basename "$prog")
	bin=$BUILDDIR/$prog
	if [ ! -x "$bin" ]; then
		skip "$name --help" "$prog not built"
		skip "$name has a manual page" "$prog not built"
		continue
	fi
	out=$("$bin" --help 2>/dev/null)
	rc=$?
	[ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -qi usage
	ok $? "$name --help exits 0 and prints usage"
	[ "$rc" -eq 0 ] || diag "$name --help exited $rc"
	found=0
	for page in "$SRCDIR"/man/"$name".[0-9]; do
		[ -f "$page" ] && found=1
	done
	[ "$found" -eq 1 ]
	ok $? "$name has a manual page in man/"
done

done_testing
