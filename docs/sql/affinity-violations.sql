-- Clients that changed backend within the affinity timeout while their previous backend was still an endpoint: the
-- pairs `stickyscope report FILE...` judges `violation` (any cause), counted per Service and client (the report's
-- `clients[].violations`). Reads the view `events` over the Parquet export (see spread-per-service.sql).
-- A pair is two consecutive selections (dnat events) of one (node, Service, client IP), at most 10800 s apart (the
-- report forgets clients idle longer). It is judged against the node's view of the Service at the second selection:
-- its latest catalog then, with the API's affinity where the API's catalog lists the Service; the API's catalog
-- where the node's no longer does; a node whose catalogs never listed it takes the latest catalog that did.
-- Violation: affinity ClientIP, gap <= timeoutSeconds (default 10800), another backend, the previous one listed.
WITH
sel AS (
  SELECT node, serviceKey AS service, clientIp AS client, backend, ts, epoch_us(ts) AS us,
    lag(backend) OVER w AS prev_backend, lag(epoch_us(ts)) OVER w AS prev_us
  FROM events WHERE type = 'dnat'
  WINDOW w AS (PARTITION BY node, serviceKey, clientIp ORDER BY ts, seq)
),
moved AS (  -- pairs that picked another backend
  SELECT * FROM sel WHERE prev_backend IS NOT NULL AND backend <> prev_backend AND us - prev_us <= 10800000000
),
catalogs AS (SELECT node, ts, services FROM events WHERE type = 'catalog'),
entries AS (  -- one row per (catalog, Service)
  SELECT node, ts, e.service, e.affinity.mode AS mode, e.affinity.timeoutSeconds AS timeout, e.endpoints
  FROM (
    SELECT node, ts, unnest(from_json(services,
      '[{"service":"VARCHAR","affinity":{"mode":"VARCHAR","timeoutSeconds":"INTEGER"},"endpoints":["VARCHAR"]}]')) AS e
    FROM catalogs
  )
),
rules_entries AS (SELECT * FROM entries WHERE node <> ''),
judged AS (
  SELECT m.*, o.mode AS own_mode, o.timeout AS own_timeout, o.endpoints AS own_endpoints,
    a.mode AS api_mode, a.timeout AS api_timeout, a.endpoints AS api_endpoints,
    EXISTS (SELECT 1 FROM rules_entries e WHERE e.node = m.node AND e.service = m.service AND e.ts <= m.ts) AS own_ever,
    r.mode AS any_mode, r.timeout AS any_timeout, r.endpoints AS any_endpoints
  FROM moved m
  ASOF LEFT JOIN (SELECT * FROM catalogs WHERE node <> '') oc ON m.node = oc.node AND m.ts >= oc.ts
  LEFT JOIN rules_entries o ON o.node = oc.node AND o.ts = oc.ts AND o.service = m.service
  ASOF LEFT JOIN (SELECT * FROM catalogs WHERE node = '') ac ON m.ts >= ac.ts
  LEFT JOIN (SELECT * FROM entries WHERE node = '') a ON a.ts = ac.ts AND a.service = m.service
  ASOF LEFT JOIN rules_entries r ON r.service = m.service AND m.ts >= r.ts
),
viewed AS (
  SELECT *,
    CASE WHEN own_endpoints IS NOT NULL THEN own_endpoints WHEN api_endpoints IS NOT NULL THEN api_endpoints
         WHEN own_ever THEN [] ELSE any_endpoints END AS endpoints,
    CASE WHEN api_mode IS NOT NULL THEN api_mode WHEN own_ever THEN own_mode ELSE any_mode END AS mode,
    CASE WHEN api_mode IS NOT NULL THEN api_timeout WHEN own_ever THEN own_timeout ELSE any_timeout END AS timeout
  FROM judged
)
SELECT service, client, count(*) AS violations
FROM viewed
WHERE mode = 'ClientIP'
  AND us - prev_us <= coalesce(timeout, 10800) * 1000000
  AND list_contains(endpoints, prev_backend)
GROUP BY service, client
ORDER BY service, client;
