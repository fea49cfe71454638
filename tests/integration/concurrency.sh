#!/usr/bin/env bash
# 200 SMTP sessions at once, three messages each, into the same 10
# mailboxes, while POP3 sessions read and delete in a loop.  Afterwards
# every accepted message was retrieved and deleted by exactly one POP3
# session that completed its QUIT, or is still in its mailbox exactly
# once; no RETR ever returned half a message; nothing hung (every client
# finished within its bound).  Every message carries a unique id in its
# Subject and an END line.
. "$(dirname "$0")/../lib/common.sh"

if ! command -v systemd-socket-activate >/dev/null; then
	skip "concurrency" "systemd-socket-activate missing"
	done_testing
	exit
fi
inst=$TESTTMP/conc
make_instance "$inst" "max_messages = 100" "idle_timeout = 20s" || exit 1
hash=$(sed -n 's/^alice@example.test://p' "$inst/users")
for i in 0 1 2 3 4 5 6 7 8 9; do
	printf 'u%d@example.test:%s\n' "$i" "$hash" >>"$inst/users"
done
"$BUILDDIR/tools/postern-map" -q -C "$inst" users || exit 1
[ "$(id -u)" -eq 0 ] && chown -R postern:postern "$inst"
sport=$(free_port)
serve "$sport" "$TESTTMP/conc-smtp.log" "$BUILDDIR/smtp-session/smtp-session" -C "$inst"
ok $? "smtp server up"
pport=$(free_port)
serve "$pport" "$TESTTMP/conc-pop.log" "$BUILDDIR/pop3-session/pop3-session" -C "$inst"
ok $? "pop3 server up"

"$PY" - "$sport" "$pport" "$inst" >"$TESTTMP/conc.out" 2>&1 <<'PYEOF'
import sys, os, time, random, threading, glob
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "lib"))
from hclient import Conn, ok, diag
sport, pport, inst = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
SESSIONS, PER, BOXES, READERS = 200, 3, 10, 14
BOUND = 55                       # seconds for the whole scenario
t_start = time.time()
lock = threading.Lock()
accepted = {}                    # id -> (mailboxes, body)
refused = []
errors = []
smtp_done = threading.Event()

def body_for(mid, rnd):
    lines = [b"Subject: conc " + mid.encode(), b""]
    size = rnd.choice([200, 2000, 20000, 60000])
    n = 0
    while n < size:
        l = bytes(rnd.choice(b"abcdefgh ") for _ in range(rnd.randint(1, 120)))
        lines.append(l)
        n += len(l) + 2
    lines.append(b"END " + mid.encode())
    return b"\r\n".join(lines) + b"\r\n"

def parse(raw):
    """(id, message from the Subject line on) of a stored or retrieved message."""
    i = raw.find(b"Subject: conc ")
    if i < 0:
        return None, raw
    j = raw.find(b"\n", i)
    return raw[i + 14:j].rstrip(b"\r").decode(), raw[i:]

barrier = threading.Barrier(SESSIONS, timeout=30)
def smtp_client(k):
    rnd = random.Random(k)
    try:
        c = Conn(sport, timeout=40)
        try:
            barrier.wait()          # all 200 connected before anyone sends
        except threading.BrokenBarrierError:
            pass
        if c.reply()[0] != 220:
            raise OSError("no banner")
        c.ehlo()
        for m in range(PER):
            mid = "%d.%d" % (k, m)
            boxes = sorted(rnd.sample(range(BOXES), rnd.choice([1, 1, 2])))
            body = body_for(mid, rnd)
            c.send(b"MAIL FROM:<s%d@example.org>\r\n" % k + b"".join(b"RCPT TO:<u%d@example.test>\r\n" % b for b in boxes) + b"DATA\r\n")
            codes = [c.reply()[0] for _ in range(len(boxes) + 2)]
            if codes[-1] != 354:
                with lock: refused.append((mid, codes))
                c.cmd("RSET")
                continue
            c.send(body + b".\r\n")
            r = c.reply()[0]
            with lock:
                if r == 250:
                    accepted[mid] = (boxes, body)
                else:
                    refused.append((mid, r))
        c.cmd("QUIT")
        c.close()
    except Exception as e:
        with lock: errors.append("smtp %d: %r" % (k, e))

retrieved = {}                   # (id, box) -> times deleted by a completed QUIT
half = []
pop_stats = {"sessions": 0, "in_use": 0, "retr": 0, "quit_fail": 0}
def pop_reader(r):
    rnd = random.Random(1000 + r)
    box = r % BOXES
    final = 0
    while time.time() - t_start < BOUND - 5:
        if smtp_done.is_set():
            final += 1
            if final > 2:        # two clean passes after the last SMTP session
                break
        if r >= BOXES:
            box = rnd.randrange(BOXES)
        try:
            c = Conn(pport, timeout=20)
            c.line()
            c.pop("USER u%d@example.test" % box)
            st = c.pop("PASS alice-secret")
            if not st.startswith(b"+OK"):
                with lock: pop_stats["in_use"] += b"IN-USE" in st
                c.close()
                time.sleep(0.02)
                final -= smtp_done.is_set() and final > 0
                continue
            c.send(b"LIST\r\n")
            c.line()
            lst = [l.split() for l in (c.multiline() or [])]
            got = []
            for num, size in lst:
                if not c.pop("RETR %s" % num.decode()).startswith(b"+OK"):
                    raise OSError("RETR failed")
                lines = c.multiline()
                raw = b"\r\n".join(lines) + b"\r\n"
                mid, msg = parse(raw)
                with lock:
                    pop_stats["retr"] += 1
                    want = accepted.get(mid)
                # the 250 may still be on its way to the client: then
                # the check waits for the end of the run
                if len(raw) != int(size) or not msg.rstrip(b"\r\n").endswith(b"END " + (mid or "?").encode()):
                    with lock: half.append((mid, len(raw), int(size)))
                if rnd.random() < 0.8 and c.pop("DELE %s" % num.decode()).startswith(b"+OK"):
                    got.append((mid, msg))
            c.send(b"QUIT\r\n")
            q = c.line()
            c.close()
            with lock:
                pop_stats["sessions"] += 1
                if q and q.startswith(b"+OK"):
                    for mid, msg in got:
                        retrieved.setdefault((mid, box), []).append(msg)
                else:
                    pop_stats["quit_fail"] += 1
        except Exception as e:
            with lock: errors.append("pop3 %d: %r" % (r, e))
            time.sleep(0.05)

readers = [threading.Thread(target=pop_reader, args=(r,), daemon=True) for r in range(READERS)]
for t in readers: t.start()
clients = [threading.Thread(target=smtp_client, args=(k,), daemon=True) for k in range(SESSIONS)]
for t in clients: t.start()
for t in clients: t.join(max(1, BOUND - (time.time() - t_start)))
smtp_done.set()
t_smtp = time.time() - t_start
for t in readers: t.join(max(1, BOUND - (time.time() - t_start)))
took = time.time() - t_start
hung = sum(t.is_alive() for t in clients + readers)
diag("SMTP: %d sessions, %d messages accepted, %d refused in %.1f s; POP3: %r; total %.1f s" %
     (SESSIONS, len(accepted), len(refused), t_smtp, pop_stats, took))
ok(hung == 0 and took < BOUND, "no session hung: every client finished, %.1f s in all" % took)
ok(not errors, "no client saw an error", errors[:5])
ok(len(accepted) == SESSIONS * PER, "every message accepted (%d of %d)" % (len(accepted), SESSIONS * PER), refused[:5])
ok(not half, "no RETR returned half a message (%d RETRs)" % pop_stats["retr"], half[:5])
ok(pop_stats["sessions"] >= 20, "POP3 sessions ran meanwhile (%d, %d turned away as IN-USE)" % (pop_stats["sessions"], pop_stats["in_use"]))
# what is left in the mailboxes
left = {}
for box in range(BOXES):
    for p in glob.glob(os.path.join(inst, "mail", "example.test", "u%d" % box, "*", "*")):
        sub = p.split(os.sep)[-2]
        if sub not in ("new", "cur"):
            continue
        mid, msg = parse(open(p, "rb").read())
        left.setdefault((mid, box), []).append(msg.replace(b"\r\n", b"\n"))
bad = []
for mid, (boxes, body) in accepted.items():
    want = body.replace(b"\r\n", b"\n")
    for b in boxes:
        r = retrieved.get((mid, b), [])
        l = left.get((mid, b), [])
        if len(r) + len(l) != 1:
            bad.append((mid, b, "retrieved %d, left %d" % (len(r), len(l))))
        elif [x.replace(b"\r\n", b"\n") for x in r + l] != [want]:
            bad.append((mid, b, "content differs"))
ok(not bad, "every accepted message: retrieved and deleted exactly once, or still there exactly once, whole", bad[:5])
extra = [k for k in set(retrieved) | set(left) if k[0] not in accepted or k[1] not in accepted[k[0]][0]]
ok(not extra, "nothing retrieved or stored that was not accepted for that mailbox", extra[:5])
tmp = glob.glob(os.path.join(inst, "mail", "example.test", "u*", "tmp", "*"))
ok(not tmp, "nothing left in any tmp/", tmp[:3])
diag("%d retrieved and deleted, %d left in the mailboxes" % (sum(len(v) for v in retrieved.values()), sum(len(v) for v in left.values())))
PYEOF
ok $? "concurrency scenario ran"
tap_lines "$TESTTMP/conc.out"
done_testing
