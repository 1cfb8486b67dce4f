-- Make FerretDB 1.24's reads use indexes.
--
-- FerretDB turns every equality filter into `_jsonb -> '<field>' @> '<value>'` and creates
-- its indexes as btree on `(_jsonb -> '<field>')`, which `@>` cannot use: every find, even
-- by _id, scanned the whole table (pg_stat_user_tables), so each read cost grew with its
-- collection. A GIN index (jsonb_path_ops) on the same expression serves `@>`. This event
-- trigger adds one beside every field of every index FerretDB creates (the _id index
-- included), so the indexes a service declares serve its equality reads, as on MongoDB.
-- Idempotent: run on every `make infra-up`; existing tables are backfilled.
--
-- FerretDB sends the field name as a parameter (`_jsonb -> $1 @> $2`) of prepared
-- statements: only a plan made for the actual values matches the indexed expression, so
-- this database always plans for them (a generic plan would scan).

SET client_min_messages = warning;
ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan;

CREATE OR REPLACE FUNCTION convene_gin_beside(index_oid oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    definition text := pg_get_indexdef(index_oid);
    target regclass;
    field text[];
BEGIN
    IF definition ILIKE '% USING gin %' OR definition NOT LIKE '%_jsonb -> ''%' THEN
        RETURN;
    END IF;
    SELECT indrelid::regclass INTO target FROM pg_index WHERE indexrelid = index_oid;
    FOR field IN SELECT regexp_matches(definition, '\(_jsonb -> ''([^'']+)''::text\)', 'g')
    LOOP
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)',
            left(split_part(target::text, '.', 2), 40) || '_' || left(md5(field[1]), 8) || '_gin',
            target, field[1]);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION convene_gin_on_create_index() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    created record;
BEGIN
    FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands()
                   WHERE command_tag = 'CREATE INDEX' AND object_type = 'index'
    LOOP
        PERFORM convene_gin_beside(created.objid);
    END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS convene_gin_for_ferretdb;
CREATE EVENT TRIGGER convene_gin_for_ferretdb ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION convene_gin_on_create_index();

SELECT count(convene_gin_beside(i.indexrelid)) AS backfilled
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
  AND pg_get_indexdef(i.indexrelid) LIKE '%_jsonb -> ''%'
  AND pg_get_indexdef(i.indexrelid) NOT ILIKE '% USING gin %';
