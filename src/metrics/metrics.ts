import { min, notInArray, sql } from 'drizzle-orm';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentRunReport } from '../agents/driver.ts';
import { FAILOVER_OUTCOMES } from '../core/retry-policy.ts';
import { type TaskStatus, TERMINAL_STATUSES } from '../core/task-status.ts';
import type { EventBus, EventListener, TaskEventMessage } from '../events/bus.ts';
import type { AgentPool } from '../pool/agent-pool.ts';
import type { Db } from '../store/database.ts';
import { INBOX_KINDS, waitingForPeople } from '../store/inbox-store.ts';
import type { AttemptRow, TaskRow } from '../store/schema.ts';
import { tasks } from '../store/schema.ts';

/** Agent states as stored; each agent reports 1 for its state and 0 for the others. */
const AGENT_STATES = ['active', 'paused', 'disabled'] as const;
const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];
/** Seconds: from a fast scripted attempt to a long agent run. */
const ATTEMPT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface QueueRow {
  status: string;
  priority: number;
  count: number;
  oldest: Date | null;
}

/** What the scrape-time gauges read: the shared database, so every replica reports the same truth. */
/** The inbox gauges look at this many waiting tasks at most. */
const INBOX_SCAN = 1000;

export interface MetricsSources {
  db: Db;
  pool: AgentPool;
  now: () => Date;
}

/**
 * The supervisor's Prometheus metrics, on a registry of its own (tests run several supervisors in
 * one process). Counters and histograms are updated where things happen in this process; gauges
 * that describe shared state (queue, agents, quota) are read from the database at scrape time.
 * Labels are bounded: task types, statuses, outcomes, priorities, agent ids, models and window
 * names from the configuration — never task ids or URLs.
 */
export class Metrics {
  readonly registry = new Registry();
  #sources: MetricsSources | undefined;

  readonly tasksSubmitted = new Counter({
    name: 'supervisor_tasks_submitted_total',
    help: 'Tasks submitted (created) through this process, by task type.',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly tasksFinished = new Counter({
    name: 'supervisor_tasks_finished_total',
    help: 'Tasks that reached a terminal status in this process, by task type, status and outcome.',
    labelNames: ['type', 'status', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly taskParks = new Counter({
    name: 'supervisor_task_parks_total',
    help: 'Times a task was parked because no agent could take it yet, by task type and park reason (quota, budget, no_agent).',
    labelNames: ['type', 'reason'] as const,
    registers: [this.registry],
  });
  readonly taskRetries = new Counter({
    name: 'supervisor_task_retries_total',
    help: 'Attempts after which the task was queued again for a retry, by task type and attempt outcome.',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly attemptDuration = new Histogram({
    name: 'supervisor_attempt_duration_seconds',
    help: 'Wall-clock duration of agent attempts run by this process, by task type, agent and outcome.',
    labelNames: ['type', 'agent', 'outcome'] as const,
    buckets: ATTEMPT_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'supervisor_tokens_total',
    help: 'Tokens used by agent attempts, by agent, model, task type and kind (input, output, cache_read, cache_write).',
    labelNames: ['agent', 'model', 'type', 'kind'] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: 'supervisor_cost_usd_total',
    help: 'Cost in US dollars of agent attempts, by agent, model and task type.',
    labelNames: ['agent', 'model', 'type'] as const,
    registers: [this.registry],
  });
  readonly failovers = new Counter({
    name: 'supervisor_failovers_total',
    help: 'Attempts that ended on an agent-side limit (quota, rate limit, auth) and moved the task on to another agent or a later time, by agent and outcome.',
    labelNames: ['agent', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly watchdogKills = new Counter({
    name: 'supervisor_watchdog_kills_total',
    help: 'Agent runs stopped by the watchdog, by agent and reason (inactivity, wall_clock, budget).',
    labelNames: ['agent', 'reason'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'supervisor_http_request_duration_seconds',
    help: 'HTTP request duration, by method, route template and status class.',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  readonly eventBusLag = new Histogram({
    name: 'supervisor_event_bus_lag_seconds',
    help: 'Time from a task event being stored to its delivery to a live subscriber in this process.',
    labelNames: ['bus'] as const,
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });

  readonly githubDeliveries = new Counter({
    name: 'supervisor_github_deliveries_total',
    help: 'GitHub deliveries received, by event and result (accepted, duplicate, refused; reconciled: found by the reconcile pass).',
    labelNames: ['event', 'result'] as const,
    registers: [this.registry],
  });
  readonly githubRequests = new Counter({
    name: 'supervisor_github_requests_total',
    help: 'Requests to the GitHub API made by this process, by method and status class (or error).',
    labelNames: ['method', 'status_class'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters fail `promtool check metrics`; the same numbers are in the
      // per-type `nodejs_active_handles`, `nodejs_active_requests` and `nodejs_active_resources`.
      for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
    }
    this.#defineScrapeGauges();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Connects the scrape-time gauges to the database once it is open. */
  attach(sources: MetricsSources): void {
    this.#sources = sources;
  }

  /** The exposition text. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }

  /** An HTTP response: labelled by route template, never the raw URL. */
  observeHttp(method: string, route: string | undefined, statusCode: number, elapsedMs: number): void {
    this.httpDuration
      .labels(method, route ?? 'unmatched', `${Math.floor(statusCode / 100)}xx`)
      .observe(elapsedMs / 1000);
  }

  /** A GitHub delivery answered: `event` is GitHub's event name (a bounded set), or `unknown`. */
  observeGitHubDelivery(
    event: string | undefined,
    result: 'accepted' | 'duplicate' | 'refused' | 'reconciled',
  ): void {
    this.githubDeliveries.labels(event && /^[a-z_]{1,50}$/.test(event) ? event : 'unknown', result).inc();
  }

  /** A GitHub API answer (`status` 0: no answer, a timeout or a network error). */
  observeGitHubRequest(method: string, status: number): void {
    this.githubRequests.labels(method, status ? `${Math.floor(status / 100)}xx` : 'error').inc();
  }

  /** An attempt whose result was recorded. `next` is the task after it, when known. */
  observeAttempt(
    task: TaskRow,
    attempt: AttemptRow,
    report: AgentRunReport,
    durationMs: number,
    next: TaskRow | undefined,
  ): void {
    const agent = attempt.agentId ?? 'none';
    const model = report.model ?? attempt.model ?? 'unknown';
    this.attemptDuration.labels(task.type, agent, report.outcome).observe(durationMs / 1000);
    const usage = report.usage;
    for (const [kind, value] of [
      ['input', usage.inputTokens],
      ['output', usage.outputTokens],
      ['cache_read', usage.cacheReadTokens],
      ['cache_write', usage.cacheWriteTokens],
    ] as const) {
      if (value > 0) this.tokens.labels(agent, model, task.type, kind).inc(value);
    }
    if (report.costUsd > 0) this.cost.labels(agent, model, task.type).inc(report.costUsd);
    if (report.evidence.source === 'watchdog') this.watchdogKills.labels(agent, report.evidence.signal).inc();
    if (next && !TERMINAL_STATUSES.has(next.status)) {
      if (FAILOVER_OUTCOMES.has(report.outcome)) this.failovers.labels(agent, report.outcome).inc();
      if (next.status === 'retrying') this.taskRetries.labels(task.type, report.outcome).inc();
    }
  }

  /**
   * Wraps an event bus so that published status events count submissions, parks and finished
   * tasks (whichever path caused them: API, worker or recovery), and deliveries to subscribers
   * are timed.
   */
  instrumentBus(bus: EventBus): EventBus {
    return new InstrumentedBus(bus, this);
  }

  /** Counts what a published status event says happened to its task (from the facts it carries). */
  noteStatusEvent(message: TaskEventMessage): void {
    const task = message.task;
    if (message.type !== 'status' || !task) return;
    const status = (message.data as { status?: TaskStatus } | null)?.status;
    if (status === 'queued' || status === 'waiting') {
      if (task.submitted) this.tasksSubmitted.labels(task.type).inc();
    } else if (status === 'parked') {
      this.taskParks.labels(task.type, task.parkReason ?? 'unknown').inc();
    } else if (status && TERMINAL_STATUSES.has(status)) {
      const outcome = (message.data as { outcome?: string | null }).outcome ?? task.outcome ?? 'none';
      this.tasksFinished.labels(task.type, status, outcome).inc();
    }
  }

  #defineScrapeGauges(): void {
    const metrics = this;
    const registers = [this.registry];
    new Gauge({
      name: 'supervisor_queue_tasks',
      help: 'Tasks not yet finished, by status (queued, parked, retrying, running) and priority.',
      labelNames: ['status', 'priority'] as const,
      registers,
      async collect() {
        this.reset();
        for (const row of await metrics.#queueRows()) {
          this.labels(row.status, String(row.priority)).set(row.count);
        }
      },
    });
    new Gauge({
      name: 'supervisor_queue_oldest_age_seconds',
      help: 'Age (since submission) of the oldest unfinished task, by status and priority.',
      labelNames: ['status', 'priority'] as const,
      registers,
      async collect() {
        this.reset();
        const now = metrics.#sources?.now().getTime() ?? Date.now();
        for (const row of await metrics.#queueRows()) {
          if (row.oldest) {
            const oldest = new Date(row.oldest).getTime();
            this.labels(row.status, String(row.priority)).set(Math.max(0, (now - oldest) / 1000));
          }
        }
      },
    });
    // The inbox: what waits for a person. Read once per scrape for both gauges.
    let inbox: Promise<Array<{ kind: string; since: Date }>> | undefined;
    const inboxItems = () => {
      const sources = metrics.#sources;
      if (!sources) return Promise.resolve([]);
      inbox ??= waitingForPeople(sources.db, INBOX_SCAN).finally(() =>
        queueMicrotask(() => (inbox = undefined)),
      );
      return inbox;
    };
    new Gauge({
      name: 'supervisor_inbox_items',
      help: 'What waits for a person, by kind: question (answer it), approval (a tool call to approve or deny) or no_agent (no enabled agent can run it).',
      labelNames: ['kind'] as const,
      registers,
      async collect() {
        this.reset();
        const items = await inboxItems();
        for (const kind of INBOX_KINDS) this.labels(kind).set(items.filter((i) => i.kind === kind).length);
      },
    });
    new Gauge({
      name: 'supervisor_inbox_oldest_wait_seconds',
      help: 'How long the item that has waited longest for a person has waited, by kind.',
      labelNames: ['kind'] as const,
      registers,
      async collect() {
        this.reset();
        const now = metrics.#sources?.now().getTime() ?? Date.now();
        const oldest = new Map<string, number>();
        for (const item of await inboxItems()) {
          oldest.set(
            item.kind,
            Math.min(oldest.get(item.kind) ?? Number.POSITIVE_INFINITY, item.since.getTime()),
          );
        }
        for (const [kind, since] of oldest) this.labels(kind).set(Math.max(0, (now - since) / 1000));
      },
    });
    const agentGauge = (
      name: string,
      help: string,
      labelNames: readonly string[],
      fill: (gauge: Gauge<string>, agents: Awaited<ReturnType<AgentPool['status']>>, now: Date) => void,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          this.reset();
          const sources = metrics.#sources;
          if (!sources) return;
          const now = sources.now();
          fill(this, await metrics.#agents(now), now);
        },
      });
    agentGauge(
      'supervisor_agent_state',
      'Agent state: 1 for the state the agent is in (active, paused, disabled), 0 for the others.',
      ['agent', 'state'],
      (gauge, agents) => {
        for (const agent of agents) {
          for (const state of AGENT_STATES) gauge.labels(agent.id, state).set(agent.state === state ? 1 : 0);
        }
      },
    );
    agentGauge(
      'supervisor_agent_running',
      'Attempts the agent is running now.',
      ['agent'],
      (gauge, agents) => {
        for (const agent of agents) gauge.labels(agent.id).set(agent.running);
      },
    );
    agentGauge(
      'supervisor_agent_max_concurrent',
      'Attempts the agent may run at once.',
      ['agent'],
      (gauge, agents) => {
        for (const agent of agents) gauge.labels(agent.id).set(agent.maxConcurrent);
      },
    );
    const eachWindow =
      (
        value: (
          window: Awaited<ReturnType<AgentPool['status']>>[number]['windows'][number],
          now: Date,
        ) => number,
      ) =>
      (gauge: Gauge<string>, agents: Awaited<ReturnType<AgentPool['status']>>, now: Date) => {
        for (const agent of agents) {
          for (const window of agent.windows)
            gauge.labels(agent.id, window.name, window.metric).set(value(window, now));
        }
      };
    const windowLabels = ['agent', 'window', 'metric'];
    agentGauge(
      'supervisor_agent_quota_used',
      'Use inside the current quota window (in the unit of `metric`: requests, tokens or usd), including what running attempts are expected to use.',
      windowLabels,
      eachWindow((window) => window.used),
    );
    agentGauge(
      'supervisor_agent_quota_limit',
      'Limit of the quota window, in the unit of `metric`.',
      windowLabels,
      eachWindow((window) => window.limit),
    );
    agentGauge(
      'supervisor_agent_quota_remaining',
      'What is left of the quota window, in the unit of `metric`.',
      windowLabels,
      eachWindow((window) => window.remaining),
    );
    agentGauge(
      'supervisor_agent_quota_reset_seconds',
      'Seconds until the quota window resets.',
      windowLabels,
      eachWindow((window, now) => Math.max(0, (window.resetsAt.getTime() - now.getTime()) / 1000)),
    );
    agentGauge(
      'supervisor_agent_cooldown_seconds',
      'Seconds left of an active cooldown, by agent, model and reason (rate_limited, quota_exhausted); absent when none.',
      ['agent', 'model', 'reason'],
      (gauge, agents, now) => {
        for (const agent of agents) {
          // Two cooldowns of one model and reason: the longer one is the one that matters.
          const longest = new Map<string, { model: string; reason: string; left: number }>();
          for (const cooldown of agent.cooldowns) {
            const left = Math.max(0, (cooldown.until.getTime() - now.getTime()) / 1000);
            const model = cooldown.model || 'all';
            const key = `${model}\n${cooldown.reason}`;
            if (left >= (longest.get(key)?.left ?? 0))
              longest.set(key, { model, reason: cooldown.reason, left });
          }
          for (const { model, reason, left } of longest.values())
            gauge.labels(agent.id, model, reason).set(left);
        }
      },
    );
  }

  /** Unfinished tasks grouped by status and priority, read once per scrape. */
  #queueRows(): Promise<QueueRow[]> {
    const sources = this.#sources;
    if (!sources) return Promise.resolve([]);
    this.#queueCache ??= sources.db
      .select({
        status: tasks.status,
        priority: tasks.priority,
        count: sql<number>`count(*)::int`,
        oldest: min(tasks.createdAt),
      })
      .from(tasks)
      .where(notInArray(tasks.status, [...TERMINAL_STATUSES]))
      .groupBy(tasks.status, tasks.priority)
      .then((rows) => rows.map((row) => ({ ...row, count: Number(row.count) })))
      .finally(() => {
        queueMicrotask(() => {
          this.#queueCache = undefined;
        });
      });
    return this.#queueCache;
  }
  #queueCache: Promise<QueueRow[]> | undefined;

  #agents(now: Date): ReturnType<AgentPool['status']> {
    const sources = this.#sources!;
    this.#agentsCache ??= sources.pool.status(now).finally(() => {
      queueMicrotask(() => {
        this.#agentsCache = undefined;
      });
    });
    return this.#agentsCache;
  }
  #agentsCache: ReturnType<AgentPool['status']> | undefined;
}

class InstrumentedBus implements EventBus {
  readonly #inner: EventBus;
  readonly #metrics: Metrics;

  constructor(inner: EventBus, metrics: Metrics) {
    this.#inner = inner;
    this.#metrics = metrics;
  }

  get kind(): EventBus['kind'] {
    return this.#inner.kind;
  }

  publish(messages: TaskEventMessage[]): void {
    this.#inner.publish(messages);
    for (const message of messages) this.#metrics.noteStatusEvent(message);
  }

  subscribe(taskId: string, listener: EventListener): () => void {
    const lag = this.#metrics.eventBusLag.labels(this.#inner.kind);
    return this.#inner.subscribe(taskId, (message) => {
      lag.observe(Math.max(0, (Date.now() - new Date(message.createdAt).getTime()) / 1000));
      listener(message);
    });
  }

  subscribeStatus(listener: EventListener): () => void {
    return this.#inner.subscribeStatus(listener);
  }

  onReconnect(callback: () => void): () => void {
    return this.#inner.onReconnect(callback);
  }

  ping(): Promise<void> {
    return this.#inner.ping();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
