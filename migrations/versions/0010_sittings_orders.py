"""Youth court sittings (roles, rota, attendance) and ordered hours.

Tenant tables as usual (``scheme_id`` leads every key), with row-level
security on PostgreSQL like 0005. Hours against an order live in
``order_hours`` only, never in the ledger.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TABLES = ('sittings', 'sitting_roles', 'sitting_assignments', 'orders', 'order_hours')
RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)


def upgrade():
    op.create_table('sittings',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attendance_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('credited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('credited_by', sa.BigInteger(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint("(status = 'credited') = (credited_at IS NOT NULL)", name=op.f('ck_sittings_credited_link')),
    sa.CheckConstraint("status IN ('scheduled', 'credited', 'cancelled')", name=op.f('ck_sittings_status')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_sittings_created_by_users')),
    sa.ForeignKeyConstraint(['credited_by'], ['users.id'], name=op.f('fk_sittings_credited_by_users')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_sittings_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_sittings'))
    )
    with op.batch_alter_table('sittings', schema=None) as batch_op:
        batch_op.create_index('ix_sittings_starts_at', ['scheme_id', 'starts_at'], unique=False)

    op.create_table('orders',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('minutes_ordered', sa.Integer(), nullable=False),
    sa.Column('minutes_done', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('referrer', sa.String(length=200), nullable=True),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint("(status = 'completed') = (completed_on IS NOT NULL)", name=op.f('ck_orders_completed_link')),
    sa.CheckConstraint("status IN ('open', 'completed')", name=op.f('ck_orders_status')),
    sa.CheckConstraint('minutes_done >= 0', name=op.f('ck_orders_minutes_done_not_negative')),
    sa.CheckConstraint('minutes_ordered > 0', name=op.f('ck_orders_minutes_ordered_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_orders_created_by_users')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_orders_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_orders_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_member', ['scheme_id', 'member_id'], unique=False)

    op.create_table('sitting_roles',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('sitting_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('places', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_sitting_roles_minutes_positive')),
    sa.CheckConstraint('places > 0', name=op.f('ck_sitting_roles_places_positive')),
    sa.ForeignKeyConstraint(['scheme_id', 'sitting_id'], ['sittings.scheme_id', 'sittings.id'], name=op.f('fk_sitting_roles_scheme_id_sitting_id_sittings')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_sitting_roles_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_sitting_roles')),
    sa.UniqueConstraint('scheme_id', 'sitting_id', 'name', name=op.f('uq_sitting_roles_scheme_id_sitting_id_name'))
    )
    op.create_table('order_hours',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('extra_minutes', sa.Integer(), nullable=False),
    sa.Column('performed_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('verified_by', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint('extra_minutes >= 0 AND extra_minutes <= minutes', name=op.f('ck_order_hours_extra_range')),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_order_hours_minutes_positive')),
    sa.ForeignKeyConstraint(['scheme_id', 'order_id'], ['orders.scheme_id', 'orders.id'], name=op.f('fk_order_hours_scheme_id_order_id_orders')),
    sa.ForeignKeyConstraint(['scheme_id', 'transaction_id'], ['transactions.scheme_id', 'transactions.id'], name=op.f('fk_order_hours_scheme_id_transaction_id_transactions')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_order_hours_scheme_id_schemes')),
    sa.ForeignKeyConstraint(['verified_by'], ['users.id'], name=op.f('fk_order_hours_verified_by_users')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_order_hours'))
    )
    with op.batch_alter_table('order_hours', schema=None) as batch_op:
        batch_op.create_index('ix_order_hours_order', ['scheme_id', 'order_id'], unique=False)

    op.create_table('sitting_assignments',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('sitting_id', sa.BigInteger(), nullable=False),
    sa.Column('role_id', sa.BigInteger(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('signed_up', sa.Boolean(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_sitting_assignments_created_by_users')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_sitting_assignments_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id', 'role_id'], ['sitting_roles.scheme_id', 'sitting_roles.id'], name=op.f('fk_sitting_assignments_scheme_id_role_id_sitting_roles')),
    sa.ForeignKeyConstraint(['scheme_id', 'sitting_id'], ['sittings.scheme_id', 'sittings.id'], name=op.f('fk_sitting_assignments_scheme_id_sitting_id_sittings')),
    sa.ForeignKeyConstraint(['scheme_id', 'transaction_id'], ['transactions.scheme_id', 'transactions.id'], name=op.f('fk_sitting_assignments_scheme_id_transaction_id_transactions')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_sitting_assignments_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_sitting_assignments')),
    sa.UniqueConstraint('scheme_id', 'sitting_id', 'member_id', name=op.f('uq_sitting_assignments_scheme_id_sitting_id_member_id'))
    )
    with op.batch_alter_table('sitting_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_sitting_assignments_member', ['scheme_id', 'member_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
            )


def downgrade():
    with op.batch_alter_table('sitting_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_sitting_assignments_member')

    op.drop_table('sitting_assignments')
    with op.batch_alter_table('order_hours', schema=None) as batch_op:
        batch_op.drop_index('ix_order_hours_order')

    op.drop_table('order_hours')
    op.drop_table('sitting_roles')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_member')

    op.drop_table('orders')
    with op.batch_alter_table('sittings', schema=None) as batch_op:
        batch_op.drop_index('ix_sittings_starts_at')

    op.drop_table('sittings')
