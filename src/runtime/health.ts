import type { ComponentHealth, HealthReporter } from '../api/routes/health.ts';
import type { EventBus } from '../events/bus.ts';
import type { Database } from '../store/database.ts';
import { countTasksBy } from '../store/task-store.ts';

/** A check that takes longer than this is reported as down: a probe must never hang. */
const CHECK_TIMEOUT_MS = 2000;

export interface HealthSources {
  database: Database;
  /** Whether this process's worker is taking jobs (undefined when it runs no worker). */
  worker?: () => { running: number; concurrency: number; driver: string };
  eventBus: EventBus;
}

export function createHealthReporter(sources: HealthSources): HealthReporter {
  const checks: Record<string, () => Promise<Omit<ComponentHealth, 'latency_ms'>>> = {
    database: async () => {
      await sources.database.ping();
      return { status: 'ok', details: { kind: sources.database.kind } };
    },
    queue: async () => {
      const byStatus = await countTasksBy(sources.database.db, 'status');
      return { status: 'ok', details: { tasks_by_status: byStatus } };
    },
    event_bus: async () => {
      await sources.eventBus.ping();
      return { status: 'ok', details: { kind: sources.eventBus.kind } };
    },
    ...(sources.worker
      ? {
          agents: async () => {
            const worker = sources.worker!();
            return { status: 'ok' as const, details: { ...worker } };
          },
        }
      : {}),
  };
  return {
    async ready() {
      // Readiness is about the dependencies every request needs: the database and the bus.
      const [database, bus] = await Promise.all([timed(checks.database!), timed(checks.event_bus!)]);
      return [
        ...(database.status === 'down' ? [`database: ${database.error}`] : []),
        ...(bus.status === 'down' ? [`event bus: ${bus.error}`] : []),
      ];
    },
    async check() {
      const entries = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => [name, await timed(check)] as const),
      );
      return Object.fromEntries(entries);
    },
  };
}

async function timed(check: () => Promise<Omit<ComponentHealth, 'latency_ms'>>): Promise<ComponentHealth> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    const result = await Promise.race([check(), timeout]);
    return { ...result, latency_ms: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      status: 'down',
      latency_ms: Math.round(performance.now() - started),
      error: error instanceof Error ? error.message.split('\n')[0] : 'check failed',
    };
  } finally {
    clearTimeout(timer);
  }
}
