#!/usr/bin/env bash
# kill -9 at seeded random points: smtp-session and deliver while messages
# arrive (delivery = deliver, local and remote recipients), postern-relay
# while it sends the queue to a loopback sink, pop3-session while it reads
# and deletes.  Afterwards every message that got a 250 is in exactly one
# place (each mailbox, or the queue, or the sink), byte for byte what the
# client sent; nothing is stored that the client had not finished
# sending; POP3 deletes only for a QUIT.
#
# The window: a message may be stored without the client seeing its 250
# when the kill falls after the commit and before the reply reaches the
# client.  With delivery = deliver that is (a) deliver killed after its
# maildir commit but before its "OK" reaches smtp-session (the client gets
# 451), or (b) smtp-session killed after deliver's OK but before the 250
# is written.  Both need the client to have sent the final ".": a message
# whose end of data was never sent is never stored.  Such a message is
# stored at most once; the client sends it again, so the mailbox sees it
# twice (a duplicate, never a loss).  The same holds for the queue, and
# for postern-relay killed after the remote 250 and before it records it.
#
# CRASH_SEED picks the random points (default: a new seed, printed).
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null; then
	skip "crash tests" "systemd-socket-activate missing"
	done_testing
	exit
fi
inst=$TESTTMP/crash
make_instance "$inst" "delivery = deliver" "max_messages = 100" "retry_min = 1ms" "retry_max = 1ms" \
	"relay_timeout = 10s" "relay_concurrency = 2" || exit 1
sinkport=$(free_port)
printf '127.0.0.1 relay\ndefault allow\n' >"$inst/relay"
printf 'remote.test host=[127.0.0.1]:%s\n' "$sinkport" >"$inst/routes"
"$BUILDDIR/tools/postern-map" -q -C "$inst" || exit 1
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$inst"
"$PY" "$SRCDIR/tests/lib/sink.py" --port "$sinkport" --log "$TESTTMP/crash-sink.log" \
	--out "$TESTTMP/crash-sink" --data-delay 0.02 >>"$TESTTMP/crash-sink.err" 2>&1 &
PIDS+=("$!")
wait_port "$sinkport"
ok $? "loopback sink on $sinkport"
sport=$(free_port)
serve "$sport" "$TESTTMP/crash-smtp.log" "$BUILDDIR/smtp-session/smtp-session" -C "$inst"
ok $? "smtp server up"
smtp_ssa=$SERVER_PID
pport=$(free_port)
serve "$pport" "$TESTTMP/crash-pop.log" "$BUILDDIR/pop3-session/pop3-session" -C "$inst"
ok $? "pop3 server up"
pop_ssa=$SERVER_PID
seed=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
diag "CRASH_SEED=$seed"

"$PY" - "$seed" "$inst" "$sport" "$smtp_ssa" "$pport" "$pop_ssa" "$BUILDDIR/tools/postern-relay" \
	"$TESTTMP/crash-sink" "$TESTTMP/crash-relay.log" >"$TESTTMP/crash.out" 2>&1 <<'PYEOF'
import sys, os, time, random, threading, subprocess, signal, glob, re
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, diag, children
seed, inst = int(sys.argv[1]), sys.argv[2]
sport, smtp_ssa, pport, pop_ssa = map(int, sys.argv[3:7])
relay_bin, sinkdir, relay_log = sys.argv[7], sys.argv[8], sys.argv[9]
rnd = random.Random(seed)
T_END = time.time() + 150          # hard bound for the whole scenario

def make_body(mid, size):
    lines = [b"X-Crash-Id: " + mid.encode(), b"Subject: crash test " + mid.encode(), b""]
    n = 0
    while n < size:
        l = bytes(rnd.choice(b"abcdefghij .") for _ in range(rnd.randint(0, 200)))
        lines.append(l)
        n += len(l) + 2
    lines.append(b"END " + mid.encode())
    return b"\r\n".join(lines) + b"\r\n"

def stuff(b):
    return b"\r\n".join((b"." + l if l.startswith(b".") else l) for l in b.split(b"\r\n"))

def content(raw):
    """The message from its X-Crash-Id line on: (id, bytes) or (None, raw)."""
    i = raw.find(b"X-Crash-Id: ")
    if i < 0:
        return None, raw
    j = raw.find(b"\n", i)
    return raw[i + 12:j].rstrip(b"\r").decode(), raw[i:]

class Killer(threading.Thread):
    """kill -9 the session (or the deliver under it) `delay` s after it appears."""
    def __init__(self, ssa, kind, delay):
        super().__init__(daemon=True)
        self.ssa, self.kind, self.delay = ssa, kind, delay
        self.done = threading.Event()
        self.killed = None
    def run(self):
        first = None
        while not self.done.is_set() and time.time() < T_END:
            c = children(self.ssa)
            pid = None
            if c:
                pid = c[0] if self.kind == "session" else (children(c[0]) or [None])[0]
            if pid:
                if first is None:
                    first = time.time()
                if time.time() - first >= self.delay:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        self.killed = pid
                    except ProcessLookupError:
                        pass
                    return
            time.sleep(0.0005)

# ---- phase 1: 60 messages, smtp-session or deliver killed in 2/3 of them
N = 60
sent = {}              # id -> dict(body, rcpts, code, eod, victim)
local_users = ["alice", "bob"]
# a kill that came too late (the process had ended) is owed: the next
# message drawn without one takes it, so that a seed whose delays are
# long for this machine still kills each kind a few times
owed = []
for i in range(N):
    if time.time() > T_END: break
    mid = "%d-%d" % (seed, i)
    kind = rnd.choice(["none", "session", "deliver"])
    if kind == "none" and owed:
        kind = owed.pop(0)
    rc = rnd.choice([["alice"], ["bob"], ["alice", "bob"], ["remote"], ["alice", "remote"], ["bob", "remote"]])
    rcpts = [(r + "@example.test") if r != "remote" else "r%d@remote.test" % i for r in rc]
    body = make_body(mid, rnd.choice([500, 5000, 40000, 150000]))
    k = None
    if kind != "none":
        k = Killer(smtp_ssa, kind, rnd.uniform(0, 0.03 if kind == "session" else 0.02))
        k.start()
    rec = {"body": body, "rcpts": rcpts, "code": None, "eod": False, "kind": kind}
    sent[mid] = rec
    try:
        c = Conn(sport, timeout=10)
        c.reply()
        c.send(b"EHLO crash\r\nMAIL FROM:<s@example.org>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
        codes = [c.reply()[0] for _ in range(len(rcpts) + 3)]
        if codes[-1] == 354:
            data = stuff(body)
            for off in range(0, len(data), 16384):
                c.send(data[off:off + 16384])
            if kind != "none":
                # a small message takes a few ms from DATA to the 250
                # (and deliver lives only that long): the end of data
                # comes a little later, so the kill lands before it,
                # in the commit or after it, as the seed says
                time.sleep(rnd.uniform(0, 0.03 if kind == "session" else 0.02))
            c.send(b".\r\n")
            rec["eod"] = True
            rec["code"] = c.reply()[0]
        c.send(b"QUIT\r\n")
        c.close()
    except OSError:
        pass
    if k:
        k.done.set(); k.join(5)
        rec["kind"] = kind if k.killed else "none"
        if not k.killed:
            owed.append(kind)
    # let a killed session's children finish
    t = time.time()
    while children(smtp_ssa) and time.time() - t < 5:
        time.sleep(0.005)

def maildir_index():
    """id -> {user: [contents]} over new/ and cur/ of every mailbox."""
    idx = {}
    for path in glob.glob(os.path.join(inst, "mail", "example.test", "*", "new", "*")) + \
                glob.glob(os.path.join(inst, "mail", "example.test", "*", "cur", "*")):
        user = path.split(os.sep)[-3]
        mid, data = content(open(path, "rb").read())
        idx.setdefault(mid, {}).setdefault(user, []).append(data)
    return idx

def queue_index():
    """id -> [(rcpts text, content)] for every published envelope."""
    idx = {}
    q = os.path.join(inst, "spool", "queue")
    for env in glob.glob(os.path.join(q, "*.env")):
        msg = env[:-4] + ".msg"
        e = open(env, "rb").read()
        try:
            mid, data = content(open(msg, "rb").read())
        except OSError:
            mid, data = None, b"data file missing"
        idx.setdefault(mid, []).append((e, data))
    return idx

killed = {k: sum(1 for r in sent.values() if r["kind"] == k) for k in ("session", "deliver")}
got250 = [m for m, r in sent.items() if r["code"] == 250]
diag("phase 1: %d messages, %d got 250; smtp-session killed %d times, deliver %d times" %
     (len(sent), len(got250), killed["session"], killed["deliver"]))
ok(len(sent) == N and killed["session"] >= 5 and killed["deliver"] >= 5,
   "phase 1 ran: %d messages, smtp-session killed %d times, deliver %d times" % (len(sent), killed["session"], killed["deliver"]))
md, qi = maildir_index(), queue_index()
bad, window, lost = [], [], []
for mid, r in sent.items():
    want = r["body"].replace(b"\r\n", b"\n")
    local = [a.split("@")[0] for a in r["rcpts"] if a.endswith("@example.test")]
    remote = [a for a in r["rcpts"] if not a.endswith("@example.test")]
    here = md.get(mid, {})
    q = qi.get(mid, [])
    if r["code"] == 250:
        for u in local:
            if here.get(u) != [want]:
                lost.append((mid, u, len(here.get(u, []))))
        if remote and (len(q) != 1 or q[0][1] != want or remote[0].encode() not in q[0][0]):
            lost.append((mid, "queue", len(q)))
    else:
        n = sum(len(v) for v in here.values()) + len(q)
        if n and not r["eod"]:
            bad.append((mid, r["kind"], "stored but its end of data was never sent"))
        elif n:
            window.append(mid)
            # in the window: whole, and once per mailbox at most
            if any(v != [want] for v in here.values()) or any(x[1] != want for x in q) or len(q) > 1:
                bad.append((mid, r["kind"], "window copy not whole or not unique"))
ok(not lost, "every message with a 250 is in each of its mailboxes and the queue exactly once, byte for byte (%d)" % len(got250), lost[:5])
ok(not bad, "nothing stored whose end of data was not sent; window copies whole and unique", bad[:5])
diag("%d messages stored without the client seeing 250 (the documented window)" % len(window))
strays = [m for m in md if m not in sent]
ok(not strays, "no stored message the client never sent (%r)" % strays[:3])
partial = [p for p in glob.glob(os.path.join(inst, "mail", "example.test", "*", "new", "*"))
           if not open(p, "rb").read().rstrip(b"\n").split(b"\n")[-1].startswith(b"END ")]
ok(not partial, "no partial file in any new/", partial[:3])
tmpleft = glob.glob(os.path.join(inst, "mail", "example.test", "*", "tmp", "*"))
diag("%d files left in tmp/ by killed delivers (maildir readers clean tmp/ after 36 h)" % len(tmpleft))

# ---- phase 2: postern-relay killed at random points while it sends
queued = {m: r for m, r in sent.items() if any(not a.endswith("@example.test") for a in r["rcpts"]) and m in qi}
relay_kills = 0
passes = 0
for p in range(25):
    if time.time() > T_END: break
    if not glob.glob(os.path.join(inst, "spool", "queue", "*.env")):
        break
    passes += 1
    proc = subprocess.Popen([relay_bin, "-C", inst, "-f"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(relay_log, "a"))
    kill = p < 4 or (p < 20 and rnd.random() < 0.6)
    if kill:
        time.sleep(rnd.uniform(0, 0.1))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)   # the runner and its per-destination children
            relay_kills += 1
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    time.sleep(0.01)
left = glob.glob(os.path.join(inst, "spool", "queue", "*.env"))
diag("phase 2: %d queued messages, %d relay passes, %d killed" % (len(queued), passes, relay_kills))
ok(not left and relay_kills >= 1, "queue empty after %d passes, %d of them killed" % (passes, relay_kills))
at_sink = {}
for eml in glob.glob(os.path.join(sinkdir, "*.eml")):
    mid, data = content(open(eml, "rb").read())
    at_sink.setdefault(mid, []).append((data, open(eml[:-4] + ".env").read()))
missing, wrong, extra = [], [], []
for mid, r in queued.items():
    copies = at_sink.get(mid, [])
    remote = [a for a in r["rcpts"] if not a.endswith("@example.test")][0]
    if not copies:
        missing.append(mid)
    for data, env in copies:
        if data != r["body"] or ("RCPT TO:<%s>" % remote) not in env:
            wrong.append(mid)
    if len(copies) > 1 + relay_kills:
        extra.append((mid, len(copies)))
dups = sum(len(at_sink.get(m, [])) - 1 for m in queued if at_sink.get(m))
ok(not missing, "every queued message reached the sink (%d)" % len(queued), missing[:5])
ok(not wrong, "every copy at the sink is whole and for its recipient", wrong[:5])
ok(not [m for m in at_sink if m not in queued], "the sink got nothing that was not queued")
diag("%d duplicate copies at the sink after %d kills (a kill after the remote 250)" % (dups, relay_kills))

# ---- phase 3: pop3-session killed while reading and deleting
deleted_sure = set()    # deleted by a session that saw +OK to QUIT
deleted_maybe = set()   # QUIT sent, reply never seen
pop_kills = 0
retrs, retr_bad = 0, []
pwd = {"alice": "alice-secret", "bob": "bob-secret"}
owed = []               # as in phase 1: a kill that came too late
for i in range(24):
    if time.time() > T_END: break
    user = local_users[i % 2]
    action = rnd.choice(["quit", "kill-before-quit", "kill-mid-retr", "kill-after-quit-sent"])
    if action == "quit" and owed:
        action = owed.pop(0)
    c = Conn(pport, timeout=10)
    c.line()
    c.pop("USER %s@example.test" % user)
    if not c.pop("PASS " + pwd[user]).startswith(b"+OK"):
        c.close(); continue
    c.send(b"LIST\r\n")
    c.line()
    lst = [l.split() for l in (c.multiline() or [])]
    seen_ok = True
    k = None
    if action == "kill-mid-retr":
        k = Killer(pop_ssa, "session", rnd.uniform(0, 0.02)); k.start()
    dele = []
    try:
        for num, size in lst:
            st = c.pop("RETR %s" % num.decode())
            if not st.startswith(b"+OK"):
                seen_ok = False; break
            body = c.multiline()
            if body is None:
                seen_ok = False; break
            mid, data = content(b"\r\n".join(body) + b"\r\n")
            retrs += 1
            if mid not in sent or data != sent[mid]["body"]:
                retr_bad.append(mid)
            if rnd.random() < 0.5 and c.pop("DELE %s" % num.decode()).startswith(b"+OK"):
                dele.append(mid)
        if action == "kill-before-quit":
            k = Killer(pop_ssa, "session", 0); k.start(); k.join(5)
            c.send(b"QUIT\r\n")
            r = c.line()
        elif action == "kill-after-quit-sent":
            c.send(b"QUIT\r\n")
            k = Killer(pop_ssa, "session", 0); k.start(); k.join(5)
            r = c.line()
        else:
            c.send(b"QUIT\r\n")
            r = c.line()
    except OSError:
        r = None
    if k:
        k.done.set(); k.join(5)
        pop_kills += k.killed is not None
        if k.killed is None:
            owed.append(action)
    pairs = [(m, user) for m in dele]
    if action == "kill-before-quit" and k and k.killed:
        pass                                  # no QUIT arrived: nothing may go
    elif r and r.startswith(b"+OK"):
        deleted_sure.update(pairs)
    else:
        deleted_maybe.update(pairs)           # QUIT may have arrived
    c.close()
    t = time.time()
    while children(pop_ssa) and time.time() - t < 5:
        time.sleep(0.005)
diag("phase 3: %d POP3 sessions killed; %d deletes confirmed, %d in flight" % (pop_kills, len(deleted_sure), len(deleted_maybe)))
ok(pop_kills >= 6, "pop3-session killed %d times" % pop_kills)
ok(retrs and not retr_bad, "%d RETRs, each a whole message the client sent" % retrs, retr_bad[:5])
md = maildir_index()
problems = []
for mid, r in sent.items():
    if r["code"] != 250 and mid not in window:
        continue
    for u in [a.split("@")[0] for a in r["rcpts"] if a.endswith("@example.test")]:
        n = len(md.get(mid, {}).get(u, []))
        if n > 1:
            problems.append((mid, u, "%d copies" % n))
        elif (mid, u) in deleted_sure and n:
            problems.append((mid, u, "still there after DELE and +OK to QUIT"))
        elif r["code"] == 250 and not n and (mid, u) not in deleted_sure | deleted_maybe:
            problems.append((mid, u, "gone without DELE and QUIT"))
ok(not problems, "every 250 message is in each mailbox once, or was deleted by a session that sent QUIT; confirmed deletes happened", problems[:5])
PYEOF
ok $? "crash scenario ran (seed $seed)"
tap_lines "$TESTTMP/crash.out"
grep -q 'event=deliver .*result=abort\|event=message .*result=tempfail\|result=lost-in-data' "$TESTTMP/crash-smtp.log"
ok $? "log: aborted or failed deliveries are logged"
done_testing
