import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { sealAudit } from '../src/audit/audit-log.ts';
import { auditLog, submissions } from '../src/store/schema.ts';
import { BACKENDS } from './support/databases.ts';
import { ScriptedDriver } from './support/drivers.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { startWebhookReceiver } from './support/notify-receivers.ts';
import { runCli } from './support/processes.ts';
import { until } from './support/until.ts';

/**
 * Batch completion summaries: when the last task of a POST /tasks/batch ends, one notification
 * says how the batch went (counts by outcome, cost, the tasks that did not succeed, a link), sent
 * once however many of its tasks end at the same moment, and again after a retried task ends.
 */

const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const PUBLIC_URL = 'https://supervisor.example.com';

const analysis = (key: string, extra: Record<string, unknown> = {}) => ({
  key,
  type: 'CODE_ANALYSIS',
  payload: { repository: 'owner/repo' },
  ...extra,
});

describe.each(BACKENDS)('batch completion summaries on %s', (backend) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const submitBatch = async (test: TestSupervisor, tasks: unknown[]) => {
    const response = await test.supervisor.app.inject({
      method: 'POST',
      url: '/api/v1/tasks/batch',
      payload: { tasks },
    } satisfies InjectOptions);
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { submission_id: string; ids: Record<string, string>; items: unknown[] };
  };

  const finishedRecords = async (test: TestSupervisor) => {
    await sealAudit(test.supervisor.database.db);
    return test.supervisor.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.action, 'submission.finished'));
  };

  it('sends one summary with counts by outcome, cost, the failures and a link, and another after a retry', async () => {
    const webhook = await startWebhookReceiver(WEBHOOK_SECRET);
    cleanups.push(() => webhook.stop());
    // Each task's first attempt fails; those allowed a second attempt then succeed.
    const test = await startTestSupervisor(backend, {
      driver: new ScriptedDriver({ outcomes: ['failed', 'succeeded'] }),
      listen: true,
      env: {
        WEBHOOK_URL: webhook.url,
        WEBHOOK_SECRET,
        PUBLIC_URL,
        NOTIFY_ROUTES: 'webhook=batch_finished',
        NOTIFY_GROUP_WINDOW_SECONDS: '1',
      },
    });
    cleanups.push(test.stop);
    const batch = await submitBatch(test, [
      analysis('lint', { max_attempts: 1 }),
      analysis('report', { depends_on: ['lint'] }),
      analysis('scan', { max_attempts: 2 }),
      analysis('audit', { max_attempts: 2 }),
    ]);
    const { ids } = batch;
    for (const item of batch.items) expect(item).toMatchObject({ submission_id: batch.submission_id });

    // The batch's tasks, by the API's filter and by the CLI's.
    const listed = await test.supervisor.app.inject(`/api/v1/tasks?submission=${batch.submission_id}`);
    const listedIds = listed.json().items.map((task: { id: string }) => task.id);
    expect(listedIds.sort()).toEqual(Object.values(ids).sort());
    const cli = await runCli(['tasks', '--submission', batch.submission_id, '--json'], {
      SUPERVISOR_URL: test.url,
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).items).toHaveLength(4);

    const nth = (n: number) =>
      until(async () => {
        await test.supervisor.notifier.tick();
        return webhook.payloads[n - 1];
      }, `summary ${n}`);
    const first = await nth(1);
    const [record] = await finishedRecords(test);
    expect(record?.details).toMatchObject({ tasks: 4, succeeded: 2, failed: 2, cancelled: 0 });
    const costUsd = (record!.details as { costUsd: number }).costUsd;
    expect(costUsd).toBeCloseTo(0.005, 6); // 1 + 2 + 2 attempts at $0.001
    const short = batch.submission_id.slice(0, 8);
    expect(first).toMatchObject({
      type: 'supervisor.batch_finished',
      data: {
        severity: 'warning',
        title: `Batch ${short} finished: 2 of 4 tasks succeeded, $${costUsd.toFixed(4)}`,
        what: expect.stringMatching(
          /^Succeeded 2, failed 2, cancelled 0 \(.*\); \$0\.00\d\d spent over \d+ s\./,
        ),
        subject: { submission_id: batch.submission_id, task_id: null },
        link: `${PUBLIC_URL}/api/v1/tasks?submission=${batch.submission_id}`,
      },
    });
    expect(first.data.what).toContain('failed 1');
    expect(first.data.what).toContain('dependency_failed 1');
    expect(first.data.why).toContain(`${ids.lint} (failed)`);
    expect(first.data.why).toContain(`${ids.report} (dependency_failed)`);

    // Nothing more while nothing changes; a retried task reopens the batch, and its end closes it again.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await test.supervisor.notifier.tick();
    expect(webhook.payloads).toHaveLength(1);
    const retried = await test.supervisor.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${ids.lint}/retry`,
    });
    expect(retried.statusCode, retried.body).toBe(200);
    await test.waitForStatus(ids.lint!, ['succeeded']);
    const second = await nth(2);
    expect(second.data.title).toMatch(
      new RegExp(`^Batch ${short} finished: 3 of 4 tasks succeeded, \\$0\\.00\\d\\d$`),
    );
    expect(webhook.payloads).toHaveLength(2);
  }, 90_000);

  it('closes a batch exactly once when its tasks end at the same moment', async () => {
    // The four attempts start, wait for each other, and end together: their closing transactions race.
    const test = await startTestSupervisor(backend, {
      driver: new ScriptedDriver({ together: 4 }),
      env: { WORKER_CONCURRENCY: '4' },
    });
    cleanups.push(test.stop);
    const batch = await submitBatch(
      test,
      Array.from({ length: 4 }, (_, index) => analysis(`part-${index}`)),
    );
    for (const id of Object.values(batch.ids)) await test.waitForStatus(id, ['succeeded']);
    const records = await until(async () => {
      const rows = await finishedRecords(test);
      return rows.length ? rows : undefined;
    }, 'the submission.finished record');
    expect(records).toHaveLength(1);
    expect(records[0]?.details).toMatchObject({
      submission: batch.submission_id,
      tasks: 4,
      succeeded: 4,
      outcomes: {},
      unsuccessful: [],
    });
    const [row] = await test.supervisor.database.db
      .select()
      .from(submissions)
      .where(eq(submissions.id, batch.submission_id));
    expect(row?.finishedAt).toBeInstanceOf(Date);
  }, 90_000);
});
