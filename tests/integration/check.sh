#!/usr/bin/env bash
# postern-check: a sound instance says "ok" (exit 0); each kind of problem
# is named by file[:line] and exits 78.
. "$(dirname "$0")/../lib/common.sh"

chk=$BUILDDIR/tools/postern-check
if [ ! -x "$chk" ]; then
	skip "postern-check" "tools/postern-check not built"
	done_testing
	exit
fi
base=$TESTTMP/check-base
make_instance "$base" "tls = starttls" "tls_cert = cert.pem" "tls_key = key.pem" \
	"tls_ticket_key = tickets" || { echo "1..0 # skip cannot build instance"; exit 1; }
make_tls "$base" || { echo "1..0 # skip openssl cannot make a certificate"; exit 1; }
chmod 600 "$base/users" "$base/users.cdb"
me=()
[ "$(id -u)" -eq 0 ] || me=(-u "$(id -un)")

n=0
# fresh NAME: a copy of the sound instance in $d
fresh() {
	n=$((n + 1))
	d=$TESTTMP/check-$n
	rm -rf "$d"
	cp -a "$base" "$d"
	[ "$(id -u)" -eq 0 ] && chown root:root "$d/key.pem" "$d/tickets"
	true
}
# run the check on $d; output in $out, status in $rc
run_check() {
	out=$("$chk" -C "$d" "${me[@]}" "$@" 2>"$TESTTMP/check.err")
	rc=$?
}
# expect DESC REGEX: status 78 and a line matching REGEX
expect() {
	run_check
	[ "$rc" -eq 78 ] && printf '%s\n' "$out" | grep -Eq -- "$2"
	ok $? "$1"
	[ "$rc" -eq 78 ] && printf '%s\n' "$out" | grep -Eq -- "$2" || diag "exit $rc: $out"
}

fresh
run_check
[ "$rc" -eq 0 ] && [ "$out" = ok ]
ok $? "a sound instance: ok, exit 0"
[ "$rc" -eq 0 ] || diag "exit $rc: $out $(cat "$TESTTMP/check.err")"
run_check -q
[ "$rc" -eq 0 ] && [ -z "$out" ]
ok $? "-q prints nothing when all is well"

fresh
printf 'vrfy = maybe\n' >>"$d/postern.conf"
line=$(wc -l <"$d/postern.conf")
expect "bad postern.conf value names file:line" "^$d/postern.conf:$line: vrfy"

fresh
printf 'frobnicate = yes\n' >>"$d/postern.conf"
expect "unknown postern.conf key" "postern.conf:[0-9]+: unknown key 'frobnicate'"

fresh
printf 'sales@example.test alice@example.test\n' >>"$d/aliases"
line=$(wc -l <"$d/aliases")
expect "bad map line names file:line" "^$d/aliases:$line: "

fresh
rm "$d/relay.cdb"
expect "missing compiled map" "^$d/relay.cdb: missing: run postern-map"

fresh
touch -d '+1 minute' "$d/domains"
expect "map source newer than its database" "^$d/domains.cdb: older than its source"

fresh
rm "$d/relay" "$d/relay.cdb"
expect "map with neither source nor database" "^$d/relay: missing, and no relay.cdb"

fresh
rm "$d/aliases"
run_check
[ "$rc" -eq 0 ]
ok $? "a database without its source (pushed maps) is fine"

fresh
printf 'not a constant database' >"$d/domains.cdb"
rm "$d/domains"
expect "corrupt database" "^$d/domains.cdb: not a readable constant database"

fresh
chmod 644 "$d/users.cdb"
expect "users.cdb readable by others" "^$d/users.cdb: holds password hashes"

fresh
chmod 604 "$d/users"
expect "users source readable by others" "^$d/users: holds password hashes"

fresh
printf 'garbage\n' >"$d/cert.pem"
expect "unparsable certificate" "^$d/cert.pem: no PEM certificate"

fresh
rm "$d/cert.pem"
expect "missing certificate" "^$d/cert.pem: No such file"

fresh
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other \
	-days 2 -keyout "$d/other.pem" -out /dev/null >/dev/null 2>&1
cp "$d/other.pem" "$d/key.pem"
expect "key that does not match the certificate" "^$d/key.pem: does not match the certificate"

fresh
printf 'garbage\n' >"$d/key.pem"
expect "unparsable key" "^$d/key.pem: no PEM private key"

fresh
chmod 644 "$d/key.pem"
expect "key readable by others" "^$d/key.pem: secret but accessible to others"

fresh
head -c 79 /dev/zero >"$d/tickets"
expect "ticket key of the wrong size" "^$d/tickets: 79 bytes"

fresh
rm -r "$d/mail"
expect "missing mail_root" "^$d/mail: No such file or directory \(mail_root"

fresh
if [ "$(id -u)" -eq 0 ]; then
	chown root:root "$d/spool"
	chmod 755 "$d/spool"
else
	chmod 555 "$d/spool"
fi
expect "spool not writable for the mail user" "^$d/spool: not writable for"

fresh
printf 'auth = pam\npam_service = postern-test-no-such-service\n' >>"$d/postern.conf"
expect "PAM service file missing" "^/etc/pam.d/postern-test-no-such-service: "

fresh
run_check -u postern-no-such-user
[ "$rc" -eq 78 ] && printf '%s\n' "$out" | grep -q '^postern-no-such-user: no such user'
ok $? "-u with an unknown account"

# a key that systemd hands over with LoadCredential=
fresh
mkdir "$d/cred"
mv "$d/key.pem" "$d/cred/tls.key"
sed -i 's|^tls_key = .*|tls_key = $CREDENTIALS_DIRECTORY/tls.key|' "$d/postern.conf"
(unset CREDENTIALS_DIRECTORY; run_check; [ "$rc" -eq 0 ] && grep -q 'systemd credential' "$TESTTMP/check.err")
ok $? "credential key outside systemd: ok, with a note"
CREDENTIALS_DIRECTORY=$d/cred run_check
[ "$rc" -eq 0 ]
ok $? "credential key checked with CREDENTIALS_DIRECTORY"
printf 'garbage\n' >"$d/cred/tls.key"
CREDENTIALS_DIRECTORY=$d/cred run_check
[ "$rc" -eq 78 ] && printf '%s\n' "$out" | grep -q "^$d/cred/tls.key: no PEM private key"
ok $? "a bad credential key is reported"

# several problems: one line each
fresh
rm "$d/relay.cdb"
chmod 644 "$d/users.cdb"
run_check
[ "$rc" -eq 78 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ]
ok $? "two problems, two lines"

"$chk" -x >/dev/null 2>&1
[ $? -eq 64 ]
ok $? "unknown option: exit 64"

# the installed example instance passes once it has maps, a certificate
# and its directories
ex=$TESTTMP/check-example
rm -rf "$ex"
mkdir -p "$ex/var/mail" "$ex/var/spool"
cp "$SRCDIR"/etc/example/{domains,aliases,users,relay,routes} "$ex/"
sed -e "s|@localstatedir@/lib/postern/mail|$ex/var/mail|; s|@localstatedir@/spool/postern|$ex/var/spool|; s|@sysconfdir@|/etc|g" \
	"$SRCDIR/etc/example/postern.conf.in" >"$ex/postern.conf"
chmod 600 "$ex/users"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=mx.example.com \
	-days 2 -keyout "$ex/tls.key" -out "$ex/tls.crt" >/dev/null 2>&1
chmod 600 "$ex/tls.key"
# the sessions read users.cdb as the mail user; the key stays root's
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$ex" && chown root:root "$ex/tls.key"
CREDENTIALS_DIRECTORY=$ex "$BUILDDIR/tools/postern-map" -q -C "$ex" &&
	out=$(CREDENTIALS_DIRECTORY=$ex "$chk" -C "$ex" "${me[@]}" 2>&1)
[ "$out" = ok ]
ok $? "the example instance checks clean"
[ "$out" = ok ] || diag "$out"

done_testing
