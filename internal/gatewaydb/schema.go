package gatewaydb

import (
	"context"
	"fmt"
	"time"
)

// roles are cluster-wide: the gateway's three roles and two login roles,
// gateway (writes through the SECURITY DEFINER function) and auditfwd (reads
// as audit_reader).
const roles = `
CREATE ROLE audit_owner NOLOGIN;
CREATE ROLE audit_writer NOLOGIN;
CREATE ROLE audit_reader NOLOGIN;
CREATE ROLE gateway LOGIN PASSWORD '` + GatewayPassword + `' IN ROLE audit_writer;
CREATE ROLE auditfwd LOGIN PASSWORD '` + AuditfwdPassword + `' IN ROLE audit_reader;
`

// Schema is the gateway's audit schema as its migrations create it: the
// table, its constraints, the triggers that refuse UPDATE, DELETE and
// TRUNCATE, row-level security that lets audit_reader read every row, and
// the one way in, a SECURITY DEFINER function granted to audit_writer.
const Schema = `
CREATE SCHEMA audit AUTHORIZATION audit_owner;
SET ROLE audit_owner;
CREATE TABLE audit.audit_event (
    id                          BIGSERIAL PRIMARY KEY,
    "timestamp"                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    chain_index                 BIGINT NOT NULL,
    previous_hash               BYTEA,
    event_hash                  BYTEA NOT NULL,
    checkpoint_id               VARCHAR(255),
    checkpoint_hash             BYTEA,
    user_email                  VARCHAR(254) NOT NULL,
    user_name                   VARCHAR(200),
    api_token_id                BIGINT,
    api_token_name              VARCHAR(150),
    action_type                 VARCHAR(100) NOT NULL,
    action                      VARCHAR(150) NOT NULL,
    command                     TEXT CHECK (char_length(command) <= 2000),
    resource                    VARCHAR(255),
    resource_type               VARCHAR(100),
    details                     TEXT CHECK (char_length(details) <= 8000),
    request_id                  VARCHAR(255),
    ip_address                  INET,
    user_agent                  VARCHAR(512),
    status                      VARCHAR(32) NOT NULL,
    rbac_decision               VARCHAR(16),
    http_status                 INTEGER,
    response_time_ms            INTEGER NOT NULL DEFAULT 0,
    event_count                 INTEGER NOT NULL DEFAULT 1,
    deploy_approval_request_id  BIGINT,
    CONSTRAINT audit_event_chain_index_key UNIQUE (chain_index),
    CONSTRAINT audit_event_chain_index_check CHECK (chain_index >= 0),
    CONSTRAINT audit_event_previous_hash_check CHECK ((chain_index = 0) = (previous_hash IS NULL))
);

CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.audit_event is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit.audit_event
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit.audit_event
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit.audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

ALTER TABLE audit.audit_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_event_read ON audit.audit_event FOR SELECT TO audit_reader, audit_writer USING (true);

CREATE FUNCTION audit.append_event(
    p_timestamp timestamptz, p_chain_index bigint, p_previous_hash bytea, p_event_hash bytea,
    p_user_email text, p_user_name text, p_api_token_id bigint, p_api_token_name text,
    p_action_type text, p_action text, p_command text, p_resource text, p_resource_type text,
    p_details text, p_request_id text, p_ip_address inet, p_user_agent text, p_status text,
    p_rbac_decision text, p_http_status integer, p_response_time_ms integer, p_event_count integer,
    p_deploy_approval_request_id bigint
) RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
    INSERT INTO audit.audit_event ("timestamp", chain_index, previous_hash, event_hash, user_email, user_name,
        api_token_id, api_token_name, action_type, action, command, resource, resource_type, details,
        request_id, ip_address, user_agent, status, rbac_decision, http_status, response_time_ms,
        event_count, deploy_approval_request_id)
    VALUES (p_timestamp, p_chain_index, p_previous_hash, p_event_hash, p_user_email, p_user_name,
        p_api_token_id, p_api_token_name, p_action_type, p_action, p_command, p_resource, p_resource_type,
        p_details, p_request_id, p_ip_address, p_user_agent, p_status, p_rbac_decision, p_http_status,
        p_response_time_ms, p_event_count, p_deploy_approval_request_id)
    RETURNING id
$$;
RESET ROLE;
REVOKE ALL ON FUNCTION audit.append_event FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.append_event TO audit_writer;
GRANT USAGE ON SCHEMA audit TO audit_reader, audit_writer;
GRANT SELECT ON audit.audit_event TO audit_reader, audit_writer;
`

// setUp creates the roles and the template database every test database
// is copied from.
func (c *Cluster) setUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Exec(ctx, "postgres", roles); err != nil {
		return fmt.Errorf("gatewaydb: roles: %w", err)
	}
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+template); err != nil {
		return err
	}
	// Nobody but the superuser may connect to the template (a session in
	// it would make copying it fail).
	if err := c.Exec(ctx, template, Schema+"REVOKE CONNECT ON DATABASE "+template+" FROM PUBLIC;"); err != nil {
		return fmt.Errorf("gatewaydb: schema: %w", err)
	}
	return nil
}
