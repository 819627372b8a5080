-- What the Discord bot has delivered, step by step. One outbox event can need several sends (the
-- thread post, the owner's DM, the push webhook); each step is recorded as it succeeds, so a bot
-- restarted mid-event resumes at the first missing step and never posts a step twice.
CREATE TABLE discord_deliveries (
  event_id text NOT NULL,
  step text NOT NULL,
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  channel_id text,
  message_id text,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, step)
);

CREATE INDEX discord_deliveries_run_idx ON discord_deliveries (run_id);

-- Things the bot learned about a run that people should see, e.g. the owner's DMs are closed.
CREATE TABLE run_notes (
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  kind text NOT NULL,
  text text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, kind)
);
