import { eq, sql } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Access } from '../src/api/access.ts';
import { sealAudit } from '../src/audit/audit-log.ts';
import { generateToken } from '../src/auth/token-secret.ts';
import { ConfigError, loadConfig } from '../src/config/load.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { apiTokens } from '../src/store/schema.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { SEED_PR_REVIEW } from './support/seed.ts';

/**
 * Who may call what. Every operation in the OpenAPI document must be listed here, so a new route
 * cannot land without its access being decided (and tested below).
 */
const EXPECTED_ACCESS: Record<string, Access> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /health/detailed': 'viewer',
  // The seed project's paths for the same probes.
  'GET /api/v1/healthz': 'public',
  'GET /api/v1/readyz': 'public',
  'GET /api/v1/health/detailed': 'viewer',
  'POST /api/v1/tasks': 'submitter',
  'POST /api/v1/tasks/batch': 'submitter',
  'GET /api/v1/tasks': 'viewer',
  'GET /api/v1/tasks/stats/summary': 'viewer',
  'GET /api/v1/tasks/changes': 'viewer',
  'GET /api/v1/tasks/{id}': 'viewer',
  'GET /api/v1/tasks/{id}/attempts': 'viewer',
  'GET /api/v1/tasks/{id}/diff': 'viewer',
  'GET /api/v1/tasks/{id}/events': 'viewer',
  'POST /api/v1/tasks/{id}/cancel': 'submitter',
  'POST /api/v1/tasks/{id}/retry': 'submitter',
  'GET /api/v1/tasks/{id}/messages': 'viewer',
  'GET /api/v1/inbox': 'viewer',
  'POST /api/v1/tasks/{id}/messages': 'submitter',
  'GET /api/v1/tasks/{id}/approvals': 'viewer',
  // A viewer or the task's submitter cannot decide on a tool call; operators and admins can.
  'POST /api/v1/tasks/{id}/approvals/{approval_id}': 'operator',
  'GET /api/v1/agents': 'viewer',
  'GET /api/v1/agents/quota/status': 'viewer',
  'POST /api/v1/agents/{id}/pause': 'operator',
  'POST /api/v1/agents/{id}/resume': 'operator',
  'POST /api/v1/agents/{id}/reset-quota': 'admin',
  'POST /api/v1/tokens': 'admin',
  'GET /api/v1/tokens': 'admin',
  'DELETE /api/v1/tokens/{id}': 'admin',
  'POST /api/v1/notifications/test': 'admin',
  'GET /api/v1/audit-logs': 'admin',
  'POST /api/v1/schedules': 'operator',
  'GET /api/v1/schedules': 'viewer',
  'POST /api/v1/schedules/{id}/enable': 'operator',
  'POST /api/v1/schedules/{id}/disable': 'operator',
  'DELETE /api/v1/schedules/{id}': 'operator',
  'GET /api/v1/metrics': 'viewer',
  'GET /api/v1/memory': 'viewer',
  'GET /api/v1/memory/history': 'viewer',
  'GET /api/v1/memory/{id}': 'viewer',
  'POST /api/v1/memory': 'submitter',
  'DELETE /api/v1/memory/{id}': 'operator',
  'POST /api/v1/mcp': 'task',
  // Authenticated by its signature, not a token: test/github.test.ts.
  'POST /api/v1/github/webhooks': 'public',
  // Authenticated by Slack's signature: test/approvals.test.ts.
  'POST /api/v1/slack/interactions': 'public',
  'GET /api/v1/github/deliveries': 'admin',
  'POST /api/v1/github/deliveries/{id}/replay': 'admin',
  'POST /api/v1/github/reconcile': 'admin',
  'GET /api/v1/github/status': 'admin',
  'GET /api/v1/mcp': 'task',
};

const ROLE_ORDER = ['viewer', 'submitter', 'operator', 'admin'] as const;
type Role = (typeof ROLE_ORDER)[number];

describe('authentication and roles (AUTH_MODE=tokens)', () => {
  let test: TestSupervisor;
  const inject = (options: InjectOptions) => test.supervisor.app.inject(options);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const tokens = {} as Record<Role | 'expired' | 'revoked' | 'submitter2', string>;
  let taskId: string;

  const createToken = async (name: string, role: Role, admin = test.adminToken!) => {
    const response = await inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(admin),
      payload: { name, role },
    });
    expect(response.statusCode).toBe(201);
    return response.json() as { id: string; token: string; prefix: string };
  };

  beforeAll(async () => {
    test = await startTestSupervisor('pglite', {
      env: { AUTH_MODE: 'tokens', ECHO_DRIVER_DELAY_MS: '10', SUBMIT_RATE_PER_MINUTE: '1000' },
    });
    tokens.admin = test.adminToken!;
    for (const role of ['viewer', 'submitter', 'operator'] as const) {
      tokens[role] = (await createToken(role, role)).token;
    }
    tokens.submitter2 = (await createToken('someone-else', 'submitter')).token;
    const expired = await createToken('expired', 'admin');
    await test.supervisor.database.db
      .update(apiTokens)
      .set({ expiresAt: new Date(Date.now() - 60_000) })
      .where(eq(apiTokens.id, expired.id));
    tokens.expired = expired.token;
    const revoked = await createToken('revoked', 'admin');
    expect(
      (await inject({ method: 'DELETE', url: `/api/v1/tokens/${revoked.id}`, headers: bearer(tokens.admin) }))
        .statusCode,
    ).toBe(200);
    tokens.revoked = revoked.token;
    const created = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: bearer(tokens.submitter),
      payload: SEED_PR_REVIEW,
    });
    taskId = created.json().id;
    // Finished, so its event stream ends after the replay and cancel/retry have a defined answer.
    await test.waitForStatus(taskId, ['succeeded']);
  });
  afterAll(() => test?.stop());

  it('lists every documented operation in the access table', async () => {
    const spec = (await inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(Object.keys(EXPECTED_ACCESS).sort());
  });

  const requestFor = (operation: string): InjectOptions => {
    const [method, path] = operation.split(' ') as [InjectOptions['method'], string];
    const url = path
      .replace('/tasks/{id}', `/tasks/${taskId}`)
      .replace('/agents/{id}', '/agents/agent-1')
      .replace('/tokens/{id}', '/tokens/00000000-0000-4000-8000-000000000000')
      .replace('/schedules/{id}', '/schedules/00000000-0000-4000-8000-000000000000')
      .replace('/memory/{id}', '/memory/00000000-0000-4000-8000-000000000000')
      .replace('/deliveries/{id}', '/deliveries/00000000-0000-4000-8000-000000000000')
      .replace('/approvals/{approval_id}', '/approvals/00000000-0000-4000-8000-000000000000');
    const payload =
      operation === 'POST /api/v1/tasks'
        ? SEED_PR_REVIEW
        : operation === 'POST /api/v1/tokens'
          ? { name: 'matrix', role: 'viewer' }
          : operation.endsWith('/approvals/{approval_id}')
            ? { decision: 'approve' }
            : undefined;
    return { method, url, ...(payload ? { payload } : {}) };
  };

  /** A live stream never ends, so an answer that opens one is taken as it starts and let go. */
  const injectAs = async (request: InjectOptions, token: string) => {
    const response = await inject({ ...request, headers: bearer(token), payloadAsStream: true });
    const stream = response.stream();
    if (response.headers['content-type'] === 'text/event-stream; charset=utf-8') {
      stream.destroy();
      return { statusCode: response.statusCode, body: '', json: () => ({}) };
    }
    let body = '';
    for await (const chunk of stream) body += chunk;
    return { statusCode: response.statusCode, body, json: () => JSON.parse(body) };
  };

  it.each(Object.entries(EXPECTED_ACCESS))('%s: needs %s', async (operation, access) => {
    const request = requestFor(operation);
    const denied = async (headers: Record<string, string>, status: number, message: RegExp) => {
      const response = await inject({ ...request, headers });
      expect(response.statusCode, `${operation} with ${JSON.stringify(headers)}`).toBe(status);
      expect(response.json().error.message).toMatch(message);
      if (status === 401) expect(response.headers['www-authenticate']).toBe('Bearer');
    };
    if (access === 'public') {
      // GitHub and Slack are not configured here, which their routes say rather than checking a signature.
      const expected = /github\/webhooks|slack\/interactions/.test(operation) ? 404 : 200;
      expect((await inject(request)).statusCode).toBe(expected);
      return;
    }
    await denied({}, 401, /needs an API token/);
    await denied({ authorization: 'Basic dXNlcjpwYXNz' }, 401, /must be `Bearer <token>`/);
    await denied(bearer('not-a-token'), 401, /not a supervisor API token/);
    await denied(bearer(generateToken()), 401, /unknown/);
    await denied(bearer(tokens.expired), 401, /expired on/);
    await denied(bearer(tokens.revoked), 401, /revoked on/);
    for (const role of ROLE_ORDER) {
      const response = await injectAs(request, tokens[role]);
      if (access === 'task') {
        // Only a running task's token opens it (test/memory-api.test.ts); no role does.
        expect(response.statusCode, `${operation} as ${role}`).toBe(403);
        expect(response.json().error.message).toContain('needs their task token');
        continue;
      }
      const allowed = ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(access);
      if (allowed) {
        // Allowed through: whatever the route answers, it is not an auth refusal or a server error.
        expect([401, 403], `${operation} as ${role}: ${response.body}`).not.toContain(response.statusCode);
        expect(response.statusCode, `${operation} as ${role}: ${response.body}`).toBeLessThan(500);
      } else {
        expect(response.statusCode, `${operation} as ${role}`).toBe(403);
        expect(response.json().error).toMatchObject({
          code: 'forbidden',
          message: expect.stringContaining(`needs the ${access} role`),
        });
      }
    }
  });

  it('lets a submitter manage only its own tasks, and operators any', async () => {
    const cancelAs = (token: string) =>
      inject({ method: 'POST', url: `/api/v1/tasks/${taskId}/retry`, headers: bearer(token) });
    const other = await cancelAs(tokens.submitter2);
    expect(other.statusCode).toBe(403);
    expect(other.json().error.message).toContain('submitted by someone else');
    const message = await inject({
      method: 'POST',
      url: `/api/v1/tasks/${taskId}/messages`,
      headers: bearer(tokens.submitter2),
      payload: { text: 'also check the tests' },
    });
    expect(message.statusCode).toBe(403);
    expect(message.json().error.message).toContain('submitted by someone else');
    const task = (
      await inject({ method: 'GET', url: `/api/v1/tasks/${taskId}`, headers: bearer(tokens.viewer) })
    ).json();
    expect(task.submitted_by).toBe('submitter');
    // The owner and an operator get past authorisation (a succeeded task cannot be retried: 409).
    expect((await cancelAs(tokens.submitter)).statusCode).toBe(409);
    expect((await cancelAs(tokens.operator)).statusCode).toBe(409);
  });

  it('shows a token once, stores only its hash, and never lists values', async () => {
    const created = await createToken('ci-bot', 'viewer');
    expect(created.token).toMatch(/^sv_[\w-]{43}$/);
    expect(created.token.startsWith(created.prefix)).toBe(true);
    const rows = await test.supervisor.database.db.select().from(apiTokens);
    expect(JSON.stringify(rows)).not.toContain(created.token);
    const listed = await inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer(tokens.admin) });
    expect(listed.body).not.toContain(created.token);
    expect(listed.json().items.map((t: { name: string }) => t.name)).toContain('ci-bot');
    const bad = await inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(tokens.admin),
      payload: { name: 'x y', role: 'root' },
    });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(['body.name', 'body.role']);
  });

  it('refuses local repositories and other schemes outside development mode', async () => {
    for (const repository of ['/var/lib/supervisor', 'file:///etc', 'git://example.com/x']) {
      const response = await inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: bearer(tokens.submitter),
        payload: { type: 'CODE_ANALYSIS', payload: { repository } },
      });
      expect(response.statusCode, repository).toBe(400);
      expect(response.json().error.details).toEqual([
        {
          field: 'body.payload.repository',
          message: expect.stringContaining('REPOSITORY_SCHEMES=https,ssh'),
        },
      ]);
    }
  });

  it('records the token name as submitter and audit actor', async () => {
    await sealAudit(test.supervisor.database.db);
    const audit = await test.supervisor.database.db.execute<{ actor: string; action: string }>(
      sql`select actor, action from audit_log where action in ('task.submitted', 'token.created', 'token.revoked', 'auth.failed', 'auth.forbidden')`,
    );
    const rows = (audit as unknown as { rows: Array<{ actor: string; action: string }> }).rows;
    expect(rows).toEqual(
      expect.arrayContaining([
        { actor: 'submitter', action: 'task.submitted' },
        { actor: 'admin', action: 'token.created' },
        { actor: 'admin', action: 'token.revoked' },
        { actor: 'anonymous', action: 'auth.failed' },
      ]),
    );
    // Refusals are recorded, but at most a few per client address per minute (the matrix made hundreds).
    const refusals = rows.filter((row) => row.action.startsWith('auth.'));
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThanOrEqual(10);
  });
});

describe('submission rate limits', () => {
  let test: TestSupervisor;
  afterAll(() => test?.stop());

  it('limits each token and each IP address, with Retry-After', async () => {
    test = await startTestSupervisor('pglite', {
      worker: false,
      env: { AUTH_MODE: 'tokens', SUBMIT_RATE_PER_MINUTE: '3', SUBMIT_RATE_PER_MINUTE_PER_IP: '5' },
    });
    const admin = { authorization: `Bearer ${test.adminToken}` };
    const make = async (name: string) =>
      (
        await test.supervisor.app.inject({
          method: 'POST',
          url: '/api/v1/tokens',
          headers: admin,
          payload: { name, role: 'submitter' },
        })
      ).json().token as string;
    const [a, b] = [await make('a'), await make('b')];
    const submit = (token: string, remoteAddress = '10.0.0.1') =>
      test.supervisor.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { authorization: `Bearer ${token}` },
        payload: SEED_PR_REVIEW,
        remoteAddress,
      });
    for (let i = 0; i < 3; i++) expect((await submit(a)).statusCode).toBe(201);
    const limited = await submit(a);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatchObject({
      code: 'rate_limited',
      message: expect.stringContaining('token of a'),
    });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Same IP, other token: the IP's budget (5, of which 4 are used) runs out first.
    expect((await submit(b)).statusCode).toBe(201);
    const byIp = await submit(b);
    expect(byIp.statusCode).toBe(429);
    expect(byIp.json().error.message).toContain('IP address 10.0.0.1');
    // Another address with a fresh token is not held back.
    expect((await submit(await make('c'), '10.0.0.2')).statusCode).toBe(201);
    // Reading is not rate limited.
    const list = await test.supervisor.app.inject({
      method: 'GET',
      url: '/api/v1/tasks',
      headers: { authorization: `Bearer ${a}` },
    });
    expect(list.statusCode).toBe(200);
  });
});

describe('development mode and CORS', () => {
  let test: TestSupervisor;
  const inject = (options: InjectOptions) => test.supervisor.app.inject(options);
  beforeAll(async () => {
    // One process (API and worker) on loopback: AUTH_MODE=auto means development mode.
    test = await startTestSupervisor('pglite', { env: { CORS_ORIGINS: 'https://dashboard.example.com' } });
  });
  afterAll(() => test?.stop());

  it('answers local requests without a token on loopback (AUTH_MODE=auto)', async () => {
    const response = await inject({
      method: 'GET',
      url: '/api/v1/tasks',
      headers: { host: '127.0.0.1:8000' },
    });
    expect(response.statusCode).toBe(200);
    // A token, when sent, is still checked.
    const wrong = await inject({
      method: 'GET',
      url: '/api/v1/tasks',
      headers: { authorization: 'Bearer sv_x' },
    });
    expect(wrong.statusCode).toBe(401);
    const viewer = await inject({
      method: 'POST',
      url: '/api/v1/tokens',
      payload: { name: 'v', role: 'viewer' },
    });
    expect(viewer.statusCode).toBe(201);
    const asViewer = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { authorization: `Bearer ${viewer.json().token}` },
      payload: SEED_PR_REVIEW,
    });
    expect(asViewer.statusCode).toBe(403);
  });

  it('refuses other hosts and foreign web pages in development mode (DNS rebinding, CSRF)', async () => {
    const rebinding = await inject({
      method: 'GET',
      url: '/api/v1/tasks',
      headers: { host: 'attacker.example:8000' },
    });
    expect(rebinding.statusCode).toBe(403);
    expect(rebinding.json().error.message).toContain('loopback host');
    const page = await inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { origin: 'https://attacker.example' },
      payload: SEED_PR_REVIEW,
    });
    expect(page.statusCode).toBe(403);
    expect(page.json().error.message).toContain('https://attacker.example');
  });

  it('keeps CORS closed but for the configured origins', async () => {
    const preflight = (origin: string) =>
      inject({
        method: 'OPTIONS',
        url: '/api/v1/tasks',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const foreign = await preflight('https://attacker.example');
    expect(foreign.statusCode).toBe(403);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const allowed = await preflight('https://dashboard.example.com');
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://dashboard.example.com');
    expect(allowed.headers['access-control-allow-headers']).toContain('authorization');
    const read = await inject({
      method: 'GET',
      url: '/api/v1/tasks',
      headers: { origin: 'https://dashboard.example.com' },
    });
    expect(read.statusCode).toBe(200);
    expect(read.headers['access-control-allow-origin']).toBe('https://dashboard.example.com');
  });
});

describe('the first admin token', () => {
  it('is created once on a fresh database, and ADMIN_TOKEN replaces it', async () => {
    const first = await startTestSupervisor('pglite', { worker: false, env: { AUTH_MODE: 'tokens' } });
    try {
      expect(first.adminToken).toMatch(/^sv_/);
      const shown: string[] = [];
      const again = await Supervisor.start({
        config: first.config,
        logger: pino({ level: 'silent' }),
        listen: false,
        worker: false,
        database: first.testDb.database,
        showAdminToken: (token) => shown.push(token),
      });
      await again.stop();
      expect(shown).toEqual([]);
    } finally {
      await first.stop();
    }
    const fixed = generateToken();
    const configured = await startTestSupervisor('pglite', {
      worker: false,
      env: { AUTH_MODE: 'tokens', ADMIN_TOKEN: fixed },
    });
    try {
      expect(configured.adminToken).toBeUndefined();
      const response = await configured.supervisor.app.inject({
        method: 'GET',
        url: '/api/v1/tokens',
        headers: { authorization: `Bearer ${fixed}` },
      });
      expect(response.statusCode).toBe(200);
      expect(response.body).not.toContain(fixed);
    } finally {
      await configured.stop();
    }
  });

  it('refuses no-auth mode where the API is reachable from the network', async () => {
    const config = loadConfig({ env: { AUTH_MODE: 'none', HOST: '0.0.0.0', DATA_DIR: '/nonexistent' } });
    await expect(Supervisor.start({ config, logger: pino({ level: 'silent' }) })).rejects.toThrow(
      ConfigError,
    );
  });
});
