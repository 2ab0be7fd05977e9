-- The catalog's version: one number every change to what crediting reads of the catalog
-- (programs and their product terms, partners and their programs, links and their programs)
-- moves, in the transaction of the change, by triggers, so that no way of writing these tables
-- (the back office, the command line, an operator's own SQL) can forget it. A server keeps the
-- facts it read while the number stays the same and reads them again once it moves.
-- PostgreSQL: once per statement, before it takes any row lock, so that two transactions editing
-- the catalog queue on this row rather than deadlock on each other's rows.
CREATE TABLE catalog_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 1);
CREATE FUNCTION move_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_version SET version = version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER programs_moves_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON programs FOR EACH STATEMENT EXECUTE FUNCTION move_catalog_version();
CREATE TRIGGER program_products_moves_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON program_products FOR EACH STATEMENT EXECUTE FUNCTION move_catalog_version();
CREATE TRIGGER partners_moves_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON partners FOR EACH STATEMENT EXECUTE FUNCTION move_catalog_version();
CREATE TRIGGER partner_programs_moves_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON partner_programs FOR EACH STATEMENT EXECUTE FUNCTION move_catalog_version();
CREATE TRIGGER links_moves_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON links FOR EACH STATEMENT EXECUTE FUNCTION move_catalog_version();
CREATE TRIGGER link_programs_moves_catalog BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON link_programs FOR EACH STATEMENT EXECUTE FUNCTION move_catalog_version();
