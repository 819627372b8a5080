/**
 * What the model-free drivers understand of a nudge: plain keyword matching, no model. Anything
 * not listed here is ignored (and the hypothesis says so), so a person can tell from the thread
 * whether the nudge took.
 *
 * Understood, case-insensitive, anywhere in the text:
 *  - a library strategy name, with hyphens or spaces (`donchian-breakout`, `donchian breakout`);
 *  - a library family (`trend`, `breakout`, `mean reversion`, `range`, `scalp`, `volatility`);
 *  - a timeframe (`4h`, `1h`, `1d`); ignored unless it is a whole multiple of the dataset's bars;
 *  - `shorter` / `faster` / `more trades` → shorter lookbacks; `longer` / `slower` / `fewer trades`
 *    → longer lookbacks;
 *  - `tighter stop` / `tight stop` / `add a stop` / `stop loss` → a tighter stop; `wider stop` /
 *    `looser stop` → a wider one;
 *  - `smaller size` / `less risk` / `reduce size` / `vol target` / `volatility target` → smaller
 *    positions (a volatility filter);
 *  - `long short` / `long-short` / `allow shorts` → long_short; `long only` → long_only.
 */
import type { Nudge } from "../../domain/run.ts";
import { timeframeMs } from "../../domain/timeframe.ts";
import type { Library, LibraryEntry } from "../library.ts";

export interface NudgeIntent {
  readonly strategy?: LibraryEntry;
  readonly family?: string;
  readonly timeframe?: string;
  readonly lookbacks?: "shorter" | "longer";
  readonly stop?: "tighter" | "wider";
  readonly smallerSize?: boolean;
  readonly direction?: "long_only" | "long_short";
  /** Nudge texts, for the hypothesis. */
  readonly text: string;
}

const words = (s: string) => s.toLowerCase().replace(/[-_]+/g, " ");

function containsPhrase(haystack: string, phrase: string): boolean {
  const escaped = phrase.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/ /g, "\\s+");
  return new RegExp(`(^|[^a-z0-9])${escaped}($|[^a-z0-9])`).test(haystack);
}

export function understood(i: NudgeIntent): boolean {
  return (
    i.strategy !== undefined ||
    i.family !== undefined ||
    i.timeframe !== undefined ||
    i.lookbacks !== undefined ||
    i.stop !== undefined ||
    i.smallerSize === true ||
    i.direction !== undefined
  );
}

export function readNudges(nudges: readonly Nudge[], library: Library, baseTimeframe: string): NudgeIntent {
  const text = nudges.map((n) => n.text.trim()).join(" / ");
  const t = words(text);
  const out: {
    -readonly [K in keyof NudgeIntent]: NudgeIntent[K];
  } = { text };

  // Longest names first so `vol-adjusted-trend` wins over a family word inside it.
  const byLength = [...library].sort((a, b) => b.name.length - a.name.length);
  const strategy = byLength.find((e) => containsPhrase(t, words(e.name)));
  // "volatility target" is about sizing, not the volatility family.
  const familyText = t.replace(/\bvol(atility)? target(ing)?\b/g, " ");
  if (strategy) out.strategy = strategy;
  else {
    const families = [...new Set(library.map((e) => e.family))].sort((a, b) => b.length - a.length);
    const family =
      families.find((f) => containsPhrase(familyText, words(f))) ??
      (containsPhrase(familyText, "reversion") ? families.find((f) => f.includes("reversion")) : undefined);
    if (family) out.family = family;
  }

  const base = timeframeMs(baseTimeframe);
  for (const m of t.matchAll(/(?:^|[^a-z0-9])(\d+)([mhdw])(?=$|[^a-z0-9])/g)) {
    const tf = `${m[1]}${m[2]}`;
    const ms = Number(m[1]) > 0 ? timeframeMs(tf) : 0;
    if (ms >= base && ms % base === 0) {
      out.timeframe = tf;
      break;
    }
  }

  if (/\b(shorter|faster|quicker|more trades|more often)\b/.test(t)) out.lookbacks = "shorter";
  else if (/\b(longer|slower|fewer trades|less often)\b/.test(t)) out.lookbacks = "longer";

  if (/\b(wider|looser) stops?\b/.test(t)) out.stop = "wider";
  else if (/\b(tighter|tight|closer) stops?\b|\badd (a )?stop|\bstop loss\b|\bstoploss\b/.test(t))
    out.stop = "tighter";

  if (/\b(smaller|reduce|lower) (the )?(size|sizing|position)|\bless risk\b|\bvol(atility)? target/.test(t))
    out.smallerSize = true;

  if (/\blong ?short\b|\ballow shorts?\b|\bgo short\b/.test(t)) out.direction = "long_short";
  else if (/\blong only\b/.test(t)) out.direction = "long_only";

  return out;
}
