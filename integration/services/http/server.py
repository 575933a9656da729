"""Deterministic HTTP API for the REST connector's tests (Python stdlib only).

Run: ``python server.py [--host 127.0.0.1] [--port 8765]``. The routes are
listed in ``integration/services/README.md`` and at ``GET /routes``.

Settings (environment, each also a CLI flag):

* ``SPARK_DS_HTTP_ITEMS`` - number of items in the data set (default 10000);
  any items route also takes ``?total=N``.
* ``SPARK_DS_HTTP_MAX_PAGE_SIZE`` - server cap on page sizes (default 1000).
* ``SPARK_DS_HTTP_TOKEN_TTL`` - OAuth2 access-token lifetime in seconds
  (default 3600); the token request may ask for less with ``expires_in``.
* ``SPARK_DS_HTTP_API_KEY``, ``SPARK_DS_USER``/``SPARK_DS_PASSWORD``,
  ``SPARK_DS_HTTP_CLIENT_ID``/``SPARK_DS_HTTP_CLIENT_SECRET`` - credentials.

Everything a test can observe is deterministic: items are a pure function of
their id, failures and rate limits are driven by per-key counters that
``POST /admin/reset`` clears.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.utils
import json
import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
CATEGORIES = ("alpha", "beta", "gamma", "delta")


class HttpError(Exception):
    """An error answer: status, JSON body and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Settings:
    items: int = 10_000
    max_page_size: int = 1000
    token_ttl: int = 3600
    api_key: str = "sparkds-api-key"
    username: str = "sparkds"
    password: str = "sparkds"
    client_id: str = "sparkds-client"
    client_secret: str = "sparkds-secret"


@dataclass
class State:
    """Everything mutable, behind one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    sinks: dict[str, list[Any]] = field(default_factory=dict)
    sink_requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()
            self.counters.clear()
            self.windows.clear()
            self.sinks.clear()
            self.sink_requests.clear()

    def bump(self, key: str) -> int:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]


def item(i: int) -> dict[str, Any]:
    """Item ``i`` (1-based): a pure function of its id."""
    ts = EPOCH + timedelta(minutes=i)
    return {
        "id": i,
        "name": f"item-{i:05d}",
        "ts": ts.isoformat().replace("+00:00", "Z"),
        "price": round((i * 37 % 10_000) / 100, 2),
        "active": i % 3 != 0,
        "category": CATEGORIES[i % len(CATEGORIES)],
        "tags": [f"t{i % 7}", f"t{i % 11}"],
        "nested": {"level": i % 5, "owner": {"id": i % 97, "name": f"owner-{i % 97}"}},
        "note": None if i % 10 == 0 else f"note {i}",
    }


Query = dict[str, str]


def qint(q: Query, name: str, default: int, lo: int = 0, hi: int | None = None) -> int:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(400, f"query parameter {name!r} must be an integer, got {raw!r}") from None
    if value < lo:
        raise HttpError(400, f"query parameter {name!r} must be >= {lo}")
    return min(value, hi) if hi is not None else value


class Api:
    """Route table and handlers; one instance serves every request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = State()
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/health"): self.health,
            ("GET", "/routes"): self.list_routes,
            ("GET", "/items/page"): self.items_page,
            ("GET", "/items/offset"): self.items_offset,
            ("GET", "/items/cursor"): self.items_cursor,
            ("GET", "/items/link"): self.items_link,
            ("GET", "/items/next-url"): self.items_next_url,
            ("GET", "/items/count"): self.items_count,
            ("POST", "/oauth/token"): self.token,
            ("GET", "/auth/api-key/items"): self.auth_api_key,
            ("GET", "/auth/basic/items"): self.auth_basic,
            ("GET", "/auth/bearer/items"): self.auth_bearer,
            ("GET", "/ratelimited/items"): self.ratelimited,
            ("GET", "/flaky/items"): self.flaky,
            ("POST", "/admin/reset"): self.admin_reset,
        }

    # ---- data helpers -------------------------------------------------
    def total(self, q: Query) -> int:
        return qint(q, "total", self.settings.items, lo=0)

    def page_size(self, q: Query, name: str, default: int = 100) -> int:
        return qint(q, name, default, lo=1, hi=self.settings.max_page_size)

    def ids(self, q: Query) -> list[int]:
        """Item ids after the optional ``since`` (exclusive ts) and ``since_id`` filters."""
        total = self.total(q)
        first = qint(q, "since_id", 0, lo=0) + 1
        since = q.get("since")
        if since:
            try:
                cut = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise HttpError(
                    400, f"'since' must be an ISO-8601 timestamp, got {since!r}"
                ) from None
            if cut.tzinfo is None:
                cut = cut.replace(tzinfo=timezone.utc)
            first = max(first, int((cut - EPOCH).total_seconds() // 60) + 1)
        return list(range(max(first, 1), total + 1))

    # ---- routes -------------------------------------------------------
    def health(self, req: Request) -> Response:
        return Response.json({"status": "ok"})

    def list_routes(self, req: Request) -> Response:
        routes = [f"{m} {p}" for m, p in self.routes]
        routes += [
            "POST /sink/{name}",
            "PUT /sink/{name}/{id}",
            "GET /sink/{name}",
            "DELETE /sink/{name}",
        ]
        return Response.json({"routes": routes})

    def items_page(self, req: Request) -> Response:
        ids = self.ids(req.query)
        size = self.page_size(req.query, "page_size")
        page = qint(req.query, "page", 1, lo=1)
        chunk = ids[(page - 1) * size : page * size]
        pages = (len(ids) + size - 1) // size
        return Response.json(
            {
                "items": [item(i) for i in chunk],
                "page": page,
                "page_size": size,
                "total": len(ids),
                "total_pages": pages,
            }
        )

    def items_offset(self, req: Request) -> Response:
        ids = self.ids(req.query)
        limit = self.page_size(req.query, "limit")
        offset = qint(req.query, "offset", 0, lo=0)
        chunk = ids[offset : offset + limit]
        return Response.json(
            {"items": [item(i) for i in chunk], "offset": offset, "limit": limit, "total": len(ids)}
        )

    def items_cursor(self, req: Request) -> Response:
        ids = self.ids(req.query)
        limit = self.page_size(req.query, "limit")
        after = decode_cursor(req.query.get("cursor", ""))
        rest = [i for i in ids if i > after]
        chunk = rest[:limit]
        more = len(rest) > limit
        return Response.json(
            {
                "items": [item(i) for i in chunk],
                "next_cursor": encode_cursor(chunk[-1]) if more else None,
                "has_more": more,
            }
        )

    def items_link(self, req: Request) -> Response:
        ids = self.ids(req.query)
        size = self.page_size(req.query, "per_page")
        page = qint(req.query, "page", 1, lo=1)
        pages = max((len(ids) + size - 1) // size, 1)
        links = [
            f'<{req.url_with(page=1)}>; rel="first"',
            f'<{req.url_with(page=pages)}>; rel="last"',
        ]
        if page < pages:
            links.insert(0, f'<{req.url_with(page=page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{req.url_with(page=page - 1)}>; rel="prev"')
        body = [item(i) for i in ids[(page - 1) * size : page * size]]
        return Response.json(
            body, headers={"Link": ", ".join(links), "X-Total-Count": str(len(ids))}
        )

    def items_next_url(self, req: Request) -> Response:
        ids = self.ids(req.query)
        size = self.page_size(req.query, "size")
        page = qint(req.query, "page", 1, lo=1)
        chunk = ids[(page - 1) * size : page * size]
        more = page * size < len(ids)
        return Response.json(
            {
                "data": [item(i) for i in chunk],
                "next": req.url_with(page=page + 1) if more else None,
            }
        )

    def items_count(self, req: Request) -> Response:
        return Response.json({"count": len(self.ids(req.query))})

    def token(self, req: Request) -> Response:
        form = req.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = req.basic_credentials()
        if basic:
            client_id, client_secret = basic
        if (client_id, client_secret) != (self.settings.client_id, self.settings.client_secret):
            return Response.json({"error": "invalid_client"}, status=401)
        ttl = min(qint(form, "expires_in", self.settings.token_ttl, lo=1), self.settings.token_ttl)
        grant = form.get("grant_type")
        with self.state.lock:
            if grant == "refresh_token":
                old = form.get("refresh_token", "")
                if self.state.refresh_tokens.pop(old, None) is None:
                    return Response.json({"error": "invalid_grant"}, status=400)
            elif grant != "client_credentials":
                return Response.json({"error": "unsupported_grant_type"}, status=400)
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self.state.access_tokens[access] = time.time() + ttl
            self.state.refresh_tokens[refresh] = access
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
        }
        return Response.json(body, headers={"Cache-Control": "no-store"})

    def auth_api_key(self, req: Request) -> Response:
        if req.headers.get("X-API-Key") != self.settings.api_key:
            raise HttpError(401, "missing or wrong X-API-Key header")
        return self.items_page(req)

    def auth_basic(self, req: Request) -> Response:
        if req.basic_credentials() != (self.settings.username, self.settings.password):
            raise HttpError(
                401, "basic authentication required", {"WWW-Authenticate": 'Basic realm="spark-ds"'}
            )
        return self.items_page(req)

    def auth_bearer(self, req: Request) -> Response:
        auth = req.headers.get("Authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with self.state.lock:
            expiry = self.state.access_tokens.get(token)
        if expiry is None:
            raise HttpError(
                401, "bearer token required", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        if expiry < time.time():
            raise HttpError(
                401,
                "token expired",
                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'},
            )
        return self.items_page(req)

    def ratelimited(self, req: Request) -> Response:
        """``limit`` requests per ``window`` seconds per ``key``; then 429 + Retry-After.

        ``retry_after=seconds`` (default) or ``http-date`` picks the header form.
        """
        q = req.query
        limit = qint(q, "limit", 5, lo=1)
        window = qint(q, "window", 1, lo=1)
        key = q.get("key") or req.headers.get("X-Client-Id") or "default"
        now = time.time()
        with self.state.lock:
            start, used = self.state.windows.get(key, (now, 0))
            if now - start >= window:
                start, used = now, 0
            used += 1
            self.state.windows[key] = (start, used)
        if used > limit:
            wait = max(1, int(start + window - now + 0.999))
            if q.get("retry_after", "seconds") == "http-date":
                value = email.utils.formatdate(now + wait, usegmt=True)
            else:
                value = str(wait)
            raise HttpError(429, "rate limit exceeded", {"Retry-After": value})
        return self.items_page(req)

    def flaky(self, req: Request) -> Response:
        """Deterministic failures per ``key``.

        ``fail_every=N`` fails every Nth request; ``fail_rate=P&seed=S`` fails
        request k when ``Random(S*1_000_003 + k).random() < P``; ``status``
        (default 503) is the failing status; ``delay_ms`` delays every
        ``slow_every``-th request (default every request).
        """
        q = req.query
        key = q.get("key") or "default"
        k = self.state.bump(f"flaky:{key}")
        delay = qint(q, "delay_ms", 0, lo=0, hi=60_000)
        slow_every = qint(q, "slow_every", 1, lo=1)
        if delay and k % slow_every == 0:
            time.sleep(delay / 1000)
        status = qint(q, "status", 503, lo=500, hi=599)
        every = qint(q, "fail_every", 0, lo=0)
        failed = every > 0 and k % every == 0
        rate = q.get("fail_rate")
        if rate:
            seed = qint(q, "seed", 0)
            failed = failed or random.Random(seed * 1_000_003 + k).random() < float(rate)
        if failed:
            raise HttpError(status, f"injected failure on request {k}")
        return self.items_page(req)

    def admin_reset(self, req: Request) -> Response:
        self.state.reset()
        return Response.json({"reset": True})

    # ---- sinks (write routes) ------------------------------------------
    def sink(self, req: Request, name: str, record_id: str | None) -> Response:
        st = self.state
        if req.method == "GET":
            with st.lock:
                body = {
                    "records": list(st.sinks.get(name, [])),
                    "requests": list(st.sink_requests.get(name, [])),
                }
            return Response.json(body)
        if req.method == "DELETE":
            with st.lock:
                st.sinks.pop(name, None)
                st.sink_requests.pop(name, None)
            return Response.json({"reset": name})
        records = req.records()
        if req.method == "PUT" and record_id is not None:
            for rec in records:
                if isinstance(rec, dict):
                    rec.setdefault("id", record_id)
        with st.lock:
            stored = st.sinks.setdefault(name, [])
            if req.method == "PUT" and record_id is not None:
                stored[:] = [
                    r for r in stored if not (isinstance(r, dict) and str(r.get("id")) == record_id)
                ]
            stored.extend(records)
            st.sink_requests.setdefault(name, []).append(
                {
                    "method": req.method,
                    "path": req.path,
                    "content_type": req.headers.get("Content-Type", ""),
                    "count": len(records),
                    "idempotency_key": req.headers.get("Idempotency-Key"),
                }
            )
        return Response.json(
            {"received": len(records)}, status=201 if req.method == "POST" else 200
        )

    def dispatch(self, req: Request) -> Response:
        handler = self.routes.get((req.method, req.path))
        if handler is not None:
            return handler(req)
        parts = req.path.strip("/").split("/")
        if (
            parts[0] == "sink"
            and len(parts) in (2, 3)
            and req.method in ("GET", "POST", "PUT", "DELETE")
        ):
            if len(parts) == 3 and req.method != "PUT":
                raise HttpError(405, "only PUT takes a record id")
            return self.sink(req, parts[1], parts[2] if len(parts) == 3 else None)
        if any(p == req.path for _, p in self.routes):
            raise HttpError(405, f"{req.method} not allowed on {req.path}")
        raise HttpError(404, f"no route {req.method} {req.path}")


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return int(json.loads(raw)["after"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise HttpError(400, "invalid cursor") from None


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})


@dataclass
class Request:
    method: str
    path: str
    query: Query
    headers: Any
    body: bytes
    base_url: str

    def url_with(self, **params: Any) -> str:
        q = {**self.query, **{k: str(v) for k, v in params.items()}}
        return f"{self.base_url}{self.path}?{urlencode(q)}"

    def form(self) -> Query:
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            data = json.loads(self.body or b"{}")
            return {k: str(v) for k, v in data.items()}
        parsed = parse_qs(self.body.decode(), keep_blank_values=True)
        return {**self.query, **{k: v[-1] for k, v in parsed.items()}}

    def basic_credentials(self) -> tuple[str, str] | None:
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user, pw

    def records(self) -> list[Any]:
        ctype = self.headers.get("Content-Type", "")
        try:
            if "ndjson" in ctype or "jsonlines" in ctype or "json-seq" in ctype:
                return [
                    json.loads(line) for line in self.body.decode().splitlines() if line.strip()
                ]
            data = json.loads(self.body or b"null")
        except ValueError as exc:
            raise HttpError(400, f"body is not valid JSON: {exc}") from None
        return data if isinstance(data, list) else [data]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "spark-ds-test-api/1"
    api: Api

    def handle_any(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = (
            self.headers.get("Host")
            or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        )
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        req = Request(self.command, url.path, query, self.headers, body, f"http://{host}")
        try:
            resp = self.api.dispatch(req)
        except HttpError as err:
            resp = Response.json(
                {"error": err.message, "status": err.status}, err.status, err.headers
            )
        except Exception as exc:
            resp = Response.json({"error": f"{type(exc).__name__}: {exc}"}, 500)
        self.send_response(resp.status, HTTPStatus(resp.status).phrase)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any  # noqa: N815 - stdlib names

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("SPARK_DS_HTTP_ACCESS_LOG", "1") != "0":
            super().log_message(format, *args)


def main() -> None:
    env = os.environ
    parser = argparse.ArgumentParser(description="spark-ds test HTTP API")
    parser.add_argument("--host", default=env.get("SPARK_DS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("SPARK_DS_HTTP_PORT", "8765")))
    parser.add_argument("--items", type=int, default=int(env.get("SPARK_DS_HTTP_ITEMS", "10000")))
    parser.add_argument(
        "--max-page-size", type=int, default=int(env.get("SPARK_DS_HTTP_MAX_PAGE_SIZE", "1000"))
    )
    parser.add_argument(
        "--token-ttl", type=int, default=int(env.get("SPARK_DS_HTTP_TOKEN_TTL", "3600"))
    )
    args = parser.parse_args()
    settings = Settings(
        items=args.items,
        max_page_size=args.max_page_size,
        token_ttl=args.token_ttl,
        api_key=env.get("SPARK_DS_HTTP_API_KEY", Settings.api_key),
        username=env.get("SPARK_DS_USER", Settings.username),
        password=env.get("SPARK_DS_PASSWORD", Settings.password),
        client_id=env.get("SPARK_DS_HTTP_CLIENT_ID", Settings.client_id),
        client_secret=env.get("SPARK_DS_HTTP_CLIENT_SECRET", Settings.client_secret),
    )
    Handler.api = Api(settings)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"serving on http://{args.host}:{args.port} ({settings.items} items)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
