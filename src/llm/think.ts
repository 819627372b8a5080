/**
 * Reasoning inside `content`. Qwen3 writes `<think>...</think>`; Qwen3.5 and the *-Thinking-2507 models
 * get the opening `<think>` from the chat template, so their content starts inside the reasoning and
 * only shows the closing tag. An unclosed `<think>` (cut off, or a model that never closed it) runs to
 * the end.
 */

const OPEN = "<think>";
const CLOSE = "</think>";

/** A slice of content: [start, end) offsets into the original string. */
export interface Span {
  start: number;
  end: number;
}

export interface ThinkSplit {
  /** Content outside reasoning, in order. */
  visible: Span[];
  /** Reasoning text, without the tags, in order. */
  reasoning: Span[];
  /** Reasoning including its tags: the parts of content a reader never sees. */
  hidden: Span[];
}

export function splitThink(content: string): ThinkSplit {
  const visible: Span[] = [];
  const reasoning: Span[] = [];
  const hidden: Span[] = [];
  let pos = 0;
  const firstOpen = content.indexOf(OPEN);
  const firstClose = content.indexOf(CLOSE);
  if (firstClose !== -1 && (firstOpen === -1 || firstClose < firstOpen)) {
    reasoning.push({ start: 0, end: firstClose });
    hidden.push({ start: 0, end: firstClose + CLOSE.length });
    pos = firstClose + CLOSE.length;
  }
  while (pos <= content.length) {
    const open = content.indexOf(OPEN, pos);
    if (open === -1) {
      visible.push({ start: pos, end: content.length });
      break;
    }
    visible.push({ start: pos, end: open });
    const close = content.indexOf(CLOSE, open + OPEN.length);
    const end = close === -1 ? content.length : close;
    reasoning.push({ start: open + OPEN.length, end });
    hidden.push({ start: open, end: close === -1 ? content.length : close + CLOSE.length });
    pos = close === -1 ? content.length + 1 : close + CLOSE.length;
  }
  return { visible: visible.filter((s) => s.end > s.start), reasoning, hidden };
}
