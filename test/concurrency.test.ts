import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../src/agents/agent-definition.ts';
import { SecretBox } from '../src/agents/secrets.ts';
import { appendAudit, sealAudit } from '../src/audit/audit-log.ts';
import { verifyAudit } from '../src/audit/audit-verify.ts';
import { AgentPool } from '../src/pool/agent-pool.ts';
import { type Database, openDatabase, queryRows } from '../src/store/database.ts';
import { getTask, insertAttempt, insertTask } from '../src/store/task-store.ts';
import { availableBackends, freshDatabase, type TestDatabase } from './support/databases.ts';

/**
 * The guarantees that admission and the audit trail keep without a cluster-wide lock, under real
 * concurrency: many transactions at once on their own PostgreSQL connections.
 */

const silent = pino({ level: 'silent' });
const hasPostgres = (await availableBackends()).includes('postgres');

describe.skipIf(!hasPostgres)('concurrency on PostgreSQL', () => {
  let test: TestDatabase;
  /** A second handle on the same database with room for many transactions at once. */
  let wide: Database;

  beforeEach(async () => {
    test = await freshDatabase('postgres');
    wide = await openDatabase({ kind: 'postgres', url: test.url!, poolSize: 16 });
  });
  afterEach(async () => {
    await wide.close();
    await test.drop();
  });

  it('never lets concurrent admissions overbook an agent’s run slots or quota window', async () => {
    const db = wide.db;
    const now = new Date();
    const pool = new AgentPool({
      db,
      secrets: new SecretBox('a test key, long enough'),
      sessionsDir: mkdtempSync(join(tmpdir(), 'sessions-')),
      defaultEstimateUsd: 0.1,
      logger: silent,
    });
    const agent = (id: string, limits: AgentDefinition['limits']): AgentDefinition => ({
      id,
      cli: 'claude-code',
      credential: { kind: 'api_key', value: `key-${id}` },
      limits,
    });
    await pool.sync(
      [
        // Three run slots and no quota.
        agent('slots', { models: ['m'], maxConcurrent: 3, windows: [] }),
        // Room for five tasks: each is expected to make 10 requests (the default estimate).
        agent('window', {
          models: ['m'],
          maxConcurrent: 100,
          windows: [{ name: 'requests', metric: 'requests', limit: 50, hours: 8760, mode: 'fixed' }],
        }),
      ],
      now,
    );
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const task = await insertTask(db, {
        id: randomUUID(),
        type: 'CODE_ANALYSIS',
        status: 'queued',
        priority: 5,
        repository: `acme/repo-${i}`,
        payload: { repository: `acme/repo-${i}` },
        maxAttempts: 3,
        submittedBy: 'local',
        createdAt: now,
        updatedAt: now,
      });
      ids.push(task.id);
    }

    /** One admission as a worker makes it: admit, then record the attempt, in one transaction. */
    const admitOne = (taskId: string) =>
      db.transaction(async (tx) => {
        const task = (await getTask(tx, taskId, { lock: true }))!;
        const admission = await pool.admit(tx, task, now);
        if ('handBack' in admission || admission.decision.kind !== 'admit') return false;
        const record = admission.record!;
        await insertAttempt(tx, {
          id: randomUUID(),
          taskId,
          number: 1,
          agentId: admission.decision.agentId,
          driver: 'claude-code',
          workerId: 'test',
          host: 'test',
          jobId: null,
          admission: record,
          sessionId: record.session.id,
          model: admission.decision.model,
          startedAt: now,
          leaseExpiresAt: new Date(now.getTime() + 60_000),
        });
        // The rest of a real admission's writes keep its transaction open a little longer.
        await tx.execute(sql`select pg_sleep(0.02)`);
        return true;
      });

    // All at once, and again for those left out, until a whole round admits nothing more.
    let waiting = ids;
    for (let admittedThisRound = -1; admittedThisRound !== 0; ) {
      const results = await Promise.all(waiting.map((id) => admitOne(id)));
      admittedThisRound = results.filter(Boolean).length;
      waiting = waiting.filter((_, i) => !results[i]);
    }
    const running = await queryRows<{ agent_id: string; n: number }>(
      db,
      sql`select agent_id, count(*)::int as n from task_attempts group by agent_id order by agent_id`,
    );
    expect(running).toEqual([
      { agent_id: 'slots', n: 3 },
      { agent_id: 'window', n: 5 },
    ]);
    expect(waiting).toHaveLength(22);
  });

  it('appends audit records without waiting for other writers, and the chain still names an edit or a deletion', async () => {
    const db = wide.db;
    const at = new Date();
    // A transaction holding an appended record open does not hold up another writer.
    let release!: () => void;
    const held = db.transaction(async (tx) => {
      await appendAudit(tx, { at, actor: 'slow', action: 'test.held' });
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await expect.poll(() => release).toBeDefined();
    const quick = db.transaction((tx) => appendAudit(tx, { at, actor: 'quick', action: 'test.quick' }));
    const outcome = await Promise.race([
      quick.then(() => 'committed'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000)),
    ]);
    release();
    await held;
    await quick;
    expect(outcome).toBe('committed');

    // Many writers and two sealers at once: every record is chained exactly once.
    let sealing = true;
    const sealer = async () => {
      while (sealing) await sealAudit(db);
    };
    const sealers = [sealer(), sealer()];
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        db.transaction(async (tx) => {
          for (let n = 0; n < 3; n++) {
            await appendAudit(tx, { at, actor: `writer-${i}`, action: 'test.append', details: { n } });
          }
        }),
      ),
    );
    sealing = false;
    await Promise.all(sealers);
    const result = await verifyAudit(db);
    expect(result).toMatchObject({ ok: true, checked: 182 });
    const counts = await queryRows<{ n: number; writers: number; pending: number }>(
      db,
      sql`select count(*)::int as n, count(distinct actor)::int as writers,
            (select count(*)::int from audit_pending) as pending
          from audit_log where action = 'test.append'`,
    );
    expect(counts).toEqual([{ n: 180, writers: 60, pending: 0 }]);

    const rows = await queryRows<{ id: number }>(db, sql`select id::int as id from audit_log order by id`);
    const middle = rows[90]!.id;
    await db.execute(sql`update audit_log set actor = 'mallory' where id = ${middle}`);
    expect(await verifyAudit(db)).toMatchObject({ ok: false, brokenId: middle, checked: 90 });
    await db.execute(sql`delete from audit_log where id = ${middle}`);
    expect(await verifyAudit(db)).toMatchObject({
      ok: false,
      brokenId: rows[91]!.id,
      reason: expect.stringContaining(`prev_hash does not match row ${rows[89]!.id}'s hash`),
    });
  });
});
