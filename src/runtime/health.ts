import type { ComponentHealth, HealthReporter } from '../api/routes/health.ts';
import type { EventBus } from '../events/bus.ts';
import { agentStates } from '../pool/pool-store.ts';
import type { TaskQueue } from '../queue/task-queue.ts';
import type { Database } from '../store/database.ts';
import { countTasksBy } from '../store/task-store.ts';

/** A check that takes longer than this is reported as down: a probe must never hang. */
const CHECK_TIMEOUT_MS = 2000;

export interface HealthSources {
  database: Database;
  queue: Pick<TaskQueue, 'health' | 'monitorSeconds'>;
  /** Whether this process's worker is taking jobs (undefined when it runs no worker). */
  worker?: () => { running: number; concurrency: number; driver: string };
  eventBus: EventBus;
}

/** A queue whose monitor has not run for this many of its intervals is degraded. */
const MONITOR_LATE_INTERVALS = 10;

export function createHealthReporter(sources: HealthSources): HealthReporter {
  const checks: Record<string, () => Promise<Omit<ComponentHealth, 'latency_ms'>>> = {
    database: async () => {
      await sources.database.ping();
      return { status: 'ok', details: { kind: sources.database.kind } };
    },
    queue: async () => {
      const [byStatus, boss] = await Promise.all([
        countTasksBy(sources.database.db, 'status'),
        sources.queue.health(),
      ]);
      const details = {
        tasks_by_status: byStatus,
        jobs: { queued: boss.queued, active: boss.active },
        monitored_seconds_ago: boss.monitoredSecondsAgo,
      };
      const lateAfter = sources.queue.monitorSeconds * MONITOR_LATE_INTERVALS;
      if (boss.monitoredSecondsAgo !== null && boss.monitoredSecondsAgo > lateAfter) {
        return {
          status: 'degraded',
          details,
          error: `pg-boss's monitor last ran ${boss.monitoredSecondsAgo} s ago (every ${sources.queue.monitorSeconds} s expected): jobs of workers that died are not handed out again until it does`,
        };
      }
      return { status: 'ok', details };
    },
    agents: async () => {
      const agents = await agentStates(sources.database.db);
      const named = (state: string) =>
        agents.filter((agent) => agent.state === state).map((agent) => agent.id);
      const details = {
        enabled: named('active'),
        paused: named('paused'),
        disabled: named('disabled'),
        ...(sources.worker ? { worker: sources.worker() } : {}),
      };
      if (details.enabled.length > 0) return { status: 'ok', details };
      return {
        status: 'down',
        details,
        error:
          agents.length === 0
            ? 'no agents are configured: set CLAUDE_API_KEYS or AGENTS_FILE; tasks park until then'
            : 'no enabled agent: tasks park until one is resumed (supervisor agents resume <id>) or its credential fixed',
      };
    },
    event_bus: async () => {
      await sources.eventBus.ping();
      return { status: 'ok', details: { kind: sources.eventBus.kind } };
    },
  };
  return {
    async ready() {
      // Readiness is about the dependencies every request needs: the database and the bus. The
      // agents only say who can take work: without one, tasks are still accepted (and park).
      const [database, bus, agents] = await Promise.all([
        timed(checks.database!),
        timed(checks.event_bus!),
        timed(checks.agents!),
      ]);
      return {
        problems: [
          ...(database.status === 'down' ? [`database: ${database.error}`] : []),
          ...(bus.status === 'down' ? [`event bus: ${bus.error}`] : []),
        ],
        agentsEnabled: (agents.details?.enabled as string[] | undefined) ?? [],
      };
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
