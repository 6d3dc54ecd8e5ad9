"""Offers and requests: listing categories, listings, responses, messages, digest opt-ins.

Tenant tables as usual (``scheme_id`` leads every key), with row-level
security on PostgreSQL like 0002. On PostgreSQL an expression GIN index
serves the full-text search over title and description (SQLite searches
with ``LIKE``).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLES = (
    "listing_categories",
    "listing_digest_categories",
    "listings",
    "listing_responses",
    "listing_messages",
)
# Written as PostgreSQL prints it back, so the schema comparison sees no change.
SEARCH_DOCUMENT = (
    "to_tsvector('simple'::regconfig, (title::text || ' '::text) "
    "|| COALESCE(description, ''::character varying)::text)"
)
RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)


def upgrade():
    op.create_table('listing_categories',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_listing_categories_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_listing_categories')),
    sa.UniqueConstraint('scheme_id', 'name', name=op.f('uq_listing_categories_scheme_id_name'))
    )
    op.create_table('listing_digest_categories',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('category_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id', 'category_id'], ['listing_categories.scheme_id', 'listing_categories.id'], name=op.f('fk_listing_digest_categories_scheme_id_category_id_listing_categories')),
    sa.ForeignKeyConstraint(['scheme_id', 'member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_listing_digest_categories_scheme_id_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_listing_digest_categories_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_listing_digest_categories')),
    sa.UniqueConstraint('scheme_id', 'member_id', 'category_id', name=op.f('uq_listing_digest_categories_scheme_id_member_id_category_id'))
    )
    op.create_table('listings',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('category_id', sa.BigInteger(), nullable=False),
    sa.Column('author_member_id', sa.BigInteger(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=10), nullable=True),
    sa.Column('area', sa.String(length=80), nullable=True),
    sa.Column('availability', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('expiry_notice_for', sa.Date(), nullable=True),
    sa.Column('hidden_reason', sa.String(length=500), nullable=True),
    sa.Column('hidden_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint("(status = 'hidden') = (hidden_reason IS NOT NULL)", name=op.f('ck_listings_hidden_reason')),
    sa.CheckConstraint("kind IN ('offer', 'request')", name=op.f('ck_listings_kind')),
    sa.CheckConstraint("place IS NULL OR place IN ('in_person', 'phone', 'online')", name=op.f('ck_listings_place')),
    sa.CheckConstraint("status IN ('pending', 'published', 'paused', 'closed', 'expired', 'hidden')", name=op.f('ck_listings_status')),
    sa.CheckConstraint('minutes IS NULL OR minutes > 0', name=op.f('ck_listings_minutes_positive')),
    sa.ForeignKeyConstraint(['hidden_by'], ['users.id'], name=op.f('fk_listings_hidden_by_users')),
    sa.ForeignKeyConstraint(['scheme_id', 'author_member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_listings_scheme_id_author_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id', 'category_id'], ['listing_categories.scheme_id', 'listing_categories.id'], name=op.f('fk_listings_scheme_id_category_id_listing_categories')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_listings_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_listings'))
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index('ix_listings_author', ['scheme_id', 'author_member_id', 'id'], unique=False)
        batch_op.create_index('ix_listings_status_expiry', ['scheme_id', 'status', 'expires_on', 'id'], unique=False)
        batch_op.create_index('ix_listings_status_id', ['scheme_id', 'status', 'id'], unique=False)

    op.create_table('listing_responses',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('listing_id', sa.BigInteger(), nullable=False),
    sa.Column('responder_member_id', sa.BigInteger(), nullable=False),
    sa.Column('helper_member_id', sa.BigInteger(), nullable=False),
    sa.Column('helped_member_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('agreed_on', sa.Date(), nullable=True),
    sa.Column('agreed_by_member_id', sa.BigInteger(), nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('dispute_reason', sa.String(length=500), nullable=True),
    sa.Column('disputed_by_member_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_by', sa.BigInteger(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint("status IN ('open', 'agreed', 'completed', 'declined', 'withdrawn', 'disputed', 'closed')", name=op.f('ck_listing_responses_status')),
    sa.CheckConstraint("transaction_id IS NULL OR status = 'completed'", name=op.f('ck_listing_responses_transaction_when_completed')),
    sa.CheckConstraint('helper_member_id <> helped_member_id', name=op.f('ck_listing_responses_two_parties')),
    sa.CheckConstraint('minutes IS NULL OR minutes >= 0', name=op.f('ck_listing_responses_minutes_not_negative')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_listing_responses_decided_by_users')),
    sa.ForeignKeyConstraint(['scheme_id', 'helped_member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_listing_responses_scheme_id_helped_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id', 'helper_member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_listing_responses_scheme_id_helper_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id', 'listing_id'], ['listings.scheme_id', 'listings.id'], name=op.f('fk_listing_responses_scheme_id_listing_id_listings')),
    sa.ForeignKeyConstraint(['scheme_id', 'responder_member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_listing_responses_scheme_id_responder_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id', 'transaction_id'], ['transactions.scheme_id', 'transactions.id'], name=op.f('fk_listing_responses_scheme_id_transaction_id_transactions')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_listing_responses_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_listing_responses'))
    )
    with op.batch_alter_table('listing_responses', schema=None) as batch_op:
        batch_op.create_index('ix_listing_responses_helped', ['scheme_id', 'helped_member_id', 'status'], unique=False)
        batch_op.create_index('ix_listing_responses_helper', ['scheme_id', 'helper_member_id', 'status'], unique=False)
        batch_op.create_index('ix_listing_responses_listing', ['scheme_id', 'listing_id', 'id'], unique=False)
        batch_op.create_index('ix_listing_responses_status', ['scheme_id', 'status', 'id'], unique=False)
        batch_op.create_index('uq_listing_responses_live', ['scheme_id', 'listing_id', 'responder_member_id'], unique=True, postgresql_where=sa.text("status IN ('open', 'agreed', 'disputed')"), sqlite_where=sa.text("status IN ('open', 'agreed', 'disputed')"))

    op.create_table('listing_messages',
    sa.Column('scheme_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('response_id', sa.BigInteger(), nullable=False),
    sa.Column('author_member_id', sa.BigInteger(), nullable=False),
    sa.Column('body', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id', 'author_member_id'], ['members.scheme_id', 'members.id'], name=op.f('fk_listing_messages_scheme_id_author_member_id_members')),
    sa.ForeignKeyConstraint(['scheme_id', 'response_id'], ['listing_responses.scheme_id', 'listing_responses.id'], name=op.f('fk_listing_messages_scheme_id_response_id_listing_responses')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_listing_messages_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('scheme_id', 'id', name=op.f('pk_listing_messages'))
    )
    with op.batch_alter_table('listing_messages', schema=None) as batch_op:
        batch_op.create_index('ix_listing_messages_response', ['scheme_id', 'response_id', 'id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_listings_search ON listings USING gin ({SEARCH_DOCUMENT})")
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                f"USING ({RLS_CONDITION}) WITH CHECK ({RLS_CONDITION})"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_listings_search")
    with op.batch_alter_table('listing_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_listing_messages_response')

    op.drop_table('listing_messages')
    with op.batch_alter_table('listing_responses', schema=None) as batch_op:
        batch_op.drop_index('uq_listing_responses_live', postgresql_where=sa.text("status IN ('open', 'agreed', 'disputed')"), sqlite_where=sa.text("status IN ('open', 'agreed', 'disputed')"))
        batch_op.drop_index('ix_listing_responses_status')
        batch_op.drop_index('ix_listing_responses_listing')
        batch_op.drop_index('ix_listing_responses_helper')
        batch_op.drop_index('ix_listing_responses_helped')

    op.drop_table('listing_responses')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index('ix_listings_status_id')
        batch_op.drop_index('ix_listings_status_expiry')
        batch_op.drop_index('ix_listings_author')

    op.drop_table('listings')
    op.drop_table('listing_digest_categories')
    op.drop_table('listing_categories')
