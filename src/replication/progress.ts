// Snapshot progress: a bar on a terminal (items/s, ETA), a log line every 10 s elsewhere.
export interface ProgressSink {
  update(done: number): void;
  finish(done: number): void;
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Formats one progress line; total may be an estimate (DescribeTable's ItemCount) or unknown. */
export function progressLine(label: string, done: number, total: number | undefined, elapsedMs: number, rate: number, width = 30): string {
  const parts = [label];
  if (total && total > 0) {
    const frac = Math.min(1, done / total);
    const filled = Math.round(frac * width);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(1).padStart(5)}%`);
    parts.push(`${fmtInt(done)}/~${fmtInt(total)} items`);
  } else {
    parts.push(`${fmtInt(done)} items`);
  }
  parts.push(`${fmtInt(rate)} items/s`);
  parts.push(`elapsed ${fmtDuration(elapsedMs / 1000)}`);
  if (total && total > done && rate > 0) parts.push(`ETA ${fmtDuration((total - done) / rate)}`);
  return parts.join('  ');
}

/** A bar redrawn in place on `out` when it is a terminal, else a line through `log` every 10 s. */
export function createProgress(
  label: string,
  total: number | undefined,
  out: NodeJS.WriteStream | undefined,
  log?: (line: string) => void,
  /** Items already done when this run began (a resumed snapshot). */
  initial = 0,
): ProgressSink {
  const tty = out?.isTTY === true;
  const started = Date.now();
  let last = 0;
  // The rate is taken over a sliding window so the ETA follows the current speed.
  let windowAt = started;
  let windowDone = initial;
  let rate = 0;
  const draw = (done: number, final: boolean) => {
    const now = Date.now();
    if (now - windowAt >= 1000 || final) {
      const r = ((done - windowDone) * 1000) / Math.max(1, now - windowAt);
      rate = rate === 0 ? r : 0.7 * r + 0.3 * rate;
      if (final) rate = ((done - initial) * 1000) / Math.max(1, now - started);
      windowAt = now;
      windowDone = done;
    }
    const line = progressLine(label, done, total, now - started, rate);
    if (tty) out!.write(`\r${line.slice(0, (out!.columns ?? 120) - 1)}\u001b[K${final ? '\n' : ''}`);
    else log?.(line);
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - last < (tty ? 200 : 10_000)) return;
      last = now;
      draw(done, false);
    },
    finish(done) {
      draw(done, true);
    },
  };
}
