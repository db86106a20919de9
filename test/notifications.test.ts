import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { appendAudit, sealAudit } from '../src/audit/audit-log.ts';
import type { TaskSubmission } from '../src/core/task-types.ts';
import { HealthMonitor } from '../src/notify/health-monitor.ts';
import { auditLog } from '../src/store/schema.ts';
import { ScriptedDriver } from './support/drivers.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import {
  type SlackStub,
  type SmtpReceiver,
  startSlackStub,
  startSmtpReceiver,
  startWebhookReceiver,
  type WebhookReceiver,
} from './support/notify-receivers.ts';

const SLACK_TOKEN = `xoxb-${randomBytes(12).toString('hex')}`;
const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const analysis: TaskSubmission = {
  type: 'CODE_ANALYSIS',
  payload: { repository: 'owner/repo' },
  priority: 5,
} as TaskSubmission;

/** Polls until `check` holds (deliveries are asynchronous, through the queue). */
async function eventually(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('notifications', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const receivers = async () => {
    const smtp = await startSmtpReceiver();
    const webhook = await startWebhookReceiver(WEBHOOK_SECRET);
    const slack = await startSlackStub(SLACK_TOKEN);
    cleanups.push(
      () => smtp.stop().catch(() => undefined),
      () => webhook.stop(),
      () => slack.stop(),
    );
    return { smtp, webhook, slack };
  };

  const channelEnv = (
    r: { smtp: SmtpReceiver; webhook: WebhookReceiver; slack: SlackStub },
    token = SLACK_TOKEN,
  ) => ({
    SLACK_BOT_TOKEN: token,
    SLACK_CHANNEL: '#agents',
    SLACK_API_URL: r.slack.url,
    EMAIL_SMTP_HOST: '127.0.0.1',
    EMAIL_SMTP_PORT: String(r.smtp.port),
    EMAIL_FROM: 'supervisor@example.com',
    EMAIL_TO: 'oncall@example.com',
    WEBHOOK_URL: r.webhook.url,
    WEBHOOK_SECRET,
    PUBLIC_URL: 'https://supervisor.example.com',
  });

  it('turns 100 failures in a minute into one message per channel (fake clock)', async () => {
    const r = await receivers();
    const t0 = new Date('2026-11-24T10:00:00Z');
    let clock = t0;
    const test: TestSupervisor = await startTestSupervisor('pglite', {
      worker: false,
      now: () => clock,
      env: { ...channelEnv(r), NOTIFY_GROUP_WINDOW_SECONDS: '60', AUTH_MODE: 'tokens' },
    });
    cleanups.push(() => test.stop());
    const { notifier, database } = test.supervisor;
    await notifier.tick(t0); // the first tick starts from the end of the audit log as it is

    // The notifier's input is the audit log; 100 failure records half a second apart.
    for (let i = 0; i < 100; i++) {
      clock = new Date(t0.getTime() + i * 500);
      await database.db.transaction((tx) =>
        appendAudit(tx, {
          at: clock,
          actor: 'supervisor',
          action: 'task.failed',
          taskId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
          details: { type: 'BUG_FIX', repository: 'acme/api', outcome: i % 4 ? 'failed' : 'timed_out' },
        }),
      );
    }
    expect(await notifier.tick(new Date(t0.getTime() + 59_999))).toEqual({ collected: 100, queued: 0 });
    expect(await notifier.tick(new Date(t0.getTime() + 60_000))).toEqual({ collected: 0, queued: 3 });

    await eventually(
      () => r.smtp.messages.length > 0 && r.webhook.payloads.length > 0 && r.slack.posts.length > 0,
      'one delivery on every channel',
    );
    await new Promise((resolve) => setTimeout(resolve, 1500)); // nothing else follows
    expect([r.smtp.messages.length, r.webhook.payloads.length, r.slack.posts.length]).toEqual([1, 1, 1]);
    expect(r.webhook.rejected).toBe(0);

    const mail = r.smtp.messages[0]!;
    expect(mail.subject).toContain('100 tasks failed after their retries');
    expect(mail.text).toContain('Outcomes: failed ×75, timed_out ×25.');
    expect(mail.text).toContain('https://supervisor.example.com/api/v1/tasks?status=failed');
    expect(r.webhook.payloads[0]).toMatchObject({
      type: 'supervisor.task_failed',
      data: { count: 100, title: '100 tasks failed after their retries' },
    });
    expect(JSON.stringify(r.slack.posts[0])).toContain('100 tasks failed after their retries');
    expect(r.slack.posts[0]!.channel).toBe('#agents');
  });

  it('delays only the channel that is down; tasks keep flowing and its message goes out when it is back', async () => {
    const r = await receivers();
    // Every task's first attempt fails and its second succeeds: a task allowed one attempt fails.
    const driver = new ScriptedDriver({ outcomes: ['failed', 'succeeded'] });
    const test = await startTestSupervisor('pglite', {
      driver,
      notifyTickMs: 200,
      env: {
        ...channelEnv(r),
        NOTIFY_ROUTES: 'slack=agent_disabled',
        NOTIFY_GROUP_WINDOW_SECONDS: '1',
        NOTIFY_RETRY_SECONDS: '1',
      },
    });
    cleanups.push(() => test.stop());
    await r.smtp.stop(); // the mail server is down from the start

    const failing = await test.supervisor.tasks.submit({ ...analysis, max_attempts: 1 } as TaskSubmission, {
      actor: { name: 'dev' },
    });
    expect((await test.waitForStatus(failing.task.id, ['failed', 'succeeded'])).status).toBe('failed');
    await eventually(() => r.webhook.payloads.length === 1, 'the webhook message');
    expect(r.webhook.payloads[0]).toMatchObject({
      type: 'supervisor.task_failed',
      data: { title: `Task ${failing.task.id} failed (failed)`, count: 1 },
    });
    expect(r.slack.posts).toEqual([]); // routed elsewhere

    // Tasks are not held up by the mail server being down.
    for (let i = 0; i < 3; i++) {
      const { task } = await test.supervisor.tasks.submit(analysis, { actor: { name: 'dev' } });
      expect((await test.waitForStatus(task.id, ['succeeded', 'failed'])).status).toBe('succeeded');
    }
    expect(r.smtp.messages).toEqual([]);

    await r.smtp.restart();
    await eventually(() => r.smtp.messages.length === 1, 'the email once the server is back', 30_000);
    expect(r.smtp.messages[0]!.subject).toContain(`Task ${failing.task.id} failed`);
    expect(r.smtp.messages[0]!.text).toContain(`supervisor retry ${failing.task.id}`);
  });

  it('sends a test message per channel on request and reports each result honestly', async () => {
    const r = await receivers();
    const test = await startTestSupervisor('pglite', {
      worker: false,
      env: { ...channelEnv(r, 'xoxb-not-the-right-token'), AUTH_MODE: 'tokens' },
    });
    cleanups.push(() => test.stop());
    const response = await test.supervisor.app.inject({
      method: 'POST',
      url: '/api/v1/notifications/test',
      headers: { authorization: `Bearer ${test.adminToken}` },
    });
    expect(response.statusCode).toBe(200);
    const items = response.json().items as Array<{ channel: string; ok: boolean; error?: string }>;
    expect(items.map((item) => [item.channel, item.ok])).toEqual([
      ['slack', false],
      ['email', true],
      ['webhook', true],
    ]);
    expect(items[0]!.error).toContain('invalid_auth');
    expect(response.body).not.toContain('xoxb-not-the-right-token');
    expect(r.smtp.messages[0]!.subject).toContain('Test notification');
    expect(r.webhook.payloads[0]).toMatchObject({ type: 'supervisor.test' });
  });

  it('records outages and recoveries of dependencies, holding them while the database is down', async () => {
    const test = await startTestSupervisor('pglite', { worker: false });
    cleanups.push(() => test.stop());
    let clock = new Date('2026-11-24T10:00:00Z');
    const statuses: Record<string, 'ok' | 'down'> = { database: 'ok', event_bus: 'ok' };
    const monitor = new HealthMonitor({
      reporter: {
        check: async () =>
          Object.fromEntries(
            Object.entries(statuses).map(([name, status]) => [
              name,
              { status, latency_ms: 1, ...(status === 'down' ? { error: `${name} refused` } : {}) },
            ]),
          ),
        ready: async () => ({ problems: [], agentsEnabled: [] }),
      },
      db: test.supervisor.database.db,
      logger: pino({ level: 'silent' }),
      now: () => clock,
      process: 'test',
    });
    const recorded = async () => {
      await sealAudit(test.supervisor.database.db);
      return (
        await test.supervisor.database.db
          .select()
          .from(auditLog)
          .where(sql`${auditLog.action} like 'component.%'`)
          .orderBy(auditLog.id)
      ).map((row) => [row.action, (row.details as { component: string }).component, row.at.toISOString()]);
    };

    statuses.event_bus = 'down';
    await monitor.check();
    clock = new Date(clock.getTime() + 30_000);
    statuses.event_bus = 'ok';
    statuses.database = 'down';
    await monitor.check(); // nothing can be written now; both changes wait
    expect(await recorded()).toEqual([['component.down', 'event_bus', '2026-11-24T10:00:00.000Z']]);
    clock = new Date(clock.getTime() + 30_000);
    statuses.database = 'ok';
    await monitor.check();
    expect(await recorded()).toEqual([
      ['component.down', 'event_bus', '2026-11-24T10:00:00.000Z'],
      ['component.down', 'database', '2026-11-24T10:00:30.000Z'],
      ['component.recovered', 'event_bus', '2026-11-24T10:00:30.000Z'],
      ['component.recovered', 'database', '2026-11-24T10:01:00.000Z'],
    ]);
  });

  it('sends a summary of the past day at the configured hour', async () => {
    const r = await receivers();
    let clock = new Date('2026-11-24T07:30:00Z');
    const test = await startTestSupervisor('pglite', {
      driver: new ScriptedDriver({ outcomes: ['failed', 'succeeded'] }),
      now: () => clock,
      env: {
        WEBHOOK_URL: r.webhook.url,
        WEBHOOK_SECRET,
        NOTIFY_ROUTES: 'webhook=summary',
        NOTIFY_DAILY_SUMMARY_HOUR: '8',
      },
    });
    cleanups.push(() => test.stop());
    const { notifier, tasks } = test.supervisor;
    await notifier.tick(); // remembers 2026-11-23 08:00 as the last summary hour: nothing is sent
    const failing = await tasks.submit({ ...analysis, max_attempts: 1 } as TaskSubmission, {
      actor: { name: 'dev' },
    });
    const passing = await tasks.submit(analysis, { actor: { name: 'dev' } });
    await test.waitForStatus(failing.task.id, ['failed']);
    await test.waitForStatus(passing.task.id, ['succeeded']);
    expect(await notifier.tick()).toEqual({ collected: 1, queued: 0 }); // before 08:00; failures are not routed here
    clock = new Date('2026-11-24T08:00:05Z');
    expect(await notifier.tick()).toMatchObject({ queued: 1 });
    await eventually(() => r.webhook.payloads.length === 1, 'the daily summary');
    expect(r.webhook.payloads[0]).toMatchObject({
      type: 'supervisor.summary',
      data: {
        title: 'Daily summary: 2 tasks finished, 1 failed, $0.00 spent',
        what: expect.stringContaining('Succeeded 1, failed 1 (failed 1), cancelled 0.'),
      },
    });
    expect(await notifier.tick()).toMatchObject({ queued: 0 }); // once a day
  });

  it('alerts once when an attempt takes a quota window past 80 %', async () => {
    const r = await receivers();
    const test = await startTestSupervisor('pglite', {
      driver: new ScriptedDriver(), // each attempt costs $0.001
      agents: [
        {
          id: 'metered',
          cli: 'claude-code',
          credential: { kind: 'api_key', value: 'sk-test-metered-0123456789' },
          limits: {
            models: ['m'],
            maxConcurrent: 1,
            windows: [{ name: 'usd/5h', metric: 'usd', limit: 0.005, hours: 5, mode: 'rolling' }],
          },
        },
      ],
      env: {
        WEBHOOK_URL: r.webhook.url,
        WEBHOOK_SECRET,
        NOTIFY_GROUP_WINDOW_SECONDS: '1',
        TASK_COST_ESTIMATE_USD: '0.001',
      },
    });
    cleanups.push(() => test.stop());
    await test.supervisor.notifier.tick();
    for (let i = 0; i < 5; i++) {
      const { task } = await test.supervisor.tasks.submit(analysis, { actor: { name: 'dev' } });
      expect((await test.waitForStatus(task.id, ['succeeded', 'parked', 'failed'])).status).toBe('succeeded');
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await test.supervisor.notifier.tick();
    await eventually(() => r.webhook.payloads.length === 1, 'the quota alert');
    // $0.003 is under 80 % of $0.005; the fourth attempt ($0.004) crosses it, the fifth stays above.
    expect(r.webhook.payloads[0]).toMatchObject({
      type: 'supervisor.quota_high',
      data: { title: 'Agent metered has used over 80% of usd/5h', count: 1 },
    });
  });
});
