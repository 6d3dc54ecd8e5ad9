"""Impact reports and wellbeing surveys.

The report summary tables (``report_days``, ``report_member_months``,
``report_activity_days``, ``report_progress``: see tenants/reports/models.py),
the wellbeing answers (``survey_responses``), and indexes on
``transactions (scheme_id, created_at)`` and ``claims (scheme_id,
transaction_id)`` for reading a period's transactions and their claims.
Tenant tables as usual (``scheme_id`` leads every key), with row-level
security on PostgreSQL like 0002.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)
TABLES = (
    "report_days",
    "report_member_months",
    "report_activity_days",
    "report_progress",
    "survey_responses",
)


def upgrade():
    op.create_table('report_activity_days',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('activity_id', sa.BigInteger(), nullable=False),
    sa.Column('minutes', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_report_activity_days_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_report_activity_days')),
    sa.UniqueConstraint('scheme_id', 'day', 'activity_id', name=op.f('uq_report_activity_days_scheme_id_day_activity_id'))
    )
    op.create_table('report_days',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('minutes', sa.BigInteger(), nullable=False),
    sa.Column('transactions', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_report_days_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_report_days')),
    sa.UniqueConstraint('scheme_id', 'day', 'kind', name=op.f('uq_report_days_scheme_id_day_kind'))
    )
    op.create_table('report_member_months',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('active_days', sa.BigInteger(), nullable=False),
    sa.Column('helped_days', sa.BigInteger(), nullable=False),
    sa.Column('helping_days', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_report_member_months_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_report_member_months')),
    sa.UniqueConstraint('scheme_id', 'month', 'member_id', name=op.f('uq_report_member_months_scheme_id_month_member_id'))
    )
    op.create_table('report_progress',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('summarised_through', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_report_progress_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_report_progress')),
    sa.UniqueConstraint('scheme_id', name=op.f('uq_report_progress_scheme_id'))
    )
    op.create_table('survey_responses',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('scale', sa.String(length=10), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('consent_to_report', sa.Boolean(), nullable=False),
    sa.Column('skipped', sa.Boolean(), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('entered_by', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint("scale IN ('ons4', 'swemwbs')", name=op.f('ck_survey_responses_scale')),
    sa.ForeignKeyConstraint(['entered_by'], ['users.id'], name=op.f('fk_survey_responses_entered_by_users')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_survey_responses_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_survey_responses_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_survey_responses'))
    )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.create_index('ix_survey_responses_member', ['scheme_id', 'member_id', 'taken_on'], unique=False)

    # Not in batch mode: on SQLite that could rebuild the table and lose its triggers.
    op.create_index('ix_transactions_created', 'transactions', ['scheme_id', 'created_at'], unique=False)
    op.create_index('ix_claims_transaction', 'claims', ['scheme_id', 'transaction_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
            )



def downgrade():
    op.drop_index('ix_claims_transaction', table_name='claims')
    op.drop_index('ix_transactions_created', table_name='transactions')

    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_responses_member')

    op.drop_table('survey_responses')
    op.drop_table('report_progress')
    op.drop_table('report_member_months')
    op.drop_table('report_days')
    op.drop_table('report_activity_days')
