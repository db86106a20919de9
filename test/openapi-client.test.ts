import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020.js';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { REPO_ROOT } from './support/processes.ts';

/**
 * The served OpenAPI document, tried with the ecosystem's own tools: a TypeScript client generated
 * from it by openapi-typescript, used through openapi-fetch by a script that must type-check
 * strictly and then run against the server; and Redocly's recommended lint, with no errors.
 */

const run = promisify(execFile);
/** Inside the repository (and ignored by git), so the script resolves openapi-fetch from node_modules. */
const WORK = join(REPO_ROOT, 'test-artifacts', 'openapi-client');

/** A client a team would write: submit, follow to the end, page the list, read the events. */
const CLIENT = `import createClient from 'openapi-fetch';
import type { paths } from './api.ts';

const client = createClient<paths>({ baseUrl: process.argv[2] });

const submitted = await client.POST('/api/v1/tasks', {
  body: { type: 'CODE_ANALYSIS', payload: { repository: 'owner/repo' }, priority: 7 },
});
if (!submitted.data) throw new Error(\`submit failed: \${JSON.stringify(submitted.error)}\`);
const id: string = submitted.data.id;

let status: string = submitted.data.status;
for (let polls = 0; !['succeeded', 'failed', 'cancelled'].includes(status); polls++) {
  if (polls > 600) throw new Error('the task never finished');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const got = await client.GET('/api/v1/tasks/{id}', { params: { path: { id } } });
  if (!got.data) throw new Error(\`get failed: \${JSON.stringify(got.error)}\`);
  status = got.data.status;
}

async function listPage(cursor: string | null) {
  const page = await client.GET('/api/v1/tasks', {
    params: { query: { limit: 1, status: 'succeeded', ...(cursor ? { cursor } : {}) } },
  });
  if (!page.data) throw new Error(\`list failed: \${JSON.stringify(page.error)}\`);
  return page.data;
}
const seen: string[] = [];
for (let page = await listPage(null); ; page = await listPage(page.next_cursor)) {
  seen.push(...page.items.map((task) => task.id));
  if (!page.next_cursor) break;
}

const events = await client.GET('/api/v1/tasks/{id}/events', {
  params: { path: { id } },
  parseAs: 'text',
});
const frames = String(events.data ?? '').split('\\n\\n').filter((frame) => frame.includes('\\nevent: '));

console.log(JSON.stringify({ id, status, listed: seen.length, includesOurs: seen.includes(id), frames: frames.length }));
`;

describe('the OpenAPI document with generators and linters', () => {
  let test: TestSupervisor;
  let spec: string;
  beforeAll(async () => {
    test = await startTestSupervisor('pglite', { listen: true, env: { ECHO_DRIVER_DELAY_MS: '50' } });
    spec = await (await fetch(`${test.url}/openapi.json`)).text();
    rmSync(WORK, { recursive: true, force: true });
    mkdirSync(WORK, { recursive: true });
    writeFileSync(join(WORK, 'openapi.json'), spec);
  });
  afterAll(() => test?.stop());

  it('generates a client that type-checks strictly and runs a task end to end', async () => {
    const types = astToString(await openapiTS(JSON.parse(spec)));
    writeFileSync(join(WORK, 'api.ts'), types);
    writeFileSync(join(WORK, 'client.ts'), CLIENT);
    const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
    await run(tsc, [
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--allowImportingTsExtensions',
      '--types',
      'node',
      join(WORK, 'client.ts'),
    ]).catch((error: { stdout?: string }) => {
      throw new Error(`the client does not type-check:\n${error.stdout}`);
    });
    const { stdout } = await run(process.execPath, [join(WORK, 'client.ts'), test.url], { timeout: 120_000 });
    expect(JSON.parse(stdout)).toMatchObject({ status: 'succeeded', includesOurs: true });
    expect(JSON.parse(stdout).frames).toBeGreaterThan(2);
  }, 120_000);

  it('states the cross-field rules the server enforces, so a client validating by it agrees', async () => {
    const document = JSON.parse(spec);
    const ajv = new Ajv2020.default({ strict: false });
    const bodyOf = (path: string) => document.paths[path].post.requestBody.content['application/json'].schema;
    const checks = [
      {
        path: '/api/v1/tasks',
        body: { type: 'PR_REVIEW', payload: { repository: 'owner/repo', title: 'Fix' } },
      },
      {
        path: '/api/v1/schedules',
        body: {
          name: 'nightly',
          cron: '0 3 * *',
          submission: { type: 'CODE_ANALYSIS', payload: { repository: 'o/r' } },
        },
      },
    ];
    for (const { path, body } of checks) {
      const schema = { ...bodyOf(path), components: document.components };
      expect(ajv.validate(schema, body), `${path} accepts ${JSON.stringify(body)}`).toBe(false);
      const served = await fetch(`${test.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(served.status, path).toBe(400);
    }
  });

  it("passes Redocly's recommended lint with no errors", async () => {
    const redocly = join(REPO_ROOT, 'node_modules', '.bin', 'redocly');
    const result = await run(redocly, ['lint', '--format', 'json', join(WORK, 'openapi.json')], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    const report = JSON.parse(result.stdout) as { totals: { errors: number }; problems: unknown[] };
    expect(report.totals.errors, JSON.stringify(report.problems)).toBe(0);
  }, 120_000);
});
