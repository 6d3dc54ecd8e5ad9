"""Member numbers per scheme, mails about credits received, addresses for links in mail.

- ``members.number``: 1, 2, 3 … within each scheme, backfilled in join order
  (``joined_at``, then ``id``); unique per scheme. New members are numbered on
  insert (tenants/memberships/models.py).
- ``member_mail_settings`` (a member's switches for the paid / awarded / gifted
  mails) and ``credit_notices`` (each such event, mailed at once or waiting for
  the hourly digest): tenant tables with row-level security as 0005.
- ``schemes.link_base`` and ``job_outbox.link_base``: the address links in mail
  use when ``BASE_URL`` is unset (platform/links.py).

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)
NEW_TENANT_TABLES = ('credit_notices', 'member_mail_settings')
# Members numbered in join order within their scheme (ties by id).
BACKFILL_NUMBERS = (
    "UPDATE members SET number = (SELECT count(*) FROM members AS earlier "
    "WHERE earlier.scheme_id = members.scheme_id AND (earlier.joined_at < members.joined_at "
    "OR (earlier.joined_at = members.joined_at AND earlier.id <= members.id)))"
)


def upgrade():
    op.create_table('credit_notices',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('from_member_id', sa.BigInteger(), nullable=True),
    sa.Column('from_scheme_id', sa.BigInteger(), nullable=True),
    sa.Column('activity_id', sa.BigInteger(), nullable=True),
    sa.Column('link_base', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('in_digest', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind IN ('paid', 'awarded', 'gifted')", name=op.f('ck_credit_notices_kind')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_credit_notices_amount_positive')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_credit_notices_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id', 'transaction_id'], ['transactions.scheme_id', 'transactions.id'], name=op.f('fk_credit_notices_scheme_id_transaction_id_transactions')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_credit_notices_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_credit_notices'))
    )
    with op.batch_alter_table('credit_notices', schema=None) as batch_op:
        batch_op.create_index('ix_credit_notices_member', ['scheme_id', 'member_id', 'mailed_at'], unique=False)

    op.create_table('member_mail_settings',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('paid', sa.Boolean(), nullable=False),
    sa.Column('awarded', sa.Boolean(), nullable=False),
    sa.Column('gifted', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_member_mail_settings_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_member_mail_settings_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_member_mail_settings')),
    sa.UniqueConstraint('scheme_id', 'member_id', name=op.f('uq_member_mail_settings_scheme_id_member_id'))
    )
    with op.batch_alter_table('job_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_base', sa.String(length=300), nullable=True))

    # members and schemes are referenced by many tables: on SQLite they are altered in
    # place (ADD COLUMN, a unique index), never rebuilt (a rebuild drops the table, which
    # its foreign keys refuse once there is data).
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.add_column('members', sa.Column('number', sa.Integer(), nullable=True))
        # members has FORCE ROW LEVEL SECURITY: the owner running this sees every scheme only so.
        op.execute("SELECT set_config('app.all_schemes', 'on', true)")
        op.execute(BACKFILL_NUMBERS)
        op.alter_column('members', 'number', existing_type=sa.Integer(), nullable=False)
    else:
        op.execute("ALTER TABLE members ADD COLUMN number INTEGER NOT NULL DEFAULT 0")
        op.execute(BACKFILL_NUMBERS)
    op.create_index('uq_members_scheme_id_number', 'members', ['scheme_id', 'number'], unique=True)

    op.add_column('schemes', sa.Column('link_base', sa.String(length=300), nullable=True))

    if postgres:
        for table in NEW_TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
            )


def downgrade():
    op.drop_index('uq_members_scheme_id_number', table_name='members')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column('schemes', 'link_base')
        op.drop_column('members', 'number')
    else:  # in place, as in upgrade (SQLite 3.35+ drops a column)
        op.execute("ALTER TABLE schemes DROP COLUMN link_base")
        op.execute("ALTER TABLE members DROP COLUMN number")

    with op.batch_alter_table('job_outbox', schema=None) as batch_op:
        batch_op.drop_column('link_base')

    op.drop_table('member_mail_settings')
    with op.batch_alter_table('credit_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_notices_member')

    op.drop_table('credit_notices')
