"""Members without e-mail, sign-in cards, children, guardians and safeguarding checks.

- ``users.email`` becomes nullable: a managed member's user has no address and no
  password (``password_hash`` is ``!``, which no password matches).
- ``members`` gain ``date_of_birth`` and ``age_band``; ``activities`` gain
  ``with_children``.
- New tenant tables (``scheme_id`` leads every key, row-level security on
  PostgreSQL as in 0005): ``member_cards``, ``guardians``, ``guardian_consents``,
  ``safeguarding_checks``.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)
NEW_TABLES = ('member_cards', 'guardians', 'guardian_consents', 'safeguarding_checks')


def _email_nullable(nullable):
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('email', existing_type=sa.String(length=254), nullable=nullable)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's batch mode copies the table and cannot reflect an expression index:
        # the case-blind unique e-mail index would be lost without this.
        op.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email_lower ON users (lower(email))"
        )


def upgrade():
    _email_nullable(True)
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('date_of_birth', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('age_band', sa.String(length=10), nullable=True))
        batch_op.create_check_constraint(
            'age_band', "age_band IN ('under_11', '11_15', '16_17', 'adult')"
        )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('with_children', sa.Boolean(), server_default='0', nullable=False)
        )
    op.create_table('member_cards',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('pin_hash', sa.String(length=255), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_member_cards_created_by_users')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_member_cards_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_member_cards_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_member_cards')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_member_cards_code_hash'))
    )
    op.create_table('guardians',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_guardians_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_guardians_scheme_id_schemes')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_guardians_user_id_users')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_guardians')),
    sa.UniqueConstraint('scheme_id', 'user_id', 'member_id', name=op.f('uq_guardians_scheme_id_user_id_member_id'))
    )
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guardians_user_id'), ['user_id'], unique=False)
    op.create_table('guardian_consents',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('guardian_id', sa.BigInteger(), nullable=False),
    sa.Column('given', sa.Boolean(), nullable=False),
    sa.Column('wording_version', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id', 'guardian_id'], ['guardians.scheme_id', 'guardians.id'], name=op.f('fk_guardian_consents_scheme_id_guardian_id_guardians')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_guardian_consents_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_guardian_consents_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_guardian_consents'))
    )
    op.create_table('safeguarding_checks',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('number', sa.String(length=60), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_safeguarding_checks_recorded_by_users')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_safeguarding_checks_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_safeguarding_checks_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_safeguarding_checks')),
    sa.UniqueConstraint('scheme_id', 'member_id', name=op.f('uq_safeguarding_checks_scheme_id_member_id'))
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
            )


def downgrade():
    op.drop_table('safeguarding_checks')
    op.drop_table('guardian_consents')
    with op.batch_alter_table('guardians', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardians_user_id'))
    op.drop_table('guardians')
    op.drop_table('member_cards')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('with_children')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_members_age_band'), type_='check')
        batch_op.drop_column('age_band')
        batch_op.drop_column('date_of_birth')
    op.execute("DELETE FROM users WHERE email IS NULL")
    _email_nullable(False)
