-- The agent's virtual workspace: files a run's model wrote (strategies it drafted, edited copies of
-- library strategies). The library itself and the notes are read from the repository, never stored
-- here, so a run can only ever change its own files.

CREATE TABLE workspace_files (
  run_id text NOT NULL,
  path text NOT NULL,                    -- normalised workspace path, e.g. strategies/ema-atr.ts
  content text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, path)
);
