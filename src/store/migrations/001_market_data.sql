-- Market data: one row per bar, keyed by (symbol, timeframe, ts), plus one row per dataset with
-- summary figures and a revision that changes whenever the dataset's bars change (the bar
-- window cache keys on it). Symbol and timeframe use the "C" collation: they are codes, not
-- words, and byte-order comparison keeps the (symbol, timeframe, ts) index fast to build and probe.

CREATE TABLE datasets (
  id integer GENERATED ALWAYS AS IDENTITY UNIQUE,
  symbol text COLLATE "C" NOT NULL,
  timeframe text COLLATE "C" NOT NULL,
  row_count bigint NOT NULL DEFAULT 0,
  first_ts timestamptz,
  last_ts timestamptz,
  gaps integer NOT NULL DEFAULT 0,
  missing_bars bigint NOT NULL DEFAULT 0,
  revision uuid NOT NULL DEFAULT gen_random_uuid(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (symbol, timeframe)
);

CREATE TABLE bars (
  symbol text COLLATE "C" NOT NULL,
  timeframe text COLLATE "C" NOT NULL,
  ts timestamptz NOT NULL,
  open double precision NOT NULL,
  high double precision NOT NULL,
  low double precision NOT NULL,
  close double precision NOT NULL,
  volume double precision NOT NULL,
  PRIMARY KEY (symbol, timeframe, ts)
);

-- With TimescaleDB installed, bars becomes a hypertable (30-day chunks). Anything that goes wrong
-- here (extension available but not preloaded, no privilege) leaves a plain table, which the
-- primary key already serves well.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS timescaledb;
      PERFORM create_hypertable('bars', 'ts', chunk_time_interval => interval '30 days', if_not_exists => true);
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'timescaledb not usable (%); bars stays a plain table', SQLERRM;
    END;
  END IF;
END
$$;
