"""A member's reward goal: the one reward they are saving up for.

Tenant table as usual (``scheme_id`` leads every key), with row-level
security on PostgreSQL like 0002.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)


def upgrade():
    op.create_table('reward_goals',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('reward_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_reward_goals_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id', 'reward_id'], ['rewards.scheme_id', 'rewards.id'], name=op.f('fk_reward_goals_scheme_id_reward_id_rewards')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_reward_goals_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_reward_goals')),
    sa.UniqueConstraint('scheme_id', 'member_id', name=op.f('uq_reward_goals_scheme_id_member_id'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE reward_goals ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE reward_goals FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON reward_goals "
            f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
        )


def downgrade():
    op.drop_table('reward_goals')
