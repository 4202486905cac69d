/**
 * The server's bounded pool of database connections, each one lent out whole as a {@link Lease}.
 *
 * Why not postgres.js's own pool and `reserve()`: a reserved connection whose backend died was
 * not noticed by the driver (3.4.7 and 3.4.9): the next statement was written to a null socket
 * from a timer (an uncaught TypeError that ended the process), a reservation waiting while a
 * connection closed was lost, and a waiting reservation could not be taken back. Here every slot
 * is a postgres.js instance holding at most ONE connection, so that:
 * - a connection is known dead from its close event (postgres.js's `onclose`), not from an
 *   error code: the lease holding it is marked lost at once, before any code waiting on its
 *   statements runs again, and every later statement on it is refused without being sent;
 * - a lost or expired connection is destroyed (never reused, never released into the pool), and
 *   its slot opens a fresh instance on next use, so nothing can run on a reconnected session
 *   that silently replaced the one holding a transaction's locks;
 * - waits are ours: a waiter leaves the queue at its deadline, and a lease expires at its own
 *   deadline (a silent network, a backend that never answers), which destroys the connection;
 * - no statement waits in the driver's queue for a connection being opened (from where the driver
 *   would send it on whatever connection it opens next): a new connection answers once first.
 *
 * For every statement the lease answers one question, whatever the driver does: is the session
 * that ran the earlier statements still the one that will run this one? If not, nothing is sent.
 */
import type postgres from "postgres";
import type { SessionProbe } from "./session_probe.ts";

export type Sql = postgres.Sql;

/** The connection under a lease closed (backend terminated, network reset, server stopped). */
export class ConnectionLostError extends Error {
  override name = "ConnectionLostError";
  /** Classified as unavailable by errors.ts. */
  readonly code = "CONNECTION_LOST";
}

/** A lease outlived its deadline (a silent database or network): its connection was destroyed. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
  /** Classified as unavailable by errors.ts. */
  readonly code = "DEADLINE_EXCEEDED";
}

/**
 * A lease's answer was lost on the way (the probe saw its session waiting for us): the network
 * between here and the database went silent. A kind of {@link DeadlineError}, classified the
 * same; it also makes the pool distrust its other connections not heard from since (see
 * `ConnectionPool#distrustSilentPeers`).
 */
export class SilenceError extends DeadlineError {
  override name = "SilenceError";
  /**
   * When the network was silent at the latest (a `performance.now()` time): when the lost answer
   * was sent, or the lost statement. Connections last heard from before then may be silent too.
   */
  readonly since: number;

  constructor(message: string, since: number) {
    super(message);
    this.since = since;
  }
}

/** No pool connection became free before the waiter's deadline. */
export class AcquireTimeoutError extends Error {
  override name = "AcquireTimeoutError";
  /** Classified as unavailable by errors.ts, like the driver's own connection codes. */
  readonly code = "ACQUIRE_TIMEOUT";
}

export interface ConnectionPoolOptions {
  /** Connections at most (slots). */
  size: number;
  /**
   * Opens a postgres.js instance with `max: 1` whose `onclose` option calls `onClose` (the one
   * place the pool learns that a connection has gone) and whose session carries
   * `applicationName`, unique to this connection (how the probe finds it).
   */
  open(onClose: () => void, applicationName: string): Sql;
  /** The pool's name; each connection is named `<name>/<slot>.<generation>`. */
  name: string;
  /** Looks at a session whose answer is late; without it only deadlines end silent waits. */
  probe?: SessionProbe;
}

/**
 * A lease's statement unanswered this long has its session looked at. Our statements take
 * milliseconds unless they wait for a lock (the session is then `active`), so a second of
 * silence is already rare.
 */
export const STALL_CHECK_MS = 1_000;
/**
 * A session that has been waiting for its client this long (by the database's clock) while we
 * still wait for its answer lost that answer on the way (or never got our statement): the
 * connection is destroyed at once instead of at the deadline. An answer on a working network
 * arrives in well under a millisecond here; half a second leaves room for a busy event loop.
 * One look decides: the session's own `state_change` says how long it has waited, so no second
 * look a whole interval later is needed (two looks a second apart put 2 s under every recovery
 * from a silent network in the fault suite).
 */
export const ANSWER_LOST_MS = 500;
/**
 * The first look at a suspect lease's statement (see {@link Lease.suspect}): soon, because the
 * second rule of {@link answerLost} needs no waiting of ours, only the session's.
 */
export const SUSPECT_LOOK_MS = 50;

/**
 * Whether a statement we have waited `waitedMs` for lost its way, given that its session has been
 * waiting for us for `idleMs` (durations, each by its own clock; no clocks are compared). Either
 * the session answered and has waited {@link ANSWER_LOST_MS} since, while we have waited as long
 * (the answer was lost), or it has waited for us since {@link ANSWER_LOST_MS} before the statement
 * was sent (the statement never arrived: a working network delivers it in well under a
 * millisecond, and a backend reads it at once, a busy machine's scheduling included).
 */
export function answerLost(waitedMs: number, idleMs: number): boolean {
  return (waitedMs >= ANSWER_LOST_MS && idleMs >= ANSWER_LOST_MS) ||
    idleMs >= waitedMs + ANSWER_LOST_MS;
}
/** Attempts to end a destroyed connection's session while its network may still be silent. */
const TERMINATE_ATTEMPTS_MAX = 10;

/**
 * Counts of every pool of the process, for metrics (read at scrape time) and tests: connections
 * destroyed because they closed under a lease, because a lease's answer was lost on a silent
 * network, because a lease outlived its deadline, and idle ones dropped after such a silence.
 */
export const poolStats = { closedUnderLease: 0, silent: 0, expired: 0, droppedIdle: 0 };

interface Slot {
  readonly index: number;
  /** Instances this slot has opened; part of each one's session name. */
  generation: number;
  /** The slot's driver instance; undefined until first use and after it was destroyed. */
  instance: Sql | undefined;
  /** The session name of `instance`. */
  name: string;
  lease: Lease | undefined;
  /** When `instance` last answered a statement (0: never); reset with the instance. */
  heardAt: number;
}

interface Waiter {
  /** When the lease it is given expires. */
  readonly deadline: number;
  readonly resolve: (lease: Lease) => void;
  readonly reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A bounded pool of single-connection driver instances; see the file comment. */
export class ConnectionPool {
  readonly #options: ConnectionPoolOptions;
  readonly #idle: Slot[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #slots: Slot[] = [];
  #ended = false;

  constructor(options: ConnectionPoolOptions) {
    if (!(options.size >= 1)) {
      throw new RangeError(`Cannot make a pool of ${options.size} connections`);
    }
    this.#options = options;
    for (let i = 0; i < options.size; i++) {
      const slot: Slot = {
        index: i,
        generation: 0,
        instance: undefined,
        name: "",
        lease: undefined,
        heardAt: 0,
      };
      this.#slots.push(slot);
      this.#idle.push(slot);
    }
  }

  /** Connections lent out now. */
  inUse(): number {
    return this.#options.size - this.#idle.length;
  }

  /** Callers waiting for a connection. */
  waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Lends a connection until `release()`, waiting at most until `waitDeadline` (a
   * `performance.now()` time) for one to become free; the lease expires at `leaseDeadline`.
   * A connection the slot has just opened has answered once before the lease is given out.
   */
  async acquire(waitDeadline: number, leaseDeadline = waitDeadline): Promise<Lease> {
    const lease = await this.#take(waitDeadline, leaseDeadline);
    if (lease.fresh) {
      await this.#opened(lease);
    }
    return lease;
  }

  #take(waitDeadline: number, leaseDeadline: number): Promise<Lease> {
    if (this.#ended) {
      return Promise.reject(new ConnectionLostError("The database pool is closed"));
    }
    const slot = this.#idle.pop();
    if (slot !== undefined) {
      return Promise.resolve(this.#lend(slot, leaseDeadline));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { deadline: leaseDeadline, resolve, reject, timer: undefined };
      const waitMs = Math.max(0, waitDeadline - performance.now());
      waiter.timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) {
          this.#waiters.splice(index, 1);
        }
        reject(
          new AcquireTimeoutError(
            `No database connection became free within ${Math.round(waitMs)} ms`,
          ),
        );
      }, waitMs);
      this.#waiters.push(waiter);
    });
  }

  /**
   * Waits for a new connection's first answer before the lease's own statements are sent.
   * Statements made while the driver is still connecting wait in its queue, and when a connect
   * fails it reconnects with whatever is left there: a transaction's INSERT, queued behind a
   * BEGIN that failed, then ran on its own once PostgreSQL was back (the outage test saw an
   * account answered `Service unavailable` that existed afterwards). A connection that cannot be
   * opened is destroyed with only this probe in its queue.
   */
  async #opened(lease: Lease): Promise<void> {
    try {
      await lease.race(lease.sql`SELECT 1`.execute());
    } catch (error) {
      lease.destroy(
        new ConnectionLostError(
          `The database connection could not be opened: ${(error as Error)?.message ?? error}`,
        ),
      );
      throw error;
    }
  }

  /** Closes every connection politely (waiting up to `timeoutSeconds` for running statements). */
  async end(timeoutSeconds: number): Promise<void> {
    this.#ended = true;
    this.#rejectWaiters();
    await Promise.all(
      this.#slots.map((slot) => slot.instance?.end({ timeout: timeoutSeconds }).catch(() => {})),
    );
  }

  /** Destroys every connection now: PostgreSQL rolls back what ran on them. */
  async abandon(): Promise<void> {
    this.#ended = true;
    this.#rejectWaiters();
    const ending: Promise<void>[] = [];
    for (const slot of this.#slots) {
      slot.lease?.markLost(new ConnectionLostError("The database pool was abandoned"));
      const instance = slot.instance;
      slot.instance = undefined;
      if (instance !== undefined) {
        ending.push(instance.end({ timeout: 0 }).catch(() => {}));
      }
    }
    await Promise.all(ending);
  }

  #rejectWaiters(): void {
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new ConnectionLostError("The database pool is closed"));
    }
  }

  #lend(slot: Slot, deadline: number): Lease {
    const fresh = slot.instance === undefined;
    if (slot.instance === undefined) {
      slot.generation++;
      slot.name = `${this.#options.name}/${slot.index}.${slot.generation}`;
      const instance: Sql = this.#options.open(() => this.#closed(slot, instance), slot.name);
      slot.instance = instance;
    }
    const lease = new Lease(slot.instance, deadline, {
      release: () => this.#release(slot, lease),
      destroy: (error) => this.#destroy(slot, lease, error),
      heard: () => {
        slot.heardAt = performance.now();
      },
    }, { name: slot.name, probe: this.#options.probe, fresh });
    slot.lease = lease;
    return lease;
  }

  /** The close event of `instance`'s connection. */
  #closed(slot: Slot, instance: Sql): void {
    if (slot.instance !== instance) {
      return; // An instance this pool destroyed already.
    }
    if (slot.lease !== undefined) {
      slot.lease.destroy(new ConnectionLostError("The database connection closed"));
      return;
    }
    // Idle: drop it, so that the next lease starts on a fresh instance rather than on whatever
    // the driver would reconnect to.
    slot.instance = undefined;
    instance.end({ timeout: 0 }).catch(() => {});
  }

  #release(slot: Slot, lease: Lease): void {
    if (slot.lease !== lease) {
      return;
    }
    slot.lease = undefined;
    if (this.#ended) {
      slot.instance?.end({ timeout: 0 }).catch(() => {});
      slot.instance = undefined;
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      waiter.resolve(this.#lend(slot, waiter.deadline));
      return;
    }
    this.#idle.push(slot);
  }

  #destroy(slot: Slot, lease: Lease, error: Error): void {
    if (slot.lease !== lease) {
      return;
    }
    if (error instanceof SilenceError) {
      poolStats.silent++;
    } else if (error instanceof DeadlineError) {
      poolStats.expired++;
    } else if (error instanceof ConnectionLostError) {
      poolStats.closedUnderLease++;
    }
    this.#drop(slot, !(error instanceof ConnectionLostError));
    const since = error instanceof SilenceError ? error.since : lease.waitingSince();
    if (error instanceof DeadlineError && since !== undefined) {
      this.#distrustSilentPeers(slot, since);
    }
    this.#release(slot, lease);
  }

  /**
   * A connection that went silent says the network did: the other connections not heard from
   * since `since` (when the network was silent at the latest: the silent one's lost answer or
   * statement, or its unanswered statement at a deadline) share its path. Idle ones are
   * dropped: a black-holed idle connection would otherwise be lent to the next batch and cost
   * it a stall check (measured in the fault suite: first order served 2 to 5 s after a
   * black hole healed, as batch after batch drew one). Lent ones are looked at sooner
   * ({@link Lease.suspect}): they may have been drawn from the idle ones just before this was
   * seen. Connections that answered since are kept: they were opened, or used, after the silence.
   */
  #distrustSilentPeers(silent: Slot, since: number): void {
    for (const other of this.#slots) {
      if (other === silent || other.instance === undefined || other.heardAt >= since) {
        continue;
      }
      if (other.lease === undefined) {
        poolStats.droppedIdle++;
        this.#drop(other, true);
      } else {
        other.lease.suspect();
      }
    }
  }

  /**
   * Ends a slot's instance: every query still queued or in flight on it rejects (none hangs),
   * and the driver cannot reconnect it. `endSession`: the session may live on behind a silent
   * network, idle (in its transaction, holding its locks if it had one): end it from the side
   * as soon as the database can be reached.
   */
  #drop(slot: Slot, endSessionToo: boolean): void {
    const instance = slot.instance;
    slot.instance = undefined;
    slot.heardAt = 0;
    instance?.end({ timeout: 0 }).catch(() => {});
    if (instance !== undefined && endSessionToo && this.#options.probe !== undefined) {
      endSession(this.#options.probe, slot.name).catch(() => {});
    }
  }
}

/** What a lease tells its pool. */
interface PoolHooks {
  release(): void;
  destroy(error: Error): void;
  /** A statement on the connection was answered (see `Slot.heardAt`). */
  heard?(): void;
}

/**
 * One connection lent by the pool: statements through {@link Lease.sql} run on it until it is
 * lost (closed, destroyed, expired), after which none is sent.
 */
export class Lease {
  readonly #instance: Sql;
  readonly #pool: PoolHooks;
  #lostError: Error | undefined;
  #rejectLost!: (error: Error) => void;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #done = false;
  readonly #name: string;
  readonly #probe: SessionProbe | undefined;
  /** Start times of the statements being waited for. */
  readonly #pending = new Set<number>();
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** See {@link Lease.suspect}. */
  #suspect = false;
  /** Rejects with the reason once the connection is lost; never resolves. */
  readonly lost: Promise<never>;
  /** When the lease expires (a `performance.now()` time). */
  readonly deadline: number;
  /** The lease's statements: the driver's tagged template and `unsafe`, refused once lost. */
  readonly sql: Sql;
  /** True if its connection was opened for it (the pool waits for its first answer). */
  readonly fresh: boolean;

  constructor(
    instance: Sql,
    deadline: number,
    pool: PoolHooks,
    session: { name: string; probe: SessionProbe | undefined; fresh: boolean } = {
      name: "",
      probe: undefined,
      fresh: false,
    },
  ) {
    this.#instance = instance;
    this.#pool = pool;
    this.#name = session.name;
    this.#probe = session.probe;
    this.fresh = session.fresh;
    this.deadline = deadline;
    this.lost = new Promise<never>((_, reject) => {
      this.#rejectLost = reject;
    });
    // Observed here so that a lease lost while nobody races it never counts as unhandled.
    this.lost.catch(() => {});
    this.sql = guarded(instance, () => this.#usable(), () => pool.heard?.());
    const remaining = deadline - performance.now();
    if (Number.isFinite(remaining)) {
      this.#deadlineTimer = setTimeout(
        () => this.destroy(new DeadlineError("The database did not answer in time")),
        Math.max(0, remaining),
      );
    }
  }

  /** True once the connection closed or was destroyed: nothing more is sent on it. */
  isLost(): boolean {
    return this.#lostError !== undefined;
  }

  /** Why it was lost, if it was. */
  lostReason(): Error | undefined {
    return this.#lostError;
  }

  /**
   * `promise`, unless the connection is lost first: then the loss. A statement whose answer
   * can no longer arrive does not keep its caller waiting.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => {}); // Its failure after a loss is expected and already reported.
    const since = performance.now();
    this.#pending.add(since);
    this.#armStallCheck();
    const settled = () => {
      this.#pending.delete(since);
    };
    promise.then(settled, settled);
    return Promise.race([promise, this.lost]);
  }

  /**
   * Another connection of the pool went silent, and this one was not heard from since: it may
   * share that network. Its waiting statement is looked at {@link SUSPECT_LOOK_MS} after it was
   * sent, and then every {@link ANSWER_LOST_MS}, instead of after a whole {@link STALL_CHECK_MS}
   * (after a black hole healed, a batch that drew a black-holed idle connection just before the
   * first one was found silent held the first served order back by a second, then by half a
   * second, against issue 18's one-second goal).
   */
  suspect(): void {
    if (this.#suspect || this.#done || this.isLost()) {
      return;
    }
    this.#suspect = true;
    if (this.#pending.size > 0) {
      clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
      const oldest = Math.min(...this.#pending);
      this.#armStallCheck(Math.max(0, oldest + SUSPECT_LOOK_MS - performance.now()));
    }
  }

  /** When the oldest statement still waiting for its answer was sent, if any is. */
  waitingSince(): number | undefined {
    return this.#pending.size === 0 ? undefined : Math.min(...this.#pending);
  }

  /** How long a statement waits before its session is first looked at. */
  #lookAfterMs(): number {
    return this.#suspect ? SUSPECT_LOOK_MS : STALL_CHECK_MS;
  }

  /** How long between two looks at one session. */
  #lookIntervalMs(): number {
    return this.#suspect ? ANSWER_LOST_MS : STALL_CHECK_MS;
  }

  /** Looks at the session once a statement has waited long enough (see #lookAfterMs). */
  #armStallCheck(delayMs = this.#lookAfterMs()): void {
    if (this.#probe === undefined || this.#stallTimer !== undefined || this.#done) {
      return;
    }
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      this.#checkStall().catch(() => {});
    }, delayMs);
  }

  async #checkStall(): Promise<void> {
    const oldest = Math.min(...this.#pending);
    if (this.#done || this.isLost() || this.#pending.size === 0) {
      return;
    }
    const waitedMs = performance.now() - oldest;
    if (waitedMs < this.#lookAfterMs()) {
      this.#armStallCheck(this.#lookAfterMs() - waitedMs);
      return;
    }
    const asked = performance.now();
    const state = await this.#probe!.state(this.#name);
    // The next look comes an interval after this one began: a probe that took that long (its
    // own connection silent, then new ones) looks again at once, so a network that heals
    // meanwhile is seen within a probe's round trip, not a whole interval later.
    const nextLookMs = Math.max(0, this.#lookIntervalMs() - (performance.now() - asked));
    const lost = state.kind === "gone" ||
      (state.kind === "waiting_for_client" && answerLost(asked - oldest, state.idleMs));
    if (lost) {
      // The probe's answer came on another socket: let an answer already read on this one be
      // handled first (one turn of the event loop), so that only a missing answer counts.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (this.#done || this.isLost() || !this.#pending.has(oldest)) {
      if (this.#pending.size > 0) {
        this.#armStallCheck(nextLookMs);
      }
      return;
    }
    if (state.kind === "gone") {
      this.destroy(new ConnectionLostError("The database session is gone"));
      return;
    }
    if (lost) {
      // It answered (or never heard us), and waits for our next statement; we still wait.
      // Silent since the session answered (its answer lost), or since our statement (lost).
      const idleMs = state.kind === "waiting_for_client" ? state.idleMs : 0;
      const since = Math.max(oldest, asked - idleMs);
      this.destroy(new SilenceError("The database's answer was lost on the way", since));
      return;
    }
    this.#armStallCheck(nextLookMs);
  }

  /** Marks the lease lost (idempotent); the pool then destroys the connection. */
  markLost(error: Error): void {
    if (this.#lostError !== undefined) {
      return;
    }
    this.#lostError = error;
    clearTimeout(this.#deadlineTimer);
    clearTimeout(this.#stallTimer);
    this.#rejectLost(error);
  }

  /** Gives the connection back: to the pool if healthy, else to be destroyed. */
  release(): void {
    if (this.#done) {
      return;
    }
    this.#done = true;
    clearTimeout(this.#deadlineTimer);
    clearTimeout(this.#stallTimer);
    if (this.#lostError !== undefined) {
      this.#pool.destroy(this.#lostError);
    } else {
      this.#pool.release();
    }
  }

  /** Destroys the connection now (its session rolls back whatever it had open). */
  destroy(error: Error): void {
    this.markLost(error);
    if (!this.#done) {
      this.#done = true;
      this.#pool.destroy(error);
    }
  }

  #usable(): void {
    if (this.#lostError !== undefined) {
      throw this.#lostError;
    }
    if (this.#done) {
      throw new ConnectionLostError("A statement was sent on a released connection");
    }
  }
}

async function endSession(probe: SessionProbe, name: string): Promise<void> {
  for (let attempt = 0; attempt < TERMINATE_ATTEMPTS_MAX; attempt++) {
    if (await probe.terminate(name)) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, STALL_CHECK_MS));
  }
}

/**
 * The driver's tagged template and `unsafe`, each checking `usable` before a statement is made.
 *
 * Each statement is also observed the moment it is made (a no-op `catch`, which postgres.js
 * treats like `execute()`: the project never builds a statement to send later, nor nests one in
 * another). When a connection fails while it is being opened, the driver rejects statements
 * that were queued behind the failed one in ways its callers never see (the fault suite found
 * dozens a run under PostgreSQL restarts, each one an unhandled rejection); the callers that
 * wait for a statement still get its failure, through their own handlers.
 */
function guarded(instance: Sql, usable: () => void, heard: () => void): Sql {
  const observed = <T>(query: T): T => {
    (query as unknown as Promise<unknown>).then(heard, () => {});
    return query;
  };
  const template = (strings: TemplateStringsArray, ...args: unknown[]) => {
    usable();
    return observed(
      (instance as unknown as (s: TemplateStringsArray, ...a: unknown[]) => unknown)(
        strings,
        ...args,
      ),
    );
  };
  const unsafe = (...args: Parameters<Sql["unsafe"]>) => {
    usable();
    return observed(instance.unsafe(...args));
  };
  return Object.assign(template, { unsafe }) as unknown as Sql;
}
