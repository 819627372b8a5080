-- The trial ledger: every candidate ever evaluated on a dataset and search window — passed,
-- discarded or crashed, from any run and any driver — so Deflated Sharpe can count the tries.
-- Daily returns are kept compactly (Float32, little-endian) for correlation and PBO.

CREATE TABLE trials (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dataset text NOT NULL,                 -- SYMBOL:timeframe
  window_hash text NOT NULL,             -- sha256 of the dataset and search window bounds
  run_id text,
  iteration integer,
  driver text NOT NULL,
  strategy_name text,
  family text,
  code_hash text NOT NULL,
  config_hash text NOT NULL,
  status text NOT NULL CHECK (status IN ('passed', 'discarded', 'crashed')),
  -- false for duplicates: recorded, but not counted as a new independent trial
  independent boolean NOT NULL,
  sharpe double precision,               -- per-day Sharpe of the daily returns
  observations integer,
  first_day bigint,                      -- UTC midnight (ms) of daily_returns[0]
  daily_returns bytea,
  metrics jsonb,
  reasons jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- set by callers that may retry (a resumed iteration): the same key never makes a second row
  idempotency_key text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX trials_window_idx ON trials (dataset, window_hash) WHERE independent AND sharpe IS NOT NULL;
CREATE INDEX trials_run_idx ON trials (run_id, iteration);

-- Every evaluation of the sealed holdout, counted per dataset and holdout window.
CREATE TABLE holdout_evaluations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dataset text NOT NULL,
  holdout_hash text NOT NULL,
  trial_id bigint REFERENCES trials (id),
  run_id text,
  iteration integer,
  metrics jsonb NOT NULL,
  idempotency_key text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX holdout_window_idx ON holdout_evaluations (dataset, holdout_hash);
