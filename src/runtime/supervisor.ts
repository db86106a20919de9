import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { type AgentDefinition, loadAgentDefinitions } from '../agents/agent-definition.ts';
import { credentialSecrets } from '../agents/claude-code/command.ts';
import type { AgentDriver } from '../agents/driver.ts';
import { SecretBox } from '../agents/secrets.ts';
import { type ApiServices, buildApp } from '../api/app.ts';
import type { LifecycleState } from '../api/routes/health.ts';
import { startAuditSealer } from '../audit/audit-log.ts';
import { resolveAuthMode } from '../auth/auth-mode.ts';
import { TaskTokens } from '../auth/task-token.ts';
import { TokenService } from '../auth/token-service.ts';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { AgentCli } from '../core/agent-types.ts';
import { type ApprovalPolicy, ruleFor } from '../core/approval-policy.ts';
import type { EventBus } from '../events/bus.ts';
import { MemoryEventBus } from '../events/memory-bus.ts';
import { RedisEventBus } from '../events/redis-bus.ts';
import { GitHubClients } from '../github/client.ts';
import { gitHubGitCredentials, gitHubGitOrigin } from '../github/git-access.ts';
import { createGitHubQueue } from '../github/github-queue.ts';
import { GitHubService } from '../github/github-service.ts';
import { gitHubSettings } from '../github/setup.ts';
import { MemoryService } from '../memory/memory-service.ts';
import { Metrics } from '../metrics/metrics.ts';
import { HealthMonitor } from '../notify/health-monitor.ts';
import { Notifier } from '../notify/notifier.ts';
import { channelsFromConfig, routesFromConfig } from '../notify/setup.ts';
import { AgentPool } from '../pool/agent-pool.ts';
import { TaskQueue } from '../queue/task-queue.ts';
import type { Worker } from '../runner/worker.ts';
import { ScheduleService } from '../schedules/schedule-service.ts';
import { type Database, openDatabase } from '../store/database.ts';
import type { TaskRow } from '../store/schema.ts';
import { TaskService } from '../tasks/task-service.ts';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { createHealthReporter } from './health.ts';
import { startRetention } from './retention.ts';
import { registerSecret } from './secret-scrubber.ts';
import { secretsKey } from './secrets-key.ts';
import { VERSION } from './version.ts';
import { loadApprovalPolicy, setUpWorker } from './worker-setup.ts';

/** How often each process looks at its dependencies for outages worth an alert. */
const HEALTH_MONITOR_INTERVAL_MS = 15_000;

export interface SupervisorOptions {
  config: Config;
  logger: Logger;
  /** Open the HTTP port (default true). Tests that use `inject()` turn it off. */
  listen?: boolean;
  /** Run a worker in this process (default true). */
  worker?: boolean;
  /** Serve the task and agent API (default true); false leaves only the health probes (a worker process). */
  api?: boolean;
  /** An already connected event bus (tests); otherwise Redis when REDIS_URL is set, else in-process. */
  bus?: EventBus;
  /** Overrides the driver chosen by AGENT_DRIVER (tests use fixture drivers). */
  driver?: AgentDriver;
  /** Overrides the agents from the configuration (tests). */
  agents?: AgentDefinition[];
  /** An already open database (tests); otherwise DATABASE_URL or the embedded one under DATA_DIR. */
  database?: Database;
  now?: () => Date;
  random?: () => number;
  /** Where a newly created first admin token is shown (default: standard error, never the log). */
  showAdminToken?: (token: string) => void;
  /**
   * How often alerts become notifications and due schedules submit their tasks (default 5 s; 0: only
   * when a test calls `tick`).
   */
  notifyTickMs?: number;
}

/**
 * The supervisor in one process: HTTP API, queue and worker on one database. The port opens first
 * so probes can see `starting`; readiness flips once migrations ran and the queue is up.
 */
export class Supervisor {
  readonly app: FastifyInstance;
  readonly database: Database;
  readonly queue: TaskQueue;
  readonly tasks: TaskService;
  readonly bus: EventBus;
  readonly worker: Worker | undefined;
  readonly notifier: Notifier;
  readonly schedules: ScheduleService;
  readonly #stopResources: () => Promise<void>;
  readonly #setState: (state: LifecycleState) => void;
  readonly #graceMs: number;
  #stopping: Promise<void> | undefined;

  private constructor(parts: {
    app: FastifyInstance;
    database: Database;
    queue: TaskQueue;
    tasks: TaskService;
    bus: EventBus;
    worker: Worker | undefined;
    notifier: Notifier;
    schedules: ScheduleService;
    stopResources: () => Promise<void>;
    setState: (state: LifecycleState) => void;
    graceMs: number;
  }) {
    this.app = parts.app;
    this.database = parts.database;
    this.queue = parts.queue;
    this.tasks = parts.tasks;
    this.bus = parts.bus;
    this.worker = parts.worker;
    this.notifier = parts.notifier;
    this.schedules = parts.schedules;
    this.#stopResources = parts.stopResources;
    this.#setState = parts.setState;
    this.#graceMs = parts.graceMs;
  }

  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const { config, logger } = options;
    const now = options.now ?? (() => new Date());
    let state: LifecycleState = 'starting';
    let services: ApiServices | undefined;
    const auth = resolveAuthMode(
      config.AUTH_MODE,
      config.HOST,
      (options.api ?? true) && (options.worker ?? true),
    );
    if ('refused' in auth) throw new ConfigError([auth.refused]);
    const approvalPolicy = (options.worker ?? true) ? loadApprovalPolicy(config) : undefined;
    const notifyRoutes = routesFromConfig(config);
    const { channels: notifyChannels, warnings: notifyWarnings } = channelsFromConfig(config, notifyRoutes);
    for (const warning of notifyWarnings) logger.warn(warning);
    const githubSettings = gitHubSettings(config);
    for (const secret of [
      githubSettings?.auth.token,
      githubSettings?.auth.app?.privateKey,
      ...(githubSettings?.webhookSecrets ?? []),
    ]) {
      registerSecret(secret);
    }
    if (auth.mode === 'none' && (options.api ?? true)) {
      logger.warn(
        'development mode: the API answers local requests without a token (AUTH_MODE=auto on a loopback HOST); set AUTH_MODE=tokens to require one',
      );
    }
    const metrics = new Metrics();
    const app = await buildApp({
      logger,
      metrics,
      maxBodyBytes: config.MAX_BODY_BYTES,
      version: VERSION,
      state: () => state,
      services: () => services,
      apiRoutes: options.api ?? true,
      security: {
        authMode: auth.mode,
        corsOrigins: config.CORS_ORIGINS,
        submitPerMinute: config.SUBMIT_RATE_PER_MINUTE,
        submitPerMinutePerIp: config.SUBMIT_RATE_PER_MINUTE_PER_IP,
      },
    });
    if (options.listen ?? true) {
      await app.listen({ port: config.PORT, host: config.HOST });
    }

    const cleanups: Array<() => Promise<void> | void> = [() => app.close()];
    const stopResources = async () => {
      for (const cleanup of cleanups.reverse()) {
        await Promise.resolve(cleanup()).catch((error: unknown) =>
          logger.error({ err: error }, 'cleanup failed'),
        );
      }
    };
    try {
      let database = options.database;
      if (!database) {
        if (config.DATABASE_URL) {
          database = await openDatabase({ kind: 'postgres', url: config.DATABASE_URL });
        } else {
          const lock = acquireDataDirLock(resolve(config.DATA_DIR));
          cleanups.push(() => lock.release());
          database = await openDatabase({
            kind: 'pglite',
            dataDir: join(resolve(config.DATA_DIR), 'pglite'),
          });
        }
        const opened = database;
        cleanups.push(() => opened.close());
      }
      await database.migrate();
      cleanups.push(startAuditSealer(database.db, logger));
      const queue = await TaskQueue.start(database, {
        heartbeatSeconds: config.WORKER_HEARTBEAT_SECONDS,
        logger,
      });
      cleanups.push(() => queue.stop());
      await createGitHubQueue(queue.boss);
      const notifier = new Notifier({
        db: database.db,
        boss: queue.boss,
        channels: notifyChannels,
        routes: notifyRoutes,
        windowMs: config.NOTIFY_GROUP_WINDOW_SECONDS * 1000,
        retryDelaySeconds: config.NOTIFY_RETRY_SECONDS,
        ...(config.PUBLIC_URL ? { publicUrl: config.PUBLIC_URL } : {}),
        ...(config.NOTIFY_DAILY_SUMMARY_HOUR !== undefined
          ? { summaryHour: config.NOTIFY_DAILY_SUMMARY_HOUR }
          : {}),
        logger,
        now,
      });
      await notifier.start({ tickMs: options.notifyTickMs ?? 5000 });
      cleanups.push(() => notifier.stop());
      const rawBus =
        options.bus ??
        (config.REDIS_URL
          ? await RedisEventBus.connect({ url: config.REDIS_URL, prefix: config.REDIS_PREFIX, logger })
          : new MemoryEventBus());
      if (!options.bus) cleanups.push(() => rawBus.close());
      // Status events count submissions, parks and finished tasks; deliveries are timed (metrics).
      const bus = metrics.instrumentBus(rawBus);
      // Development mode runs on the developer's own machine, where local repositories are the point.
      const repositoryPolicy = {
        schemes: config.REPOSITORY_SCHEMES ?? [
          'https' as const,
          'ssh' as const,
          ...(auth.mode === 'none' ? ['file' as const] : []),
        ],
        hosts: config.REPOSITORY_HOSTS,
      };
      const tasks = new TaskService({
        db: database.db,
        queue,
        bus,
        defaultMaxAttempts: config.TASK_MAX_ATTEMPTS,
        messagesPerTask: config.TASK_MESSAGES_MAX,
        dedupWindowSeconds: config.DEDUP_WINDOW_SECONDS,
        batching: { size: config.BATCH_SIZE, intervalSeconds: config.BATCH_INTERVAL_SECONDS },
        repositoryPolicy,
        now,
      });
      let github: GitHubService | undefined;
      const githubClients =
        githubSettings &&
        new GitHubClients(githubSettings.auth, logger, (method, status) =>
          metrics.observeGitHubRequest(method, status),
        );
      if (githubSettings && githubClients) {
        github = new GitHubService({
          db: database.db,
          boss: queue.boss,
          tasks,
          clients: githubClients,
          onDelivery: (event, result) => metrics.observeGitHubDelivery(event, result),
          webhookSecrets: githubSettings.webhookSecrets,
          requestChanges: config.GITHUB_REQUEST_CHANGES,
          reviewsPerPullPerDay: config.GITHUB_REVIEWS_PER_PR_PER_DAY,
          reconcileMinutes: config.GITHUB_RECONCILE_MINUTES,
          mention: config.GITHUB_MENTION,
          failOn: config.GITHUB_REVIEW_FAIL_ON,
          ...(config.PUBLIC_URL ? { publicUrl: config.PUBLIC_URL } : {}),
          logger,
          now,
        });
        await github.start();
        const started = github;
        cleanups.push(() => started.stop());
      }
      const schedules = new ScheduleService({ db: database.db, tasks, logger, now });
      if ((options.notifyTickMs ?? 5000) > 0) schedules.start(options.notifyTickMs ?? 5000);
      cleanups.push(() => schedules.stop());
      const key = secretsKey(config);
      const taskTokens = new TaskTokens(key);
      const pool = new AgentPool({
        db: database.db,
        secrets: new SecretBox(key),
        sessionsDir: join(resolve(config.DATA_DIR), 'agent-sessions'),
        defaultEstimateUsd: config.TASK_COST_ESTIMATE_USD,
        ...(config.REPO_DAILY_BUDGET_USD ? { repoDailyBudgetUsd: config.REPO_DAILY_BUDGET_USD } : {}),
        ...(approvalPolicy?.rules.length ? { cliFor: needsAskingCli(approvalPolicy) } : {}),
        logger,
      });
      metrics.attach({ db: database.db, pool, now });
      const tokens = new TokenService({ db: database.db, now, taskTokens });
      if (options.api ?? true) {
        const created = await tokens.ensureAdmin(config.ADMIN_TOKEN);
        if (created) {
          registerSecret(created);
          (options.showAdminToken ?? showAdminToken)(created);
        }
      }
      const definitions = options.agents ?? loadAgentDefinitions(config, process.env);
      for (const definition of definitions) {
        for (const secret of credentialSecrets(definition.credential)) registerSecret(secret);
      }
      registerSecret(config.ADMIN_TOKEN);
      await pool.sync(definitions, now());
      if (definitions.length === 0) {
        logger.warn('no agents configured: set CLAUDE_API_KEYS or AGENTS_FILE; tasks park until then');
      }

      let worker: Worker | undefined;
      if (options.worker ?? true) {
        const setup = setUpWorker({
          config,
          approvalPolicy: approvalPolicy ?? { rules: [] },
          database,
          queue,
          bus,
          logger,
          now,
          random: options.random ?? Math.random,
          ...(options.driver ? { driver: options.driver } : {}),
          pool,
          tasks,
          repositoryPolicy,
          ...(githubSettings && githubClients
            ? {
                github: {
                  gitOrigin: gitHubGitOrigin(githubSettings.auth.apiUrl),
                  credentials: gitHubGitCredentials(githubClients, githubSettings.auth.apiUrl),
                },
              }
            : {}),
          taskTokens,
          apiUrl: () =>
            config.MEMORY_TOOLS === 'off'
              ? undefined
              : (config.AGENT_API_URL ?? (options.api === false ? undefined : ownUrl(app, config.HOST))),
        });
        cleanups.push(() => setup.stop());
        worker = setup.worker;
        worker.instrument(metrics);
        // The embedded database has exactly one owner, so every attempt still open was interrupted
        // by the previous process dying: recovered now rather than a lease later.
        if (database.kind === 'pglite') {
          const recovered = await setup.lifecycle.recoverLost({ everyOpenAttempt: true });
          if (recovered) logger.warn({ recovered }, 'recovered tasks interrupted by a previous stop');
        }
        await worker.start();
        logger.info({ driver: setup.driverName, concurrency: config.WORKER_CONCURRENCY }, 'worker started');
      }
      // The configuration may have added, fixed or enlarged agents: waiting tasks get another look.
      await tasks.wakeParked(PARKED_WOKEN_AT_START);
      const runningWorker = worker;
      services = {
        tasks,
        pool,
        bus,
        tokens,
        notifier,
        db: database.db,
        schedules,
        ...(github ? { github } : {}),
        ...(config.SLACK_SIGNING_SECRET
          ? {
              slack: {
                signingSecret: config.SLACK_SIGNING_SECRET,
                approvers: new Set(config.SLACK_APPROVERS),
              },
            }
          : {}),
        memory: new MemoryService({ db: database.db, now, repositoryPolicy }),
        health: createHealthReporter({
          database,
          queue,
          eventBus: bus,
          ...(runningWorker
            ? {
                worker: () => ({
                  running: runningWorker.runningTaskIds.length,
                  concurrency: config.WORKER_CONCURRENCY,
                  driver: runningWorker.driverName,
                }),
              }
            : {}),
        }),
      };
      // Dependency outages and recoveries go to the audit trail, and from there to notifications.
      const monitor = new HealthMonitor({
        reporter: services.health,
        db: database.db,
        logger,
        now,
        process: `${options.worker === false ? 'api' : options.api === false ? 'worker' : 'serve'}@${hostname()}`,
      });
      if ((options.notifyTickMs ?? 5000) > 0) monitor.start(HEALTH_MONITOR_INTERVAL_MS);
      cleanups.push(() => monitor.stop());
      if (options.api ?? true) {
        cleanups.push(
          startRetention({
            db: database.db,
            logger,
            now,
            taskDays: config.TASK_RETENTION_DAYS,
            ...(config.AUDIT_RETENTION_DAYS !== undefined ? { auditDays: config.AUDIT_RETENTION_DAYS } : {}),
          }),
        );
      }
      state = 'ready';
      logger.info(
        { database: database.kind, bus: bus.kind, port: options.listen === false ? null : config.PORT },
        'supervisor ready',
      );
      return new Supervisor({
        app,
        database,
        queue,
        tasks,
        bus,
        worker,
        notifier,
        schedules,
        stopResources,
        setState: (next) => {
          state = next;
        },
        graceMs: config.SHUTDOWN_GRACE_SECONDS * 1000,
      });
    } catch (error) {
      await stopResources();
      throw error;
    }
  }

  /** Drains: readiness turns 503, no new work is taken, running attempts get the grace period. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#setState('stopping');
      await this.worker?.stop(this.#graceMs);
      await this.#stopResources();
    })();
    return this.#stopping;
  }
}

/**
 * Shown once, on standard error rather than through the logger: logs are shipped and kept, and a
 * token in them would be a leaked token.
 */
function showAdminToken(token: string): void {
  process.stderr.write(
    [
      '',
      'An admin API token was created (no usable admin token existed). It is shown only this once:',
      '',
      `    ${token}`,
      '',
      'Use it as `Authorization: Bearer <token>` or SUPERVISOR_TOKEN for the CLI, and create',
      'narrower tokens with `supervisor tokens create`. Lost it? Set ADMIN_TOKEN and restart.',
      '',
    ].join('\n'),
  );
}

/** Waiting tasks looked at again when the supervisor starts, most urgent first. */
const PARKED_WOKEN_AT_START = 100;

/** This process's API address as seen from the same machine (agents' memory tools call it). */
function ownUrl(app: FastifyInstance, host: string): string | undefined {
  const address = app.server.address();
  if (!address || typeof address === 'string') return undefined;
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const name = wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${address.port}`;
}

/** Tasks under an approval rule run on Claude Code: the only CLI that asks about a tool call mid-run. */
function needsAskingCli(policy: ApprovalPolicy): (task: TaskRow) => AgentCli | undefined {
  return (task) => (ruleFor(policy, task.repository) ? 'claude-code' : undefined);
}
