/**
 * The `storeTimeout` of one manager's store calls, on one timer.
 *
 * Why: a timer per call (setTimeout + clearTimeout) was about 1.5% of the
 * server's CPU profile of an Express read on MemoryStore. Every call of a manager has the same timeout, so calls in
 * flight expire in the order they started: a FIFO queue, with one timer aimed
 * at its oldest pending entry. A call that settles only marks its entry; the
 * timer, when it fires, expires what is due and aims at the next pending
 * entry. A read-only request therefore starts no timer while one is running.
 *
 * The entry a timer was aimed at is expired when it fires, whatever the clock
 * says (tests freeze or move `Date`; this uses `performance.now()` and never
 * depends on it for progress). The timer keeps the process alive only while a
 * call is pending, as a timer per call did.
 */
export interface Deadline {
  readonly at: number;
  done: boolean;
  readonly expire: () => void;
}

/** The longest delay a timer keeps (2^31 - 1 ms, about 24.8 days); Node runs a longer one after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Milliseconds between sweeps for an interval in seconds, capped at MAX_TIMER_MS (past it Node would sweep every millisecond). */
export function sweepDelay(seconds: number): number {
  return Math.min(seconds * 1000, MAX_TIMER_MS);
}

/** A timer handle: a Node Timeout, or a number on runtimes without ref/unref (Deno, workerd). */
type Timer = { ref?(): unknown; unref?(): unknown } | number;

export class Deadlines {
  readonly #ms: number;
  #queue: Array<Deadline | undefined> = [];
  #head = 0;
  #pending = 0;
  #timer: Timer | undefined;
  #target: Deadline | undefined;
  /** The setTimeout/clearTimeout the timer came from: fake timers installed or removed later get a timer of their own. */
  #armedWith: typeof setTimeout | undefined;
  #clear: typeof clearTimeout | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Starts the deadline of one call; `expire` runs once if the call is still pending after the timeout. */
  start(expire: () => void): Deadline {
    const entry: Deadline = { at: performance.now() + this.#ms, done: false, expire };
    this.#queue.push(entry);
    if (this.#pending++ === 0) ref(this.#timer, true);
    if (this.#timer === undefined) this.#aim(entry, this.#ms);
    else if (this.#armedWith !== setTimeout) {
      // The test framework swapped the timers since (vi.useFakeTimers / useRealTimers):
      // a timer of the other kind might never fire, so aim one of the current kind.
      this.#clear?.(this.#timer as Parameters<typeof clearTimeout>[0]);
      const head = this.#queue[this.#head]!;
      this.#aim(head, Math.min(this.#ms, Math.max(1, Math.ceil(head.at - performance.now()))));
    }
    return entry;
  }

  /** Marks the call settled: it will not expire. */
  settle(entry: Deadline): void {
    if (entry.done) return;
    entry.done = true;
    if (--this.#pending === 0) ref(this.#timer, false);
    this.#drop();
  }

  /** Drops settled entries from the front (calls mostly settle in order: the queue stays short). */
  #drop(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head]!.done) queue[this.#head++] = undefined;
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #aim(entry: Deadline, delay: number): void {
    this.#target = entry;
    this.#armedWith = setTimeout;
    this.#clear = clearTimeout;
    this.#timer = setTimeout(this.#fire, delay) as Timer;
    if (this.#pending === 0) ref(this.#timer, false);
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const target = this.#target;
    this.#target = undefined;
    const now = performance.now();
    const queue = this.#queue;
    for (let i = this.#head; i < queue.length; i++) {
      const entry = queue[i]!;
      if (entry.done) continue;
      if (entry !== target && entry.at > now) break;
      entry.done = true;
      this.#pending--;
      entry.expire();
    }
    this.#drop();
    const next = this.#queue[this.#head];
    if (next !== undefined) this.#aim(next, Math.min(this.#ms, Math.max(1, Math.ceil(next.at - now))));
  };
}

/** Lets the timer hold the process open (a call is pending) or not; a no-op where timers are numbers. */
function ref(timer: Timer | undefined, on: boolean): void {
  if (typeof timer === 'object') {
    if (on) timer.ref?.();
    else timer.unref?.();
  }
}
