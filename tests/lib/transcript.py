#!/usr/bin/env python3
"""Run transcript tests: pipe a client script into a session program and
check every reply.  Output is TAP; each group of expected replies is one
test case, as is each post-session check.

File format (tests/transcripts/*.smtp, *.pop3):
  # text                 comment
  #! conf: key = value   extra postern.conf line for this transcript
  #! message ADDR TEXT   a message (escapes ok, LF line ends) in ADDR's new/
                         before the session, named like deliver names it
                         (",S=<bytes>,W=<bytes + LFs>"); oldest first
  #! msgfile ADDR DIR NAME TEXT   the same with a given name in new/ or cur/
  > line                 client line, CRLF appended; \\r \\n \\0 \\t \\xHH \\\\ escapes
  >> bytes               raw client bytes, no CRLF appended (same escapes)
  >>repeat N text        text repeated N times, raw (for huge lines)
  < reply                expected server line; '*' matches any run of characters
  < ...                  any number of further lines up to the next expectation
  ! count ADDR N         the mailbox of ADDR holds N messages in new/
  ! total ADDR N         ... and N in new/ and cur/ together
  ! contains ADDR TEXT   every message in ADDR's new/ contains TEXT (escapes ok)
  ! lacks ADDR TEXT      no message in ADDR's new/ contains TEXT
  ! file ADDR EXACT      the only message in ADDR's new/ equals EXACT after
                         its trace headers (escapes ok)
  ! tmpempty ADDR        nothing left in ADDR's tmp/
  ! queued N             the outbound queue holds N messages
  ! exit N               the program exited with status N

TRANSCRIPT_WRAPPER (environment): a command and options run in front of
the program, e.g. "valgrind -q --log-file=x"; files given as arguments
run only those transcripts.
"""
import os, re, shlex, shutil, subprocess, sys, glob

SRCDIR = os.environ.get("SRCDIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILDDIR = os.environ.get("BUILDDIR", SRCDIR)
TMP = os.environ.get("TESTTMP", os.path.join(BUILDDIR, "tests", "tmp"))
PROGRAMS = {".smtp": "smtp-session/smtp-session", ".pop3": "pop3-session/pop3-session"}

n = 0
def tap(cond, desc, extra=None):
    global n
    n += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (n, desc))
    if not cond and extra:
        for l in extra.splitlines():
            print("#   " + l)
    sys.stdout.flush()

def unescape(s):
    out = bytearray()
    i = 0
    b = s.encode("utf-8", "surrogateescape")
    while i < len(b):
        c = b[i]
        if c == 0x5c and i + 1 < len(b):
            d = chr(b[i + 1])
            if d == "r": out += b"\r"; i += 2; continue
            if d == "n": out += b"\n"; i += 2; continue
            if d == "t": out += b"\t"; i += 2; continue
            if d == "0": out += b"\0"; i += 2; continue
            if d == "\\": out += b"\\"; i += 2; continue
            if d == "x" and i + 3 < len(b) + 0:
                out.append(int(b[i + 2:i + 4], 16)); i += 4; continue
        out.append(c)
        i += 1
    return bytes(out)

def pattern(exp):
    parts = [re.escape(p) for p in exp.split("*")]
    return re.compile(b"^" + ".*".join(parts).encode("utf-8", "surrogateescape") + b"$", re.S)

def put_message(inst, addr, sub, name, text):
    d = maildir(inst, addr)
    for s in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, s), exist_ok=True)
    if name is None:
        # seconds in the name give the POP3 order: one second apart
        n = len(os.listdir(os.path.join(d, "new"))) + len(os.listdir(os.path.join(d, "cur")))
        name = "%d.M%dP1Q%d.test,S=%d,W=%d" % (1700000000 + n, n, n, len(text),
                                                len(text) + text.count(b"\n"))
    with open(os.path.join(d, sub, name), "wb") as f:
        f.write(text)

def make_instance(name, extra_conf, msgs=()):
    """A fresh copy of the compiled test instance for one transcript."""
    base = os.path.join(TMP, "instance")
    dest = os.path.join(TMP, "tr", name)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(base, dest, symlinks=True)
    for d in ("mail", "spool"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    if extra_conf:
        # a transcript's setting replaces the instance's one
        path = os.path.join(dest, "postern.conf")
        keys = {l.split("=")[0].strip() for l in extra_conf}
        kept = [l for l in open(path).read().splitlines()
                if l.split("=")[0].strip() not in keys]
        with open(path, "w") as f:
            f.write("\n".join(kept + extra_conf) + "\n")
    for m in msgs:
        put_message(dest, *m)
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postern:postern", dest], check=True)
    return dest

def maildir(inst, addr):
    local, domain = addr.split("@")
    return os.path.join(inst, "mail", domain, local)

def messages(inst, addr, subs=("new",)):
    out = []
    for s in subs:
        out += messages_in(inst, addr, s)
    return out

def messages_in(inst, addr, sub):
    d = os.path.join(maildir(inst, addr), sub)
    if not os.path.isdir(d):
        return []
    out = []
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            out.append(fh.read())
    return out

def strip_trace(msg):
    # Return-Path and Received (first line plus continuation lines)
    lines = msg.split(b"\n")
    i = 0
    while i < len(lines):
        l = lines[i]
        if l.startswith(b"Return-Path:") or l.startswith(b"Received:") or (i > 0 and l[:1] in (b"\t", b" ") and lines[0].startswith(b"Return-Path")):
            i += 1
            continue
        break
    return b"\n".join(lines[i:])

def run_file(path):
    ext = os.path.splitext(path)[1]
    name = os.path.basename(path)
    prog = os.path.join(BUILDDIR, PROGRAMS[ext])
    client = bytearray()
    groups = []      # list of (label, [expected patterns])
    checks = []
    extra_conf = []
    msgs = []
    pending_label = None
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("#! conf:"):
                extra_conf.append(line[len("#! conf:"):].strip())
            elif line.startswith("#! message "):
                _, _, addr, text = line.split(" ", 3)
                msgs.append((addr, "new", None, unescape(text)))
            elif line.startswith("#! msgfile "):
                _, _, addr, sub, fname, text = line.split(" ", 5)
                msgs.append((addr, sub, unescape(fname).decode("latin-1"), unescape(text)))
            elif line.startswith("#") or not line.strip():
                continue
            elif line.startswith(">>repeat "):
                _, cnt, text = line.split(" ", 2)
                client += unescape(text) * int(cnt)
                pending_label = "%s:%d" % (name, lineno)
            elif line.startswith(">> "):
                client += unescape(line[3:])
                pending_label = "%s:%d" % (name, lineno)
            elif line.startswith("> ") or line == ">":
                client += unescape(line[2:]) + b"\r\n"
                pending_label = "%s:%d %s" % (name, lineno, line[2:40])
            elif line.startswith("< ") or line == "<":
                exp = line[2:]
                if pending_label is not None or not groups:
                    groups.append([pending_label or "%s:%d banner" % (name, lineno), []])
                    pending_label = None
                groups[-1][1].append(exp)
            elif line.startswith("! "):
                checks.append((lineno, line[2:]))
            else:
                tap(False, "%s:%d: cannot parse transcript line" % (name, lineno))
                return
    if ext == ".smtp" and not any(l.split("=")[0].strip() == "auth_plaintext" for l in extra_conf):
        # the shared instance allows POP3 logins in clear; SMTP transcripts
        # show a server without TLS, which offers no AUTH unless told to
        extra_conf.append("auth_plaintext = no")
    inst = make_instance(os.path.splitext(name)[0], extra_conf, msgs)
    try:
        # TRANSCRIPT_WRAPPER: a command put in front of the program
        # (tests/integration/valgrind.sh runs them under valgrind)
        wrap = shlex.split(os.environ.get("TRANSCRIPT_WRAPPER", ""))
        p = subprocess.run(wrap + [prog, "-C", inst], input=bytes(client), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, err, rc = e.stdout or b"", e.stderr or b"", "timeout"
    lines = out.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    pos = 0
    for label, exps in groups:
        good = True
        got = []
        skip = False
        for exp in exps:
            if exp == "...":
                skip = True
                continue
            pat = pattern(exp)
            if skip:
                # "..." swallows lines up to the next one that matches
                while pos < len(lines) and not pat.match(lines[pos]):
                    pos += 1
                skip = False
            if pos >= len(lines):
                good = False
                got.append("(no more output) wanted: " + exp)
                break
            if not pat.match(lines[pos]):
                good = False
                got.append("got:  %r\nwant: %s" % (lines[pos], exp))
            pos += 1
        tap(good, label, "\n".join(got) + "\nstderr: " + err.decode("utf-8", "replace")[-600:])
    tap(pos == len(lines), "%s: no unexpected replies" % name,
        "extra: %r" % lines[pos:pos + 5])
    for lineno, chk in checks:
        words = chk.split(" ", 2)
        kind = words[0]
        label = "%s:%d ! %s" % (name, lineno, chk[:60])
        if kind == "count":
            got = len(messages(inst, words[1]))
            tap(got == int(words[2]), label, "got %d" % got)
        elif kind == "total":
            got = len(messages(inst, words[1], ("new", "cur")))
            tap(got == int(words[2]), label, "got %d" % got)
        elif kind == "contains":
            msgs = messages(inst, words[1])
            t = unescape(words[2])
            tap(bool(msgs) and all(t in m for m in msgs), label)
        elif kind == "lacks":
            t = unescape(words[2])
            tap(all(t not in m for m in messages(inst, words[1])), label)
        elif kind == "file":
            msgs = messages(inst, words[1])
            want = unescape(words[2])
            good = len(msgs) == 1 and strip_trace(msgs[0]) == want
            tap(good, label, "got %r" % (strip_trace(msgs[0]) if msgs else None))
        elif kind == "tmpempty":
            d = os.path.join(maildir(inst, words[1]), "tmp")
            left = os.listdir(d) if os.path.isdir(d) else []
            tap(not left, label, "left: %r" % left)
        elif kind == "queued":
            q = os.path.join(inst, "spool", "queue")
            got = len([f for f in os.listdir(q) if f.endswith(".env")]) if os.path.isdir(q) else 0
            tap(got == int(words[1]), label, "got %d" % got)
        elif kind == "exit":
            tap(rc == int(words[1]), label, "exit %r" % rc)
        else:
            tap(False, label + " (unknown check)")

def main():
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(SRCDIR, "tests", "transcripts", "*.smtp")) +
                                   glob.glob(os.path.join(SRCDIR, "tests", "transcripts", "*.pop3")))
    for f in files:
        ext = os.path.splitext(f)[1]
        if not os.path.exists(os.path.join(BUILDDIR, PROGRAMS[ext])):
            print("ok %d - %s # skip %s not built" % (n + 1, os.path.basename(f), PROGRAMS[ext]))
            globals()["n"] += 1
            continue
        run_file(f)
    print("1..%d" % n)

main()
