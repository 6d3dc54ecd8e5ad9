"""Ledger guards (immutability, balanced postings) and row-level security.

On PostgreSQL: a deferred constraint trigger checks that each transaction's
postings sum to zero at commit; triggers refuse UPDATE and DELETE on postings
and transactions; every tenant table gets a row-level security policy keyed on
the per-transaction settings ``app.scheme_ids`` (a comma-separated list of
scheme ids) and ``app.all_schemes`` (``on`` for code that explicitly spans
schemes), forced so that
even the tables' owner is checked (superusers and BYPASSRLS roles still skip
it: the application connects as a role that is neither).

On SQLite: triggers refuse UPDATE and DELETE on postings and transactions
(SQLite has no deferred triggers; the posting service and ``ledger verify``
check the sums).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "activities",
    "audit_events",
    "idempotency_keys",
    "invitations",
    "member_imports",
    "members",
    "policy_versions",
    "rewards",
    "transactions",
    "accounts",
    "awards",
    "claims",
    "expiry_notices",
    "redemptions",
    "postings",
)
IMMUTABLE = ("postings", "transactions")

RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)


def enable_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
    )


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'ledger rows are immutable: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END $$
            """
        )
        op.execute(
            """
            CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE total bigint;
            BEGIN
                SELECT coalesce(sum(amount), 0) INTO total FROM postings
                 WHERE scheme_id = NEW.scheme_id AND transaction_id = NEW.transaction_id;
                IF total <> 0 THEN
                    RAISE EXCEPTION 'postings of transaction % in scheme % sum to %, not 0',
                        NEW.transaction_id, NEW.scheme_id, total
                        USING ERRCODE = 'check_violation';
                END IF;
                RETURN NULL;
            END $$
            """
        )
        for table in IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
        op.execute(
            "CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()"
        )
        for table in TENANT_TABLES:
            enable_rls(table)
    elif dialect == "sqlite":
        for table in IMMUTABLE:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable: {operation} on "
                    f"{table} refused'); END"
                )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute("DROP TRIGGER IF EXISTS postings_balanced ON postings")
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_check_balanced()")
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
    elif dialect == "sqlite":
        for table in IMMUTABLE:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
