-- The catalog's version: one number every change to what crediting reads of the catalog
-- (programs and their product terms, partners and their programs, links and their programs)
-- moves, in the transaction of the change, by triggers, so that no way of writing these tables
-- (the back office, the command line, an operator's own SQL) can forget it. A server keeps the
-- facts it read while the number stays the same and reads them again once it moves.
CREATE TABLE catalog_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 1);
CREATE TRIGGER programs_insert_moves_catalog AFTER INSERT ON programs BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER programs_update_moves_catalog AFTER UPDATE ON programs BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER programs_delete_moves_catalog AFTER DELETE ON programs BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER program_products_insert_moves_catalog AFTER INSERT ON program_products BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER program_products_update_moves_catalog AFTER UPDATE ON program_products BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER program_products_delete_moves_catalog AFTER DELETE ON program_products BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER partners_insert_moves_catalog AFTER INSERT ON partners BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER partners_update_moves_catalog AFTER UPDATE ON partners BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER partners_delete_moves_catalog AFTER DELETE ON partners BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER partner_programs_insert_moves_catalog AFTER INSERT ON partner_programs BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER partner_programs_update_moves_catalog AFTER UPDATE ON partner_programs BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER partner_programs_delete_moves_catalog AFTER DELETE ON partner_programs BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER links_insert_moves_catalog AFTER INSERT ON links BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER links_update_moves_catalog AFTER UPDATE ON links BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER links_delete_moves_catalog AFTER DELETE ON links BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER link_programs_insert_moves_catalog AFTER INSERT ON link_programs BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER link_programs_update_moves_catalog AFTER UPDATE ON link_programs BEGIN UPDATE catalog_version SET version = version + 1; END;
CREATE TRIGGER link_programs_delete_moves_catalog AFTER DELETE ON link_programs BEGIN UPDATE catalog_version SET version = version + 1; END;
