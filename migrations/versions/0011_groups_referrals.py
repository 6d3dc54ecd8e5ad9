"""School groups, goal rewards, and surgery referrals (referrers, referral links, referrals).

New tenant tables as usual (``scheme_id`` leads every key), with row-level
security on PostgreSQL like 0005; ``rewards`` gains ``is_goal``.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)
TABLES = ('groups', 'group_members', 'referrers', 'referral_links', 'referrals')
REASONS = (
    "reason IN ('loneliness', 'low_mood', 'long_term_condition', 'carer_support', "
    "'bereavement', 'physical_activity', 'practical_help', 'other')"
)
STATUSES = (
    "status IN ('referred', 'contacted', 'joined', 'first_exchange', 'active', "
    "'declined', 'lost')"
)


def _tenant_columns():
    return [
        sa.Column('scheme_id', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    ]


def _now():
    return sa.text('CURRENT_TIMESTAMP')


def upgrade():
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('is_goal', sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table('groups',
    *_tenant_columns(),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=_now(), nullable=False),
    sa.CheckConstraint("kind IN ('class', 'house', 'other')", name=op.f('ck_groups_kind')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_groups_created_by_users')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_groups_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_groups')),
    sa.UniqueConstraint('scheme_id', 'name', name=op.f('uq_groups_scheme_id_name'))
    )
    op.create_table('group_members',
    *_tenant_columns(),
    sa.Column('group_id', sa.BigInteger(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), server_default=_now(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id', 'group_id'], ['groups.scheme_id', 'groups.id'], name=op.f('fk_group_members_scheme_id_group_id_groups')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_group_members_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_group_members_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_group_members')),
    sa.UniqueConstraint('scheme_id', 'group_id', 'member_id', name=op.f('uq_group_members_scheme_id_group_id_member_id'))
    )
    op.create_table('referrers',
    *_tenant_columns(),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('invited_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=_now(), nullable=False),
    sa.CheckConstraint("status IN ('active', 'removed')", name=op.f('ck_referrers_status')),
    sa.ForeignKeyConstraint(['invited_by'], ['users.id'], name=op.f('fk_referrers_invited_by_users')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_referrers_scheme_id_schemes')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_referrers_user_id_users')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_referrers')),
    sa.UniqueConstraint('scheme_id', 'user_id', name=op.f('uq_referrers_scheme_id_user_id'))
    )
    op.create_index(op.f('ix_referrers_user_id'), 'referrers', ['user_id'], unique=False)
    op.create_table('referral_links',
    *_tenant_columns(),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=_now(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_referral_links_created_by_users')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_referral_links_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_referral_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_referral_links_token_hash'))
    )
    op.create_table('referrals',
    *_tenant_columns(),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contact', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('consent', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('referrer_id', sa.BigInteger(), nullable=True),
    sa.Column('link_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=_now(), nullable=False),
    sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_exchange_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.CheckConstraint('consent', name=op.f('ck_referrals_consent_given')),
    sa.CheckConstraint(REASONS, name=op.f('ck_referrals_reason')),
    sa.CheckConstraint(STATUSES, name=op.f('ck_referrals_status')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_referrals_created_by_users')),
    sa.ForeignKeyConstraint(['scheme_id', 'link_id'], ['referral_links.scheme_id', 'referral_links.id'], name=op.f('fk_referrals_scheme_id_link_id_referral_links')),
    sa.ForeignKeyConstraint(['scheme_id', 'referrer_id'], ['referrers.scheme_id', 'referrers.id'], name=op.f('fk_referrals_scheme_id_referrer_id_referrers')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_referrals_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_referrals'))
    )
    op.create_index('ix_referrals_referrer', 'referrals', ['scheme_id', 'referrer_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
            )


def downgrade():
    op.drop_index('ix_referrals_referrer', table_name='referrals')
    op.drop_table('referrals')
    op.drop_table('referral_links')
    op.drop_index(op.f('ix_referrers_user_id'), table_name='referrers')
    op.drop_table('referrers')
    op.drop_table('group_members')
    op.drop_table('groups')
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.drop_column('is_goal')
