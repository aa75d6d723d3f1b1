-- The floor for `dbt build`: one hand-written DuckDB script computing the same
-- customer-level identity, RFM and lifecycle straight from raw.*, with none of the
-- project's structure (no staging views, no tests, no docs, no history).
-- Parameter: $as_of (DATE). Result: table floor_customers.

CREATE OR REPLACE TEMP TABLE fx AS
SELECT currency, 1 / units_per_usd AS to_usd
FROM (VALUES ('USD', 1.0), ('GBP', 0.79), ('EUR', 0.92), ('TRY', 34.5)) v(currency, units_per_usd);

-- Latest version of every source record, exact duplicates gone.
CREATE OR REPLACE TEMP TABLE contacts AS
SELECT DISTINCT ON (record_id) record_id, phone_e164, phone_is_valid, email_normalized, _partition_date
FROM raw.crm_contacts ORDER BY record_id, last_modified_at DESC;

CREATE OR REPLACE TEMP TABLE orders AS
SELECT DISTINCT ON (id) * FROM raw.shop_orders
WHERE created_at < $as_of::TIMESTAMPTZ ORDER BY id, updated_at DESC;

CREATE OR REPLACE TEMP TABLE pos AS
SELECT DISTINCT * EXCLUDE (_loaded_at, _source_file, _source_line)
FROM raw.pos_transactions WHERE local_date < $as_of;

-- Identity: identifiers on the same record are one person, transitively.
CREATE OR REPLACE TEMP TABLE rec_ids AS
SELECT * FROM (
    SELECT 'pos:' || transaction_id AS rec, 'phone:' || customer_phone_e164 AS ident, _partition_date AS seen
    FROM pos WHERE customer_phone_is_valid
    UNION ALL SELECT 'pos:' || transaction_id, 'loyalty:' || loyalty_id, _partition_date FROM pos WHERE loyalty_id IS NOT NULL
    UNION ALL SELECT 'crm:' || record_id, 'crm:' || record_id, _partition_date FROM contacts
    UNION ALL SELECT 'crm:' || record_id, 'phone:' || phone_e164, _partition_date FROM contacts WHERE phone_is_valid
    UNION ALL SELECT 'crm:' || record_id, 'email:' || email_normalized, _partition_date FROM contacts WHERE email_normalized IS NOT NULL
    UNION ALL SELECT 'o:' || id, 'shop:' || customer_id, _partition_date FROM orders WHERE customer_id IS NOT NULL
    UNION ALL SELECT 'o:' || id, 'email:' || coalesce(customer_email_normalized, email_normalized), _partition_date
        FROM orders WHERE coalesce(customer_email_normalized, email_normalized) IS NOT NULL
    UNION ALL SELECT 'o:' || id, 'phone:' || coalesce(customer_phone_e164, phone_e164), _partition_date
        FROM orders WHERE coalesce(customer_phone_is_valid, phone_is_valid)
);

CREATE OR REPLACE TEMP TABLE nodes AS
SELECT ident, row_number() OVER (ORDER BY min(seen), ident) AS node FROM rec_ids GROUP BY ident;

CREATE OR REPLACE TEMP TABLE edges AS
WITH rn AS (SELECT r.rec, n.node FROM rec_ids r JOIN nodes n USING (ident)),
     hub AS (SELECT rec, min(node) AS h FROM rn GROUP BY rec),
     e AS (SELECT DISTINCT rn.node AS a, hub.h AS b FROM rn JOIN hub USING (rec) WHERE rn.node <> hub.h)
SELECT a AS f, b AS t FROM e UNION ALL SELECT b, a FROM e;

CREATE OR REPLACE TEMP TABLE components AS
WITH RECURSIVE cc(node, label) USING KEY (node) AS (
    SELECT node, node FROM nodes
    UNION
    SELECT e.t, min(cc.label) FROM cc JOIN edges e ON e.f = cc.node
    JOIN recurring.cc AS known ON known.node = e.t
    GROUP BY e.t, known.label HAVING min(cc.label) < known.label
)
SELECT n.ident, cc.label AS customer FROM cc JOIN nodes n USING (node);

-- Purchases in USD, any channel, attributed to a customer.
CREATE OR REPLACE TEMP TABLE purchases AS
SELECT c.customer, p.local_date AS day, p.transaction_id AS purchase, sum(p.net_sales * fx.to_usd) AS usd
FROM pos p JOIN fx USING (currency)
JOIN components c ON c.ident = coalesce('phone:' || CASE WHEN p.customer_phone_is_valid THEN p.customer_phone_e164 END,
                                         'loyalty:' || p.loyalty_id)
GROUP BY ALL
UNION ALL
SELECT c.customer, o.created_at::DATE, 'o:' || o.id, o.total_price * fx.to_usd
FROM orders o JOIN fx USING (currency)
JOIN components c ON c.ident = coalesce('shop:' || o.customer_id,
                                         'email:' || coalesce(o.customer_email_normalized, o.email_normalized))
WHERE o.cancelled_at IS NULL;

CREATE OR REPLACE TABLE floor_customers AS
WITH per_customer AS (
    SELECT customer, count(DISTINCT purchase) AS frequency, sum(usd) AS monetary,
           min(day) AS first_day, max(day) AS last_day, $as_of - max(day) AS recency_days
    FROM purchases GROUP BY customer
)
SELECT *,
       6 - ntile(5) OVER (ORDER BY recency_days) AS r_score,
       ntile(5) OVER (ORDER BY frequency) AS f_score,
       ntile(5) OVER (ORDER BY monetary) AS m_score,
       CASE WHEN recency_days >= 182 THEN 'lapsed'
            WHEN recency_days >= 90 THEN 'at_risk'
            WHEN $as_of - first_day < 30 THEN 'new'
            ELSE 'active' END AS lifecycle_stage,
       monetary >= 10 * avg(monetary) OVER () AS big_spender
FROM per_customer;
