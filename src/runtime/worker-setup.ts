import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { type AgentUser, fenceDataDir, resolveAgentUser } from '../agents/agent-user.ts';
import { ClaudeCodeDriver } from '../agents/claude-code/driver.ts';
import { CliDrivers } from '../agents/cli-drivers.ts';
import { CodexDriver } from '../agents/codex/driver.ts';
import type { AgentDriver } from '../agents/driver.ts';
import { EchoDriver } from '../agents/echo-driver.ts';
import { GeminiDriver } from '../agents/gemini/driver.ts';
import { ModelApiTap } from '../agents/model-api-tap.ts';
import type { TaskTokens } from '../auth/task-token.ts';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { type ApprovalPolicy, parseApprovalPolicy } from '../core/approval-policy.ts';
import { machineShortfall } from '../core/machine-room.ts';
import type { EventBus } from '../events/bus.ts';
import { RunMemory } from '../memory/run-memory.ts';
import type { AgentPool } from '../pool/agent-pool.ts';
import type { TaskQueue } from '../queue/task-queue.ts';
import { AttemptLifecycle } from '../runner/attempt-lifecycle.ts';
import { AttemptRunner } from '../runner/attempt-runner.ts';
import { Worker } from '../runner/worker.ts';
import type { Database } from '../store/database.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { RepositoryPolicy } from '../workspace/repository-policy.ts';
import { sweepPolicy } from '../workspace/sweep-policy.ts';
import { type GitCredentials, type SweepPolicy, WorkspaceManager } from '../workspace/workspace-manager.ts';
import { readMachineFacts } from './machine.ts';

/** The CLI's entry point, run by the pinned Node: agents start `supervisor mcp` with it. */
const SUPERVISOR_ENTRY = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

export interface WorkerSetupOptions {
  config: Config;
  database: Database;
  queue: TaskQueue;
  bus: EventBus;
  logger: Logger;
  now: () => Date;
  random: () => number;
  /** Overrides the driver AGENT_DRIVER names (tests use fixture drivers). */
  driver?: AgentDriver;
  pool: AgentPool;
  tasks: TaskService;
  /** Checked again before a checkout: the setting may have tightened since the task was queued. */
  repositoryPolicy: RepositoryPolicy;
  /**
   * GitHub, when configured: `owner/repo` is fetched from its git origin unless REPOS_ROOT or
   * GIT_BASE_URL says otherwise, with the credentials its App installation gives.
   */
  github?: { gitOrigin: string; credentials: GitCredentials };
  /** Signs the tokens agents' memory tools use. */
  taskTokens: TaskTokens;
  /** Where agents reach the API (undefined: no memory tools). */
  apiUrl: () => string | undefined;
  /** Which tool calls wait for a person (loadApprovalPolicy). */
  approvalPolicy: ApprovalPolicy;
}

/** How often finished tasks' workspaces and agent state are looked at for removal. */
const SWEEP_INTERVAL_MS = 10 * 60_000;

/** Builds the worker with everything it runs attempts with, and a sweeper for old workspaces. */
export function setUpWorker(options: WorkerSetupOptions): {
  worker: Worker;
  lifecycle: AttemptLifecycle;
  workspaces: WorkspaceManager;
  driverName: string;
  stop(): Promise<void>;
} {
  const { config, database, logger } = options;
  const dataDir = resolve(config.DATA_DIR);
  // Listens (on loopback) only once a run uses it.
  const tap = new ModelApiTap();
  const driver = options.driver ?? createDriver(config, tap);
  const workspacesDir = config.WORKSPACES_DIR ? resolve(config.WORKSPACES_DIR) : join(dataDir, 'workspaces');
  const mirrorsDir = join(dataDir, 'mirrors');
  const workspaces = new WorkspaceManager({
    workspacesDir,
    mirrorsDir,
    refreshMs: config.MIRROR_REFRESH_SECONDS * 1000,
    ...(config.REPOS_ROOT ? { reposRoot: resolve(config.REPOS_ROOT) } : {}),
    ...((config.GIT_BASE_URL ?? options.github?.gitOrigin)
      ? { gitBaseUrl: config.GIT_BASE_URL ?? options.github?.gitOrigin }
      : {}),
    ...(options.github ? { gitCredentials: options.github.credentials } : {}),
    repositoryPolicy: options.repositoryPolicy,
    logger,
  });
  const sessionsDir = join(dataDir, 'agent-sessions');
  if (config.AGENT_USER) {
    mkdirSync(sessionsDir, { recursive: true });
    fenceDataDir({
      traversable: [dataDir, workspacesDir, mirrorsDir, sessionsDir],
      private: [join(dataDir, 'pglite')],
    });
  }
  const lifecycle = new AttemptLifecycle({
    db: database.db,
    queue: options.queue,
    bus: options.bus,
    retry: { baseDelayMs: config.RETRY_BASE_DELAY_MS, maxDelayMs: config.RETRY_MAX_DELAY_MS },
    workerId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    host: hostname(),
    driverFor: (agent) => driver.nameFor?.(agent) ?? driver.name,
    pool: options.pool,
    ...(config.WORKER_AGENTS.length ? { onlyAgents: new Set(config.WORKER_AGENTS) } : {}),
    parkRecheckMs: config.PARK_RECHECK_SECONDS * 1000,
    ...(config.AGENT_MIN_FREE_MEMORY_MB || config.AGENT_MIN_FREE_DISK_MB
      ? {
          machineShortfall: () => {
            const minimums = {
              memoryMb: config.AGENT_MIN_FREE_MEMORY_MB,
              diskMb: config.AGENT_MIN_FREE_DISK_MB,
            };
            try {
              return machineShortfall(readMachineFacts(workspacesDir), minimums);
            } catch (error) {
              // Not knowing is no reason to stop all work: the run starts, and the log says why unchecked.
              logger.warn({ err: error }, 'could not read free memory or disk; starting the run unchecked');
              return undefined;
            }
          },
        }
      : {}),
    leaseMs: config.WORKER_HEARTBEAT_SECONDS * 1000,
    logger,
    batchSize: config.BATCH_SIZE,
    batchSharedSubmitters: config.BATCH_SHARED_SUBMITTERS,
    now: options.now,
    random: options.random,
  });
  const runner = new AttemptRunner({
    driver,
    workspaces,
    sessionsDir,
    limits: {
      wallClockMs: config.TASK_TIMEOUT_SECONDS * 1000,
      idleMs: config.AGENT_IDLE_TIMEOUT_SECONDS * 1000,
      toolIdleMs: config.AGENT_TOOL_TIMEOUT_SECONDS * 1000,
      budgetUsd: config.TASK_MAX_COST_USD,
      maxTurns: config.CLAUDE_MAX_TURNS,
    },
    memory: new RunMemory({
      db: database.db,
      tokens: options.taskTokens,
      promptTokens: config.MEMORY_PROMPT_TOKENS,
      apiUrl: options.apiUrl,
      tools: config.MEMORY_TOOLS === 'stdio' ? 'stdio' : 'http',
      mcpServer: {
        command: process.execPath,
        args: [SUPERVISOR_ENTRY, 'mcp'],
        // Every agent run starts the server: Node's compile cache halves its start (~0.3 s → ~0.17 s).
        env: { NODE_COMPILE_CACHE: join(dataDir, 'cache', 'node-compile') },
      },
      logger,
      now: options.now,
    }),
    logger,
  });
  const worker = new Worker({
    db: database.db,
    queue: options.queue,
    bus: options.bus,
    lifecycle,
    runner,
    wakeParked: (limit, reasons) => options.tasks.wakeParked(limit, reasons),
    concurrency: config.WORKER_CONCURRENCY,
    approvals: {
      policy: options.approvalPolicy,
      defaultTimeoutMs: config.APPROVAL_TIMEOUT_SECONDS * 1000,
    },
    cancelPollIntervalMs: config.CANCEL_POLL_INTERVAL_MS,
    // A lease is renewed a few times within its length, so one slow renewal does not lose it.
    leaseRenewMs: Math.floor((config.WORKER_HEARTBEAT_SECONDS * 1000) / 4),
    logger,
    now: options.now,
  });

  const retentionMs = config.WORKSPACE_RETENTION_HOURS * 3600_000;
  const policy = sweepPolicy(database.db, options.now, retentionMs);
  const sessionPolicy = sweepPolicy(database.db, options.now, retentionMs, { everyType: true });
  const sweep = () =>
    Promise.all([workspaces.sweep(policy), sweepSessions(sessionsDir, sessionPolicy)])
      .then(([removed, sessions]) => {
        if (removed || sessions)
          logger.info({ removed, sessions }, 'removed workspaces and agent state no longer needed');
      })
      // A database that cannot answer keeps everything until the next sweep.
      .catch((error: unknown) => logger.warn({ err: error }, 'workspace sweep failed'));
  void sweep();
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  const stop = async () => {
    clearInterval(timer);
    await tap.close();
  };
  return { worker, lifecycle, workspaces, driverName: driver.name, stop };
}

/** Removes the agent state (CLI config, transcripts) of tasks that no longer need it. */
async function sweepSessions(sessionsDir: string, policy: SweepPolicy): Promise<number> {
  if (!existsSync(sessionsDir)) return 0;
  let removed = 0;
  for (const entry of readdirSync(sessionsDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || (await policy.keepTask(entry.name))) continue;
    rmSync(join(sessionsDir, entry.name), { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}

export function createDriver(config: Config, tap: ModelApiTap): AgentDriver {
  switch (config.AGENT_DRIVER) {
    case 'echo':
      return new EchoDriver({ delayMs: config.ECHO_DRIVER_DELAY_MS });
    case 'claude-code': {
      const agentPath = config.AGENT_PATH ?? `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
      const runAs = config.AGENT_USER ? { runAs: agentUser(config.AGENT_USER) } : {};
      return new CliDrivers({
        'claude-code': new ClaudeCodeDriver({
          agentPath,
          allowedCommands: config.AGENT_ALLOWED_COMMANDS,
          apiRetries: config.CLAUDE_API_RETRIES,
          apiTimeoutMs: config.CLAUDE_API_TIMEOUT_MS,
          tap,
          ...runAs,
        }),
        codex: new CodexDriver({ agentPath, apiRetries: config.CLAUDE_API_RETRIES, tap, ...runAs }),
        gemini: new GeminiDriver({
          agentPath,
          allowedCommands: config.AGENT_ALLOWED_COMMANDS,
          tap,
          ...runAs,
        }),
      });
    }
  }
}

/**
 * The approval policy APPROVAL_POLICY_FILE names (none: no rules). Read when the supervisor starts,
 * before anything else, so a file that cannot be read or is invalid stops it with the reason.
 */
export function loadApprovalPolicy(config: Config): ApprovalPolicy {
  const file = config.APPROVAL_POLICY_FILE;
  if (!file) return { rules: [] };
  try {
    return parseApprovalPolicy(readFileSync(file, 'utf8'), `APPROVAL_POLICY_FILE ${file}`);
  } catch (error) {
    throw new ConfigError([error instanceof Error ? error.message : String(error)]);
  }
}

function agentUser(name: string): AgentUser {
  try {
    return resolveAgentUser(name);
  } catch (error) {
    throw new ConfigError([error instanceof Error ? error.message : String(error)]);
  }
}
