"""(a) Generated REST API vs a hand-written Flask + SQLAlchemy app over the same table.

Both run in-process through Flask's test client (no network), each on its
own database of the same backend: a SQLite file, and PostgreSQL when
LOOM_TEST_PG_URL is set. Operations alternate in blocks between the two
apps so background load hits both alike. Prints per-operation median and
mean in microseconds and the ratio generated / hand-written (target <= 1.25).

    .venv/bin/python bench/bench_api.py                 # N=2000 per operation
    .venv/bin/python bench/bench_api.py --rows 200      # smoke run
    .venv/bin/python bench/bench_api.py --profile       # + cProfile of the generated API's hot spots
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import decimal
import hashlib
import io
import pstats
import random
import secrets
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    APP,
    ENTITY,
    STATES,
    admin_token,
    api_payload,
    backends,
    database,
    gen_rows,
    header,
    make_loom,
    now_ns,
    sqla_url,
    stats_us,
    table,
)

TARGET = 1.25
BLOCK = 100
WARM = 400  # rows created before timing (list pages need >= 50 rows of priority 2)


# ---------------------------------------------------------------- the hand-written app

def handwritten_app(url: str):
    """What a developer would write by hand for the ticket table: Flask + SQLAlchemy Core.

    Same columns and indexes as Loom's generated table, bearer tokens checked
    against a token table (SHA-256, joined to an active user), field
    validation, a counter for the human number, INSERT ... RETURNING, jsonify.
    Same SQLite pragmas as Loom (WAL, synchronous=NORMAL) so both pay the same commit cost.
    """
    from flask import Flask, abort, g, jsonify, request
    from sqlalchemy import (
        BigInteger,
        Boolean,
        Column,
        Date,
        DateTime,
        ForeignKey,
        Index,
        Integer,
        MetaData,
        Numeric,
        String,
        Table,
        create_engine,
        event,
        insert,
        select,
        update,
    )

    engine = create_engine(sqla_url(url))
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    Id = BigInteger().with_variant(Integer(), "sqlite")
    md = MetaData()
    users = Table("hw_user", md, Column("id", Id, primary_key=True), Column("username", String(150), unique=True),
                  Column("is_active", Boolean, nullable=False, default=True))
    tokens = Table("hw_token", md, Column("id", Id, primary_key=True),
                   Column("user_id", Id, ForeignKey("hw_user.id"), nullable=False),
                   Column("token_hash", String(64), nullable=False, unique=True),
                   Column("expires_at", DateTime(timezone=True)))
    counter = Table("hw_counter", md, Column("key", String(100), primary_key=True),
                    Column("value", BigInteger, nullable=False))
    ticket = Table(
        "hw_ticket", md,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("number", String(40), nullable=False, unique=True),
        Column("status", String(40)),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("created_by", Id),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("updated_by", Id),
        Column("row_version", Integer, nullable=False),
        Column("meta_version", Integer, nullable=False),
        Column("deleted_at", DateTime(timezone=True)),
        Column("subject", String(200)),
        Column("priority", BigInteger),
        Column("state", String(64)),
        Column("amount", Numeric(18, 2)),
        Column("created", Date),
        Column("customer", String(40)),
    )
    for cols in (["priority", "created"], ["state", "created"], ["created"], ["customer"], ["status"],
                 ["created_at"], ["updated_at"]):
        Index(f"ix_hw_ticket__{'_'.join(cols)}", *[ticket.c[c] for c in cols])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        md.create_all(engine)
    with engine.begin() as c:
        uid = c.execute(insert(users).values(username="dev", is_active=True).returning(users.c.id)).scalar_one()
        c.execute(insert(counter).values(key="ticket", value=0))
        token = secrets.token_urlsafe(32)
        c.execute(insert(tokens).values(user_id=uid, token_hash=hashlib.sha256(token.encode()).hexdigest()))

    app = Flask("handwritten")

    def to_dict(row) -> dict:
        out = {}
        for k, v in row.items():
            if isinstance(v, decimal.Decimal):
                v = str(v)
            elif isinstance(v, (dt.date, dt.datetime)):
                v = v.isoformat()
            out[k] = v
        return out

    @app.before_request
    def auth():
        header_ = request.headers.get("Authorization", "")
        if not header_.startswith("Bearer "):
            abort(401)
        digest = hashlib.sha256(header_[7:].strip().encode()).hexdigest()
        with engine.connect() as c:
            row = c.execute(select(users.c.id, tokens.c.expires_at).join(tokens, tokens.c.user_id == users.c.id)
                            .where(tokens.c.token_hash == digest, users.c.is_active.is_(True))).first()
        if row is None or (row.expires_at is not None and row.expires_at < dt.datetime.now(dt.timezone.utc)):
            abort(401)
        g.user_id = row.id

    def validate(data) -> dict:
        if not isinstance(data, dict):
            abort(400)
        errors = {}
        unknown = set(data) - {"subject", "priority", "state", "amount", "created", "customer"}
        for k in unknown:
            errors[k] = "unknown field"
        v = {}
        s = data.get("subject")
        if not isinstance(s, str) or not s.strip():
            errors["subject"] = "required"
        elif len(s) > 200:
            errors["subject"] = "too long"
        v["subject"] = s
        p = data.get("priority")
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 5:
            errors["priority"] = "must be a whole number 1..5"
        v["priority"] = p
        st = data.get("state") or "new"
        if st not in STATES:
            errors["state"] = "unknown state"
        v["state"] = st
        a = data.get("amount")
        if a is not None:
            try:
                a = decimal.Decimal(str(a))
                if not a.is_finite() or a < 0 or a.as_tuple().exponent < -2:
                    raise ValueError
            except (ValueError, decimal.InvalidOperation):
                errors["amount"] = "must be a non-negative amount with 2 decimals"
        v["amount"] = a
        try:
            v["created"] = dt.date.fromisoformat(data["created"])
        except (KeyError, TypeError, ValueError):
            errors["created"] = "required, YYYY-MM-DD"
        cu = data.get("customer")
        if cu is not None and (not isinstance(cu, str) or len(cu) > 40):
            errors["customer"] = "text of at most 40 characters"
        v["customer"] = cu
        if errors:
            response = jsonify({"errors": errors})
            response.status_code = 422
            abort(response)
        return v

    @app.post("/tickets")
    def create():
        values = validate(request.get_json(silent=True))
        now = dt.datetime.now(dt.timezone.utc)
        with engine.begin() as c:
            n = c.execute(update(counter).where(counter.c.key == "ticket").values(value=counter.c.value + 1)
                          .returning(counter.c.value)).scalar_one()
            row = c.execute(insert(ticket).values(
                **values, number=f"TCK-{n:08d}", status="new", created_at=now, created_by=g.user_id,
                updated_at=now, updated_by=g.user_id, row_version=1, meta_version=1).returning(*ticket.c)
            ).mappings().one()
        return jsonify(to_dict(row)), 201

    @app.get("/tickets/<int:ticket_id>")
    def get(ticket_id: int):
        with engine.connect() as c:
            row = c.execute(select(ticket).where(ticket.c.id == ticket_id, ticket.c.deleted_at.is_(None))
                            ).mappings().first()
        if row is None:
            abort(404)
        return jsonify(to_dict(row))

    @app.get("/tickets")
    def list_():
        try:
            limit = min(int(request.args.get("limit", 50)), 500)
        except ValueError:
            abort(400)
        q = select(ticket).where(ticket.c.deleted_at.is_(None))
        if "priority" in request.args:
            try:
                q = q.where(ticket.c.priority == int(request.args["priority"]))
            except ValueError:
                abort(400)
        if "state" in request.args:
            q = q.where(ticket.c.state == request.args["state"])
        with engine.connect() as c:
            rows = c.execute(q.order_by(ticket.c.id.desc()).limit(limit)).mappings().all()
        items = [to_dict(r) for r in rows]
        return jsonify({"items": items, "next": items[-1]["id"] if len(items) == limit else None})

    return app, token, engine


# ---------------------------------------------------------------- the run

class Side:
    def __init__(self, name, client, token, create_url, item_url, list_url):
        self.name, self.client = name, client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.create_url, self.item_url, self.list_url = create_url, item_url, list_url
        self.ids: list[int] = []
        self.samples = {"create": [], "get": [], "list": []}

    def op(self, kind: str, arg, record: bool = True):
        if kind == "create":
            t0 = now_ns()
            r = self.client.post(self.create_url, json=arg, headers=self.headers)
            t1 = now_ns()
            assert r.status_code == 201, (self.name, r.status_code, r.get_data(as_text=True)[:300])
            self.ids.append(r.json["id"])
        elif kind == "get":
            t0 = now_ns()
            r = self.client.get(self.item_url.format(id=arg), headers=self.headers)
            t1 = now_ns()
            assert r.status_code == 200, (self.name, r.status_code, r.get_data(as_text=True)[:300])
        else:
            t0 = now_ns()
            r = self.client.get(self.list_url, headers=self.headers)
            t1 = now_ns()
            assert r.status_code == 200 and len(r.json["items"]) == 50, (self.name, r.status_code)
        if record:
            self.samples[kind].append(t1 - t0)


def run_backend(backend: str, n: int, n_list: int, profile: bool) -> list:
    from runtime.core.config import Settings
    from runtime.web import create_app

    with database(backend) as (url, folder):
        loom = make_loom(url, folder / "files")
        loom_app = create_app(Settings(folder, url), loom)
        gen = Side("generated", loom_app.test_client(), admin_token(loom), f"/api/v1/{APP}/{ENTITY}",
                   f"/api/v1/{APP}/{ENTITY}/{{id}}", f"/api/v1/{APP}/{ENTITY}?priority=2&limit=50")
        hw_url = url
        if backend == "sqlite":
            hw_url = f"sqlite:///{folder / 'handwritten.db'}"
        hw_app, hw_token, hw_engine = handwritten_app(hw_url)
        hand = Side("hand-written", hw_app.test_client(), hw_token, "/tickets", "/tickets/{id}",
                    "/tickets?priority=2&limit=50")
        sides = (gen, hand)

        payloads = [api_payload(r) for r in gen_rows(n + WARM, seed=7)]
        # warm-up (not timed): enough rows for full list pages, caches filled
        for s in sides:
            for p in payloads[:WARM]:
                s.op("create", p, record=False)
            for i in s.ids[:50]:
                s.op("get", i, record=False)
            for _ in range(20):
                s.op("list", None, record=False)

        def alternate(kind, args):
            for start in range(0, len(args), BLOCK):
                chunk = args[start:start + BLOCK]
                for s in (sides if (start // BLOCK) % 2 == 0 else sides[::-1]):
                    for a in chunk:
                        s.op(kind, a)

        alternate("create", payloads[WARM:WARM + n])
        rnd = random.Random(3)
        get_idx = [rnd.randrange(len(gen.ids)) for _ in range(n)]
        for s in sides:
            s.get_ids = [s.ids[i] for i in get_idx]
        # gets: same positions in each side's id list
        for start in range(0, n, BLOCK):
            for s in (sides if (start // BLOCK) % 2 == 0 else sides[::-1]):
                for i in s.get_ids[start:start + BLOCK]:
                    s.op("get", i)
        alternate("list", [None] * n_list)

        rows = []
        out = []
        for kind in ("create", "get", "list"):
            gm, ga = stats_us(gen.samples[kind])
            hm, ha = stats_us(hand.samples[kind])
            ratio = gm / hm
            out.append((backend, kind, ratio))
            rows.append([kind, f"{gm:.0f}", f"{ga:.0f}", f"{hm:.0f}", f"{ha:.0f}", f"{ratio:.2f}x",
                         f"{ga / ha:.2f}x", "ok" if ratio <= TARGET else "ABOVE TARGET"])
        header(f"API: generated vs hand-written — {backend} (N={n} create, {n} get, {n_list} list-of-50)")
        table(rows, ["op", "gen med µs", "gen mean µs", "hand med µs", "hand mean µs", "ratio med",
                     "ratio mean", f"target ≤{TARGET}x"])

        if profile:
            profile_generated(gen, backend, min(n, 1000))
        loom.engine.dispose()
        hw_engine.dispose()
        return out


def profile_generated(gen: Side, backend: str, n: int) -> None:
    """cProfile the generated API per operation; print the top functions by own time and by cumulative time."""
    payloads = [api_payload(r) for r in gen_rows(n, seed=11)]
    for kind, args in (("create", payloads), ("get", gen.ids[:n]), ("list", [None] * n)):
        prof = cProfile.Profile()
        prof.enable()
        for a in args:
            gen.op(kind, a, record=False)
        prof.disable()
        for order, count in (("tottime", 15), ("cumulative", 30)):
            buf = io.StringIO()
            st = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(order)
            st.print_stats(count)
            text = buf.getvalue()
            body = text[text.find("   ncalls"):]
            header(f"profile {backend} {kind} x{len(args)} — by {order}")
            print(body.rstrip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2000, help="operations of each kind per app (default 2000)")
    ap.add_argument("--list", type=int, default=None, help="list-of-50 calls (default: --rows)")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], help="run only this backend")
    ap.add_argument("--profile", action="store_true", help="also cProfile the generated API")
    args = ap.parse_args()
    results = []
    for b in backends(args.backend):
        results += run_backend(b, args.rows, args.list or args.rows, args.profile)
    header("Summary: ratio generated / hand-written (median per op)")
    table([[b, k, f"{r:.2f}x", "ok" if r <= TARGET else "ABOVE TARGET"] for b, k, r in results],
          ["backend", "op", "ratio", f"target ≤{TARGET}x"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
