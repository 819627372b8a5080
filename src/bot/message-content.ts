/**
 * ALPHALOOP_DISCORD_MESSAGE_CONTENT: `on` (default) asks the gateway for the privileged
 * MessageContent intent, so any thread reply is a nudge; `off` leaves it out, and a reply is a
 * nudge only when it @mentions the bot. Parsed here so `alphaloop bot` and `alphaloop doctor`
 * accept and refuse the same values.
 */

export class MessageContentSettingError extends Error {
  override name = "MessageContentSettingError";
}

export function parseMessageContent(value: string | undefined): boolean {
  const mc = (value ?? "on").trim().toLowerCase();
  if (mc !== "on" && mc !== "off") {
    throw new MessageContentSettingError(
      `ALPHALOOP_DISCORD_MESSAGE_CONTENT must be on or off, not ${JSON.stringify(mc)}`,
    );
  }
  return mc === "on";
}
