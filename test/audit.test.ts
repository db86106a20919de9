import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asc, eq, sql } from 'drizzle-orm';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../src/api/error-handler.ts';
import { auditRoutes } from '../src/api/routes/audit.ts';
import { type AuditEntry, auditHash, GENESIS_HASH, sealAudit } from '../src/audit/audit-log.ts';
import { type AuditRecordView, type AuditRow, auditView } from '../src/audit/audit-query.ts';
import { PRUNED_ACTION, pruneAudit } from '../src/audit/audit-retention.ts';
import { verifyAudit } from '../src/audit/audit-verify.ts';
import { auditExport, auditVerify } from '../src/cli/commands/audit.ts';
import { EXIT, ExitError } from '../src/cli/exit.ts';
import { loadConfig } from '../src/config/load.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { encodeCursor } from '../src/store/cursor.ts';
import { type Db, openDatabase } from '../src/store/database.ts';
import { auditLog } from '../src/store/schema.ts';
import { BACKENDS, freshDatabase, type TestDatabase } from './support/databases.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { SEED_PR_REVIEW } from './support/seed.ts';

/**
 * The audit trail end to end: records written by real actions, listed and paged through the
 * route, verified, tampered with in the database (verification must name the row), pruned, and
 * exported by the CLI commands.
 */

/** The route on its own Fastify instance, with the API's zod compilers and error shape. */
async function auditApp(db: Db): Promise<{ app: FastifyInstance; access: Map<string, unknown> }> {
  const app = Fastify();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  const access = new Map<string, unknown>();
  app.addHook('onRoute', (route) => {
    access.set(`${String(route.method)} ${route.url}`, route.config?.access);
  });
  await app.register(async (api) => auditRoutes(api, { db: () => db }), { prefix: '/api/v1' });
  await app.ready();
  return { app, access };
}

/** Every record a query lists, following next_cursor to the end. */
async function pageThrough(app: FastifyInstance, query: string, limit: number): Promise<AuditRecordView[]> {
  const seen: AuditRecordView[] = [];
  let cursor: string | null = null;
  do {
    const response = await app.inject({
      method: 'GET',
      url: `/api/v1/audit-logs?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`,
    });
    expect(response.statusCode, response.body).toBe(200);
    const page = response.json() as { items: AuditRecordView[]; next_cursor: string | null };
    seen.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return seen;
}

/** The whole log, oldest first, straight from the table. */
/** Every chained record, oldest first, after chaining those written a moment ago. */
const allRows = async (db: Db): Promise<AuditRow[]> => {
  await sealAudit(db);
  return db.select().from(auditLog).orderBy(asc(auditLog.id));
};

describe.each(BACKENDS)('audit log on %s', (backend) => {
  let test: TestSupervisor;
  let db: Db;
  let app: FastifyInstance;
  let access: Map<string, unknown>;
  let aliceTask: string;
  const bob = { name: 'bob' };

  beforeAll(async () => {
    test = await startTestSupervisor(backend, {
      env: { AUTH_MODE: 'tokens', ECHO_DRIVER_DELAY_MS: '10', SUBMIT_RATE_PER_MINUTE: '1000' },
    });
    db = test.supervisor.database.db;
    ({ app, access } = await auditApp(db));
    const admin = { authorization: `Bearer ${test.adminToken}` };
    const created = await test.supervisor.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: admin,
      payload: { name: 'alice', role: 'submitter' },
    });
    expect(created.statusCode).toBe(201);
    const alice = created.json() as { id: string; token: string };
    const submitted: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await test.supervisor.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { authorization: `Bearer ${alice.token}` },
        payload: SEED_PR_REVIEW,
      });
      expect(response.statusCode).toBe(201);
      submitted.push(response.json().id);
      // One at a time, so the records spread over time: the time-window and prune cases need that.
      await test.waitForStatus(submitted[i]!, ['succeeded']);
    }
    aliceTask = submitted[0]!;
    const later = new Date(Date.now() + 3_600_000).toISOString();
    for (let i = 0; i < 2; i++) {
      const { task } = await test.supervisor.tasks.submit(
        { type: 'CODE_ANALYSIS', payload: { repository: 'acme/api' }, priority: 5, run_after: later },
        { actor: bob },
      );
      if (i === 0) await test.supervisor.tasks.cancel(task.id, bob);
    }
    const revoked = await test.supervisor.app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${alice.id}`,
      headers: admin,
    });
    expect(revoked.statusCode).toBe(200);
  });
  afterAll(async () => {
    await app?.close();
    await test?.stop();
  });

  it('lists newest first and pages through each record exactly once, with every filter', async () => {
    const rows = await allRows(db);
    const newestFirst = rows.map(auditView).reverse();
    const cases: Array<[string, (record: AuditRecordView) => boolean]> = [
      ['', () => true],
      ['&actor=alice', (r) => r.actor === 'alice'],
      [`&task_id=${aliceTask}`, (r) => r.task_id === aliceTask],
      ['&agent_id=echo', (r) => r.agent_id === 'echo'],
      [
        '&action=task.submitted,%20task.cancelled',
        (r) => ['task.submitted', 'task.cancelled'].includes(r.action),
      ],
      ['&actor=bob&action=task.cancelled', (r) => r.actor === 'bob' && r.action === 'task.cancelled'],
    ];
    // A time window in the middle of the log: `from` is inclusive, `to` exclusive.
    const from = rows[3]!.at.toISOString();
    const to = rows[rows.length - 4]!.at.toISOString();
    cases.push([`&from=${from}&to=${to}`, (r) => r.at >= from && r.at < to]);
    for (const [query, matches] of cases) {
      const expected = newestFirst.filter(matches);
      expect(expected.length, `setup gives ${query || 'the whole log'} something to find`).toBeGreaterThan(0);
      expect(await pageThrough(app, query, 2), query).toEqual(expected);
      expect(await pageThrough(app, query, 500), query).toEqual(expected);
    }
    const actions = new Set(rows.map((row) => row.action));
    for (const action of [
      'token.created',
      'task.submitted',
      'attempt.started',
      'attempt.finished',
      'token.revoked',
    ]) {
      expect(actions).toContain(action);
    }
  });

  it('refuses a foreign or malformed cursor and bad filters, and is for admins only', async () => {
    const taskCursor = encodeCursor({ createdAt: new Date(), id: aliceTask });
    for (const [query, code] of [
      ['cursor=garbage', 'invalid_cursor'],
      [`cursor=${taskCursor}`, 'invalid_cursor'],
      ['task_id=not-a-uuid', 'validation_failed'],
      ['limit=0', 'validation_failed'],
      ['limit=501', 'validation_failed'],
      ['from=yesterday', 'validation_failed'],
      ['event=task.submitted', 'validation_failed'],
    ]) {
      const response = await app.inject({ method: 'GET', url: `/api/v1/audit-logs?${query}` });
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code, query).toBe(code);
    }
    expect(access.get('GET /api/v1/audit-logs')).toBe('admin');
  });

  it('verifies an intact chain, walking it in pages', async () => {
    const rows = await allRows(db);
    const last = rows.at(-1)!;
    expect(await verifyAudit(db, { pageSize: 4 })).toEqual({
      ok: true,
      checked: rows.length,
      lastId: last.id,
      lastHash: last.hash,
      prunedThroughId: null,
    });
  });

  it('names a row whose details or actor were changed in the database', async () => {
    const rows = await allRows(db);
    const index = Math.floor(rows.length / 2);
    const target = rows[index]!;
    const broken = {
      ok: false,
      checked: index,
      brokenId: target.id,
      reason: `row ${target.id}: its hash does not match its contents (changed after it was written)`,
    };
    await db.execute(
      sql`update audit_log set details = details || '{"note":"edited"}' where id = ${target.id}`,
    );
    expect(await verifyAudit(db, { pageSize: 4 })).toEqual(broken);
    await db.update(auditLog).set({ details: target.details }).where(eq(auditLog.id, target.id));
    expect(await verifyAudit(db)).toMatchObject({ ok: true });

    await db.execute(sql`update audit_log set actor = 'mallory' where id = ${target.id}`);
    expect(await verifyAudit(db, { pageSize: 4 })).toEqual(broken);
    await db.update(auditLog).set({ actor: target.actor }).where(eq(auditLog.id, target.id));
    expect(await verifyAudit(db)).toMatchObject({ ok: true });
  });

  it('names the row after a deleted one', async () => {
    const rows = await allRows(db);
    const index = Math.floor(rows.length / 2);
    const [before, removed, after] = rows.slice(index - 1, index + 2) as [AuditRow, AuditRow, AuditRow];
    await db.execute(sql`delete from audit_log where id = ${removed.id}`);
    expect(await verifyAudit(db, { pageSize: 4 })).toEqual({
      ok: false,
      checked: index,
      brokenId: after.id,
      reason: `row ${after.id}: prev_hash does not match row ${before.id}'s hash (a row before it was changed or removed)`,
    });
    await db.insert(auditLog).values(removed);
    expect(await verifyAudit(db)).toMatchObject({ ok: true });
  });

  it('prunes the oldest records behind an anchor that is itself protected by the chain', async () => {
    const rows = await allRows(db);
    const cutoff = rows[Math.floor(rows.length / 2)]!.at;
    const firstKept = rows.findIndex((row) => row.at >= cutoff);
    expect(firstKept, 'records before the cutoff').toBeGreaterThan(0);
    const through = rows[firstKept - 1]!;
    const pruned = await pruneAudit(db, cutoff);
    expect(pruned).toEqual({ removed: firstKept, through_id: through.id, through_hash: through.hash });
    expect(await pruneAudit(db, cutoff), 'nothing more to prune, and nothing written').toBeUndefined();

    const newest = (await app.inject({ method: 'GET', url: '/api/v1/audit-logs?limit=1' })).json().items[0];
    expect(newest).toMatchObject({ actor: 'supervisor', action: PRUNED_ACTION, details: pruned });
    const anchor = (await allRows(db)).at(-1)!;
    expect(await verifyAudit(db, { pageSize: 4 })).toEqual({
      ok: true,
      checked: rows.length - firstKept + 1,
      lastId: anchor.id,
      lastHash: anchor.hash,
      prunedThroughId: through.id,
    });

    // Records keep chaining after the anchor.
    await test.supervisor.tasks.submit(
      {
        type: 'CODE_ANALYSIS',
        payload: { repository: 'acme/api' },
        priority: 5,
        run_after: '2999-01-01T00:00:00Z',
      },
      { actor: bob },
    );
    const successor = (await allRows(db)).at(-1)!;
    expect(successor.prevHash).toBe(anchor.hash);
    expect(await verifyAudit(db)).toMatchObject({ ok: true, prunedThroughId: through.id });

    // Editing the anchor breaks its hash...
    await db.execute(sql`update audit_log set details = details || '{"removed":0}' where id = ${anchor.id}`);
    expect(await verifyAudit(db)).toMatchObject({ ok: false, brokenId: anchor.id });
    // ...and re-hashing it after the edit breaks the link of the record after it.
    const forged = { ...anchor, details: { ...(anchor.details as object), removed: 0 } };
    await db
      .update(auditLog)
      .set({ hash: auditHash(forged.prevHash, forged as AuditEntry) })
      .where(eq(auditLog.id, anchor.id));
    expect(await verifyAudit(db)).toMatchObject({
      ok: false,
      brokenId: successor.id,
      reason: `row ${successor.id}: prev_hash does not match row ${anchor.id}'s hash (a row before it was changed or removed)`,
    });
    await db
      .update(auditLog)
      .set({ details: anchor.details, hash: anchor.hash })
      .where(eq(auditLog.id, anchor.id));
    expect(await verifyAudit(db)).toMatchObject({ ok: true });

    // Removing more of the oldest records by hand leaves a start no anchor vouches for.
    const [oldest, nextOldest] = (await allRows(db)) as [AuditRow, AuditRow];
    await db.execute(sql`delete from audit_log where id = ${oldest.id}`);
    expect(await verifyAudit(db)).toEqual({
      ok: false,
      checked: 0,
      brokenId: nextOldest.id,
      reason: `row ${nextOldest.id}: prev_hash is neither the start of the chain nor the last hash of a recorded audit.pruned (records before it were removed)`,
    });
    await db.insert(auditLog).values(oldest);
    expect(await verifyAudit(db)).toMatchObject({ ok: true });
  });

  it('prunes every record, and the chain continues from the anchor', async () => {
    const rows = await allRows(db);
    const last = rows.at(-1)!;
    expect(await pruneAudit(db, new Date(Date.now() + 86_400_000))).toEqual({
      removed: rows.length,
      through_id: last.id,
      through_hash: last.hash,
    });
    const [anchor] = await allRows(db);
    expect(anchor).toMatchObject({ action: PRUNED_ACTION, prevHash: last.hash });
    await test.supervisor.tasks.submit(
      {
        type: 'CODE_ANALYSIS',
        payload: { repository: 'acme/web' },
        priority: 5,
        run_after: '2999-01-01T00:00:00Z',
      },
      { actor: bob },
    );
    expect(await verifyAudit(db)).toMatchObject({ ok: true, checked: 2, prunedThroughId: last.id });
  });

  it.runIf(backend === 'postgres')('runs the CLI commands against DATABASE_URL', async () => {
    const config = loadConfig({ env: { DATABASE_URL: test.testDb.url!, LOG_LEVEL: 'silent' } });
    const lines: string[] = [];
    await auditExport(config, {}, (text) => lines.push(...text.split('\n')));
    expect(lines.map((line) => JSON.parse(line))).toEqual((await pageThrough(app, '', 500)).reverse());
    const last = (await allRows(db)).at(-1)!;
    const printed: string[] = [];
    await auditVerify(config, (text) => printed.push(text));
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(
      new RegExp(`^audit chain intact: ${lines.length} records, last #${last.id} ${last.hash.slice(0, 16)}`),
    );
    await db.execute(sql`update audit_log set actor = 'mallory' where id = ${last.id}`);
    await expect(auditVerify(config, () => {})).rejects.toMatchObject({
      code: EXIT.taskFailed,
      message: expect.stringContaining(`row ${last.id}: its hash does not match its contents`),
    });
    await db.update(auditLog).set({ actor: last.actor }).where(eq(auditLog.id, last.id));
  });
});

describe('supervisor audit verify and export on an embedded DATA_DIR', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({ env: { DATA_DIR: dataDir, LOG_LEVEL: 'silent' } });

  it('exports what the API lists, verifies it, and names a row changed while the supervisor was down', async () => {
    const supervisor = await Supervisor.start({
      config,
      logger: pino({ level: 'silent' }),
      listen: false,
      worker: false,
      showAdminToken: () => {},
    });
    let listed: AuditRecordView[];
    try {
      for (let i = 0; i < 5; i++) {
        const { task } = await supervisor.tasks.submit(
          { type: 'CODE_ANALYSIS', payload: { repository: `acme/repo-${i}` }, priority: 5 },
          { actor: { name: i % 2 ? 'alice' : 'bob' } },
        );
        if (i === 2) await supervisor.tasks.cancel(task.id, { name: 'alice' });
      }
      const { app } = await auditApp(supervisor.database.db);
      listed = await pageThrough(app, '', 3);
      await app.close();
    } finally {
      await supervisor.stop();
    }
    const oldestFirst = listed.reverse();

    const output = join(dataDir, 'audit.jsonl');
    const said: string[] = [];
    await auditExport(config, { output }, (text) => said.push(text));
    expect(said).toEqual([`exported ${oldestFirst.length} audit record(s) to ${output}`]);
    const exported = readFileSync(output, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditRecordView);
    expect(exported).toEqual(oldestFirst);
    // Chain order: the file checks out on its own.
    exported.forEach((record, i) => {
      expect(record.prev_hash).toBe(i === 0 ? GENESIS_HASH : exported[i - 1]!.hash);
    });
    expect(existsSync(`${output}.partial`)).toBe(false);

    const from = oldestFirst[2]!.at;
    const to = oldestFirst.at(-2)!.at;
    const window: string[] = [];
    await auditExport(config, { from, to }, (text) => window.push(...text.split('\n')));
    expect(window.map((line) => JSON.parse(line))).toEqual(
      oldestFirst.filter((record) => record.at >= from && record.at < to),
    );
    await expect(auditExport(config, { from: 'last week' }, () => {})).rejects.toMatchObject({
      code: EXIT.usage,
      message: expect.stringContaining('--from: expected an ISO 8601 time'),
    });

    const printed: string[] = [];
    await auditVerify(config, (text) => printed.push(text));
    const last = oldestFirst.at(-1)!;
    expect(printed).toEqual([
      `audit chain intact: ${oldestFirst.length} records, last #${last.id} ${last.hash.slice(0, 16)}`,
    ]);

    const tampered = oldestFirst[3]!;
    const database = await openDatabase({ kind: 'pglite', dataDir: join(dataDir, 'pglite') });
    await database.db.execute(sql`update audit_log set details = '{"priority":1}' where id = ${tampered.id}`);
    await database.close();
    const failure = await auditVerify(config, () => {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExitError);
    expect(failure).toMatchObject({ code: EXIT.taskFailed });
    expect((failure as ExitError).message).toBe(
      `audit chain broken: row ${tampered.id}: its hash does not match its contents (changed after it was written). ` +
        `The 3 record(s) before it are intact. Compare row ${tampered.id} with a backup or an earlier \`supervisor audit export\` to see what changed.`,
    );
  });

  it('says where it looked when DATA_DIR holds no database, and leaves no partial export', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'audit-empty-'));
    try {
      const elsewhere = loadConfig({ env: { DATA_DIR: empty, LOG_LEVEL: 'silent' } });
      await expect(auditVerify(elsewhere, () => {})).rejects.toMatchObject({
        code: EXIT.usage,
        message: expect.stringContaining(`no embedded database in ${empty}: set DATA_DIR`),
      });
      const output = join(empty, 'audit.jsonl');
      await expect(auditExport(elsewhere, { output }, () => {})).rejects.toBeInstanceOf(ExitError);
      expect(existsSync(output) || existsSync(`${output}.partial`)).toBe(false);
      expect(existsSync(join(empty, 'pglite')), 'nothing created').toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

const LONG_CHAIN = Number(process.env.AUDIT_TEST_RECORDS ?? 100_000);

describe.each(BACKENDS)(`verifying ${LONG_CHAIN} records on %s`, (backend) => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await freshDatabase(backend);
  });
  afterAll(() => testDb?.drop());

  it('walks the whole chain page by page and names a row changed near its end', async () => {
    const db = testDb.database.db;
    let prevHash = GENESIS_HASH;
    const start = Date.parse('2026-01-01T00:00:00Z');
    for (let batch = 0; batch < LONG_CHAIN; batch += 1000) {
      const values = [];
      for (let i = batch; i < Math.min(batch + 1000, LONG_CHAIN); i++) {
        const entry = {
          at: new Date(start + i),
          actor: `user-${i % 7}`,
          action: 'task.submitted',
          taskId: null,
          agentId: null,
          details: { n: i, repository: 'acme/api' },
        };
        const hash = auditHash(prevHash, entry);
        values.push({ ...entry, prevHash, hash });
        prevHash = hash;
      }
      await db.insert(auditLog).values(values);
    }
    const result = await verifyAudit(db);
    expect(result).toMatchObject({ ok: true, checked: LONG_CHAIN, lastHash: prevHash });

    const [target] = await db
      .select({ id: auditLog.id })
      .from(auditLog)
      .where(sql`(${auditLog.details}->>'n')::int = ${LONG_CHAIN - 10}`);
    await db.execute(sql`update audit_log set actor = 'mallory' where id = ${target!.id}`);
    expect(await verifyAudit(db)).toMatchObject({
      ok: false,
      checked: LONG_CHAIN - 10,
      brokenId: target!.id,
    });
  });
});
