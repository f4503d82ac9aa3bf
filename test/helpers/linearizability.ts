// A linearizability checker for a compare-and-set register (Wing & Gong's search with Lowe's
// memoisation, as in Knossos and Porcupine). Keys are independent registers and linearizability is
// local, so a multi-key history is checked key by key.
//
// An operation is invoked at `call` and answered at `ret`; an operation with no answer (timeout,
// 5xx, connection lost) has `result: 'unknown'`: it may have taken effect at any time after its
// call, or never, so it gets no return event and is the last thing linearized.

/** null is "no item". */
export type Value = string | null;

export type Op =
  | { kind: 'read'; value: Value } // value read (only with result 'ok')
  | { kind: 'write'; value: Value }
  | { kind: 'cas'; expected: Value; value: Value };

export interface HistoryOp {
  key: string;
  op: Op;
  /** ok: applied (cas: condition held); fail: a cas whose condition did not hold; unknown: no answer. */
  result: 'ok' | 'fail' | 'unknown';
  call: number;
  ret: number;
  /** For messages: who ran it. */
  client?: string;
}

/** The register's step: the state after `h`, or undefined when `h` cannot happen in `state`. */
function step(state: Value, h: HistoryOp): Value | undefined {
  const { op, result } = h;
  switch (op.kind) {
    case 'read':
      return result === 'unknown' || op.value === state ? state : undefined;
    case 'write':
      return op.value;
    case 'cas':
      if (result === 'unknown') return op.expected === state ? op.value : state;
      if (result === 'ok') return op.expected === state ? op.value : undefined;
      return op.expected !== state ? state : undefined;
  }
}

interface Entry {
  id: number;
  isCall: boolean;
  h: HistoryOp;
  match?: Entry; // a call's return
  prev?: Entry;
  next?: Entry;
}

export interface CheckResult {
  ok: boolean;
  /** For a violation: the longest prefix of operations that could be linearized, and what could not follow it. */
  explanation?: string;
}

/** Checks one register's history (all ops of one key), starting from `initial`. */
export function checkRegister(history: HistoryOp[], initial: Value = null, maxSteps = 5_000_000): CheckResult {
  // An unanswered operation's return is placed after every answered one: linearized there, it
  // changes nothing anyone observed, which is how "it never happened" is covered. Its earlier
  // placements are tried like any other's. Unanswered reads tell nothing and are dropped.
  const ops = history.filter((h) => !(h.op.kind === 'read' && h.result === 'unknown'));
  const events: { time: number; isCall: boolean; id: number }[] = [];
  ops.forEach((h, id) => {
    events.push({ time: h.call, isCall: true, id });
    events.push({ time: h.result === 'unknown' ? Infinity : h.ret, isCall: false, id });
  });
  // Calls before returns at equal times: operations touching at an instant count as concurrent.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));

  const head: Entry = { id: -1, isCall: false, h: undefined as unknown as HistoryOp };
  let tail = head;
  const calls = new Map<number, Entry>();
  for (const ev of events) {
    const e: Entry = { id: ev.id, isCall: ev.isCall, h: ops[ev.id]!, prev: tail };
    tail.next = e;
    tail = e;
    if (ev.isCall) calls.set(ev.id, e);
    else calls.get(ev.id)!.match = e;
  }

  const lift = (e: Entry) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry) => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  const words = Math.ceil(ops.length / 32) || 1;
  const linearized = new Uint32Array(words);
  const seen = new Set<string>();
  const remember = (state: Value): boolean => {
    const k = `${Array.from(linearized).join(',')}|${state === null ? '\0' : `=${state}`}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  };
  const flip = (id: number) => (linearized[id >>> 5] ^= 1 << (id & 31));

  const stack: { e: Entry; state: Value }[] = [];
  let state = initial;
  let best: { depth: number; blocked: string } = { depth: -1, blocked: '' };
  let entry = head.next;
  let steps = 0;
  while (head.next) {
    if (++steps > maxSteps) return { ok: false, explanation: `search gave up after ${maxSteps} steps (not decided)` };
    if (!entry) return { ok: false, explanation: 'internal: ran off the history' };
    if (entry.isCall) {
      const next = step(state, entry.h);
      let took = false;
      if (next !== undefined) {
        flip(entry.id);
        if (remember(next)) {
          stack.push({ e: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          took = true;
        } else {
          flip(entry.id);
        }
      }
      if (!took) entry = entry.next;
    } else {
      // A return whose call is not linearized yet: everything before it failed from this state.
      if (stack.length > best.depth) best = { depth: stack.length, blocked: `${describe(entry.h)} in state ${show(state)}` };
      const top = stack.pop();
      if (!top) break;
      state = top.state;
      flip(top.e.id);
      unlift(top.e);
      entry = top.e.next;
    }
  }
  if (!head.next) return { ok: true };
  return { ok: false, explanation: `after ${best.depth} of ${ops.length} operations, nothing explains ${best.blocked}` };
}

/** Checks every key's register; the first violation is reported. */
export function checkHistory(history: HistoryOp[], initial: Value = null): CheckResult & { keys: number } {
  const byKey = new Map<string, HistoryOp[]>();
  for (const h of history) byKey.set(h.key, [...(byKey.get(h.key) ?? []), h]);
  for (const [key, ops] of byKey) {
    const r = checkRegister(ops, initial);
    if (!r.ok) return { ...r, keys: byKey.size, explanation: `key ${key}: ${r.explanation}` };
  }
  return { ok: true, keys: byKey.size };
}

const show = (v: Value) => (v === null ? 'absent' : JSON.stringify(v));

function describe(h: HistoryOp): string {
  const { op } = h;
  const who = h.client ? `${h.client} ` : '';
  const when = `[${h.call}, ${h.result === 'unknown' ? '?' : h.ret}]`;
  if (op.kind === 'read') return `${who}read ${show(op.value)} ${when}`;
  if (op.kind === 'write') return `${who}write ${show(op.value)} (${h.result}) ${when}`;
  return `${who}cas ${show(op.expected)}→${show(op.value)} (${h.result}) ${when}`;
}
