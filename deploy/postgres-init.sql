-- The application's role: neither superuser nor BYPASSRLS, so row-level
-- security applies to every query it makes. Migrations run as the owner.
CREATE ROLE timebank_app LOGIN PASSWORD 'app-secret' NOSUPERUSER NOBYPASSRLS;
GRANT CONNECT ON DATABASE timebank TO timebank_app;
\connect timebank
GRANT USAGE ON SCHEMA public TO timebank_app;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO timebank_app;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO timebank_app;
