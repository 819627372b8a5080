/**
 * Who may do what from Discord (pure). The policy comes from ALPHALOOP_DISCORD_ACCESS, JSON:
 *
 *   {"guilds": {"<guild id>": {"roles": ["<role id>"], "users": ["<user id>"], "channels": ["<channel id>"]}}}
 *
 * - A guild not listed is refused (deny by default): the bot answers with the guild id to add.
 * - `channels` (optional, empty = any): commands and runs only in those channels, or in threads
 *   whose parent is one of them.
 * - Starting a run: a listed user, or a member holding a listed role.
 * - Stop, pause, resume, nudge: the run's owner, or a member holding a listed role.
 * - Reading (status, list, leaderboard, config): anyone in an allowed guild and channel.
 */
import { z } from "zod";

const Snowflake = z.string().regex(/^\d{5,25}$/, "a Discord id (digits)");

const GuildAccessSchema = z.strictObject({
  roles: z.array(Snowflake).default([]),
  users: z.array(Snowflake).default([]),
  channels: z.array(Snowflake).default([]),
});

const AccessSchema = z.strictObject({
  guilds: z.record(Snowflake, GuildAccessSchema).default({}),
});

export type GuildAccess = z.infer<typeof GuildAccessSchema>;
export type AccessPolicy = z.infer<typeof AccessSchema>;

export class AccessConfigError extends Error {
  override name = "AccessConfigError";
}

/** Parses ALPHALOOP_DISCORD_ACCESS; unset means no guild is allowed yet. */
export function parseAccessPolicy(text: string | undefined): AccessPolicy {
  if (!text?.trim()) return { guilds: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new AccessConfigError(`ALPHALOOP_DISCORD_ACCESS is not valid JSON: ${(err as Error).message}`);
  }
  const r = AccessSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => {
      // zod says only "Invalid key in record" for a bad guild key.
      const what = i.code === "invalid_key" ? "a server's key must be its Discord id (digits)" : i.message;
      return `${i.path.join(".") || "(top)"}: ${what}`;
    });
    throw new AccessConfigError(`ALPHALOOP_DISCORD_ACCESS: ${issues.join("; ")}`);
  }
  return r.data;
}

/** Who is asking, and where. */
export interface Actor {
  readonly userId: string;
  /** Role ids of the member (empty outside a guild). */
  readonly roles: readonly string[];
  readonly guildId: string | null;
  /** The channel the command was used in. */
  readonly channelId: string | null;
  /** The parent channel when `channelId` is a thread. */
  readonly parentId?: string | null;
}

/** The run as far as authorization cares. */
export interface RunScope {
  readonly owner: string | null;
  readonly guildId: string | null;
}

export type Decision = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: Decision = { ok: true };
const no = (reason: string): Decision => ({ ok: false, reason });

/** May this actor use the bot here at all (guild and channel)? */
export function placeAllowed(p: AccessPolicy, a: Actor): Decision {
  if (!a.guildId) return no("alphaloop commands work in a server channel, not in DMs.");
  const g = p.guilds[a.guildId];
  if (!g) {
    return no(
      `alphaloop is not enabled in this server (id ${a.guildId}). An operator adds it to ALPHALOOP_DISCORD_ACCESS.`,
    );
  }
  if (g.channels.length === 0) return OK;
  const here = [a.channelId, a.parentId].filter((c): c is string => Boolean(c));
  if (here.some((c) => g.channels.includes(c))) return OK;
  return no(`alphaloop is not enabled in this channel; use ${g.channels.map((c) => `<#${c}>`).join(", ")}.`);
}

function hasRole(g: GuildAccess, a: Actor): boolean {
  return a.roles.some((r) => g.roles.includes(r));
}

export function canStart(p: AccessPolicy, a: Actor): Decision {
  const place = placeAllowed(p, a);
  if (!place.ok) return place;
  const g = p.guilds[a.guildId as string] as GuildAccess;
  if (g.users.includes(a.userId) || hasRole(g, a)) return OK;
  return no("You are not allowed to start runs here: ask for one of the alphaloop roles.");
}

/** Stop, pause, resume or nudge `run`. */
export function canControl(p: AccessPolicy, a: Actor, run: RunScope): Decision {
  const place = placeAllowed(p, a);
  if (!place.ok) return place;
  if (run.guildId && run.guildId !== a.guildId) return no("That run belongs to another server.");
  if (run.owner === a.userId) return OK;
  const g = p.guilds[a.guildId as string] as GuildAccess;
  if (hasRole(g, a)) return OK;
  return no("Only the run's owner or a member with an alphaloop role can stop, pause, resume or nudge it.");
}

/** Reading commands: an allowed place is enough; runs of other servers stay invisible. */
export function canRead(p: AccessPolicy, a: Actor, run?: RunScope): Decision {
  const place = placeAllowed(p, a);
  if (!place.ok) return place;
  if (run?.guildId && run.guildId !== a.guildId) return no("That run belongs to another server.");
  return OK;
}
