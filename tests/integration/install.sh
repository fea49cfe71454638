#!/usr/bin/env bash
# make install DESTDIR=...: the expected tree (programs, pages, units,
# xinetd files, example instance), paths in the units filled in, nothing
# outside DESTDIR; make uninstall removes it all again.
. "$(dirname "$0")/../lib/common.sh"

if [ ! -f "$BUILDDIR/Makefile" ]; then
	skip "make install" "no Makefile in $BUILDDIR"
	done_testing
	exit
fi
stage=$TESTTMP/stage
rm -rf "$stage"
printf 'print-%%:\n\t@echo $($*)\n' >"$TESTTMP/print.mk"
var() { make -s --no-print-directory -C "$BUILDDIR" -f Makefile -f "$TESTTMP/print.mk" "print-$1"; }
prefix=$(var prefix)
pkglibexecdir=$(var pkglibexecdir)
sbindir=$(var sbindir)
mandir=$(var mandir)
docdir=$(var docdir)
unitdir=$(var systemdsystemunitdir)
diag "prefix=$prefix pkglibexecdir=$pkglibexecdir unitdir=$unitdir docdir=$docdir"

marker=$TESTTMP/install-marker
touch "$marker"
sleep 0.05
make -s -C "$BUILDDIR" install DESTDIR="$stage" >"$TESTTMP/install.log" 2>&1
ok $? "make install DESTDIR=... succeeds"

for p in smtp-session pop3-session deliver; do
	[ -x "$stage$pkglibexecdir/$p" ]
	ok $? "$p in \$(pkglibexecdir)"
done
for p in postern-map postern-user postern-relay postern-sendmail postern-check; do
	[ -x "$stage$sbindir/$p" ]
	ok $? "$p in \$(sbindir)"
done
for m in man5/postern.conf.5 man5/postern-maps.5 man7/postern.7 man8/smtp-session.8 \
	man8/pop3-session.8 man8/deliver.8 man8/postern-map.8 man8/postern-check.8; do
	[ -f "$stage$mandir/$m" ]
	ok $? "manual page $m"
done

units_ok=0
for u in smtp submission smtps pop3 pop3s; do
	[ -f "$stage$unitdir/postern-$u.socket" ] && [ -f "$stage$unitdir/postern-$u@.service" ] ||
		units_ok=1
done
ok $units_ok "five socket units and their service templates in $unitdir"
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$stage$unitdir/postern-smtp@.service")
[ "$exe" = "$pkglibexecdir/smtp-session" ] && [ -x "$stage$exe" ]
ok $? "postern-smtp@.service starts the installed smtp-session ($exe)"
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$stage$unitdir/postern-pop3s@.service")
[ "$exe" = "$pkglibexecdir/pop3-session" ] && [ -x "$stage$exe" ]
ok $? "postern-pop3s@.service starts the installed pop3-session"
! grep -rl '@[a-z]*@' "$stage$unitdir" "$stage$docdir/xinetd" "$stage$docdir/systemd-vserver" \
	"$stage$docdir/example" >/dev/null 2>&1
ok $? "no @dir@ placeholder left in installed units, xinetd files or the example"

for f in xinetd/postern-smtp xinetd/postern-submission xinetd/postern-smtps \
	xinetd/postern-pop3 xinetd/postern-pop3s xinetd/postern-smtp-NAME \
	systemd-vserver/postern-smtp-NAME.socket systemd-vserver/postern-smtp-NAME@.service \
	systemd-vserver/postern-pop3-NAME.socket systemd-vserver/postern-pop3-NAME@.service \
	example/postern.conf example/domains example/aliases example/users example/relay \
	example/routes example/submission/postern.conf example/smtps/postern.conf \
	example/pop3s/postern.conf; do
	[ -f "$stage$docdir/$f" ]
	ok $? "\$(docdir)/$f"
done
grep -q "^	server		= $pkglibexecdir/smtp-session$" "$stage$docdir/xinetd/postern-smtp"
ok $? "the xinetd service names the installed smtp-session"

# the installed example instance compiles with the installed postern-map
ex=$TESTTMP/install-example
rm -rf "$ex"
cp -r "$stage$docdir/example" "$ex"
CREDENTIALS_DIRECTORY=$ex "$stage$sbindir/postern-map" -q -c -C "$ex"
ok $? "the installed example instance passes postern-map -c"

outside=$(find "$stage" -type f ! -path "$stage$prefix/*")
[ -z "$outside" ]
ok $? "every installed file is under DESTDIR\$(prefix)"
[ -z "$outside" ] || diag "$outside"
leaked=$(find "$prefix" -newer "$marker" \( -name 'postern*' -o -name '*-session' \) 2>/dev/null | head)
[ -z "$leaked" ]
ok $? "nothing new under the real $prefix"
[ -z "$leaked" ] || diag "$leaked"

make -s -C "$BUILDDIR" uninstall DESTDIR="$stage" >"$TESTTMP/uninstall.log" 2>&1
left=$(find "$stage" -type f)
[ -z "$left" ]
ok $? "make uninstall removes every installed file"
[ -z "$left" ] || diag "$left"

done_testing
