-- Spread per Service: max over mean of the selections per backend, as `stickyscope report FILE...` computes
-- `spread.maxOverMean` over everything read (docs/design.md, "Metrics: exact definitions"). Reads the view
-- `events` over the Parquet export: CREATE VIEW events AS SELECT * FROM read_parquet('DIR/*.parquet');
-- A selection is one dnat event; the backends (K) are every endpoint of some node's latest catalog, the Kubernetes
-- API's endpoints where no node's rules list the Service or a node selected it without its rules listing it, and
-- every backend selected, zeros included. Services without a selection have no spread (null in the report).
WITH
counts AS (
  SELECT serviceKey AS service, backend, count(*) AS n FROM events WHERE type = 'dnat' GROUP BY ALL
),
latest_catalog AS (  -- each node's latest catalog; the API's has node ''
  SELECT node, arg_max(services, (ts, seq)) AS services FROM events WHERE type = 'catalog' GROUP BY node
),
listed AS (  -- one row per Service a latest catalog lists
  SELECT node, e.service, e.endpoints
  FROM (
    SELECT node, unnest(from_json(services, '[{"service":"VARCHAR","endpoints":["VARCHAR"]}]')) AS e
    FROM latest_catalog
  )
),
selected_on AS (SELECT DISTINCT node, serviceKey AS service FROM events WHERE type = 'dnat'),
api_counts AS (  -- Services whose endpoints the API's catalog supplies
  SELECT a.service FROM listed a
  WHERE a.node = ''
    AND (NOT EXISTS (SELECT 1 FROM listed r WHERE r.node <> '' AND r.service = a.service)
      OR EXISTS (
        SELECT 1 FROM selected_on s
        WHERE s.service = a.service
          AND NOT EXISTS (SELECT 1 FROM listed r WHERE r.node = s.node AND r.service = a.service)))
),
backends AS (
  SELECT service, unnest(endpoints) AS backend FROM listed WHERE node <> ''
  UNION
  SELECT service, unnest(endpoints) FROM listed WHERE node = '' AND service IN (SELECT service FROM api_counts)
  UNION
  SELECT service, backend FROM counts
),
per_backend AS (
  SELECT b.service, b.backend, coalesce(c.n, 0) AS n FROM backends b LEFT JOIN counts c USING (service, backend)
)
SELECT
  service,
  (SELECT max(serviceName) FROM events e WHERE e.serviceKey = p.service) AS name,
  sum(n) AS selections,
  count(*) AS backends,
  max(n) * count(*) / sum(n) AS maxOverMean
FROM per_backend p
GROUP BY service
HAVING sum(n) > 0
ORDER BY service;
