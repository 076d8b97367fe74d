// Stop strings over a stream of text pieces: text is released only once it can no longer be the
// start of a stop string, so a stop string split across tokens never leaks into the output.
export class StopStringMatcher {
  private pending = '';
  private readonly stops: string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** Adds a piece; returns the text that is safe to emit and whether a stop string was completed. */
  push(piece: string): { text: string; stopped: boolean } {
    const buf = this.pending + piece;
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.pending = '';
      return { text: buf.slice(0, cut), stopped: true };
    }
    const hold = this.heldSuffix(buf);
    this.pending = buf.slice(buf.length - hold);
    return { text: buf.slice(0, buf.length - hold), stopped: false };
  }

  /** The text still held back (at the end of generation it is part of the reply). */
  flush(): string {
    const out = this.pending;
    this.pending = '';
    return out;
  }

  // Length of the longest suffix of `buf` that is a proper prefix of some stop string.
  private heldSuffix(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > best; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
