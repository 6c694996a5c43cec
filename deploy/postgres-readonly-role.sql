-- Least-privilege PostgreSQL role for idp-exporter.
--
-- Run as a superuser (or the database owner), connected to the database the exporter
-- watches (the one holding audit_log), after audit_log exists:
--     psql -d backstage -v ON_ERROR_STOP=1 -f deploy/postgres-readonly-role.sql
-- Then set the password out of band, so it never lands in a file or shell history:
--     psql -d backstage -c '\password idp_exporter'
-- and give the exporter that password through `password_file` (a mounted Secret).
--
-- What the exporter needs, and nothing more:
--   * max_connections (current_setting) and pg_stat_database.numbackends: readable by
--     every role, so no pg_monitor (which would expose every session's query text and
--     include pg_stat_scan_tables, which can take locks).
--   * SELECT on the four audit_log columns it reads; not the actor or payload columns.
-- default_transaction_read_only is only a default a client can override, so the grants
-- above are the real boundary; the settings below bound what a bug could cost.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'idp_exporter') THEN
    CREATE ROLE idp_exporter LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
      NOBYPASSRLS NOINHERIT CONNECTION LIMIT 3;
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO idp_exporter', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO idp_exporter;
GRANT SELECT (id, action, metadata, "timestamp") ON TABLE public.audit_log TO idp_exporter;

ALTER ROLE idp_exporter SET default_transaction_read_only = on;
ALTER ROLE idp_exporter SET statement_timeout = '5s';
ALTER ROLE idp_exporter SET lock_timeout = '1s';
ALTER ROLE idp_exporter SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE idp_exporter SET search_path = pg_catalog, public;
