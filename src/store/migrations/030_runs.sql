-- Research runs, their iterations, nudges and the transactional outbox. Postgres is the source of
-- truth: an iteration row, the nudges it claimed and the events it emits are written in one
-- transaction, so a crash leaves either all of them or none.

CREATE TABLE runs (
  id text PRIMARY KEY,
  brief text NOT NULL,
  driver text NOT NULL,
  status text NOT NULL CHECK (status IN ('created', 'running', 'paused', 'completed', 'stopped', 'failed')),
  status_reason text,
  config jsonb NOT NULL,
  config_canonical text NOT NULL,
  config_hash text NOT NULL,
  owner text,
  source text NOT NULL DEFAULT 'cli',
  guild_id text,
  channel_id text,
  thread_id text,
  iterations_done integer NOT NULL DEFAULT 0,
  passes integer NOT NULL DEFAULT 0,
  best_distance double precision,
  best_iteration integer,
  tokens_used bigint NOT NULL DEFAULT 0,
  stuck boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX runs_status_idx ON runs (status);

CREATE TABLE iterations (
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  n integer NOT NULL,
  name text,
  family text,
  hypothesis text,
  code text,
  config_yaml text,
  status text NOT NULL CHECK (status IN ('passed', 'discarded', 'crashed', 'model_error')),
  metrics jsonb,
  folds jsonb,
  gates jsonb,
  reasons jsonb NOT NULL DEFAULT '[]'::jsonb,
  distance double precision,
  decision text CHECK (decision IN ('abandon', 'fix', 'tune', 'new_approach')),
  rationale text,
  next_hypothesis text,
  forced text,
  nudge_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
  tokens jsonb,
  timings jsonb,
  trial_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
  backtests integer NOT NULL DEFAULT 0,
  error jsonb,
  raw_output text,
  -- The sealed holdout result: shown to humans, never selected by the driver-facing history query.
  holdout jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, n)
);

CREATE TABLE nudges (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  author text NOT NULL,
  source text NOT NULL,
  text text NOT NULL,
  -- e.g. the Discord message id: the same message delivered twice is one nudge
  external_id text UNIQUE,
  claimed_iteration integer,
  claimed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX nudges_pending_idx ON nudges (run_id, id) WHERE claimed_iteration IS NULL;

CREATE TABLE outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- stable id (run:iteration:type); a redone iteration cannot emit its event twice
  event_id text NOT NULL UNIQUE,
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  delivery jsonb
);

CREATE INDEX outbox_pending_idx ON outbox (run_id, id) WHERE delivered_at IS NULL;
