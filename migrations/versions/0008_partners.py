"""Partners: organisations that accept credits, their staff, offers, counters and statements.

New tenant tables (``scheme_id`` leads every key; row-level security on
PostgreSQL as in 0005): ``partners``, ``partner_staff`` (staff are not
members), ``partner_cards`` (the membership QR and counter PIN),
``partner_charges``, ``partner_settlements``, ``partner_statements``.
Accounts gain kind ``partner`` with ``partner_id``; rewards gain a partner and
its terms (monthly allowance, minimum age, dates, approval); redemptions gain
``partner_id``, ``expires_at`` and status ``issued``.

On SQLite the altered tables are copied (batch mode) while other tables refer
to them, so foreign keys are relaxed meanwhile (``_relax_sqlite_foreign_keys``).

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = '0007'
branch_labels = None
depends_on = None

RLS_CONDITION = (
    "current_setting('app.all_schemes', true) = 'on' OR scheme_id = ANY "
    "(string_to_array(nullif(current_setting('app.scheme_ids', true), ''), ',')::bigint[])"
)
NEW_TABLES = (
    "partners",
    "partner_cards",
    "partner_settlements",
    "partner_staff",
    "partner_statements",
    "partner_charges",
)
KINDS_OLD = "kind IN ('member', 'issuance', 'redemption', 'pot', 'expiry', 'clearing')"
KINDS_NEW = "kind IN ('member', 'issuance', 'redemption', 'pot', 'expiry', 'clearing', 'partner')"
STATUS_OLD = "status IN ('pending', 'fulfilled', 'cancelled')"
STATUS_NEW = "status IN ('pending', 'issued', 'fulfilled', 'cancelled')"


def _relax_sqlite_foreign_keys():
    """SQLite copies a table to alter it and drops the old one, which other tables refer
    to: outside a transaction foreign keys are turned off (the app turns them on again
    on every connection), inside one they are checked at commit."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys = OFF")
        op.execute("PRAGMA defer_foreign_keys = ON")


def upgrade():
    _relax_sqlite_foreign_keys()
    op.create_table(
        "partners",
        sa.Column("scheme_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("area", sa.String(length=120), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("opening_hours", sa.String(length=300), nullable=True),
        sa.Column("categories", sa.String(length=300), nullable=True),
        sa.Column("logo_url", sa.String(length=500), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("contact_phone", sa.String(length=40), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'ended')", name=op.f("ck_partners_status")
        ),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)", name=op.f("ck_partners_position_complete")
        ),
        sa.CheckConstraint(
            "latitude IS NULL OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180)",
            name=op.f("ck_partners_position_range"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_partners_scheme_id_schemes")
        ),
        sa.PrimaryKeyConstraint("scheme_id", "id", name=op.f("pk_partners")),
    )
    op.create_table(
        "partner_cards",
        sa.Column("scheme_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=True),
        sa.Column("failed_pins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "member_id"],
            ["members.scheme_id", "members.id"],
            name=op.f("fk_partner_cards_scheme_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_partner_cards_scheme_id_schemes")
        ),
        sa.PrimaryKeyConstraint("scheme_id", "id", name=op.f("pk_partner_cards")),
        sa.UniqueConstraint("scheme_id", "code", name=op.f("uq_partner_cards_scheme_id_code")),
        sa.UniqueConstraint(
            "scheme_id", "member_id", name=op.f("uq_partner_cards_scheme_id_member_id")
        ),
    )
    op.create_table(
        "partner_settlements",
        sa.Column("scheme_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("money_value", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint("minutes > 0", name=op.f("ck_partner_settlements_minutes_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_partner_settlements_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "partner_id"],
            ["partners.scheme_id", "partners.id"],
            name=op.f("fk_partner_settlements_scheme_id_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "transaction_id"],
            ["transactions.scheme_id", "transactions.id"],
            name=op.f("fk_partner_settlements_scheme_id_transaction_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_partner_settlements_scheme_id_schemes")
        ),
        sa.PrimaryKeyConstraint("scheme_id", "id", name=op.f("pk_partner_settlements")),
    )
    op.create_table(
        "partner_staff",
        sa.Column("scheme_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("invitation_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "partner_id"],
            ["partners.scheme_id", "partners.id"],
            name=op.f("fk_partner_staff_scheme_id_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_partner_staff_scheme_id_schemes")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_partner_staff_user_id_users")
        ),
        sa.PrimaryKeyConstraint("scheme_id", "id", name=op.f("pk_partner_staff")),
        sa.UniqueConstraint(
            "scheme_id",
            "partner_id",
            "user_id",
            name=op.f("uq_partner_staff_scheme_id_partner_id_user_id"),
        ),
    )
    with op.batch_alter_table("partner_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_staff_user_id"), ["user_id"], unique=False)

    op.create_table(
        "partner_statements",
        sa.Column("scheme_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("honoured", sa.Integer(), nullable=False),
        sa.Column("total_minutes", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "partner_id"],
            ["partners.scheme_id", "partners.id"],
            name=op.f("fk_partner_statements_scheme_id_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_partner_statements_scheme_id_schemes")
        ),
        sa.PrimaryKeyConstraint("scheme_id", "id", name=op.f("pk_partner_statements")),
        sa.UniqueConstraint(
            "scheme_id",
            "partner_id",
            "period_start",
            name=op.f("uq_partner_statements_scheme_id_partner_id_period_start"),
        ),
    )
    op.create_table(
        "partner_charges",
        sa.Column("scheme_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("reward_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redemption_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'confirmed') = (redemption_id IS NOT NULL)",
            name=op.f("ck_partner_charges_confirmed"),
        ),
        sa.CheckConstraint(
            "status IN ('awaiting_confirmation', 'confirmed', 'declined', 'expired')",
            name=op.f("ck_partner_charges_status"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_partner_charges_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_partner_charges_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "member_id"],
            ["members.scheme_id", "members.id"],
            name=op.f("fk_partner_charges_scheme_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "partner_id"],
            ["partners.scheme_id", "partners.id"],
            name=op.f("fk_partner_charges_scheme_id_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "redemption_id"],
            ["redemptions.scheme_id", "redemptions.id"],
            name=op.f("fk_partner_charges_scheme_id_redemption_id_redemptions"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id", "reward_id"],
            ["rewards.scheme_id", "rewards.id"],
            name=op.f("fk_partner_charges_scheme_id_reward_id_rewards"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_partner_charges_scheme_id_schemes")
        ),
        sa.PrimaryKeyConstraint("scheme_id", "id", name=op.f("pk_partner_charges")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "uq_accounts_partner",
            ["scheme_id", "partner_id"],
            unique=True,
            postgresql_where=sa.text("partner_id IS NOT NULL"),
            sqlite_where=sa.text("partner_id IS NOT NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_accounts_scheme_id_partner_id_partners"),
            "partners",
            ["scheme_id", "partner_id"],
            ["scheme_id", "id"],
        )
        batch_op.drop_constraint(batch_op.f("ck_accounts_kind"), type_="check")
        batch_op.create_check_constraint("kind", KINDS_NEW)
        batch_op.create_check_constraint(
            "partner_owner", "(kind = 'partner') = (partner_id IS NOT NULL)"
        )

    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_redemptions_partner", ["scheme_id", "partner_id", "decided_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_redemptions_scheme_id_partner_id_partners"),
            "partners",
            ["scheme_id", "partner_id"],
            ["scheme_id", "id"],
        )
        batch_op.drop_constraint(batch_op.f("ck_redemptions_status"), type_="check")
        batch_op.create_check_constraint("status", STATUS_NEW)

    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("monthly_allowance", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("min_age", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("available_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("available_until", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("approval", sa.String(length=10), server_default="approved", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_rewards_scheme_id_partner_id_partners"),
            "partners",
            ["scheme_id", "partner_id"],
            ["scheme_id", "id"],
        )
        batch_op.create_check_constraint(
            "approval", "approval IN ('approved', 'pending', 'refused')"
        )
        batch_op.create_check_constraint(
            "allowance_positive", "monthly_allowance IS NULL OR monthly_allowance > 0"
        )
        batch_op.create_check_constraint(
            "min_age_range", "min_age IS NULL OR min_age BETWEEN 0 AND 120"
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
    _relax_sqlite_foreign_keys()
    # Partner redemptions, offers and accounts cannot be represented before this revision.
    op.execute("DELETE FROM partner_charges")
    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_rewards_approval"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_rewards_allowance_positive"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_rewards_min_age_range"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_rewards_scheme_id_partner_id_partners"), type_="foreignkey"
        )
        batch_op.drop_column("approval")
        batch_op.drop_column("available_until")
        batch_op.drop_column("available_from")
        batch_op.drop_column("min_age")
        batch_op.drop_column("monthly_allowance")
        batch_op.drop_column("partner_id")

    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_redemptions_status"), type_="check")
        batch_op.create_check_constraint("status", STATUS_OLD)
        batch_op.drop_constraint(
            batch_op.f("fk_redemptions_scheme_id_partner_id_partners"), type_="foreignkey"
        )
        batch_op.drop_index("ix_redemptions_partner")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("partner_id")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_accounts_partner_owner"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_accounts_kind"), type_="check")
        batch_op.create_check_constraint("kind", KINDS_OLD)
        batch_op.drop_constraint(
            batch_op.f("fk_accounts_scheme_id_partner_id_partners"), type_="foreignkey"
        )
        batch_op.drop_index(
            "uq_accounts_partner",
            postgresql_where=sa.text("partner_id IS NOT NULL"),
            sqlite_where=sa.text("partner_id IS NOT NULL"),
        )
        batch_op.drop_column("partner_id")

    op.drop_table("partner_charges")
    op.drop_table("partner_statements")
    with op.batch_alter_table("partner_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_staff_user_id"))

    op.drop_table("partner_staff")
    op.drop_table("partner_settlements")
    op.drop_table("partner_cards")
    op.drop_table("partners")
