#!/usr/bin/env bash
# postern-user: add (with maildir), passwd, del, list, the exit codes,
# the users source kept as written, and logins through pop3-session.
. "$(dirname "$0")/../lib/common.sh"

inst=$TESTTMP/puser
make_instance "$inst" "auth_plaintext = yes" "auth_fail_delay = 0" || exit 1
pu=$BUILDDIR/tools/postern-user
# a comment and a blank line that must survive every edit
sed -i '1i # users of the test instance\n' "$inst/users"
cp "$inst/users" "$TESTTMP/users.orig"

# login USER PASS: "+OK" when pop3-session lets the user in
login() {
	printf 'USER %s\r\nPASS %s\r\nQUIT\r\n' "$1" "$2" |
		"$BUILDDIR/pop3-session/pop3-session" -C "$inst" 2>/dev/null | sed -n 3p | cut -c1-3
}

"$pu" --help | grep -q '^usage: postern-user'
ok $? "--help prints usage"
"$pu" -C "$inst" frobnicate >/dev/null 2>&1
ok $([ $? -eq 64 ]; echo $?) "unknown command: exit 64"
"$pu" -C "$inst" add carol@example.test </dev/null >/dev/null 2>&1
ok $([ $? -eq 64 ]; echo $?) "no terminal and no password option: exit 64"

echo 'carol secret' | "$pu" -C "$inst" add Carol@Example.Test --stdin >"$TESTTMP/pu.out" 2>&1
ok $? "add carol with --stdin"
grep -q '^carol@example.test:\$y\$' "$inst/users"
ok $? "yescrypt hash appended, address lowercased"
head -n 2 "$inst/users" | cmp -s - <(head -n 2 "$TESTTMP/users.orig")
ok $? "comment and blank line kept"
grep -c '' "$TESTTMP/users.orig" >/dev/null
[ "$(grep -vc '^carol@' "$inst/users")" -eq "$(grep -c '' "$TESTTMP/users.orig")" ]
ok $? "every other line kept"
d=$inst/mail/example.test/carol
[ -d "$d/new" ] && [ -d "$d/cur" ] && [ -d "$d/tmp" ] && [ "$(stat -c %a "$d")" = 700 ]
ok $? "maildir created with tmp/ new/ cur/, mode 0700"
if [ "$(id -u)" -eq 0 ]; then
	[ "$(stat -c %U "$d")" = postern ] && [ "$(stat -c %U "$d/new")" = postern ]
	ok $? "maildir owned by the mail user"
fi
ok $([ "$(login carol@example.test 'carol secret')" = "+OK" ]; echo $?) "carol logs in over POP3"

echo 'x' | "$pu" -C "$inst" add carol@example.test --stdin >/dev/null 2>&1
ok $([ $? -eq 65 ]; echo $?) "duplicate add: exit 65"
echo 'x' | "$pu" -C "$inst" add dave@example.net --stdin >"$TESTTMP/pu.err" 2>&1
ok $([ $? -eq 65 ] && grep -q 'alias of example.test' "$TESTTMP/pu.err"; echo $?) "alias domain refused with its primary named"
echo 'x' | "$pu" -C "$inst" add dave@elsewhere.test --stdin >/dev/null 2>&1
ok $([ $? -eq 65 ]; echo $?) "non-local domain: exit 65"
echo 'x' | "$pu" -C "$inst" add 'da ve@example.test' --stdin >/dev/null 2>&1
ok $([ $? -eq 64 ]; echo $?) "bad address: exit 64"
printf '' | "$pu" -C "$inst" add erin@example.test --stdin >/dev/null 2>&1
ok $([ $? -eq 65 ]; echo $?) "empty password: exit 65"

printf 'file secret\nignored\n' >"$TESTTMP/pw"
"$pu" -C "$inst" passwd carol@example.test --password-file "$TESTTMP/pw" --sha512 >/dev/null
ok $? "passwd from a file, SHA-512"
grep -q '^carol@example.test:\$6\$' "$inst/users"
ok $? "SHA-512 hash written"
ok $([ "$(login carol@example.test 'carol secret')" = "-ER" ]; echo $?) "old password refused"
ok $([ "$(login carol@example.test 'file secret')" = "+OK" ]; echo $?) "new password works"
echo x | "$pu" -C "$inst" passwd nobody@example.test --stdin >/dev/null 2>&1
ok $([ $? -eq 67 ]; echo $?) "passwd for an unknown user: exit 67"

# options after the hash survive a password change
echo 'frank@example.test:!:mailbox=frank/Maildir' >>"$inst/users"
"$BUILDDIR/tools/postern-map" -q -C "$inst" users
echo 'frank pw' | "$pu" -C "$inst" passwd frank@example.test --stdin >/dev/null
grep -q '^frank@example.test:\$y\$[^:]*:mailbox=frank/Maildir$' "$inst/users"
ok $? "passwd keeps mailbox="
"$pu" -C "$inst" list >"$TESTTMP/list"
ok $? "list"
grep -q "^frank@example.test	yescrypt	$inst/mail/frank/Maildir\$" "$TESTTMP/list" &&
	grep -q '^carol@example.test	sha512	' "$TESTTMP/list" &&
	grep -q '^alice@example.test	sha512	' "$TESTTMP/list"
ok $? "list shows address, hash kind and maildir"

"$pu" -C "$inst" del carol@example.test >/dev/null
ok $? "del carol"
! grep -q '^carol@' "$inst/users" && [ -d "$d" ]
ok $? "entry gone, maildir kept"
ok $([ "$(login carol@example.test 'file secret')" = "-ER" ]; echo $?) "deleted user cannot log in"
"$pu" -C "$inst" del carol@example.test >/dev/null 2>&1
ok $([ $? -eq 67 ]; echo $?) "del of an unknown user: exit 67"

# a broken source is refused before anything is written
cp "$inst/users" "$TESTTMP/users.good"
echo 'broken line without colon' >>"$inst/users"
echo x | "$pu" -C "$inst" add gina@example.test --stdin >"$TESTTMP/pu.err" 2>&1
ok $([ $? -eq 78 ] && grep -q 'users:' "$TESTTMP/pu.err"; echo $?) "broken users source: exit 78 naming file:line"
! grep -q '^gina@' "$inst/users"
ok $? "and nothing was added"
cp "$TESTTMP/users.good" "$inst/users"

# concurrent adds both land (the lock serializes them)
for u in h1 h2 h3 h4; do
	echo pw | "$pu" -C "$inst" add "$u@example.test" --stdin >/dev/null 2>&1 &
done
wait
[ "$(grep -c '^h[1-4]@example.test:' "$inst/users")" -eq 4 ]
ok $? "four concurrent adds all kept"
ok $([ -z "$(ls -A "$inst" | grep '^\.users\.')" ] || [ "$(ls -A "$inst" | grep '^\.users\.')" = .users.lock ]; echo $?) \
	"no temporary files left"

done_testing
