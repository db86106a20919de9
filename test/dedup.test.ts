import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { sealAudit } from '../src/audit/audit-log.ts';
import { queryRows } from '../src/store/database.ts';
import { BACKENDS } from './support/databases.ts';
import { ScriptedDriver } from './support/drivers.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { SEED_PR_REVIEW } from './support/seed.ts';

const review = { ...SEED_PR_REVIEW, dedupe: true };
const otherDiff = '--- a/auth.py\n+++ b/auth.py\n@@ -1,2 +1,2 @@\n-token = old()\n+token = renew()\n';
const withDiff = (diff: string) => ({ ...review, payload: { ...review.payload, diff } });

describe.each(BACKENDS)('deduplication on %s', (backend) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const start = async (options: Parameters<typeof startTestSupervisor>[1]) => {
    const started = await startTestSupervisor(backend, options);
    cleanups.push(started.stop);
    return started;
  };
  /** Sent as the admin token created on first start (a supervisor without a worker requires tokens). */
  const post = (test: TestSupervisor, payload: object, headers: Record<string, string> = {}) =>
    test.supervisor.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload,
      headers: { authorization: `Bearer ${test.adminToken}`, ...headers },
    });
  const taskCount = async (test: TestSupervisor) =>
    (
      await queryRows<{ count: number }>(
        test.supervisor.database.db,
        sql`select count(*)::int as count from tasks`,
      )
    )[0]!.count;

  it('runs identical submissions once and a different diff again', async () => {
    const driver = new ScriptedDriver();
    const test = await start({ driver });

    const first = await post(test, review);
    const again = await post(test, review);
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.headers.deduplicated).toBe('true');
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.json().id).toBe(first.json().id);

    // Same everything but one line of the diff: different work, its own task.
    const other = await post(test, withDiff(otherDiff));
    expect(other.statusCode).toBe(201);
    expect(other.json().id).not.toBe(first.json().id);

    await test.waitForStatus(first.json().id, ['succeeded']);
    await test.waitForStatus(other.json().id, ['succeeded']);
    // A succeeded task still stands in for the same work, and windows-style line endings are the same text.
    const crlf = await post(test, withDiff(review.payload.diff.replaceAll('\n', '\r\n')));
    expect(crlf.statusCode).toBe(200);
    expect(crlf.json()).toMatchObject({ id: first.json().id, status: 'succeeded' });

    expect(driver.runs.map((run) => run.taskId).sort()).toEqual([first.json().id, other.json().id].sort());
    expect(await taskCount(test)).toBe(2);
    await sealAudit(test.supervisor.database.db);
    const audit = await queryRows(
      test.supervisor.database.db,
      sql`select actor, task_id from audit_log where action = 'task.deduplicated' order by id`,
    );
    expect(audit).toEqual([
      { actor: 'admin', task_id: first.json().id },
      { actor: 'admin', task_id: first.json().id },
    ]);
  });

  it('leaves submissions without dedupe alone and lets an Idempotency-Key answer first', async () => {
    const test = await start({ worker: false });
    const plain = { ...review, dedupe: false };
    const one = await post(test, plain);
    const two = await post(test, plain);
    expect([one.statusCode, two.statusCode]).toEqual([201, 201]);
    expect(one.json().id).not.toBe(two.json().id);

    // A dedupe submission also finds tasks submitted without the option, the newest first.
    const deduped = await post(test, review);
    expect(deduped.statusCode).toBe(200);
    expect(deduped.json().id).toBe(two.json().id);

    // The key answers before dedup does: its repeat is an idempotent replay.
    const keyed = await post(test, withDiff(otherDiff), { 'idempotency-key': 'dedup-key' });
    expect(keyed.statusCode).toBe(201);
    const replay = await post(test, withDiff(otherDiff), { 'idempotency-key': 'dedup-key' });
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.deduplicated).toBeUndefined();
    expect(replay.json().id).toBe(keyed.json().id);
    expect(await taskCount(test)).toBe(3);
  });

  it('creates a new task once the window has passed (fake clock)', async () => {
    const t0 = new Date('2026-11-24T10:00:00Z');
    let clock = t0;
    const test = await start({ worker: false, now: () => clock, env: { DEDUP_WINDOW_SECONDS: '60' } });
    const first = await post(test, review);
    clock = new Date(t0.getTime() + 60_000);
    const inside = await post(test, review);
    expect(inside.statusCode).toBe(200);
    expect(inside.json().id).toBe(first.json().id);

    clock = new Date(t0.getTime() + 61_000);
    const after = await post(test, review);
    expect(after.statusCode).toBe(201);
    expect(after.json().id).not.toBe(first.json().id);
    // The newest task of the content is the one found from now on.
    expect((await post(test, review)).json().id).toBe(after.json().id);
  });

  it('runs the work of a failed or cancelled task again', async () => {
    const driver = new ScriptedDriver({ outcomes: ['failed'] });
    const test = await start({ driver });
    const failing = await post(test, { ...review, max_attempts: 1 });
    await test.waitForStatus(failing.json().id, ['failed']);
    const rerun = await post(test, review);
    expect(rerun.statusCode).toBe(201);
    expect(rerun.json().id).not.toBe(failing.json().id);

    const later = { ...withDiff(otherDiff), run_after: '2099-01-01T00:00:00Z' };
    const cancelled = await post(test, later);
    const cancel = await test.supervisor.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${cancelled.json().id}/cancel`,
      headers: { authorization: `Bearer ${test.adminToken}` },
    });
    expect(cancel.statusCode).toBe(200);
    const again = await post(test, later);
    expect(again.statusCode).toBe(201);
    expect(again.json().id).not.toBe(cancelled.json().id);
  });

  it('turns five concurrent identical submissions into one task', async () => {
    const test = await start({ worker: false });
    const replies = await Promise.all([1, 2, 3, 4, 5].map(() => post(test, review)));
    expect(replies.map((reply) => reply.statusCode).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(replies.map((reply) => reply.json().id)).size).toBe(1);
    expect(await taskCount(test)).toBe(1);
  });
});
