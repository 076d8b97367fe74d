// Page lists as people write them: "3", "1-3,7", "5-" (to the end). 1-based, in the order given,
// each page once.
import { InvalidArgumentError } from '../errors';
import { PDF_LIMITS } from '../limits';

/** A parsed page list; `open` ranges ("5-") end at the document's last page. */
export interface PageList {
  ranges: { from: number; to: number | 'end' }[];
  text: string;
}

export function parsePages(text: string): PageList {
  if (typeof text !== 'string' || text.trim() === '') throw new InvalidArgumentError('a page list must be like 1-3,7 (got an empty one)');
  const ranges: PageList['ranges'] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)(?:\s*(-)\s*(\d+)?)?$/.exec(part);
    if (!m) throw new InvalidArgumentError(`page list ${JSON.stringify(text)}: '${part}' is not a page (7) or a range (1-3, 5-)`);
    const from = pageNumber(m[1], text);
    const to = m[2] ? (m[3] !== undefined ? pageNumber(m[3], text) : 'end') : from;
    if (to !== 'end' && to < from) throw new InvalidArgumentError(`page list ${JSON.stringify(text)}: range ${part} runs backwards`);
    ranges.push({ from, to });
  }
  return { ranges, text };
}

function pageNumber(s: string, text: string): number {
  const n = Number(s);
  const { min, max } = PDF_LIMITS.page;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`page list ${JSON.stringify(text)}: pages are numbered from ${min} to ${max} (got ${s})`);
  }
  return n;
}

/** The pages of `list` in a document of `count` pages, in order, each once; past-the-end pages kept (they fail as page-range errors). */
export function expandPages(list: PageList | undefined, count: number): number[] {
  if (!list) return Array.from({ length: count }, (_, i) => i + 1);
  const seen = new Set<number>();
  const out: number[] = [];
  for (const r of list.ranges) {
    const to = r.to === 'end' ? count : r.to;
    for (let p = r.from; p <= to; p++) {
      if (!seen.has(p)) out.push(p);
      seen.add(p);
    }
  }
  return out;
}
