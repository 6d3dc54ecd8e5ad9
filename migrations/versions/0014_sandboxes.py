"""Sandbox schemes: ``schemes.sandbox`` and ``schemes.last_used_at``; a sandbox's ledger
rows may be deleted (reset, go-live, expiry), every other scheme's stay immutable.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

IMMUTABLE = ("postings", "transactions")
IN_SANDBOX = "EXISTS (SELECT 1 FROM schemes WHERE schemes.id = OLD.scheme_id AND schemes.sandbox)"

REFUSE_UNLESS_SANDBOX = f"""
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND {IN_SANDBOX} THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ledger rows are immutable: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$
"""
REFUSE_ALWAYS = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$
"""


def _sqlite_delete_triggers(when: str) -> None:
    for table in IMMUTABLE:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {when}"
            f"BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable: DELETE on "
            f"{table} refused'); END"
        )


def upgrade():
    with op.batch_alter_table('schemes', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('sandbox', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(REFUSE_UNLESS_SANDBOX)
    elif dialect == "sqlite":
        _sqlite_delete_triggers(f"WHEN NOT {IN_SANDBOX} ")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(REFUSE_ALWAYS)
    elif dialect == "sqlite":
        _sqlite_delete_triggers("")
    with op.batch_alter_table('schemes', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('sandbox')
