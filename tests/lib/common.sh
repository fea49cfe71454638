# Shared helpers for the integration tests (bash).  Each test prints TAP:
# "ok N - desc" / "not ok N - desc", then "1..N".
set -u

SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
OWN_TMP=
if [ -z "${TESTTMP:-}" ]; then
	TESTTMP=$(mktemp -d /tmp/postern-test.XXXXXX)
	chmod 755 "$TESTTMP"
	OWN_TMP=$TESTTMP
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

T_N=0
T_FAILED=0
PIDS=()

ok() {          # ok CONDITION-STATUS DESCRIPTION
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

check() {       # check DESCRIPTION COMMAND... : ok when the command succeeds
	local desc=$1
	shift
	"$@" >/dev/null 2>&1
	ok $? "$desc"
}

skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # skip $2"
}

diag() { echo "# $*"; }

done_testing() {
	stop_all
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}

# make_instance DEST [extra postern.conf lines...]: the test instance,
# compiled, owned by the mail user when we are root.
make_instance() {
	local dest=$1
	shift
	rm -rf "$dest"
	mkdir -p "$dest/mail" "$dest/spool"
	cp "$SRCDIR"/tests/data/instance/* "$dest"/
	chmod u+w "$dest"/*
	local l k
	for l in "$@"; do
		# a test's setting replaces the instance's one
		k=$(printf '%s' "$l" | sed -E 's/^[[:space:]]*([a-z_0-9]+).*/\1/')
		sed -i -E "/^[[:space:]]*$k[[:space:]]*=/d" "$dest/postern.conf"
		printf '%s\n' "$l" >>"$dest/postern.conf"
	done
	if [ "$(id -u)" -eq 0 ]; then
		printf 'user = postern\n' >>"$dest/postern.conf"
	fi
	"$BUILDDIR/tools/postern-map" -q -C "$dest" || return 1
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postern:postern "$dest"
	fi
}

# A free TCP port on 127.0.0.1.
free_port() {
	"$PY" - <<'PYEOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PYEOF
}

# wait_port PORT: until something listens (at most 5 s).
wait_port() {
	local i
	for i in $(seq 1 100); do
		if "$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1', $1)))" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# serve PORT LOGFILE PROGRAM ARGS...: run PROGRAM per connection under
# systemd-socket-activate (inetd style); sets SERVER_PID.
serve() {
	local port=$1 log=$2
	shift 2
	systemd-socket-activate --inetd -a -l "127.0.0.1:$port" "$@" >>"$log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	wait_port "$port"
}

stop_all() {
	local p
	# "|| true": scripts under set -e (bench/) must not stop at the first
	# server's exit status and leave the others running
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}

trap 'stop_all; [ -n "$OWN_TMP" ] && rm -rf "$OWN_TMP"' EXIT

# tap_lines FILE: turn "ok - desc" / "not ok - desc" lines written by a
# helper script into numbered cases; other lines become diagnostics.
tap_lines() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok 0 "${line#ok - }" ;;
		"not ok - "*) ok 1 "${line#not ok - }" ;;
		*) diag "$line" ;;
		esac
	done <"$1"
}

# make_tls INSTANCE: a throwaway self-signed certificate (CN
# mx.example.test) and key, and an 80-byte ticket key; the key files are
# root's alone when we are root, so the session must read them before it
# drops privileges.
make_tls() {
	local d=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=mx.example.test -days 2 -keyout "$d/key.pem" -out "$d/cert.pem" \
		>/dev/null 2>&1 || return 1
	openssl rand 80 >"$d/tickets" || return 1
	chmod 600 "$d/key.pem" "$d/tickets"
	if [ "$(id -u)" -eq 0 ]; then
		chown root:root "$d/key.pem" "$d/tickets"
	fi
}
