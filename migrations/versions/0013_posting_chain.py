"""Posting chains and daily roots: statements anyone can verify.

Adds ``prev_hash`` and ``hash`` to ``postings`` (each account's postings form
a hash chain, ``tenants/ledger/chain.py``), ``head_hash`` to ``accounts`` (the
hash of its latest posting, so the posting service needs no read of the last
posting) and the table ``ledger_roots`` (a scheme's daily root over its
accounts' heads). Existing postings are chained here in ``account_version``
order, with the immutability triggers held off for the backfill only.

Revision ID: 0013
Revises: 0012
"""
import hashlib
from datetime import timezone

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ZERO_HASH = "0" * 64
RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)
SQLITE_TRIGGERS = {
    operation: (
        f"CREATE TRIGGER postings_no_{operation.lower()} BEFORE {operation} ON postings "
        f"BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable: {operation} on "
        "postings refused'); END"
    )
    for operation in ("UPDATE", "DELETE")
}

_postings = sa.table(
    'postings',
    sa.column('scheme_id', sa.BigInteger()),
    sa.column('id', sa.BigInteger()),
    sa.column('transaction_id', sa.BigInteger()),
    sa.column('account_id', sa.BigInteger()),
    sa.column('amount', sa.BigInteger()),
    sa.column('balance_after', sa.BigInteger()),
    sa.column('account_version', sa.Integer()),
    sa.column('prev_hash', sa.String()),
    sa.column('hash', sa.String()),
)
_transactions = sa.table(
    'transactions',
    sa.column('scheme_id', sa.BigInteger()),
    sa.column('id', sa.BigInteger()),
    sa.column('kind', sa.String()),
    sa.column('created_at', sa.DateTime(timezone=True)),
)
_accounts = sa.table(
    'accounts',
    sa.column('scheme_id', sa.BigInteger()),
    sa.column('id', sa.BigInteger()),
    sa.column('head_hash', sa.String()),
)


def _posting_hash(scheme_id, account_id, version, transaction_id, kind, amount, balance, at, prev):
    # Version 1 of the encoding (tenants/ledger/chain.py), frozen here.
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    created_at = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = (
        f"tbp1|{scheme_id}|{account_id}|{version}|{transaction_id}|{kind}|{amount}|"
        f"{balance}|{created_at}|{prev}"
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _backfill(bind):
    """Chain every existing posting, account by account in version order."""
    rows = bind.execute(
        sa.select(
            _postings.c.scheme_id,
            _postings.c.id,
            _postings.c.account_id,
            _postings.c.account_version,
            _postings.c.transaction_id,
            _transactions.c.kind,
            _postings.c.amount,
            _postings.c.balance_after,
            _transactions.c.created_at,
        )
        .select_from(_postings)
        .join(
            _transactions,
            sa.and_(
                _transactions.c.scheme_id == _postings.c.scheme_id,
                _transactions.c.id == _postings.c.transaction_id,
            ),
        )
        .order_by(_postings.c.scheme_id, _postings.c.account_id, _postings.c.account_version)
    )
    heads = {}
    batch = []
    update = (
        sa.update(_postings)
        .where(
            _postings.c.scheme_id == sa.bindparam('s'), _postings.c.id == sa.bindparam('i')
        )
        .values(prev_hash=sa.bindparam('p'), hash=sa.bindparam('h'))
    )
    for scheme_id, posting_id, account_id, version, tx_id, kind, amount, balance, at in rows:
        key = (scheme_id, account_id)
        prev = heads.get(key, ZERO_HASH)
        digest = _posting_hash(scheme_id, account_id, version, tx_id, kind, amount, balance, at, prev)
        heads[key] = digest
        batch.append({'s': scheme_id, 'i': posting_id, 'p': prev, 'h': digest})
        if len(batch) >= 5000:
            bind.execute(update, batch)
            batch = []
    if batch:
        bind.execute(update, batch)
    if heads:
        bind.execute(
            sa.update(_accounts)
            .where(
                _accounts.c.scheme_id == sa.bindparam('s'), _accounts.c.id == sa.bindparam('a')
            )
            .values(head_hash=sa.bindparam('h')),
            [{'s': s, 'a': a, 'h': h} for (s, a), h in heads.items()],
        )


def upgrade():
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('head_hash', sa.String(length=64), server_default=ZERO_HASH, nullable=False)
        )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    if postgres:
        # The owner is bound by the forced row-level security too: see every scheme.
        op.execute("SELECT set_config('app.all_schemes', 'on', true)")
        op.execute("ALTER TABLE postings DISABLE TRIGGER postings_immutable")
    else:
        for operation in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS postings_no_{operation.lower()}")
    _backfill(bind)
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
    if postgres:
        op.execute("ALTER TABLE postings ENABLE TRIGGER postings_immutable")
    else:
        for statement in SQLITE_TRIGGERS.values():
            op.execute(statement)

    op.create_table('ledger_roots',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('heads', sa.Text(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_ledger_roots_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_ledger_roots')),
    sa.UniqueConstraint('scheme_id', 'day', name=op.f('uq_ledger_roots_scheme_id_day'))
    )
    if postgres:
        op.execute("ALTER TABLE ledger_roots ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE ledger_roots FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON ledger_roots "
            f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
        )


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_table('ledger_roots')
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
    if not postgres:
        # Rebuilding the table (SQLite) dropped its triggers: put them back.
        for operation, statement in SQLITE_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS postings_no_{operation.lower()}")
            op.execute(statement)
    if postgres:
        op.drop_column('accounts', 'head_hash')
    else:
        # Not a batch rebuild: postings reference accounts, so SQLite would refuse
        # dropping the old table; its own DROP COLUMN (3.35+) does it in place.
        op.execute("ALTER TABLE accounts DROP COLUMN head_hash")
