import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import type { AgentDefinition } from '../../src/agents/agent-definition.ts';
import type { AgentDriver } from '../../src/agents/driver.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import type { TaskStatus } from '../../src/core/task-status.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Supervisor } from '../../src/runtime/supervisor.ts';
import type { TaskRow } from '../../src/store/schema.ts';
import { getTask, listEvents } from '../../src/store/task-store.ts';
import { type Backend, freshDatabase, type TestDatabase } from './databases.ts';

/** Settings that keep tests quick: short retry delays and fast cancellation checks. */
const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  RETRY_BASE_DELAY_MS: '50',
  RETRY_MAX_DELAY_MS: '200',
  CANCEL_POLL_INTERVAL_MS: '100',
  SHUTDOWN_GRACE_SECONDS: '5',
  WORKER_CONCURRENCY: '2',
  AGENT_DRIVER: 'echo',
};

export interface TestSupervisor {
  supervisor: Supervisor;
  config: Config;
  testDb: TestDatabase;
  dataDir: string;
  /** The admin token created on first start (undefined when ADMIN_TOKEN was set or one existed). */
  adminToken: string | undefined;
  /** Base URL when started with `listen: true`. */
  url: string;
  waitForStatus(taskId: string, statuses: TaskStatus[], timeoutMs?: number): Promise<TaskRow>;
  /** Resolves once an event of `type` has been stored for the task. */
  waitForEvent(taskId: string, type: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A supervisor on a fresh database of `backend`, driven through `inject()` (no port). */
export async function startTestSupervisor(
  backend: Backend,
  options: {
    env?: Record<string, string>;
    driver?: AgentDriver;
    agents?: AgentDefinition[];
    worker?: boolean;
    listen?: boolean;
    now?: () => Date;
    /** Where log lines go (default: standard output, silent unless TEST_LOG_LEVEL is set). */
    logDestination?: DestinationStream;
    /** Notification tick interval (default 0: tests call `supervisor.notifier.tick` themselves). */
    notifyTickMs?: number;
  } = {},
): Promise<TestSupervisor> {
  const testDb = await freshDatabase(backend);
  const dataDir = mkdtempSync(join(tmpdir(), 'supervisor-data-'));
  const config = loadConfig({ env: { ...TEST_ENV, DATA_DIR: dataDir, PORT: '0', ...options.env } });
  let adminToken: string | undefined;
  const supervisor = await Supervisor.start({
    showAdminToken: (token) => {
      adminToken = token;
    },
    config,
    logger: createLogger(config, options.logDestination),
    listen: options.listen ?? false,
    ...(options.agents ? { agents: options.agents } : {}),
    database: testDb.database,
    ...(options.worker === undefined ? {} : { worker: options.worker }),
    ...(options.driver ? { driver: options.driver } : {}),
    ...(options.now ? { now: options.now } : {}),
    notifyTickMs: options.notifyTickMs ?? 0,
  });
  let stopped = false;
  const address = supervisor.app.server.address();
  return {
    supervisor,
    config,
    testDb,
    dataDir,
    adminToken,
    url: address && typeof address === 'object' ? `http://127.0.0.1:${address.port}` : '',
    waitForStatus: (taskId, statuses, timeoutMs = 20_000) =>
      waitForStatus(supervisor, taskId, statuses, timeoutMs),
    waitForEvent: (taskId, type, timeoutMs = 20_000) => waitForEvent(supervisor, taskId, type, timeoutMs),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await supervisor.stop();
      await testDb.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Resolves when the task reaches one of `statuses`. Woken by the task's status events, with the
 * database as the truth, so it never sleeps for a guessed duration.
 */
export async function waitForStatus(
  supervisor: Supervisor,
  taskId: string,
  statuses: TaskStatus[],
  timeoutMs: number,
): Promise<TaskRow> {
  let wake: () => void = () => {};
  const unsubscribe = supervisor.bus.subscribe(taskId, () => wake());
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const task = await getTask(supervisor.database.db, taskId);
      if (task && statuses.includes(task.status)) return task;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `task ${taskId} is ${task?.status ?? 'missing'}, expected ${statuses.join('|')} within ${timeoutMs} ms` +
            (task?.parkReason ? ` (parked: ${task.parkReason})` : ''),
        );
      }
      // Status events wake us at once; the short timer covers changes made by another process.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 250));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    unsubscribe();
  }
}

export async function waitForEvent(
  supervisor: Supervisor,
  taskId: string,
  type: string,
  timeoutMs: number,
): Promise<void> {
  let off: () => void = () => {};
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      off = supervisor.bus.subscribe(taskId, (message) => message.type === type && resolve());
      timer = setTimeout(
        () => reject(new Error(`no ${type} event for task ${taskId} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      // It may have been stored before we subscribed.
      listEvents(supervisor.database.db, taskId, { limit: 10_000 }).then(
        (events) => events.some((event) => event.type === type) && resolve(),
        reject,
      );
    });
  } finally {
    off();
    clearTimeout(timer);
  }
}

/** Settings for a supervisor whose one agent runs the real `claude` against a scripted model server. */
export function scriptedClaudeEnv(modelUrl: string, key: string): Record<string, string> {
  return {
    AGENT_DRIVER: 'claude-code',
    ANTHROPIC_BASE_URL: modelUrl,
    CLAUDE_API_KEYS: key,
    // The supervisor retries whole attempts itself; retries inside the CLI only slow tests down.
    CLAUDE_API_RETRIES: '0',
  };
}
