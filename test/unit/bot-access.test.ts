import { describe, expect, it } from "vitest";
import {
  AccessConfigError,
  type Actor,
  canControl,
  canRead,
  canStart,
  parseAccessPolicy,
  placeAllowed,
} from "../../src/bot/access.ts";

const G = "900000000000000001";
const OTHER_G = "900000000000000002";
const ROLE = "700000000000000001";
const USER = "600000000000000001";
const STRANGER = "600000000000000009";
const CH = "800000000000000001";
const THREAD = "800000000000000099";

const policy = parseAccessPolicy(
  JSON.stringify({ guilds: { [G]: { roles: [ROLE], users: [USER] }, [OTHER_G]: { channels: [CH] } } }),
);

const actor = (o: Partial<Actor> = {}): Actor => ({
  userId: STRANGER,
  roles: [],
  guildId: G,
  channelId: CH,
  ...o,
});

describe("discord access policy", () => {
  it("denies every guild when the variable is unset, naming the guild to add", () => {
    const empty = parseAccessPolicy(undefined);
    const d = placeAllowed(empty, actor());
    expect(d).toEqual({ ok: false, reason: expect.stringContaining(G) });
    expect(d.ok ? "" : d.reason).toContain("ALPHALOOP_DISCORD_ACCESS");
  });

  it("refuses DMs", () => {
    expect(placeAllowed(policy, actor({ guildId: null })).ok).toBe(false);
  });

  it("restricts to listed channels, and threads under them", () => {
    expect(placeAllowed(policy, actor({ guildId: OTHER_G, channelId: CH })).ok).toBe(true);
    expect(placeAllowed(policy, actor({ guildId: OTHER_G, channelId: THREAD, parentId: CH })).ok).toBe(true);
    const d = placeAllowed(policy, actor({ guildId: OTHER_G, channelId: THREAD, parentId: "1234567" }));
    expect(d).toEqual({ ok: false, reason: expect.stringContaining(`<#${CH}>`) });
  });

  it("lets listed users and role holders start runs, nobody else", () => {
    expect(canStart(policy, actor({ userId: USER })).ok).toBe(true);
    expect(canStart(policy, actor({ roles: [ROLE] })).ok).toBe(true);
    expect(canStart(policy, actor()).ok).toBe(false);
    // A guild with no users or roles listed: nobody may start there.
    expect(canStart(policy, actor({ guildId: OTHER_G, userId: USER })).ok).toBe(false);
  });

  it("lets the owner or a role holder control a run, not a listed user who does not own it", () => {
    const run = { owner: STRANGER, guildId: G };
    expect(canControl(policy, actor(), run).ok).toBe(true);
    expect(canControl(policy, actor({ userId: USER }), run).ok).toBe(false);
    expect(canControl(policy, actor({ userId: USER, roles: [ROLE] }), run).ok).toBe(true);
  });

  it("keeps runs of another guild out of reach", () => {
    const run = { owner: STRANGER, guildId: OTHER_G };
    expect(canControl(policy, actor(), run)).toEqual({
      ok: false,
      reason: "That run belongs to another server.",
    });
    expect(canRead(policy, actor(), run).ok).toBe(false);
    expect(canRead(policy, actor(), { owner: null, guildId: G }).ok).toBe(true);
  });

  it("rejects malformed policies with a clear error", () => {
    expect(() => parseAccessPolicy("{guilds")).toThrow(AccessConfigError);
    expect(() => parseAccessPolicy(JSON.stringify({ guilds: { [G]: { roles: ["admin"] } } }))).toThrow(
      /guilds\.900000000000000001\.roles\.0: a Discord id/,
    );
    expect(() => parseAccessPolicy(JSON.stringify({ guilds: { [G]: { admins: [] } } }))).toThrow(
      /ALPHALOOP_DISCORD_ACCESS/,
    );
    // A server named instead of its id: say what the key must be, not just that it is invalid.
    expect(() => parseAccessPolicy('{"guilds": {"my-server": {}}}')).toThrow(
      "ALPHALOOP_DISCORD_ACCESS: guilds.my-server: a server's key must be its Discord id (digits)",
    );
  });
});
