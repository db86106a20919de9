import type { LiveUsage } from '../agents/driver.ts';

/**
 * Writes a running attempt's use to its row as it grows (AttemptLifecycle.recordUsage), so quota
 * is charged as requests happen: one write at a time, and the latest figures win over any that
 * were waiting. A failed write is reported and the next figures try again.
 */
export class UsageRecorder {
  readonly #write: (used: LiveUsage) => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #pending: LiveUsage | undefined;
  #writing: Promise<void> | undefined;

  constructor(write: (used: LiveUsage) => Promise<void>, onError: (error: unknown) => void) {
    this.#write = write;
    this.#onError = onError;
  }

  record(used: LiveUsage): void {
    this.#pending = used;
    this.#writing ??= this.#drain();
  }

  /** Resolves once nothing is being written. */
  async settled(): Promise<void> {
    await this.#writing;
  }

  async #drain(): Promise<void> {
    while (this.#pending) {
      const next = this.#pending;
      this.#pending = undefined;
      await this.#write(next).catch(this.#onError);
    }
    this.#writing = undefined;
  }
}
