"""Minors: activities a coordinator allows for children, sittings done with children.

``activities.minors_allowed`` (with the policy's ``minors.approved_activities_only``,
a minor is credited only for such activities) and ``sittings.with_children``
(an adult on the rota needs a valid safeguarding check).

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('minors_allowed', sa.Boolean(), server_default='0', nullable=False)
        )
    with op.batch_alter_table('sittings', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('with_children', sa.Boolean(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('sittings', schema=None) as batch_op:
        batch_op.drop_column('with_children')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('minors_allowed')
