import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../src/auth/token-secret.ts';
import type { TaskStatus } from '../src/core/task-status.ts';
import { type ScriptedModelServer, startScriptedModelServer } from '../src/scripted-model/server.ts';
import * as steps from '../src/scripted-model/steps.ts';
import { queryRows } from '../src/store/database.ts';
import { createSourceRepo } from './support/git-repo.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { SEED_PR_REVIEW } from './support/seed.ts';

/**
 * A full run — a review, a bug fix, an agent whose key the model rejects, refused requests — with
 * every log line at trace level, every API answer and every stored row collected, then searched for
 * each secret the supervisor holds. None may appear anywhere.
 */
describe('no secret leaks from a full run', () => {
  const apiKey = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
  const badKey = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
  const adminToken = generateToken();
  const secretsKey = `secrets-${randomBytes(16).toString('hex')}`;
  const secrets = { apiKey, badKey, adminToken, secretsKey } as Record<string, string>;
  const logLines: string[] = [];
  const answers: string[] = [];
  let model: ScriptedModelServer;
  let test: TestSupervisor;

  const call = async (path: string, init: RequestInit & { token?: string } = {}) => {
    const response = await fetch(`${test.url}${path}`, {
      ...init,
      headers: {
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        authorization: `Bearer ${init.token ?? adminToken}`,
      },
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    answers.push(`${path} ${response.status} ${JSON.stringify([...response.headers])} ${text}`);
    return { status: response.status, text };
  };

  beforeAll(async () => {
    model = await startScriptedModelServer();
    const source = createSourceRepo({ 'calc.js': 'export function add(a, b) {\n  return a - b;\n}\n' });
    model.script(apiKey, [
      steps.toolUse([
        { name: 'StructuredOutput', input: { summary: 'ok', verdict: 'approve', findings: [] } },
      ]),
      steps.toolUse([{ name: 'Read', input: { file_path: '{{cwd}}/calc.js' } }]),
      steps.toolUse([
        {
          name: 'Edit',
          input: { file_path: '{{cwd}}/calc.js', old_string: 'return a - b;', new_string: 'return a + b;' },
        },
      ]),
      steps.text('Fixed add().'),
    ]);
    model.script(badKey, [steps.authError(10)]);
    const agent = (id: string, key: string) => ({
      id,
      cli: 'claude-code' as const,
      credential: { kind: 'api_key' as const, value: key },
      limits: { models: ['claude-sonnet-4-5'], maxConcurrent: 1, windows: [], baseUrl: model.url },
    });
    test = await startTestSupervisor('pglite', {
      listen: true,
      agents: [agent('good', apiKey), agent('bad', badKey)],
      logDestination: new Writable({
        write(chunk, _encoding, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
      env: {
        LOG_LEVEL: 'trace',
        AUTH_MODE: 'tokens',
        ADMIN_TOKEN: adminToken,
        SECRETS_KEY: secretsKey,
        REPOSITORY_SCHEMES: 'file,https',
        AGENT_DRIVER: 'claude-code',
        ANTHROPIC_BASE_URL: model.url,
        CLAUDE_API_RETRIES: '0',
        CLAUDE_API_TIMEOUT_MS: '2000',
        AGENT_IDLE_TIMEOUT_SECONDS: '5',
        TASK_MAX_ATTEMPTS: '1',
      },
    });
    const submitter = JSON.parse(
      (
        await call('/api/v1/tokens', {
          method: 'POST',
          body: JSON.stringify({ name: 'dev', role: 'submitter' }),
        })
      ).text,
    ).token as string;
    secrets.submitterToken = submitter;
    answers.pop(); // the creation answer is the one place a token is shown, by design

    const run = async (body: unknown, until: TaskStatus[] = ['succeeded', 'failed']) => {
      const created = await call('/api/v1/tasks', {
        method: 'POST',
        body: JSON.stringify(body),
        token: submitter,
      });
      expect(created.status, created.text).toBe(201);
      const { id } = JSON.parse(created.text) as { id: string };
      await test.waitForStatus(id, until, 60_000);
      // The event stream of an unfinished task stays open; it is read once the task has finished.
      const paths = until.includes('parked') ? ['', '/attempts'] : ['', '/attempts', '/events', '/diff'];
      for (const path of paths) await call(`/api/v1/tasks/${id}${path}`);
      return id;
    };
    const operate = async (id: string, action: string) =>
      expect((await call(`/api/v1/agents/${id}/${action}`, { method: 'POST' })).status).toBe(200);
    // A review reads the code around its diff, so it names a repository the supervisor can check out.
    const review = { ...SEED_PR_REVIEW, payload: { ...SEED_PR_REVIEW.payload, repository: source.path } };
    await operate('bad', 'pause');
    await run(review);
    await run({ type: 'BUG_FIX', payload: { repository: source.path, description: 'add() subtracts' } });
    // Now only the agent whose key the model rejects: the auth failure disables it.
    await operate('good', 'pause');
    await operate('bad', 'resume');
    // Its task fails over to the other agent, which is paused: it parks.
    const parked = await run(review, ['parked']);
    expect((await test.supervisor.tasks.attempts(parked)).map((a) => a.outcome)).toEqual(['auth_failed']);
    // Refused requests: a wrong token, a token with too low a role, a bad body.
    await call('/api/v1/tasks', { token: generateToken() });
    await call('/api/v1/tokens', { token: submitter });
    await call('/api/v1/tasks', { method: 'POST', body: '{"type":', token: submitter });
    // A secret reaching a log message by a path nobody foresaw is scrubbed by value.
    test.supervisor.app.log.warn({ detail: { key: apiKey } }, `an unforeseen message quoting ${adminToken}`);
    for (const path of [
      '/api/v1/agents',
      '/api/v1/agents/quota/status',
      '/api/v1/tokens',
      '/health/detailed',
    ]) {
      await call(path);
    }
  }, 120_000);
  afterAll(async () => {
    await test?.stop();
    await model?.close();
  });

  it('keeps every secret out of logs, API answers and stored rows', async () => {
    const rows = await queryRows<{ dump: string }>(
      test.supervisor.database.db,
      sql`select concat_ws(' ',
        (select coalesce(json_agg(t)::text, '') from tasks t),
        (select coalesce(json_agg(a)::text, '') from task_attempts a),
        (select coalesce(json_agg(e)::text, '') from task_events e),
        (select coalesce(json_agg(l)::text, '') from audit_log l),
        (select coalesce(json_agg(p)::text, '') from audit_pending p),
        (select coalesce(json_agg(g)::text, '') from agents g),
        (select coalesce(json_agg(k)::text, '') from api_tokens k)) as dump`,
    );
    const places = { logs: logLines.join(''), answers: answers.join('\n'), rows: rows[0]?.dump ?? '' };
    // The collection itself worked: a test that looked at nothing would pass for the wrong reason.
    expect(places.logs).toContain('attempt started');
    expect(places.logs).toContain('an unforeseen message quoting [redacted]');
    expect(places.answers).toContain('"status":"succeeded"');
    for (const [where, text] of Object.entries(places)) {
      for (const [name, value] of Object.entries(secrets)) {
        expect(text.includes(value), `${name} found in ${where}`).toBe(false);
      }
    }
  });
});
