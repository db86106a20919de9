import type { Logger } from 'pino';
import type { HealthReporter } from '../api/routes/health.ts';
import { appendAudit } from '../audit/audit-log.ts';
import type { Db } from '../store/database.ts';

interface Transition {
  action: 'component.down' | 'component.recovered';
  at: Date;
  details: Record<string, unknown>;
}

/**
 * Watches this process's dependencies and records each change (down, recovered) in the audit
 * trail, where the notifier picks it up. A database outage cannot be written while it lasts, so
 * transitions wait in memory and are recorded, with their own times, once the database answers.
 */
export class HealthMonitor {
  readonly #deps: { reporter: HealthReporter; db: Db; logger: Logger; now: () => Date; process: string };
  readonly #down = new Map<string, Date>();
  readonly #unrecorded: Transition[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: { reporter: HealthReporter; db: Db; logger: Logger; now: () => Date; process: string }) {
    this.#deps = deps;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.check().catch((error: unknown) => this.#deps.logger.warn({ err: error }, 'health monitor failed'));
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async check(): Promise<void> {
    const now = this.#deps.now();
    const components = await this.#deps.reporter.check();
    for (const [component, health] of Object.entries(components)) {
      const since = this.#down.get(component);
      if (health.status === 'down' && !since) {
        this.#down.set(component, now);
        this.#unrecorded.push({
          action: 'component.down',
          at: now,
          details: { component, error: health.error ?? 'down', process: this.#deps.process },
        });
      } else if (health.status !== 'down' && since) {
        this.#down.delete(component);
        this.#unrecorded.push({
          action: 'component.recovered',
          at: now,
          details: {
            component,
            downSince: since.toISOString(),
            downForSeconds: Math.round((now.getTime() - since.getTime()) / 1000),
            process: this.#deps.process,
          },
        });
      }
    }
    if (this.#unrecorded.length === 0 || this.#down.has('database')) return;
    const pending = this.#unrecorded.splice(0);
    try {
      await this.#deps.db.transaction(async (tx) => {
        for (const transition of pending) {
          await appendAudit(tx, { ...transition, actor: 'supervisor' });
        }
      });
    } catch (error) {
      this.#unrecorded.unshift(...pending);
      throw error;
    }
  }
}
