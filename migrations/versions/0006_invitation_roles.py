"""Invitations for people who are not members: partner staff, guardians, referrers.

Widens the ``role`` check of ``invitations`` and adds the two columns that
say what such an invitation is about: ``partner_id`` (the partner whose staff
the addressee becomes) and ``member_id`` (a guardian's child, or the managed
membership a ``member`` invitation attaches to the accepting user).

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

WIDE = "role IN ('member', 'coordinator', 'partner_staff', 'guardian', 'referrer')"
NARROW = "role IN ('member', 'coordinator')"


def upgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('member_id', sa.BigInteger(), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_invitations_role'), type_='check')
        batch_op.create_check_constraint('role', WIDE)


def downgrade():
    op.execute("DELETE FROM invitations WHERE role NOT IN ('member', 'coordinator')")
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_invitations_role'), type_='check')
        batch_op.create_check_constraint('role', NARROW)
        batch_op.drop_column('member_id')
        batch_op.drop_column('partner_id')
