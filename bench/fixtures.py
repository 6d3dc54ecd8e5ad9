"""Data for the bench: schemes, members, tokens and funding through the real services.

Only what would take minutes through the services is written in bulk SQL as
the tables' owner: the padding schemes of the tenant-count run (clones of one
scheme provisioned by ``create_scheme``) and the large ledger (balanced pairs
with exact ``balance_after`` chains and cached balances, checked afterwards).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from flask import Flask

from timebank.tenants.ledger.chain import format_time, posting_hash

PASSWORD = "bench-password"


@dataclass(frozen=True)
class Person:
    user_id: int
    member_id: int
    account_id: int
    token: str | None


@dataclass
class BenchScheme:
    id: int
    slug: str
    coordinator: Person
    members: list[Person] = field(default_factory=list)
    policy_version: int = 0


def bench_app(database_url: str, outbox: str, pool_size: int) -> Flask:
    """The application as it runs in production, minus rate limits and slow hashing."""
    from timebank.platform.app import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-secret",
            "REDIS_URL": None,
            "OUTBOX_DIR": outbox,
            "RATELIMIT_ENABLED": False,
            "FAST_PASSWORD_HASHING": True,
            "LOG_LEVEL": "WARNING",
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_recycle": 1800,  # as platform/config.py (no pre-ping)
                "pool_size": pool_size,
                "max_overflow": 4,
            },
        }
    )


def create_bench_scheme(app: Flask, slug: str, *, template: str = "community") -> BenchScheme:
    """A scheme made by ``create_scheme``; its creator coordinates it and has a token."""
    from sqlalchemy import select

    from timebank.platform import tenancy
    from timebank.platform.db import db
    from timebank.platform.identity.services import issue_token, register_user
    from timebank.platform.schemes.services import create_scheme
    from timebank.tenants.ledger.services import member_account
    from timebank.tenants.memberships.models import Member
    from timebank.tenants.templates import load_template

    with app.app_context():
        user = register_user(
            email=f"coordinator-{slug}@bench.test", password=PASSWORD, name=f"Coordinator {slug}"
        )
        token, _ = issue_token(user)
        scheme = create_scheme(
            name=slug.replace("-", " ").title(),
            slug=slug,
            template=template,
            creator=user,
            template_data=load_template(template),
        )
        with tenancy.scheme_context(scheme.id):
            member = db.session.execute(
                select(Member).where(Member.user_id == user.id)
            ).scalar_one()
            account = member_account(member.id)
            coordinator = Person(user.id, member.id, account.id, token)
        db.session.remove()
        return BenchScheme(scheme.id, slug, coordinator, policy_version=scheme.policy_version)


def add_members(
    app: Flask,
    scheme: BenchScheme,
    count: int,
    *,
    tokens: bool = True,
    owner_url: str | None = None,
) -> None:
    """``count`` new users join ``scheme`` as members (joined in one unit of work).

    Users come from ``register_user`` and, with ``tokens``, ``issue_token``;
    members who need no token may instead be created in one SQL statement
    (``owner_url``): a thousand sign-ups one by one only time the sign-up.
    """
    from timebank.platform import tenancy
    from timebank.platform.db import db, run_atomic
    from timebank.platform.identity.models import User
    from timebank.platform.identity.services import issue_token, register_user
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.ledger.services import member_account
    from timebank.tenants.memberships.services import join_scheme

    tag = uuid.uuid4().hex[:6]
    with app.app_context():
        users: list[tuple[int, str | None]] = []
        if owner_url is not None and not tokens:
            users = [(user_id, None) for user_id in bulk_users(owner_url, count, tag)]
        else:
            for n in range(count):
                user = register_user(
                    email=f"m{n}-{tag}@{scheme.slug}.bench.test",
                    password=PASSWORD,
                    name=f"Member {n}",
                )
                users.append((user.id, issue_token(user)[0] if tokens else None))

        def join() -> list[Person]:
            with tenancy.scheme_context(scheme.id):
                row = db.session.get(Scheme, scheme.id)
                assert row is not None
                people = []
                for user_id, token in users:
                    user = db.session.get(User, user_id)
                    assert user is not None
                    member = join_scheme(
                        row, user, role="member", actor_user_id=scheme.coordinator.user_id
                    )
                    people.append(Person(user_id, member.id, member_account(member.id).id, token))
                return people

        scheme.members.extend(run_atomic(join))
        db.session.remove()


def bulk_users(owner_url: str, count: int, tag: str) -> list[int]:
    """``count`` users in one statement, with a real (fast) password hash."""
    from timebank.platform.identity.passwords import hash_password, use_fast_hashing

    use_fast_hashing()
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(
            "INSERT INTO users (email, name, password_hash) "
            "SELECT 'bulk' || g || '-' || %s || '@bench.test', 'Member ' || g, %s "
            "FROM generate_series(1, %s) g RETURNING id",
            (tag, hash_password(PASSWORD), count),
        ).fetchall()
    return sorted(row[0] for row in rows)


def fund(app: Flask, scheme: BenchScheme, people: list[Person], minutes: int) -> None:
    """Credit each person from the scheme's issuance account (one ``post_many``)."""
    from timebank.platform import tenancy
    from timebank.platform.db import db, run_atomic
    from timebank.platform.schemes.models import Scheme
    from timebank.tenants.ledger.services import Leg, post_many, scheme_account

    with app.app_context():

        def work() -> None:
            with tenancy.scheme_context(scheme.id):
                row = db.session.get(Scheme, scheme.id)
                assert row is not None
                issuance = scheme_account("issuance").id
                post_many(
                    row,
                    kind="adjustment",
                    entries=[[Leg(issuance, -minutes), Leg(p.account_id, minutes)] for p in people],
                    actor_user_id=scheme.coordinator.user_id,
                    memo="bench funding",
                )

        run_atomic(work)
        db.session.remove()


# --- bulk SQL as the tables' owner ------------------------------------------


def _owner(owner_url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(owner_url)
    # FORCE'd row-level security binds the owner too unless it is a superuser.
    conn.execute("SELECT set_config('app.all_schemes', 'on', false)")
    return conn


def tenant_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Tables whose primary key starts with ``scheme_id`` (the tenant tables)."""
    rows = conn.execute(
        """
        SELECT c.relname FROM pg_index i
          JOIN pg_class c ON c.oid = i.indrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
         WHERE i.indisprimary AND a.attname = 'scheme_id'
         ORDER BY c.relname
        """
    ).fetchall()
    return [row[0] for row in rows]


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [row[0] for row in rows]


def _referencing(conn: psycopg.Connection[Any], tables: list[str]) -> list[str]:
    """``tables`` ordered so that a table comes after the tenant tables it references."""
    edges = conn.execute(
        """
        SELECT DISTINCT src.relname, dst.relname FROM pg_constraint k
          JOIN pg_class src ON src.oid = k.conrelid
          JOIN pg_class dst ON dst.oid = k.confrelid
         WHERE k.contype = 'f' AND src.relname <> dst.relname
        """
    ).fetchall()
    needs: dict[str, set[str]] = {t: set() for t in tables}
    for source, target in edges:
        if source in needs and target in needs:
            needs[source].add(target)
    ordered: list[str] = []
    while needs:
        ready = sorted(t for t, deps in needs.items() if not deps - set(ordered))
        if not ready:
            raise RuntimeError(f"foreign-key cycle among {sorted(needs)}")
        for table in ready:
            ordered.append(table)
            del needs[table]
    return ordered


def clone_schemes(owner_url: str, prototype_id: int, count: int, prefix: str) -> int:
    """Insert ``count`` copies of scheme ``prototype_id`` with all its tenant rows.

    A tenant row's primary key is ``(scheme_id, id)`` and tenant foreign keys
    include ``scheme_id``, so a copy keeps the prototype's ids under its new
    ``scheme_id``: each clone is exactly what ``create_scheme`` made (policy,
    activities, rewards, accounts, its coordinator's membership, audit rows).
    Returns the number of rows written.
    """
    if count <= 0:
        return 0
    written = 0
    with _owner(owner_url) as conn:
        conn.execute(
            "CREATE TEMP TABLE clone_ids ON COMMIT DROP AS "
            "SELECT g AS n, nextval(pg_get_serial_sequence('schemes', 'id')) AS id "
            "FROM generate_series(1, %s) g",
            (count,),
        )
        scheme_columns = _columns(conn, "schemes")
        picked = []
        for column in scheme_columns:
            if column == "id":
                picked.append("c.id")
            elif column == "slug":
                picked.append(f"'{prefix}-' || c.n")
            elif column == "name":
                picked.append(f"'Pad {prefix} ' || c.n")
            else:
                picked.append(f"s.{column}")
        cursor = conn.execute(
            f"INSERT INTO schemes ({', '.join(scheme_columns)}) "
            f"SELECT {', '.join(picked)} FROM schemes s CROSS JOIN clone_ids c "
            "WHERE s.id = %s",
            (prototype_id,),
        )
        written += cursor.rowcount
        for table in _referencing(conn, tenant_tables(conn)):
            columns = _columns(conn, table)
            picked = ["c.id" if column == "scheme_id" else f"t.{column}" for column in columns]
            cursor = conn.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"SELECT {', '.join(picked)} FROM {table} t CROSS JOIN clone_ids c "
                "WHERE t.scheme_id = %s",
                (prototype_id,),
            )
            written += cursor.rowcount
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
    return written


def settle(owner_url: str) -> None:
    """Let the database finish what bulk writes leave behind (dirty pages, statistics,
    vacuum), so that the next timing is not paying for the last set-up."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        # CHECKPOINT needs superuser or pg_checkpoint; the vacuum is the larger part.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")


def grow_ledger(
    owner_url: str, scheme: BenchScheme, account_ids: list[int], transactions: int
) -> dict[str, Any]:
    """Append ``transactions`` transfers (2 postings each) among ``account_ids`` in bulk.

    Transfers come in pairs: A pays B, then B pays A the same amount, so no
    balance strays from where it started (limits stay irrelevant) while every
    posting still has its exact ``balance_after`` and ``account_version`` in
    its account's chain, and each account's cached balance and version end
    equal to its last posting's. On a superuser connection the row triggers
    (the deferred balance check, foreign-key checks) are skipped for speed;
    :func:`check_ledger` then verifies the same invariants in one pass.
    """
    members = len(account_ids)
    if members < 2:
        raise ValueError("a ledger needs at least two accounts")
    with _owner(owner_url) as conn:
        superuser = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()[0]  # type: ignore[index]
        if superuser:
            conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("SET LOCAL work_mem = '256MB'")
        tx_base = conn.execute(
            "SELECT setval(pg_get_serial_sequence('transactions', 'id'), "
            "nextval(pg_get_serial_sequence('transactions', 'id')) + %s) - %s",
            (transactions, transactions),
        ).fetchone()[0]  # type: ignore[index]
        posting_base = conn.execute(
            "SELECT setval(pg_get_serial_sequence('postings', 'id'), "
            "nextval(pg_get_serial_sequence('postings', 'id')) + %s) - %s",
            (2 * transactions, 2 * transactions),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            """
            CREATE TEMP TABLE gen_tx ON COMMIT DROP AS
            SELECT n, %(tx_base)s + n AS tx_id,
                   acc[1 + k %% m] AS a,
                   acc[1 + (k + 1 + (k / m) %% (m - 1)) %% m] AS b,
                   1 + k %% 5 AS amount,
                   n %% 2 AS back
              FROM (SELECT n, n / 2 AS k FROM generate_series(0, %(count)s - 1) n) s,
                   (SELECT %(accounts)s::bigint[] AS acc, %(m)s::bigint AS m) p
            """,
            {"tx_base": tx_base, "count": transactions, "accounts": account_ids, "m": members},
        )
        conn.execute(
            """
            INSERT INTO transactions
                (scheme_id, id, kind, amount, created_by, created_at, policy_version)
            SELECT %(scheme)s, tx_id, 'transfer', amount, %(actor)s,
                   now() - make_interval(secs => (%(count)s - n) * 0.01), %(policy)s
              FROM gen_tx
            """,
            {
                "scheme": scheme.id,
                "actor": scheme.coordinator.user_id,
                "count": transactions,
                "policy": scheme.policy_version,
            },
        )
        conn.execute(
            """
            INSERT INTO postings
                (scheme_id, id, transaction_id, account_id, amount, balance_after, account_version,
                 prev_hash, hash)
            SELECT %(scheme)s, %(posting_base)s + row_number() OVER (ORDER BY l.tx_id, l.leg) - 1,
                   l.tx_id, l.account_id, l.amount,
                   acc.balance + sum(l.amount) OVER chain,
                   acc.version + row_number() OVER chain, '', ''  -- hashed by rechain()
              FROM (SELECT tx_id, 0 AS leg, CASE WHEN back = 0 THEN a ELSE b END AS account_id,
                           -amount AS amount FROM gen_tx
                    UNION ALL
                    SELECT tx_id, 1, CASE WHEN back = 0 THEN b ELSE a END, amount FROM gen_tx) l
              JOIN accounts acc ON acc.scheme_id = %(scheme)s AND acc.id = l.account_id
            WINDOW chain AS (PARTITION BY l.account_id ORDER BY l.tx_id, l.leg
                             ROWS UNBOUNDED PRECEDING)
            """,
            {"scheme": scheme.id, "posting_base": posting_base},
        )
        conn.execute(
            """
            UPDATE accounts a SET balance = last.balance_after, version = last.account_version
              FROM (SELECT DISTINCT ON (account_id) account_id, balance_after, account_version
                      FROM postings WHERE scheme_id = %(scheme)s
                     ORDER BY account_id, account_version DESC) last
             WHERE a.scheme_id = %(scheme)s AND a.id = last.account_id
            """,
            {"scheme": scheme.id},
        )
        rechain(conn, scheme.id)
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE transactions")
        conn.execute("ANALYZE postings")
        conn.execute("ANALYZE accounts")
        return {"triggers_skipped": bool(superuser)}


def rechain(conn: psycopg.Connection[Any], scheme_id: int) -> None:
    """Hash the postings just written in bulk (``hash = ''``), each account on from its
    ``head_hash`` (``chain.py``'s rules), and move the accounts' heads; as the owner,
    past the immutability trigger, in the caller's transaction."""
    heads = dict(
        conn.execute(  # type: ignore[arg-type]
            "SELECT id, head_hash FROM accounts WHERE scheme_id = %s", (scheme_id,)
        ).fetchall()
    )
    conn.execute(
        "CREATE TEMP TABLE chained (id bigint PRIMARY KEY, prev_hash text, hash text) "
        "ON COMMIT DROP"
    )
    for account_id in sorted(heads):  # one account at a time: memory stays small
        rows = conn.execute(
            "SELECT p.id, p.account_version, p.transaction_id, t.kind, p.amount,"
            " p.balance_after, t.created_at FROM postings p JOIN transactions t"
            " ON t.scheme_id = p.scheme_id AND t.id = p.transaction_id"
            " WHERE p.scheme_id = %s AND p.account_id = %s AND p.hash = ''"
            " ORDER BY p.account_version",
            (scheme_id, account_id),
        ).fetchall()
        if not rows:
            continue
        with (
            conn.cursor() as writer,
            writer.copy("COPY chained (id, prev_hash, hash) FROM STDIN") as copy,
        ):
            for posting_id, version, tx_id, kind, amount, balance, at in rows:
                previous = heads[account_id]
                heads[account_id] = posting_hash(
                    scheme_id=scheme_id,
                    account_id=account_id,
                    account_version=version,
                    transaction_id=tx_id,
                    kind=kind,
                    amount=amount,
                    balance_after=balance,
                    created_at=format_time(at),
                    prev_hash=previous,
                )
                copy.write_row((posting_id, previous, heads[account_id]))
    conn.execute("ALTER TABLE postings DISABLE TRIGGER postings_immutable")
    conn.execute(
        "UPDATE postings p SET prev_hash = c.prev_hash, hash = c.hash FROM chained c"
        " WHERE p.scheme_id = %s AND p.id = c.id",
        (scheme_id,),
    )
    conn.execute("ALTER TABLE postings ENABLE TRIGGER postings_immutable")
    with conn.cursor() as writer:
        writer.executemany(
            "UPDATE accounts SET head_hash = %s WHERE scheme_id = %s AND id = %s",
            [(head, scheme_id, account_id) for account_id, head in heads.items()],
        )


def check_ledger(owner_url: str, scheme_id: int) -> dict[str, Any]:
    """The ledger's invariants for one scheme, checked in SQL (0 everywhere = sound)."""
    with _owner(owner_url) as conn:
        params = {"scheme": scheme_id}
        unbalanced = conn.execute(
            "SELECT count(*) FROM (SELECT transaction_id FROM postings WHERE scheme_id = %(scheme)s "
            "GROUP BY transaction_id HAVING sum(amount) <> 0) x",
            params,
        ).fetchone()[0]  # type: ignore[index]
        broken_chain = conn.execute(
            """
            SELECT count(*) FROM (
                SELECT amount, balance_after, account_version, prev_hash,
                       lag(balance_after) OVER w AS previous, row_number() OVER w AS position,
                       lag(hash) OVER w AS previous_hash
                  FROM postings WHERE scheme_id = %(scheme)s
                WINDOW w AS (PARTITION BY account_id ORDER BY account_version)) x
             WHERE balance_after <> coalesce(previous, 0) + amount OR account_version <> position
                OR prev_hash <> coalesce(previous_hash, repeat('0', 64))
            """,
            params,
        ).fetchone()[0]  # type: ignore[index]
        wrong_cache = conn.execute(
            """
            SELECT count(*) FROM accounts a
              LEFT JOIN (SELECT account_id, sum(amount) AS total, count(*) AS n FROM postings
                          WHERE scheme_id = %(scheme)s GROUP BY account_id) p
                ON p.account_id = a.id
             WHERE a.scheme_id = %(scheme)s
               AND (a.balance <> coalesce(p.total, 0) OR a.version <> coalesce(p.n, 0))
            """,
            params,
        ).fetchone()[0]  # type: ignore[index]
        postings = conn.execute(
            "SELECT count(*) FROM postings WHERE scheme_id = %(scheme)s", params
        ).fetchone()[0]  # type: ignore[index]
    return {
        "postings": postings,
        "unbalanced_transactions": unbalanced,
        "broken_chain_links": broken_chain,
        "wrong_cached_balances": wrong_cache,
        "sound": unbalanced == 0 and broken_chain == 0 and wrong_cache == 0,
    }
