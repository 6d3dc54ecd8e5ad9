"""Impact report breakdowns: minutes earned per member and day (by group and age band)
and minutes spent per partner and day (``report_earn_days``, ``report_partner_days``:
see tenants/reports/models.py). Summary tables as 0012's, with row-level security on
PostgreSQL. The schemes' summary progress is forgotten, so the next daily job
summarises every day again from the first (filling the new tables; until then a
report reads the ledger live: slower, never wrong).

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)
TABLES = ("report_earn_days", "report_partner_days")


def upgrade():
    op.create_table('report_earn_days',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('minutes', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_report_earn_days_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_report_earn_days')),
    sa.UniqueConstraint('scheme_id', 'day', 'member_id', name=op.f('uq_report_earn_days_scheme_id_day_member_id'))
    )
    op.create_table('report_partner_days',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('partner_id', sa.BigInteger(), nullable=False),
    sa.Column('minutes', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_report_partner_days_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_report_partner_days')),
    sa.UniqueConstraint('scheme_id', 'day', 'partner_id', name=op.f('uq_report_partner_days_scheme_id_day_partner_id'))
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
            )
        op.execute("SELECT set_config('app.all_schemes', 'on', true)")
    op.execute("DELETE FROM report_progress")


def downgrade():
    op.drop_table('report_partner_days')
    op.drop_table('report_earn_days')
