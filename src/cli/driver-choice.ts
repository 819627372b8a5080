/**
 * Which driver a run uses. `auto` means the model when LLM_BASE_URL answers a real tool-call probe,
 * the heuristic otherwise — and the run says which, so nobody mistakes a heuristic run for an LLM one.
 */

import { endpointFromEnv, LlmClient } from "../llm/client.ts";
import { checkLlm } from "../llm/doctor-llm.ts";
import { structuredModeFromEnv } from "../llm/structured.ts";
import type { Driver } from "../loop/driver.ts";
import { createDriver } from "../loop/drivers/index.ts";
import { llmDriver } from "../loop/drivers/llm.ts";
import { loadLibrary } from "../loop/library.ts";
import type { RunRepository } from "../loop/run-repository.ts";
import type { Db } from "../store/db.ts";
import { PgWorkspaceFiles } from "../store/workspace-files.ts";

export const DRIVER_NAMES = ["llm", "heuristic", "ga", "random"] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export async function resolveDriverName(
  requested: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ name: DriverName; why: string }> {
  if (requested !== "auto") {
    if (!(DRIVER_NAMES as readonly string[]).includes(requested)) {
      throw new Error(`unknown driver "${requested}": use ${DRIVER_NAMES.join(", ")} or auto`);
    }
    return { name: requested as DriverName, why: "as configured" };
  }
  if (!env["LLM_BASE_URL"]) return { name: "heuristic", why: "auto: LLM_BASE_URL is not set, so no model" };
  try {
    const endpoint = endpointFromEnv(env);
    const probe = await checkLlm(endpoint, { timeoutMs: 60_000 });
    if (probe.status === "ok" || probe.status === "warn") {
      return {
        name: "llm",
        why: `auto: ${endpoint.model} at ${endpoint.baseURL} answered a tool-call probe`,
      };
    }
    return { name: "heuristic", why: `auto: the model did not pass the tool-call probe (${probe.detail})` };
  } catch (err) {
    return { name: "heuristic", why: `auto: ${(err as Error).message}` };
  }
}

export async function makeDriver(name: string, deps: { db: Db; runs: RunRepository }): Promise<Driver> {
  if (name === "llm") {
    return llmDriver({
      client: new LlmClient(endpointFromEnv()),
      files: new PgWorkspaceFiles(deps.db),
      allNudges: async (runId) => (await deps.runs.nudges(runId)).map((n) => `${n.author}: ${n.text}`),
      structured: structuredModeFromEnv(),
    });
  }
  if (name === "heuristic" || name === "ga" || name === "random") {
    return createDriver(name, { library: await loadLibrary() });
  }
  throw new Error(`unknown driver "${name}"`);
}
