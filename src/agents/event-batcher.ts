import type { AgentEvent } from './driver.ts';

/**
 * Collects agent events and hands them on in batches: every `intervalMs`, or at once when
 * `maxBatch` are waiting. A streaming run prints dozens of lines a second; one insert per batch
 * keeps the database work per line small. Batches are written one after another, in order.
 */
export class EventBatcher {
  readonly #write: (events: AgentEvent[]) => Promise<void>;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  #pending: AgentEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #failure: unknown;

  constructor(
    write: (events: AgentEvent[]) => Promise<void>,
    options: { intervalMs?: number; maxBatch?: number } = {},
  ) {
    this.#write = write;
    this.#intervalMs = options.intervalMs ?? 200;
    this.#maxBatch = options.maxBatch ?? 200;
  }

  add(event: AgentEvent): void {
    this.#pending.push(event);
    if (this.#pending.length >= this.#maxBatch) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.#intervalMs);
  }

  /** Writes whatever is waiting and resolves once everything added so far is stored. */
  async close(): Promise<void> {
    this.#flush();
    await this.#chain;
    if (this.#failure) throw this.#failure;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#chain = this.#chain.then(() =>
      this.#write(batch).catch((error: unknown) => {
        this.#failure ??= error;
      }),
    );
  }
}
