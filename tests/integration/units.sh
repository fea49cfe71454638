#!/usr/bin/env bash
# The systemd units in etc/systemd: what every socket and service must say,
# and systemd-analyze verify clean on each (on a copy whose ExecStart=
# names the built programs, since verify wants them to exist).  Skipped
# where systemd-analyze cannot run.
. "$(dirname "$0")/../lib/common.sh"

src=$SRCDIR/etc/systemd
# per connection (Accept=yes, a service template each) and listener mode
# (Accept=no, one plain service each: *-listen.socket)
sockets=$(cd "$src" && ls postern-*.socket vserver/postern-*.socket | grep -v -- '-listen\.socket$')
listeners=$(cd "$src" && ls postern-*-listen.socket 2>/dev/null)

# 1. what each file says
for s in $sockets; do
	svc=${s%.socket}@.service.in
	[ -f "$src/$svc" ]
	ok $? "$s has its service template $(basename "$svc")"
	grep -qx 'Accept=yes' "$src/$s" && grep -qE '^MaxConnections=[0-9]+$' "$src/$s" &&
		grep -qE '^MaxConnectionsPerSource=[0-9]+$' "$src/$s"
	ok $? "$s: Accept=yes, MaxConnections=, MaxConnectionsPerSource="
	f=$src/$svc
	missing=
	for l in StandardInput=socket StandardOutput=socket StandardError=journal \
		ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes \
		CapabilityBoundingSet= User=postern; do
		grep -qx -- "$l" "$f" || missing="$missing $l"
	done
	grep -qE '^ReadWritePaths=.+' "$f" || missing="$missing ReadWritePaths"
	grep -qE '^LoadCredential=tls.key:' "$f" || missing="$missing LoadCredential"
	grep -qE '^ExecStart=@pkglibexecdir@/(smtp|pop3)-session -C @sysconfdir@/postern' "$f" ||
		missing="$missing ExecStart"
	[ -z "$missing" ]
	ok $? "$(basename "$svc"): socket I/O, sandbox, credential, ExecStart"
	[ -z "$missing" ] || diag "missing:$missing"
done

for s in $listeners; do
	svc=${s%.socket}.service.in
	[ -f "$src/$svc" ]
	ok $? "$s has its service $(basename "$svc")"
	grep -qx 'Accept=no' "$src/$s" && ! grep -qE '^MaxConnections' "$src/$s"
	ok $? "$s: Accept=no, no MaxConnections* (max_sessions does that job)"
	f=$src/$svc
	missing=
	for l in Type=simple KillMode=mixed 'ExecReload=/bin/kill -HUP $MAINPID' \
		Restart=on-failure StandardError=journal \
		ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes \
		CapabilityBoundingSet= User=postern; do
		grep -qx -- "$l" "$f" || missing="$missing $l"
	done
	grep -qE '^ReadWritePaths=.+' "$f" || missing="$missing ReadWritePaths"
	grep -qE '^LoadCredential=tls.key:' "$f" || missing="$missing LoadCredential"
	grep -qE '^ExecStart=@pkglibexecdir@/(smtp|pop3)-session -C @sysconfdir@/postern' "$f" ||
		missing="$missing ExecStart"
	grep -qx 'StandardInput=socket' "$f" && missing="$missing (StandardInput=socket)"
	[ -z "$missing" ]
	ok $? "$(basename "$svc"): KillMode=mixed, reload, restart, sandbox, credential, ExecStart"
	[ -z "$missing" ] || diag "missing or wrong:$missing"
	# the same sandbox as the per-connection service of that program
	pc=$(sed -n 's|^ExecStart=@pkglibexecdir@/\([a-z0-9]*\)-session.*|postern-\1@.service.in|p' "$f")
	out=$(diff <(sed -n '/^# Sandbox/,/^\[/p' "$src/$pc" | grep -v -e '^#' -e '^$' -e '^\[') \
		<(sed -n '/^# Sandbox/,/^\[/p' "$f" | grep -v -e '^#' -e '^$' -e '^\['))
	ok $? "$(basename "$svc"): the sandbox of $pc"
	[ -z "$out" ] || diag "$out"
done

# the generated units name real directories, with no placeholder left
gen=$BUILDDIR/etc/systemd
if [ -f "$gen/postern-smtp@.service" ]; then
	! grep -l '@[a-z]*@' "$gen"/*.service "$gen"/vserver/*.service
	ok $? "generated units have every @dir@ filled in"
else
	skip "generated units have every @dir@ filled in" "not built"
fi

# 2. systemd-analyze verify
if ! command -v systemd-analyze >/dev/null; then
	skip "systemd-analyze verify" "systemd-analyze missing"
	done_testing
	exit
fi
work=$TESTTMP/units
rm -rf "$work"
mkdir -p "$work"
# does verify work here at all (no systemd as PID 1 in a container)?
printf '[Service]\nExecStart=/bin/true\n' >"$work/postern-probe.service"
if ! out=$(systemd-analyze verify --man=no "$work/postern-probe.service" 2>&1) || [ -n "$out" ]; then
	skip "systemd-analyze verify" "cannot run here: $out"
	done_testing
	exit
fi
rm "$work/postern-probe.service"
for s in $sockets; do
	cp "$src/$s" "$work/"
	svc=${s%.socket}@.service
	sed -e "s|@pkglibexecdir@/smtp-session|$BUILDDIR/smtp-session/smtp-session|" \
		-e "s|@pkglibexecdir@/pop3-session|$BUILDDIR/pop3-session/pop3-session|" \
		-e "s|@sysconfdir@|/etc|g; s|@localstatedir@|/var|g" \
		"$src/$svc.in" >"$work/$(basename "$svc")"
done
for s in $listeners; do
	cp "$src/$s" "$work/"
	svc=${s%.socket}.service
	sed -e "s|@pkglibexecdir@/smtp-session|$BUILDDIR/smtp-session/smtp-session|" \
		-e "s|@pkglibexecdir@/pop3-session|$BUILDDIR/pop3-session/pop3-session|" \
		-e "s|@sysconfdir@|/etc|g; s|@localstatedir@|/var|g" \
		"$src/$svc.in" >"$work/$svc"
done
for f in "$work"/*; do
	out=$(cd "$work" && systemd-analyze verify --man=no "./$(basename "$f")" 2>&1)
	rc=$?
	[ "$rc" -eq 0 ] && [ -z "$out" ]
	ok $? "systemd-analyze verify $(basename "$f") is clean"
	[ -z "$out" ] || diag "$out"
done

# A virtual server's service finds its directory from its own name: in
# postern-smtp-b@<connection>.service, %j is "b".  Verified by making
# ExecStart= exist only when %j expands to b.
vs=$TESTTMP/units-vs
rm -rf "$vs"
mkdir -p "$vs"
sed -e "s|^ExecStart=[^ ]*|ExecStart=$vs/probe-%j|" "$work/postern-smtp-NAME@.service" \
	>"$vs/postern-smtp-b@.service"
sed -e 's|^ListenStream=.*|ListenStream=127.0.0.2:2525|' "$work/postern-smtp-NAME.socket" \
	>"$vs/postern-smtp-b.socket"
printf '#!/bin/sh\n' >"$vs/probe-b"
chmod 755 "$vs/probe-b"
out=$(cd "$vs" && systemd-analyze verify --man=no ./postern-smtp-b@.service ./postern-smtp-b.socket 2>&1)
[ $? -eq 0 ] && [ -z "$out" ]
ok $? "a copied virtual-server pair: %j names the instance (b)"
[ -z "$out" ] || diag "$out"
rm "$vs/probe-b"
out=$(cd "$vs" && systemd-analyze verify --man=no ./postern-smtp-b@.service 2>&1)
printf '%s\n' "$out" | grep -q "probe-b"
ok $? "... and verify notices when that program is missing"

done_testing
