#!/usr/bin/env python3
"""Write the seed corpora under tests/fuzz/corpus/<harness>/: the client
bytes of the transcript tests, the instance's configuration and maps, and
the string literals of the unit tests' tables.  Files are named by their
SHA-1 as libFuzzer names them, so running this again adds nothing twice.
Inputs that found bugs are kept in the same folders (see README)."""
import ast, hashlib, glob, os, re, sys

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def unescape(s):
    """The escapes of tests/lib/transcript.py: \\r \\n \\t \\0 \\\\ \\xHH."""
    out, i, b = bytearray(), 0, s.encode("utf-8", "surrogateescape")
    simple = {ord("r"): b"\r", ord("n"): b"\n", ord("t"): b"\t", ord("0"): b"\0", 0x5c: b"\\"}
    while i < len(b):
        if b[i] == 0x5c and i + 1 < len(b):
            if b[i + 1] in simple:
                out += simple[b[i + 1]]; i += 2; continue
            if b[i + 1] == ord("x") and i + 3 < len(b):
                out.append(int(b[i + 2:i + 4], 16)); i += 4; continue
        out.append(b[i]); i += 1
    return bytes(out)

corpus = os.path.join(top, "tests", "fuzz", "corpus")

def put(harness, data):
    d = os.path.join(corpus, harness)
    os.makedirs(d, exist_ok=True)
    if len(data) > 64 * 1024:
        return
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

def client_bytes(path):
    out, conf = bytearray(), []
    for line in open(path, encoding="utf-8", errors="surrogateescape"):
        line = line.rstrip("\n")
        if line.startswith("#! conf:"):
            conf.append(line[8:].strip())
        elif line.startswith(">>repeat "):
            _, n, text = line.split(" ", 2)
            out += unescape(text) * min(int(n), 3000)
        elif line.startswith(">> "):
            out += unescape(line[3:])
        elif line.startswith("> ") or line == ">":
            out += unescape(line[2:]) + b"\r\n"
    return bytes(out), conf

def c_literals(path):
    """String literals of a C file, adjacent ones joined, C escapes decoded."""
    src = open(path, encoding="utf-8", errors="surrogateescape").read()
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith("#"))
    lits = []
    for m in re.finditer(r'(?:"(?:[^"\\\n]|\\.)*"\s*)+', src):
        parts = re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(0))
        b = bytearray()
        for p in parts:
            try:
                b += ast.literal_eval('b"' + p.encode("latin-1", "backslashreplace").decode("latin-1") + '"')
            except Exception:
                b += p.encode("utf-8", "surrogateescape")
        if len(b) >= 2:
            lits.append(bytes(b))
    return lits

def main():
    tr = os.path.join(top, "tests", "transcripts")
    for i, path in enumerate(sorted(glob.glob(os.path.join(tr, "*.smtp")))):
        data, conf = client_bytes(path)
        mode = (i % 4) << 5                  # read sizes
        if "submission = yes" in conf: mode |= 4
        if "vrfy = yes" in conf: mode |= 8
        if "chunking = no" in conf: mode |= 16
        if os.path.basename(path) == "relay.smtp": mode |= 1   # 127.0.0.1: relay
        put("smtp-session", bytes([mode]) + data)
        put("data", bytes([i, 0]) + data)
        put("data", bytes([i, 1]) + data)
    for i, path in enumerate(sorted(glob.glob(os.path.join(tr, "*.pop3")))):
        data, _ = client_bytes(path)
        put("pop3-session", bytes([i % 4]) + data)
    for v in [b"\r\n.\r\n", b"a\n.\nb\r\n.\r\n", b"a\r\n.\nb\r\n.\r\n", b"a\n.\r\nb\r\n.\r\n",
              b"a\r.\rb\r\n.\r\n", b"a\r\r\n.\r\r\nb\r\n.\r\n", b"a\0b\r\n..\r\n.\r\n"]:
        put("data", b"\x05\x00" + v)
        put("data", b"\x07\x01" + v)

    inst = os.path.join(top, "tests", "data", "instance")
    conf = open(os.path.join(inst, "postern.conf"), "rb").read()
    put("conf", conf)
    for path in glob.glob(os.path.join(tr, "*")):
        for line in open(path, encoding="utf-8", errors="surrogateescape"):
            if line.startswith("#! conf:"):
                put("conf", line[8:].strip().encode() + b"\n")
    kinds = {"domains": 0, "aliases": 1, "users": 2, "relay": 3, "routes": 4}
    for name, k in kinds.items():
        p = os.path.join(inst, name)
        if os.path.exists(p):
            for line in open(p, "rb").read().splitlines():
                put("mapsrc", bytes([k]) + line)

    unit = os.path.join(top, "tests", "unit")
    for lit in c_literals(os.path.join(unit, "addr-t.c")):
        for flags in (0, 1, 2 | 0x3c, 3 | 0x3c):
            put("addr", bytes([flags]) + lit)
    for lit in c_literals(os.path.join(unit, "conf-t.c")):
        if b"=" in lit:
            put("conf", lit)
    for lit in c_literals(os.path.join(unit, "mapsrc-t.c")):
        for k in range(5):
            put("mapsrc", bytes([k]) + lit)
    reply_lits = [l for l in c_literals(os.path.join(unit, "reply-t.c")) if l[:1].isdigit()]
    for lit in reply_lits:
        put("reply", lit + b"\r\n")
    put("reply", b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")
    for lit in c_literals(os.path.join(unit, "sasl-t.c")):
        put("sasl", b"\x00" + lit)
    for lit in c_literals(os.path.join(unit, "queue-t.c")):
        if lit.startswith(b"postern-queue"):
            put("qenv", lit)
    put("qenv", b"postern-queue 1\nid 1700000000.1.1\nfrom a@b.test\ncreated 1\nsize 3\nhold 0\ndsn 0\n"
                b"rcpt pending 0 0 x@remote.test\nreply \nrcpt deferred 2 99 \"q x\"@remote.test\nreply 451 4.0.0 later\n")
    for lit in c_literals(os.path.join(unit, "msghdr-t.c")):
        put("msghdr", lit)

main()
