#!/usr/bin/env python3
"""impasto serve's JSON API over real sockets (tests/cli/test_serve.sh runs this): each method end to
end, progress as Server-Sent Events, cancel, a queue, results kept across a restart, hostile
requests each answered as they should be while the server keeps serving, and a clean SIGTERM.
Standard library only (http.client, socket); small pictures, one thread. Prints "N passed, N failed".
    python3 tests/serve/test_api.py BUILD/impasto"""
import http.client, json, os, re, select, signal, socket, struct, subprocess, sys, tempfile, threading, time, zlib

IMPASTO = sys.argv[1] if len(sys.argv) > 1 else "build/impasto"
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok", name)
    else:
        failed += 1
        print("not ok", name, ("- " + str(detail)[:300]) if detail != "" else "")
    return cond


def png(w, h, ch=3, fill=None):
    """An 8-bit PNG: stripes, or every byte `fill` (a decompression bomb's zeros)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    if fill is None:
        raw = b"".join(b"\0" + bytes((x * 7 + y * 3 + c * 50) % 256 for x in range(w) for c in range(ch)) for y in range(h))
        data = zlib.compress(raw)
    else:
        c = zlib.compressobj(9)
        row = b"\0" + bytes([fill]) * (w * ch)
        data = b"".join(c.compress(row) for _ in range(h)) + c.flush()
    ctype = {1: 0, 3: 2, 4: 6}[ch]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)) +
            chunk(b"IDAT", data) + chunk(b"IEND", b""))


def png_size(b):
    return struct.unpack(">II", b[16:24]) if b[:8] == b"\x89PNG\r\n\x1a\n" else None


def multipart(fields):
    """fields: (name, value) with value str, or (name, (filename, bytes))."""
    boundary = "----impastotest%d" % time.time_ns()
    out = b""
    for name, v in fields:
        out += b"--" + boundary.encode() + b"\r\n"
        if isinstance(v, tuple):
            out += ('Content-Disposition: form-data; name="%s"; filename="%s"\r\n' % (name, v[0])).encode()
            out += b"Content-Type: application/octet-stream\r\n\r\n" + v[1] + b"\r\n"
        else:
            out += ('Content-Disposition: form-data; name="%s"\r\n\r\n' % name).encode() + str(v).encode() + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return "multipart/form-data; boundary=" + boundary, out


class Server:
    def __init__(self, data, *extra):
        self.data = data
        self.p = subprocess.Popen([IMPASTO, "serve", "--port", "0", "--data", data, "--threads", "1", *extra],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = b""
        ready, _, _ = select.select([self.p.stdout], [], [], 60)
        if ready:
            line = self.p.stdout.readline()
        m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.p.kill()
            raise SystemExit("the server did not start: %r %r" % (line, self.p.stderr.read()))
        self.port = int(m.group(1))
        self.token = self.get("/api/token")[2]["token"]

    def request(self, method, path, body=None, headers=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            js = json.loads(data) if r.getheader("Content-Type", "").startswith("application/json") else None
        except ValueError:
            js = None
        return r.status, r, js if js is not None else data

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post_job(self, fields, token=True, extra_headers=None):
        ctype, body = multipart(fields)
        h = {"Content-Type": ctype}
        if token:
            h["X-Impasto-Token"] = self.token
        h.update(extra_headers or {})
        return self.request("POST", "/api/jobs", body=body, headers=h)

    def delete(self, jid, token=True):
        return self.request("DELETE", "/api/jobs/" + jid, headers={"X-Impasto-Token": self.token} if token else {})

    def wait(self, jid, states=("done", "failed", "cancelled"), timeout=120):
        t0 = time.time()
        while time.time() - t0 < timeout:
            st, _, js = self.get("/api/jobs/" + jid)
            if st != 200 or js["state"] in states:
                return js
            time.sleep(0.05)
        return js

    def alive(self):
        st, _, js = self.get("/api/models", timeout=10)
        return st == 200 and "methods" in js

    def raw(self, data, timeout=10):
        """Bytes sent on a fresh socket; the answer's status line and the whole answer."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(data)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
                if b"\r\n\r\n" in out and re.search(rb"Content-Length: (\d+)", out):
                    n = int(re.search(rb"Content-Length: (\d+)", out).group(1))
                    if len(out) >= out.index(b"\r\n\r\n") + 4 + n:
                        break
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        return out.split(b"\r\n", 1)[0], out

    def stop(self, timeout=30):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = None
        return rc, self.p.stderr.read().decode(errors="replace")


def main():
    tmp = tempfile.mkdtemp()
    data = os.path.join(tmp, "data")
    content = png(64, 48)
    style = open("examples/images/scream.jpg", "rb").read()
    s = Server(data, "--max-pixels", "4000000", "--max-upload", "8")

    # ---- the page and what it can use ----
    st, r, body = s.get("/")
    check("page: / is the HTML page", st == 200 and r.getheader("Content-Type").startswith("text/html") and b"<html" in body.lower(), st)
    check("page: a content security policy", "default-src 'self'" in (r.getheader("Content-Security-Policy") or ""))
    for f, t in (("/app.js", "text/javascript"), ("/style.css", "text/css")):
        st, r, body = s.get(f)
        check("page: " + f, st == 200 and r.getheader("Content-Type").startswith(t) and len(body) > 100, st)
    st, _, models = s.get("/api/models")
    avail = {m["name"]: m["available"] for m in models["methods"]}
    check("models: the four methods, available with the models here", st == 200 and all(avail.values()) and len(avail) == 4, models)
    check("models: the fast networks", "candy" in models["networks"] and "vgg19" not in models["networks"], models["networks"])
    check("token: 64 hex digits", re.fullmatch(r"[0-9a-f]{64}", s.token) is not None, s.token)

    # ---- each method end to end ----
    jobs = {}
    st, _, js = s.post_job([("method", "fast"), ("network", "candy"), ("content", ("c.png", content))])
    check("fast: 201 with an id", st == 201 and re.fullmatch(r"[0-9a-f]{32}", js.get("id", "")), (st, js))
    jobs["fast"] = js["id"]
    st, _, js = s.post_job([("method", "adain"), ("content", ("c.png", content)), ("style", ("s.jpg", style)),
                            ("alpha", "0.8"), ("content-size", "64"), ("style-size", "64")])
    check("adain: 201", st == 201, (st, js))
    jobs["adain"] = js["id"]
    st, _, js = s.post_job([("method", "wct"), ("content", ("c.png", content)), ("style", ("s.jpg", style)),
                            ("options", json.dumps({"alpha": 0.6, "content-size": 64, "style-size": 64, "levels": 2}))])
    check("wct: 201 (options as one JSON field)", st == 201, (st, js))
    jobs["wct"] = js["id"]
    st, _, js = s.post_job([("method", "transfer"), ("content", ("c.png", content)), ("style", ("s.jpg", style)),
                            ("image-size", "32"), ("num-iterations", "6"), ("seed", "1")])
    check("transfer: 201", st == 201, (st, js))
    jobs["transfer"] = js["id"]
    # The transfer's events: progress until the end event.
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
    c.request("GET", "/api/jobs/%s/events" % jobs["transfer"])
    r = c.getresponse()
    events = []
    ev = None
    while True:
        line = r.fp.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            ev = line[7:]
        elif line.startswith("data: "):
            events.append((ev, json.loads(line[6:])))
            if ev == "end":
                break
    c.close()
    check("events: text/event-stream", r.getheader("Content-Type") == "text/event-stream", r.getheader("Content-Type"))
    prog = [e[1]["progress"] for e in events if e[0] == "progress" and e[1]["state"] == "running"]
    check("events: progress rises while the transfer runs", len(prog) >= 2 and prog == sorted(prog) and prog[-1] > prog[0], events[:3])
    check("events: ends with the finished job", events and events[-1][0] == "end" and events[-1][1]["state"] == "done", events[-1:])
    for m, jid in jobs.items():
        js = s.wait(jid)
        check("%s: done" % m, js["state"] == "done" and js["progress"] == 1 and js["result"], js)
        st, r, img = s.get("/api/jobs/%s/result.png" % jid)
        size = png_size(img) if st == 200 else None
        want = {"fast": (64, 48), "adain": (64, 48), "wct": (64, 48), "transfer": (32, 24)}[m]
        check("%s: result.png is %dx%d" % (m, *want), size == want, (st, size))
    st, r, img = s.get("/api/jobs/%s/result.jpg" % jobs["adain"])
    check("result.jpg: a JPEG", st == 200 and img[:3] == b"\xff\xd8\xff" and r.getheader("Content-Type") == "image/jpeg", st)
    st, r, img = s.get("/api/jobs/%s/content.jpg" % jobs["adain"])
    check("content.jpg: the photo at the result's size", st == 200 and img[:3] == b"\xff\xd8\xff", st)
    js = s.get("/api/jobs/" + jobs["transfer"])[2]
    check("transfer: iterations and loss reported", js["iterations"] == 6 and js["iteration"] == 6 and js["loss"] > 0, js)
    check("transfer: options echoed with the CLI's names", js["options"]["image-size"] == 32 and js["options"]["num-iterations"] == 6, js["options"])
    st, _, lst = s.get("/api/jobs")
    check("jobs: the list has every job", st == 200 and {j["id"] for j in lst["jobs"]} >= set(jobs.values()), lst)

    # ---- cancel and the queue (one job at a time) ----
    st, _, js = s.post_job([("method", "transfer"), ("content", ("c.png", content)), ("style", ("s.jpg", style)),
                            ("image-size", "48"), ("num-iterations", "100000")])
    long_id = js["id"]
    queued = []
    for i in range(3):
        st, _, js = s.post_job([("method", "fast"), ("network", ["candy", "mosaic", "udnie"][i]), ("content", ("c.png", content))])
        queued.append(js["id"])
    states = [s.get("/api/jobs/" + q)[2]["state"] for q in queued]
    check("queue: jobs wait behind the running one", states == ["queued"] * 3, states)
    extra, full = [], None
    for i in range(40):
        st, _, js = s.post_job([("method", "fast"), ("network", "candy"), ("content", ("c.png", content))])
        if st != 201:
            full = (st, js)
            break
        extra.append(js["id"])
    check("queue: bounded at 32 waiting jobs, then 503", len(extra) + 3 == 32 and full and full[0] == 503, (len(extra), full))
    for e in extra:
        s.delete(e)
    st, _, js = s.delete(queued[1])
    check("queue: DELETE cancels a queued job at once", st == 200 and js["state"] == "cancelled", (st, js))
    js = s.wait(long_id, states=("running",))
    t0 = time.time()
    while s.get("/api/jobs/" + long_id)[2]["iteration"] < 2 and time.time() - t0 < 60:
        time.sleep(0.05)
    st, _, js = s.delete(long_id)
    check("cancel: DELETE of a running job answers 202 cancelling", st == 202 and js["state"] == "cancelling", (st, js))
    js = s.wait(long_id)
    check("cancel: the transfer stops, keeping its picture so far", js["state"] == "cancelled" and js["result"], js)
    a, c_ = s.wait(queued[0]), s.wait(queued[2])
    check("queue: the others then run to the end", a["state"] == "done" and c_["state"] == "done", (a["state"], c_["state"]))
    check("queue: the cancelled one never ran", s.get("/api/jobs/" + queued[1])[2]["state"] == "cancelled")

    # ---- delete a finished job: its files go ----
    fid = jobs["fast"]
    st, _, js = s.delete(fid)
    check("delete: a finished job is deleted", st == 200 and js["state"] == "deleted", (st, js))
    check("delete: then it is gone", s.get("/api/jobs/" + fid)[0] == 404)
    check("delete: and so are its files", not [f for f in os.listdir(data) if f.startswith(fid)], os.listdir(data))

    # ---- hostile requests: each answered, and the server keeps serving ----
    def still(name):
        check(name + " (still serving)", s.alive())

    for path in ("/../../../../etc/passwd", "/api/jobs/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/api/jobs/%s/../../../../etc/passwd" % jobs["adain"], "/api/jobs/" + "a" * 32 + "/result.png",
                 "/api/jobs/%s/result.png/.." % jobs["adain"]):
        status, out = s.raw(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path, s.port)).encode())
        check("hostile: GET %s is 404" % path, b" 404 " in status and b"root:" not in out, status)
    still("hostile: .. paths")
    status, _ = s.raw(b"GET /api/token HTTP/1.1\r\nHost: evil.example:%d\r\nConnection: close\r\n\r\n" % s.port)
    check("hostile: a wrong Host is 403 (DNS rebinding)", b" 403 " in status, status)
    status, _ = s.raw(b"GET /api/token HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n")
    check("hostile: a wrong port in Host is 403", b" 403 " in status, status)
    status, _ = s.raw(b"GET /api/token HTTP/1.0\r\n\r\n")
    check("hostile: no Host at all is refused", b" 400 " in status or b" 403 " in status, status)
    st, _, _ = s.get("/api/token", headers={"Sec-Fetch-Site": "cross-site"})
    check("hostile: another site's fetch of the token is 403", st == 403, st)
    still("hostile: Host")
    st, _, js = s.post_job([("method", "fast"), ("network", "candy"), ("content", ("c.png", content))], token=False)
    check("hostile: POST without the token is 403", st == 403, (st, js))
    st, _, js = s.request("POST", "/api/jobs", body=b"x", headers={"X-Impasto-Token": "0" * 64})
    check("hostile: POST with a wrong token is 403", st == 403, (st, js))
    st, _, js = s.delete(jobs["adain"], token=False)
    check("hostile: DELETE without the token is 403", st == 403 and s.get("/api/jobs/" + jobs["adain"])[0] == 200, st)
    st, _, js = s.post_job([("method", "fast"), ("network", "candy"), ("content", ("c.png", content))],
                           extra_headers={"Origin": "http://evil.example"})
    check("hostile: a POST from another site's page is 403 even with the token", st == 403, (st, js))
    still("hostile: tokens")
    t0 = time.time()
    status, _ = s.raw(("POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Impasto-Token: %s\r\n"
                       "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 2147483648\r\n\r\n" % (s.port, s.token)).encode())
    check("hostile: a 2 GB Content-Length is 413 at once", b" 413 " in status and time.time() - t0 < 5, status)
    still("hostile: 2 GB")
    ctype, body = multipart([("method", "fast"), ("network", "candy"), ("content", ("c.png", content))])
    cut = body[: len(body) * 2 // 3]
    status, out = s.raw(("POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Impasto-Token: %s\r\nContent-Type: %s\r\n"
                         "Content-Length: %d\r\nConnection: close\r\n\r\n" % (s.port, s.token, ctype, len(cut))).encode() + cut)
    check("hostile: a truncated multipart body is 400", b" 400 " in status, out[:300])
    status, out = s.raw(("POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Impasto-Token: %s\r\nContent-Type: %s\r\n"
                         "Content-Length: %d\r\nConnection: close\r\n\r\n" % (s.port, s.token, ctype, len(body) + 500)).encode() + cut, timeout=2)
    check("hostile: a body that stops short of its Content-Length gets no job", b" 201 " not in status, status)
    # A chunked body (no Content-Length) that runs past --max-upload (8 MB here) is cut off.
    k = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    k.sendall(("POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Impasto-Token: %s\r\nContent-Type: %s\r\n"
               "Transfer-Encoding: chunked\r\n\r\n" % (s.port, s.token, ctype)).encode())
    chunk = b"%x\r\n" % (1 << 20) + b"\0" * (1 << 20) + b"\r\n"
    sent = 0
    try:
        for _ in range(12):
            k.sendall(chunk)
            sent += 1
        k.sendall(b"0\r\n\r\n")
        answer = k.recv(4096)
    except OSError:
        answer = b""
    k.close()
    check("hostile: a chunked body past --max-upload is cut off", b" 201 " not in answer, (sent, answer[:100]))
    st, _, js = s.request("POST", "/api/jobs", body=b'{"method": "fast"}', headers={"X-Impasto-Token": s.token, "Content-Type": "application/json"})
    check("hostile: a body that is not multipart is 400", st == 400, (st, js))
    st, _, js = s.post_job([("method", "adain"), ("content", ("c.png", content)), ("style", ("s.jpg", style)), ("options", "{alpha: 1")])
    check("hostile: malformed options JSON is 400", st == 400 and "JSON" in js["error"], (st, js))
    st, _, js = s.post_job([("method", "adain"), ("content", ("c.png", content)), ("style", ("s.jpg", style)), ("alpha", "7")])
    check("hostile: an option out of range is 400 naming it", st == 400 and "alpha" in js["error"], (st, js))
    st, _, js = s.post_job([("method", "adain"), ("content", ("c.png", content)), ("style", ("s.jpg", style)), ("num-iterations", "5")])
    check("hostile: another method's option is 400", st == 400 and "num-iterations" in js["error"], (st, js))
    st, _, js = s.post_job([("method", "fast"), ("network", "../../vgg19"), ("content", ("c.png", content))])
    check("hostile: a network name that is a path is refused", st == 404, (st, js))
    st, _, js = s.post_job([("method", "fast"), ("network", "candy"), ("content", ("c.png", content[:100]))])
    check("hostile: a truncated picture is 400", st == 400 and "content" in js["error"], (st, js))
    # Garbage where options go (a fixed seed): each is refused with a 400, never a crash.
    import random
    rng = random.Random(21)
    codes = []
    for i in range(60):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        if i % 3 == 0:
            fields = [("options", junk.decode("latin-1"))]
        elif i % 3 == 1:
            fields = [("options", json.dumps({rng.choice(["alpha", "content-size", "style-weights", "x"]): junk.decode("latin-1")}))]
        else:
            fields = [(rng.choice(["alpha", "content-size", "style-weights", "crop"]), junk.decode("latin-1"))]
        st, _, js = s.post_job([("method", "adain"), ("content", ("c.png", content)), ("style", ("s.jpg", style))] + fields)
        codes.append(st)
    check("hostile: 60 garbage option values are each a 400", set(codes) == {400}, sorted(set(codes)))
    still("hostile: malformed bodies")
    bomb = png(5000, 5000, 1, fill=0)
    check("hostile: the bomb is small", len(bomb) < 100000, len(bomb))
    t0 = time.time()
    st, _, js = s.post_job([("method", "fast"), ("network", "candy"), ("content", ("bomb.png", bomb))])
    check("hostile: a decompression-bomb PNG is 413 before decoding", st == 413 and "pixels" in js["error"] and time.time() - t0 < 5, (st, js))
    still("hostile: bomb")

    # 200 connections at once: half send a partial request and stall, half nothing; then 200 real
    # requests in parallel are all answered.
    socks = []
    for i in range(200):
        k = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        if i % 2:
            k.sendall(b"GET /api/models HTTP/1.1\r\nHost: 127.0.0")
        socks.append(k)
    t0 = time.time()
    check("hostile: 200 stalled connections, and the server still answers", s.alive() and time.time() - t0 < 10)
    results = []

    def one():
        try:
            results.append(s.get("/api/jobs", timeout=30)[0])
        except Exception as e:
            results.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("hostile: 200 concurrent requests all answered 200", results.count(200) == 200, [r for r in results if r != 200][:3])
    for k in socks:
        k.close()
    still("hostile: 200 connections")

    # ---- results outlive the server; SIGTERM stops it cleanly, cancelling what runs ----
    rc, err = s.stop()
    check("sigterm: an idle server exits 0", rc == 0, (rc, err))
    s = Server(data)
    st, _, js = s.get("/api/jobs/" + jobs["adain"])
    check("restart: a finished job is still there", st == 200 and js["state"] == "done" and js["options"]["alpha"] == 0.8, (st, js))
    st, _, img = s.get("/api/jobs/%s/result.png" % jobs["adain"])
    check("restart: with its result", st == 200 and png_size(img) == (64, 48), st)
    st, _, js = s.post_job([("method", "transfer"), ("content", ("c.png", content)), ("style", ("s.jpg", style)),
                            ("image-size", "48"), ("num-iterations", "100000")])
    run_id = js["id"]
    st, _, js = s.post_job([("method", "fast"), ("network", "candy"), ("content", ("c.png", content))])
    wait_id = js["id"]
    s.wait(run_id, states=("running",))
    t0 = time.time()
    while s.get("/api/jobs/" + run_id)[2]["iteration"] < 1 and time.time() - t0 < 60:
        time.sleep(0.05)
    ev = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    ev.request("GET", "/api/jobs/%s/events" % run_id)
    evr = ev.getresponse()
    t0 = time.time()
    rc, err = s.stop()
    check("sigterm: a busy server exits 0 promptly", rc == 0 and time.time() - t0 < 20, (rc, time.time() - t0, err))
    check("sigterm: says what it cancelled", "cancelling 2 jobs" in err, err)
    rest = evr.read().decode(errors="replace")
    check("sigterm: an open event stream is ended", "event: end" in rest, rest[-200:])
    try:
        socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        closed = False
    except OSError:
        closed = True
    check("sigterm: the port is closed", closed)
    recs = {f[:32]: json.load(open(os.path.join(data, f))) for f in os.listdir(data) if f.endswith(".json")}
    check("sigterm: the running and the queued job are recorded as cancelled",
          recs.get(run_id, {}).get("state") == "cancelled" and recs.get(wait_id, {}).get("state") == "cancelled",
          {k: v.get("state") for k, v in recs.items()})
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


sys.exit(main())
