-- Timebank on Citus: spread the schemes over many PostgreSQL nodes.
--
-- Run once, as the tables' owner, on the Citus coordinator after
-- `timebank db upgrade` has built the schema and before the data arrives
-- (or with the data: Citus then copies it into shards). Every tenant table is
-- distributed by scheme_id and co-located with `members`, so every query of
-- one scheme, every foreign key and every ledger transaction stays on one
-- node. The platform's own small tables are reference tables (a copy on every
-- node) so that tenant rows can keep their foreign keys to users and schemes.
-- The job outbox stays on the coordinator. tests/test_citus_plan.py parses
-- this file and checks it against the models: a new table must be placed here.

-- 1. The platform's tables, copied to every node (referenced, rarely written).
SELECT create_reference_table('users');
SELECT create_reference_table('api_tokens');
SELECT create_reference_table('schemes');
SELECT create_reference_table('agreements');
SELECT create_reference_table('exchanges');
-- Billing rows carry a scheme_id but are found by Stripe's ids across schemes
-- (no row-level security, unique Stripe ids): small, so copied too.
SELECT create_reference_table('scheme_billing');
SELECT create_reference_table('stripe_events');

-- 2. The outbox: written in the same transaction as actions, read by the relay.
SELECT citus_add_local_table_to_metadata('job_outbox');

-- 3. Tenant tables. A unique key must include the distribution column: the few
-- random tokens that are unique across schemes only as a belt (an invitation's, a
-- referral link's, a sign-in card's: 256 random bits, or a code looked up with its
-- scheme's PIN) become plain indexes on Citus, and their look-up by token is a query
-- to every shard (rare: once per invitation, referral or card sign-in).
ALTER TABLE invitations DROP CONSTRAINT uq_invitations_token_hash;
CREATE INDEX ix_invitations_token_hash ON invitations (token_hash);
ALTER TABLE referral_links DROP CONSTRAINT uq_referral_links_token_hash;
CREATE INDEX ix_referral_links_token_hash ON referral_links (token_hash);
ALTER TABLE member_cards DROP CONSTRAINT uq_member_cards_code_hash;
CREATE INDEX ix_member_cards_code_hash ON member_cards (code_hash);

SELECT create_distributed_table('members', 'scheme_id');
SELECT create_distributed_table('activities', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('audit_events', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('groups', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('idempotency_keys', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('invitations', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('ledger_roots', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('listing_categories', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('member_imports', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('partners', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('policy_versions', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('referral_links', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('referrers', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('report_activity_days', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('report_days', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('report_earn_days', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('report_member_months', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('report_partner_days', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('report_progress', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('sittings', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('transactions', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('accounts', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('awards', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('claims', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('credit_notices', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('expiry_notices', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('group_members', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('guardians', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('listing_digest_categories', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('listings', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('member_cards', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('member_mail_settings', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('orders', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('partner_cards', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('partner_settlements', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('partner_staff', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('partner_statements', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('referrals', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('rewards', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('safeguarding_checks', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('sitting_roles', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('survey_responses', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('guardian_consents', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('listing_responses', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('order_hours', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('postings', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('redemptions', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('reward_goals', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('sitting_assignments', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('listing_messages', 'scheme_id', colocate_with => 'members');
SELECT create_distributed_table('partner_charges', 'scheme_id', colocate_with => 'members');
