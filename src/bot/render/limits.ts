/**
 * Discord's message and embed limits, and `fitEmbed`, which makes any embed legal by truncating
 * (with "…") instead of letting Discord reject the whole post with 400 Invalid Form Body.
 *
 * Lengths are measured in UTF-16 code units (`String.length`). Discord counts characters, and a
 * code-unit count is never smaller than a character count, so a string within these limits by
 * `.length` is within Discord's. Truncation never splits a surrogate pair.
 * Reference: https://discord.com/developers/docs/resources/message#embed-object-embed-limits
 */

export const EMBED_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footerText: 2048,
  authorName: 256,
  /** title + description + field names and values + footer text + author name, over all embeds. */
  total: 6000,
} as const;

export const MESSAGE_LIMITS = {
  content: 2000,
  embeds: 10,
  /** Buttons per action row, and rows per message. */
  buttonsPerRow: 5,
  rows: 5,
  customId: 100,
  buttonLabel: 80,
} as const;

export const ELLIPSIS = "…";

export interface EmbedField {
  name: string;
  value: string;
  inline?: boolean;
}

/** The subset of Discord's embed object the bot sends. */
export interface Embed {
  title?: string;
  description?: string;
  url?: string;
  color?: number;
  timestamp?: string;
  fields?: EmbedField[];
  footer?: { text: string };
  author?: { name: string };
  image?: { url: string };
}

/** `text` cut to at most `max` code units, ending in "…" when cut; never splits a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return "";
  let cut = max - ELLIPSIS.length;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${text.slice(0, Math.max(0, cut))}${ELLIPSIS}`;
}

/** The length Discord checks against the 6000 total. */
export function embedLength(e: Embed): number {
  let n = (e.title?.length ?? 0) + (e.description?.length ?? 0);
  n += (e.footer?.text.length ?? 0) + (e.author?.name.length ?? 0);
  for (const f of e.fields ?? []) n += f.name.length + f.value.length;
  return n;
}

// Discord rejects empty field names and values; a zero-width space is the customary blank.
const BLANK = "\u200b";

/**
 * A copy of `e` within every limit. Order of sacrifice when the total is too long: the
 * description first, then field values from the last field backwards, then fields themselves,
 * so the title and the first fields (the gates) survive longest.
 */
export function fitEmbed(e: Embed, budget: number = EMBED_LIMITS.total): Embed {
  const out: Embed = { ...e };
  if (e.title !== undefined) out.title = truncate(e.title, EMBED_LIMITS.title) || BLANK;
  if (e.description !== undefined) out.description = truncate(e.description, EMBED_LIMITS.description);
  if (e.footer) out.footer = { text: truncate(e.footer.text, EMBED_LIMITS.footerText) || BLANK };
  if (e.author) out.author = { name: truncate(e.author.name, EMBED_LIMITS.authorName) || BLANK };
  if (e.fields) {
    let fields = e.fields.map((f) => ({
      ...f,
      name: truncate(f.name, EMBED_LIMITS.fieldName) || BLANK,
      value: truncate(f.value, EMBED_LIMITS.fieldValue) || BLANK,
    }));
    if (fields.length > EMBED_LIMITS.fields) {
      const dropped = fields.length - (EMBED_LIMITS.fields - 1);
      fields = [
        ...fields.slice(0, EMBED_LIMITS.fields - 1),
        {
          name: `+${dropped} more`,
          value: truncate(
            fields
              .slice(EMBED_LIMITS.fields - 1)
              .map((f) => f.name)
              .join(", "),
            EMBED_LIMITS.fieldValue,
          ),
        },
      ];
    }
    out.fields = fields;
  }
  const over = () => embedLength(out) - budget;
  if (over() > 0 && out.description) {
    const keep = Math.max(0, out.description.length - over());
    out.description = truncate(out.description, keep);
    if (out.description === "") delete out.description;
  }
  const fields = out.fields;
  if (fields) {
    for (let i = fields.length - 1; i >= 0 && over() > 0; i--) {
      const f = fields[i] as EmbedField;
      // Keep a short stub of each value rather than deleting the field outright.
      f.value = truncate(f.value, Math.max(1, f.value.length - over(), Math.min(f.value.length, 16)));
    }
    while (over() > 0 && fields.length > 0) fields.pop();
  }
  if (over() > 0 && out.footer) delete out.footer;
  if (over() > 0 && out.author) delete out.author;
  if (over() > 0 && out.title) out.title = truncate(out.title, Math.max(1, out.title.length - over()));
  return out;
}

/** Fits several embeds into one message's shared 6000 budget, earlier embeds first. */
export function fitEmbeds(embeds: readonly Embed[]): Embed[] {
  let left: number = EMBED_LIMITS.total;
  const out: Embed[] = [];
  for (const e of embeds.slice(0, MESSAGE_LIMITS.embeds)) {
    if (left <= 0) break;
    const fitted = fitEmbed(e, left);
    left -= embedLength(fitted);
    out.push(fitted);
  }
  return out;
}

export function fitContent(content: string): string {
  return truncate(content, MESSAGE_LIMITS.content);
}
