import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskType } from '../src/core/task-types.ts';
import { listTasks } from '../src/store/task-store.ts';
import { BACKENDS } from './support/databases.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';

const TOTAL = Number(process.env.LISTING_TEST_TASKS ?? 10_000);
const TYPES: TaskType[] = ['CODE_ANALYSIS', 'REFACTOR', 'BUG_FIX'];
const REPOS = ['acme/api', 'acme/web', 'acme/cli', 'other/tool'];

interface Expected {
  id: string;
  type: TaskType;
  repository: string;
  createdAt: number;
  status: string;
}

describe.each(BACKENDS)(`listing ${TOTAL} tasks on %s`, (backend) => {
  let test: TestSupervisor;
  const expected: Expected[] = [];
  // Seven tasks share each millisecond, so ties on created_at are everywhere and ids must break them.
  let tick = 0;
  const base = Date.parse('2026-01-01T00:00:00Z');
  const now = () => new Date(base + Math.floor(tick++ / 7));

  beforeAll(async () => {
    test = await startTestSupervisor(backend, { worker: false, now });
    for (let i = 0; i < TOTAL; i++) {
      const type = TYPES[i % TYPES.length]!;
      const repository = REPOS[(i * 7) % REPOS.length]!;
      const payload = type === 'CODE_ANALYSIS' ? { repository } : { repository, description: `change ${i}` };
      const { task } = await test.supervisor.tasks.submit(
        { type, payload, priority: 1 + (i % 10) } as never,
        {
          actor: { name: 'bulk' },
        },
      );
      expected.push({
        id: task.id,
        type,
        repository,
        createdAt: task.createdAt.getTime(),
        status: task.status,
      });
    }
    // Cancel every 10th task so status filters have something to select.
    for (let i = 0; i < TOTAL; i += 10) {
      await test.supervisor.tasks.cancel(expected[i]!.id, { name: 'bulk' });
      expected[i]!.status = 'cancelled';
    }
    expected.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }, 600_000);
  afterAll(() => test?.stop());

  const pageThrough = async (query: string, limit: number): Promise<string[]> => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/tasks?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await test.supervisor.app.inject({
        headers: { authorization: `Bearer ${test.adminToken}` },
        method: 'GET',
        url,
      });
      expect(response.statusCode).toBe(200);
      const page = response.json() as { items: Array<{ id: string }>; next_cursor: string | null };
      seen.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
    } while (cursor);
    return seen;
  };

  it('reads each page through an index, never by sorting the whole table', async () => {
    const db = test.supervisor.database.db;
    await db.execute(sql`analyze tasks`);
    const client = (
      db as unknown as { $client: { query(text: string, params: unknown[]): Promise<PlanRows> } }
    ).$client;
    type PlanRows = { rows: Array<{ 'QUERY PLAN': unknown }> };
    for (const filters of [
      {},
      { status: ['cancelled'] as never },
      { repository: 'acme/api' },
      { type: ['REFACTOR'] as never },
    ]) {
      const query = listTasks(db, filters, { limit: 51 }).toSQL();
      const { rows } = await client.query(`explain (format json) ${query.sql}`, query.params);
      const plan = JSON.stringify(rows[0]!['QUERY PLAN']);
      expect(plan, JSON.stringify(filters)).toContain('Index Scan');
      expect(plan, JSON.stringify(filters)).not.toMatch(/"Node Type":"(Seq Scan|Sort)"/);
    }
  });

  it('pages through everything newest first, each task exactly once', async () => {
    const seen = await pageThrough('', 500);
    expect(seen).toHaveLength(TOTAL);
    expect(seen).toEqual(expected.map((task) => task.id));
  });

  it('keeps filters and cursors correct together', async () => {
    const cases: Array<[string, (task: Expected) => boolean]> = [
      ['&status=cancelled', (t) => t.status === 'cancelled'],
      ['&type=REFACTOR,BUG_FIX', (t) => t.type === 'REFACTOR' || t.type === 'BUG_FIX'],
      ['&repository=acme/web', (t) => t.repository === 'acme/web'],
      [
        '&status=queued&type=CODE_ANALYSIS&repository=other/tool',
        (t) => t.status === 'queued' && t.type === 'CODE_ANALYSIS' && t.repository === 'other/tool',
      ],
    ];
    for (const [query, keep] of cases) {
      expect(await pageThrough(query, 137), query).toEqual(expected.filter(keep).map((t) => t.id));
    }
  });

  it('filters by creation time', async () => {
    const span = expected[0]!.createdAt - base;
    const from = new Date(base + Math.floor(span * 0.3));
    const to = new Date(base + Math.floor(span * 0.7));
    const query = `&created_after=${from.toISOString()}&created_before=${to.toISOString()}`;
    const wanted = expected.filter((t) => t.createdAt >= from.getTime() && t.createdAt < to.getTime());
    expect(wanted.length).toBeGreaterThan(0);
    expect(await pageThrough(query, 99)).toEqual(wanted.map((t) => t.id));
  });

  it('does not shift pages when new tasks arrive mid-listing', async () => {
    const first = await test.supervisor.app.inject({
      headers: { authorization: `Bearer ${test.adminToken}` },
      method: 'GET',
      url: '/api/v1/tasks?limit=50',
    });
    const { next_cursor } = first.json() as { next_cursor: string };
    await test.supervisor.tasks.submit(
      { type: 'CODE_ANALYSIS', payload: { repository: 'acme/api' }, priority: 5 } as never,
      {
        actor: { name: 'late' },
      },
    );
    const second = await test.supervisor.app.inject({
      headers: { authorization: `Bearer ${test.adminToken}` },
      method: 'GET',
      url: `/api/v1/tasks?limit=50&cursor=${next_cursor}`,
    });
    expect((second.json() as { items: Array<{ id: string }> }).items.map((t) => t.id)).toEqual(
      expected.slice(50, 100).map((t) => t.id),
    );
  });
});
