#!/usr/bin/env python3
"""HTTP-level fuzz smoke against a running alexa-link server.

It first walks the real flow once (login, consent, code, tokens) to get
valid cookies, CSRF nonces and tokens, then sends mutated copies of real
requests to every public endpoint: flipped and inserted bytes, truncated and
oversized bodies, repeated and garbage parameters, bad percent-encoding,
odd methods, content types, Authorization schemes and cookies, and now and
then a request whose HTTP framing itself is mangled. Bounded by a request
count and a time limit; loopback only; seeded, so a run can be replayed.

A failure is any 5xx other than 502/503 (the documented upstream answers),
or no answer at all to a well-formed request (what a panic that drops the
connection looks like). The caller checks the server's log for panics and
its health afterwards. Prints figures as one JSON line at the end.
"""

import argparse
import base64
import hashlib
import html
import json
import os
import random
import re
import socket
import sys
import time
import urllib.parse

BODY_LIMIT = 16 * 1024


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--client-id", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--redirect", required=True)
    p.add_argument("--user", default="user")
    p.add_argument("--password", default="password")
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=90)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--failures", default=None, help="write failing requests here")
    return p.parse_args()


class Target:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        if u.hostname not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("refusing a non-loopback target: " + base)
        self.host = u.hostname
        self.port = u.port
        self.authority = u.netloc

    def send(self, raw, timeout=10.0, half_close=False):
        """Sends raw request bytes; returns (status or None, headers, body)."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            try:
                s.sendall(raw)
            except OSError:
                pass  # the server may answer (413) before reading it all
            if half_close:
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            chunks = []
            while True:
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    break
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
        finally:
            s.close()
        response = b"".join(chunks)
        m = re.match(rb"HTTP/1\.[01] (\d{3})", response)
        if not m:
            return None, {}, b""
        head, _, body = response.partition(b"\r\n\r\n")
        headers = {}
        cookies = []
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower().decode("latin-1")
            value = value.strip().decode("latin-1")
            if name == "set-cookie":
                cookies.append(value)
            headers[name] = value
        headers["set-cookie-all"] = cookies
        return int(m.group(1)), headers, body


def build(target, method, path, headers, body=b"", raw_target=None):
    request_target = raw_target if raw_target is not None else path
    if isinstance(request_target, str):
        request_target = request_target.encode("latin-1", "replace")
    lines = [method.encode() + b" " + request_target + b" HTTP/1.1",
             b"Host: " + target.authority.encode()]
    for name, value in headers:
        if isinstance(value, str):
            value = value.encode("utf-8", "replace")
        lines.append(name.encode() + b": " + value)
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class Browser:
    """Just enough of a browser for the setup flow."""

    def __init__(self, target):
        self.target = target
        self.cookies = {}

    def cookie_header(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method, path, form=None, headers=()):
        body = urllib.parse.urlencode(form).encode() if form is not None else b""
        h = list(headers)
        if form is not None:
            h.append(("Content-Type", "application/x-www-form-urlencoded"))
        if self.cookies:
            h.append(("Cookie", self.cookie_header()))
        status, resp_headers, resp_body = self.target.send(build(self.target, method, path, h, body))
        for c in resp_headers.get("set-cookie-all", []):
            pair = c.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return status, resp_headers, resp_body.decode("utf-8", "replace")


def hidden(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    if not m:
        return None
    return html.unescape(m.group(1))


def setup(target, args):
    """Walks the real flow once; returns what the seed requests need."""
    verifier = base64.urlsafe_b64encode(os.urandom(48)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": args.client_id, "scope": "profile",
        "state": "fuzz", "redirect_uri": args.redirect, "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    b = Browser(target)
    status, _, page = b.request("GET", "/oauth/authorize?" + query)
    assert status == 200, f"authorize: {status}"
    status, headers, _ = b.request("POST", "/oauth/login", {
        "request": hidden(page, "request"), "csrf": hidden(page, "csrf"),
        "username": args.user, "password": args.password})
    assert status == 303, f"login: {status}"
    status, headers, page = b.request("GET", headers["location"])
    if status == 200:  # the consent page
        consent = {"request": hidden(page, "request"), "csrf": hidden(page, "csrf"), "decision": "allow"}
        status, headers, _ = b.request("POST", "/oauth/consent", consent)
    else:
        consent = {"request": query, "csrf": "x", "decision": "allow"}
    location = headers.get("location", "")
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("code", [""])[0]
    assert code, f"no code: {status} {location}"
    basic = "Basic " + base64.b64encode(f"{args.client_id}:{args.secret}".encode()).decode()
    token_form = {"grant_type": "authorization_code", "code": code,
                  "redirect_uri": args.redirect, "code_verifier": verifier}
    status, _, body = b.request("POST", "/oauth/token", token_form, [("Authorization", basic)])
    assert status == 200, f"token: {status} {body}"
    tokens = json.loads(body)
    _, _, links = b.request("GET", "/oauth/links")
    return {
        "query": query, "consent": consent, "basic": basic, "token_form": token_form,
        "cookies": b.cookie_header(), "csrf": hidden(links, "csrf") or "x",
        "grant": hidden(links, "grant") or "00", "access": tokens["access_token"],
        "refresh": tokens["refresh_token"], "verifier": verifier,
    }


def seeds(s, args):
    """Real requests, one per endpoint and way in: (method, path, headers, form)."""
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    cookie = [("Cookie", s["cookies"])]
    basic = [("Authorization", s["basic"])]
    bearer = [("Authorization", "Bearer " + s["access"])]
    enc = urllib.parse.urlencode
    return [
        ("GET", "/oauth/authorize?" + s["query"], cookie, ""),
        ("GET", "/oauth/authorize?" + s["query"], [], ""),
        ("POST", "/oauth/login", form + cookie, enc({"request": s["query"], "csrf": s["csrf"],
                                                   "username": args.user, "password": "wrong"})),
        ("POST", "/oauth/consent", form + cookie, enc(s["consent"])),
        ("GET", "/oauth/links", cookie, ""),
        ("POST", "/oauth/links", form + cookie, enc({"grant": "0" * 32, "csrf": s["csrf"]})),
        ("POST", "/oauth/logout", form + cookie, enc({"csrf": s["csrf"]})),
        ("GET", "/oauth/callback?code=abc&state=def", cookie, ""),
        ("POST", "/oauth/token", form + basic, enc(s["token_form"])),
        ("POST", "/oauth/token", form + basic, enc({"grant_type": "refresh_token", "refresh_token": s["refresh"]})),
        ("POST", "/oauth/token", form, enc({"grant_type": "client_credentials", "client_id": args.client_id,
                                           "client_secret": args.secret})),
        ("POST", "/oauth/revoke", form + basic, enc({"token": "alr_" + "A" * 43})),
        ("POST", "/oauth/introspect", form + basic, enc({"token": s["access"]})),
        ("POST", "/api/reciprocal/authorize", form + bearer,
         enc({"grant_type": "reciprocal_authorization_code", "code": "ANcode", "client_id": args.client_id})),
        ("GET", "/api/partner/token?user_id=user&partner_id=amazon", basic, ""),
        ("POST", "/api/partner/token", form + bearer, enc({"user_id": "user"})),
        ("GET", "/.well-known/oauth-authorization-server", [], ""),
    ]


NASTY = ["%", "%z", "%00", "%ff", "%C3%28", "+", "&", "=", "==", "\u00e9", "\ufffd", "\x00", "'", '"', "<script>",
         "../", "//", ";", ",", " ", "\t", "A" * 3000, "%25" * 50, "\U0001f600"]


def mutate_text(rng, text):
    """A form body or query string, mutated by 1-3 operations."""
    b = bytearray(text.encode("utf-8", "replace"))
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(9)
        if op == 0 and b:  # flip a bit
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert something nasty
            i = rng.randint(0, len(b))
            b[i:i] = rng.choice(NASTY).encode("utf-8", "replace")
        elif op == 2 and b:  # truncate
            del b[rng.randrange(len(b)):]
        elif op == 3:  # repeat a parameter
            parts = bytes(b).split(b"&")
            b = bytearray(b"&".join(parts + [rng.choice(parts)]))
        elif op == 4:  # a value replaced by something long
            parts = bytes(b).split(b"&")
            i = rng.randrange(len(parts))
            name = parts[i].split(b"=", 1)[0]
            parts[i] = name + b"=" + b"x" * rng.choice([100, 2048, 9000, BODY_LIMIT + 1])
            b = bytearray(b"&".join(parts))
        elif op == 5:  # drop a parameter
            parts = bytes(b).split(b"&")
            del parts[rng.randrange(len(parts))]
            b = bytearray(b"&".join(parts))
        elif op == 6:  # many parameters
            b += b"".join(b"&p%d=v" % i for i in range(rng.choice([10, 40, 200])))
        elif op == 7 and b:  # random bytes
            i = rng.randrange(len(b))
            b[i:i + rng.randint(1, 8)] = os.urandom(rng.randint(1, 8))
        else:  # swap a value for a nasty one
            parts = bytes(b).split(b"&")
            i = rng.randrange(len(parts))
            name = parts[i].split(b"=", 1)[0]
            parts[i] = name + b"=" + rng.choice(NASTY).encode("utf-8", "replace")
            b = bytearray(b"&".join(parts))
    return bytes(b)


def mutate_headers(rng, headers):
    headers = list(headers)
    op = rng.randrange(8)
    if op == 0 and headers:
        del headers[rng.randrange(len(headers))]
    elif op == 1:
        headers = [(n, v) for n, v in headers if n != "Content-Type"]
        headers.append(("Content-Type", rng.choice([
            "application/json", "text/plain", "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded; charset=latin1", "APPLICATION/X-WWW-FORM-URLENCODED", ";", ""])))
    elif op == 2:
        headers = [(n, v) for n, v in headers if n != "Authorization"]
        headers.append(("Authorization", rng.choice([
            "Basic", "Basic ", "Basic !!!", "basic " + base64.b64encode(b"a:b").decode(),
            "Basic " + base64.b64encode(os.urandom(rng.randint(0, 64))).decode(),
            "Basic " + base64.b64encode(b":").decode(), "Bearer", "Bearer ", "bearer ala_x",
            "Bearer " + "A" * 5000, "Digest x", "Basic " + "A" * 7000])))
    elif op == 3:
        headers = [(n, v) for n, v in headers if n != "Cookie"]
        headers.append(("Cookie", rng.choice([
            "alexa_link_session=garbage", "alexa_link_csrf=; alexa_link_csrf=x", "=", ";;;",
            "alexa_link_session=" + "A" * 4000, "__Host-alexa_link_session=x",
            "alexa_link_upstream=" + base64.b64encode(os.urandom(100)).decode()])))
    elif op == 4 and headers:  # mutate a header value
        i = rng.randrange(len(headers))
        name, value = headers[i]
        value = mutate_text(rng, value).replace(b"\r", b"").replace(b"\n", b"")
        headers[i] = (name, value)
    elif op == 5:
        headers.append(("X-Forwarded-For", rng.choice(["1.2.3.4", "::1", "garbage", "1.2.3.4, ::ffff:1.2.3.4", ""])))
    elif op == 6:
        headers.append(("Transfer-Encoding", "chunked"))
    return headers


def one_request(rng, target, seed_requests):
    method, path, headers, body = rng.choice(seed_requests)
    path_part, _, query = path.partition("?")
    body = body.encode()
    raw_target = None
    what = rng.randrange(10)
    if what < 3:
        body = mutate_text(rng, body.decode("utf-8", "replace"))
    elif what < 5 and query:
        query = mutate_text(rng, query).decode("latin-1")
    elif what < 7:
        headers = mutate_headers(rng, headers)
    elif what == 7:
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO"])
    elif what == 8:
        path_part = rng.choice([path_part + "/", path_part.upper(), "//" + path_part.lstrip("/"),
                                path_part + "/..", path_part.replace("/", "%2F"), "/" + "a" * 9000,
                                path_part + ";x", "*"])
    full = path_part + ("?" + query if query else "")
    if any(n == "Transfer-Encoding" for n, _ in headers):
        # A chunked body instead of Content-Length.
        headers = [h for h in headers if h[0] != "Transfer-Encoding"]
        chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n" if body else b"0\r\n\r\n"
        raw = build(target, method, full, headers + [("Transfer-Encoding", "chunked")], b"", raw_target)
        raw = raw.replace(b"Content-Length: 0\r\n", b"") + chunked
    else:
        raw = build(target, method, full, headers, body, raw_target)
    framed = True
    if what == 9:  # mangle the bytes of the whole request, framing included
        framed = False
        raw = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(raw))
            raw[i] = rng.randrange(256)
        raw = bytes(raw)
    return raw, framed, len(body)


def main():
    args = parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    target = Target(args.base)
    state = setup(target, args)
    seed_requests = seeds(state, args)
    statuses = {}
    failures = []
    dropped_oversized = 0
    no_answer_mangled = 0
    sent = 0
    start = time.monotonic()
    while sent < args.requests and time.monotonic() - start < args.seconds:
        raw, framed, body_len = one_request(rng, target, seed_requests)
        status, headers, body = target.send(raw, timeout=15 if framed else 3, half_close=not framed)
        sent += 1
        key = str(status) if status is not None else "none"
        statuses[key] = statuses.get(key, 0) + 1
        if status is None:
            if not framed:
                no_answer_mangled += 1
            elif body_len > BODY_LIMIT or len(raw) > 16000:
                dropped_oversized += 1
            else:
                failures.append(("no answer", raw))
        elif status >= 500 and status not in (502, 503):
            failures.append((f"status {status}: {body[:200]!r}", raw))
    elapsed = time.monotonic() - start
    report = {
        "seed": seed, "requests": sent, "seconds": round(elapsed, 1),
        "statuses": dict(sorted(statuses.items())), "failures": len(failures),
        "no_answer_to_mangled_framing": no_answer_mangled,
        "no_answer_to_oversized": dropped_oversized,
    }
    if failures and args.failures:
        with open(args.failures, "wb") as f:
            for why, raw in failures[:50]:
                f.write(b"### " + why.encode() + b"\n" + raw + b"\n\n")
    for why, raw in failures[:5]:
        print(f"FAILURE: {why}: {raw[:300]!r}", file=sys.stderr)
    print(json.dumps(report))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
