import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskTokens } from '../src/auth/task-token.ts';
import { getMemory, insertMemory } from '../src/memory/memory-store.ts';
import { markStaleEntries } from '../src/memory/staleness.ts';
import { secretsKey } from '../src/runtime/secrets-key.ts';
import { taskAttempts, tasks } from '../src/store/schema.ts';
import { listAttempts } from '../src/store/task-store.ts';
import { BACKENDS } from './support/databases.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';

/**
 * The memory API on both databases: saving with scope rules, full-text search with filters and
 * pages, deletion, repository history, and task tokens confined to their task's repository.
 */

// biome-ignore lint/suspicious/noExplicitAny: the tests read deep into JSON answers
type Json = Record<string, any>;

describe.each(BACKENDS)('memory API on %s', (backend) => {
  let test: TestSupervisor;
  const roles = {} as Record<'admin' | 'operator' | 'submitter' | 'viewer', string>;

  const call = async (options: InjectOptions, token: string): Promise<{ status: number; body: Json }> => {
    const response = await test.supervisor.app.inject({
      ...options,
      headers: { authorization: `Bearer ${token}`, ...options.headers },
    });
    return { status: response.statusCode, body: response.body ? response.json() : {} };
  };
  const save = (payload: Json, token = roles.submitter) =>
    call({ method: 'POST', url: '/api/v1/memory', payload }, token);
  const list = async (query: string, token = roles.viewer) => {
    const response = await call({ method: 'GET', url: `/api/v1/memory?${query}` }, token);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as { items: Json[]; next_cursor: string | null };
  };
  const titles = (page: { items: Json[] }) => page.items.map((item) => item.title);

  beforeAll(async () => {
    test = await startTestSupervisor(backend, {
      env: { AUTH_MODE: 'tokens', ECHO_DRIVER_DELAY_MS: '10' },
    });
    roles.admin = test.adminToken!;
    for (const role of ['operator', 'submitter', 'viewer'] as const) {
      const created = await call(
        { method: 'POST', url: '/api/v1/tokens', payload: { name: `${role}-user`, role } },
        roles.admin,
      );
      roles[role] = created.body.token;
    }
    for (const entry of [
      {
        repository: 'acme/api',
        title: 'Refresh tokens never rotate',
        content: 'auth/refresh.py keeps the token.',
      },
      {
        repository: 'acme/api',
        title: 'Database pool is too small',
        content: 'Ten connections for 40 workers.',
      },
      { repository: 'acme/web', title: 'Refresh token stored in localStorage', content: 'XSS can read it.' },
    ]) {
      expect((await save({ ...entry, paths: ['auth/refresh.py'] })).status).toBe(201);
    }
  });
  afterAll(() => test?.stop());

  it('saves an entry with its author and refuses global entries to non-admins', async () => {
    const saved = await save({
      repository: 'acme/api',
      title: 'Use the retry helper',
      content: 'lib/retry.ts wraps every outbound call.',
      paths: ['lib/retry.ts'],
      commit: 'abc1234',
    });
    expect(saved.status).toBe(201);
    expect(saved.body).toMatchObject({
      repository: 'acme/api',
      kind: 'note',
      commit: 'abc1234',
      task_id: null,
      created_by: 'submitter-user',
      stale: false,
    });
    const global = { title: 'House style', content: 'Prefer small modules.' };
    const refused = await save(global);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/global .*admin role; give repository/);
    const accepted = await save(global, roles.admin);
    expect(accepted.status).toBe(201);
    expect(accepted.body.repository).toBeNull();
    expect((await list('global=true')).items.map((item) => item.id)).toEqual([accepted.body.id]);
  });

  it('names the bad field of a refused entry', async () => {
    for (const [payload, field] of [
      [{ repository: 'acme/api', title: 't', content: 'c', commit: 'HEAD~1' }, 'commit'],
      [{ repository: 'acme/api', title: 't', content: 'c', paths: ['../etc/passwd'] }, 'paths'],
      [{ repository: 'acme/api', title: ' ', content: 'c' }, 'title'],
      [{ repository: 'acme/api', title: 't', content: 'c', kind: 'gossip' }, 'kind'],
    ] as const) {
      const refused = await save(payload);
      expect(refused.status, JSON.stringify(payload)).toBe(400);
      expect(JSON.stringify(refused.body.error)).toContain(field);
    }
    expect((await save({ title: 't', content: 'c' }, roles.viewer)).status).toBe(403);
    // Memory is kept only for repositories tasks may name (this server refuses local paths).
    const local = await save({ repository: '/srv/repo', title: 't', content: 'c' });
    expect(local.status).toBe(400);
    expect(local.body.error.message).toContain('repository:');
  });

  it('stores cited paths the way git names them', async () => {
    const saved = await save({
      repository: 'acme/paths',
      title: 'Dot paths',
      content: 'c',
      paths: ['./lib/a.ts'],
    });
    expect(saved.body.paths).toEqual(['lib/a.ts']);
  });

  it('searches by words, most relevant first, within a repository and kind', async () => {
    expect(titles(await list('repository=acme/api&q=refresh%20token'))).toEqual([
      'Refresh tokens never rotate',
    ]);
    expect(titles(await list('q=refresh')).sort()).toEqual([
      'Refresh token stored in localStorage',
      'Refresh tokens never rotate',
    ]);
    // Any of the words matches; the entry with more of them ranks first.
    expect(titles(await list('repository=acme/api&q=pool%20connections%20refresh'))[0]).toBe(
      'Database pool is too small',
    );
    expect((await list('q=%22%27%26%7C!():*')).items).toEqual([]);
    expect((await list('repository=acme/api&kind=review')).items).toEqual([]);
  });

  it('pages through a listing without repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await list(`repository=acme/api&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
    const bad = await call({ method: 'GET', url: '/api/v1/memory?cursor=nonsense' }, roles.viewer);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_cursor');
  });

  it('lets operators delete entries', async () => {
    const saved = await save({ repository: 'acme/api', title: 'Temporary', content: 'x' });
    const path = `/api/v1/memory/${saved.body.id}`;
    expect((await call({ method: 'DELETE', url: path }, roles.submitter)).status).toBe(403);
    expect((await call({ method: 'DELETE', url: path }, roles.operator)).status).toBe(204);
    const gone = await call({ method: 'GET', url: path }, roles.viewer);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('memory_entry_not_found');
  });

  it('checks staleness once per verified commit, then from where each entry was verified', async () => {
    const db = test.supervisor.database.db;
    const [a, b, head, next] = ['a', 'b', 'c', 'd'].map((c) => c.repeat(40)) as [
      string,
      string,
      string,
      string,
    ];
    const entry = (title: string, commit: string, paths: string[]) =>
      insertMemory(db, {
        repository: 'acme/stale',
        kind: 'note',
        title,
        content: title,
        paths,
        commit,
        taskId: null,
        createdBy: 'test',
        createdAt: new Date(),
      });
    const touched = await entry('cites x', a, ['x.py']);
    const untouched = await entry('cites y', a, ['y.py']);
    const unknown = await entry('at an unknown commit', b, ['x.py']);
    const asked: string[] = [];
    const check = (at: string, changes: Record<string, string[]>) =>
      markStaleEntries(db, {
        repository: 'acme/stale',
        head: at,
        changedSince: async (from) => {
          asked.push(from);
          return changes[from];
        },
        now: new Date(),
      });

    expect(await check(head, { [a]: ['x.py', 'z.py'] })).toBe(1);
    expect(asked.sort()).toEqual([a, b]); // one question per commit, not per entry
    const read = async (id: string) => (await getMemory(db, id))!;
    expect((await read(touched.id)).staleReason).toBe(
      `x.py changed between ${a.slice(0, 12)} and ${head.slice(0, 12)}`,
    );
    expect((await read(untouched.id)).verifiedCommit).toBe(head);
    expect((await read(unknown.id)).verifiedCommit).toBeNull();

    asked.length = 0;
    expect(await check(next, { [head]: ['y.py'] })).toBe(1);
    expect(asked.sort()).toEqual([b, head]); // the verified entry is diffed from `head`, not from `a`
    expect((await read(untouched.id)).staleReason).toBe(
      `y.py changed between ${a.slice(0, 12)} and ${next.slice(0, 12)}`,
    );
  });

  describe('task tokens', () => {
    let taskId: string;
    let attemptId: string;
    let token: string;
    const tokens = () => new TaskTokens(secretsKey(test.config));

    beforeAll(async () => {
      const submitted = await call(
        {
          method: 'POST',
          url: '/api/v1/tasks',
          payload: {
            type: 'ISSUE_SUMMARY',
            payload: { repository: 'acme/api', title: 'Slow login', body: 'It is slow.' },
          },
        },
        roles.submitter,
      );
      taskId = submitted.body.id;
      await test.waitForStatus(taskId, ['succeeded']);
      // A token is good only while its attempt runs: put the finished task and attempt back to running.
      const db = test.supervisor.database.db;
      attemptId = (await listAttempts(db, taskId))[0]!.id;
      await db.update(tasks).set({ status: 'running' }).where(eq(tasks.id, taskId));
      await db.update(taskAttempts).set({ endedAt: null }).where(eq(taskAttempts.id, attemptId));
      token = tokens().issue(
        { taskId, attemptId, repository: 'acme/api', commit: 'a'.repeat(40) },
        new Date(Date.now() + 60_000),
      );
    });

    it('reads only its own repository and the global entries', async () => {
      const page = await list('limit=100', token);
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.items.every((item) => item.repository === 'acme/api' || item.repository === null)).toBe(
        true,
      );
      const other = await call({ method: 'GET', url: '/api/v1/memory?repository=acme/web' }, token);
      expect(other.status).toBe(403);
      expect(other.body.error.message).toContain('only its own repository');
      const webEntry = (await list('repository=acme/web')).items[0]!;
      expect((await call({ method: 'GET', url: `/api/v1/memory/${webEntry.id}` }, token)).status).toBe(404);
    });

    it('saves notes into its repository with the task as provenance', async () => {
      const saved = await save({ title: 'Login calls the DB twice', content: 'See auth/login.py.' }, token);
      expect(saved.status).toBe(201);
      expect(saved.body).toMatchObject({
        repository: 'acme/api',
        task_id: taskId,
        commit: 'a'.repeat(40),
        created_by: `task:${taskId}`,
      });
      expect((await save({ repository: 'acme/web', title: 't', content: 'c' }, token)).status).toBe(403);
    });

    it('reads the repository history', async () => {
      const history = await call({ method: 'GET', url: '/api/v1/memory/history' }, token);
      expect(history.status).toBe(200);
      expect(history.body.items.map((item: Json) => item.task_id)).toContain(taskId);
      const human = await call({ method: 'GET', url: '/api/v1/memory/history' }, roles.viewer);
      expect(human.status).toBe(400);
      expect(human.body.error.message).toContain('repository is required');
    });

    it('calls the memory tools over the MCP endpoint, and only POST is served there', async () => {
      const rpc = (body: unknown) =>
        call(
          {
            method: 'POST',
            url: '/api/v1/mcp',
            payload: body as Json,
            headers: { accept: 'application/json, text/event-stream' },
          },
          token,
        );
      const listed = await rpc({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect(listed.status).toBe(200);
      expect(listed.body.result.tools.map((tool: Json) => tool.name).sort()).toEqual([
        'memory_read',
        'memory_save',
        'memory_search',
        'task_history',
      ]);
      const searched = await rpc({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'memory_search', arguments: { query: 'refresh' } },
      });
      const text = searched.body.result.content[0].text as string;
      expect(text).toContain('Refresh tokens never rotate');
      expect(text).not.toContain('localStorage'); // acme/web's entry
      const garbage = await rpc({ hello: 'world' });
      expect(garbage.status).toBe(400);
      const batch = await rpc([
        { jsonrpc: '2.0', id: 3, method: 'tools/list' },
        { jsonrpc: '2.0', id: 4, method: 'tools/list' },
      ]);
      expect(batch.status).toBe(400);
      expect(batch.body.error.message).toContain('batches are not accepted');
      const get = await call({ method: 'GET', url: '/api/v1/mcp' }, token);
      expect(get.status).toBe(405);
    });

    it('reaches no other route', async () => {
      for (const url of ['/api/v1/tasks', `/api/v1/tasks/${taskId}`, '/api/v1/agents', '/health/detailed']) {
        const refused = await call({ method: 'GET', url }, token);
        expect(refused.status, url).toBe(403);
        expect(refused.body.error.message).toContain('not open to task tokens');
      }
    });

    it('stops working when the task ends, expires, or is forged', async () => {
      const expired = tokens().issue(
        { taskId, attemptId, repository: 'acme/api', commit: null },
        new Date(Date.now() - 1),
      );
      expect((await call({ method: 'GET', url: '/api/v1/memory' }, expired)).body.error.message).toBe(
        'the task token has expired',
      );
      const forged = new TaskTokens('some other key of some length').issue(
        { taskId, attemptId, repository: 'acme/web', commit: null },
        new Date(Date.now() + 60_000),
      );
      expect((await call({ method: 'GET', url: '/api/v1/memory' }, forged)).status).toBe(401);
      const db = test.supervisor.database.db;
      // The attempt ends (a retry of the task would run with a token of its own).
      await db.update(taskAttempts).set({ endedAt: new Date() }).where(eq(taskAttempts.id, attemptId));
      const attemptEnded = await call({ method: 'GET', url: '/api/v1/memory' }, token);
      expect(attemptEnded.status).toBe(401);
      expect(attemptEnded.body.error.message).toContain('no longer running');
      await db.update(taskAttempts).set({ endedAt: null }).where(eq(taskAttempts.id, attemptId));
      expect((await call({ method: 'GET', url: '/api/v1/memory' }, token)).status).toBe(200);
      await db.update(tasks).set({ status: 'succeeded' }).where(eq(tasks.id, taskId));
      const ended = await call({ method: 'GET', url: '/api/v1/memory' }, token);
      expect(ended.status).toBe(401);
      expect(ended.body.error.message).toContain('no longer running');
    });
  });
});
