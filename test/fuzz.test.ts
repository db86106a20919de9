import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../src/auth/roles.ts';
import { ERROR_CATALOGUE } from '../src/core/errors.ts';
import { TASK_STATUSES } from '../src/core/task-status.ts';
import { TASK_TYPES } from '../src/core/task-types.ts';
import { startTestSupervisor, type TestSupervisor } from './support/harness.ts';
import { SEED_PR_REVIEW } from './support/seed.ts';

/**
 * Property-based fuzzing of the whole HTTP API. Every operation of /openapi.json (so a new route is
 * fuzzed without touching this file) gets random and malformed bodies, headers, query strings, path
 * parameters and methods. Whatever arrives, the server must answer below 500, in the documented
 * error shape, without a stack trace or a token in the body, without an error in its log, without
 * polluting Object.prototype, and stay healthy afterwards.
 *
 * FUZZ_SEED replays a run; FUZZ_RUNS_SCALE multiplies every property's run count (e.g. 0.2 or 5).
 */

const MAX_BODY_BYTES = 65_536;
/** A request that takes longer than this is a hang (the SSE route is only ever asked for finished tasks). */
const REQUEST_TIMEOUT_MS = 10_000;
const PROPERTY_TIMEOUT_MS = 120_000;
const RUNS_SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? '1');
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const runs = (count: number) => Math.max(1, Math.round(count * RUNS_SCALE));
const fcParams = <T>(numRuns: number): fc.Parameters<T> => ({
  numRuns: runs(numRuns),
  ...(SEED === undefined ? {} : { seed: SEED }),
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
const KNOWN_METHODS: readonly Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
/** Methods Node's HTTP parser accepts but the API never routes. */
const ODD_METHODS = ['TRACE', 'PROPFIND', 'SEARCH', 'LOCK', 'MKCOL', 'COPY', 'MOVE', 'UNLOCK', 'REPORT'];

interface Operation {
  method: Method;
  /** OpenAPI path, `{id}` style. */
  path: string;
}

/** One request as fast-check prints it in a counterexample (long strings shortened). */
interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  body?: string | Buffer;
}

const shorten = (text: string, max = 200) =>
  text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`;

function describeRequest(request: FuzzRequest): string {
  const body =
    request.body === undefined
      ? ''
      : Buffer.isBuffer(request.body)
        ? ` body=<${request.body.length} bytes>`
        : ` body=${JSON.stringify(shorten(request.body))}`;
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.map((v) => shorten(v, 120)) : shorten(value, 120),
    ]),
  );
  return `${request.method} ${JSON.stringify(shorten(request.url, 300))} headers=${JSON.stringify(headers)}${body}`;
}

/** Makes fast-check print the request readably (a 64 KiB body would drown the counterexample). */
function printable(request: FuzzRequest): FuzzRequest {
  Object.defineProperty(request, fc.toStringMethod, { value: () => describeRequest(request) });
  return request;
}

/** Percent-encoding that survives lone surrogates (encodeURIComponent throws on them). */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A stack frame, a Node internal module or a source location: none may reach a client. */
const STACK_PATTERNS = [/(?:^|\\n|\n)\s*at\s+\S/, /node:internal\//, /\.(?:ts|js|mjs|cjs):\d+:\d+/];

const PROTOTYPE_KEYS_BEFORE = Object.getOwnPropertyNames(Object.prototype).sort();

interface LogLine {
  level: number;
  msg?: string;
  reqId?: string;
  err?: { type?: string; message?: string; stack?: string };
}

describe('API fuzzing (fast-check)', () => {
  let test: TestSupervisor;
  const tokens = {} as Record<Role, string>;
  let operations: Operation[] = [];
  let finishedTaskId: string;
  let pendingTaskId: string;
  let agentName: string;
  let victimTokenId: string;
  let realCursor: string;
  let lastFinishedEventId: number;
  const logLines: LogLine[] = [];
  const processErrors: unknown[] = [];
  const onProcessError = (error: unknown) => processErrors.push(error);
  let requestCount = 0;

  const inject = (request: FuzzRequest) =>
    test.supervisor.app.inject({
      method: request.method as Method,
      url: request.url,
      headers: request.headers,
      ...(request.body === undefined ? {} : { payload: request.body }),
    });

  /** Sends the request, fails on a hang, and checks everything that must hold for any answer. */
  async function send(request: FuzzRequest): Promise<LightMyRequestResponse> {
    requestCount++;
    const logsBefore = logLines.length;
    let timer: NodeJS.Timeout | undefined;
    const response = await Promise.race([
      inject(request),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms: ${describeRequest(request)}`)),
          REQUEST_TIMEOUT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    checkResponse(request, response, logLines.slice(logsBefore));
    return response;
  }

  function checkResponse(request: FuzzRequest, response: LightMyRequestResponse, logs: LogLine[]): void {
    const where = `${describeRequest(request)}\n  -> ${response.statusCode} ${shorten(response.body, 500)}`;
    const serverErrors = logs
      .filter((line) => line.level >= 50 && line.reqId !== undefined)
      .map((line) => `${line.msg}: ${line.err?.stack ?? line.err?.message ?? ''}`);
    expect(serverErrors, `server logged an error for ${where}`).toEqual([]);
    // The one 5xx that is an honest answer: a component really is down (say, a fuzzed request
    // paused the only agent), and the detailed health check says which.
    // A HEAD has no body to say which; it runs the handler of the GET, whose body is checked.
    const componentDown =
      /^(\/api\/v1)?\/health\/detailed$/.test(request.url.split(/[?#]/)[0]!) &&
      response.statusCode === 503 &&
      (request.method === 'HEAD' ||
        Object.values(
          (response.json() as { components: Record<string, { status: string }> }).components,
        ).some((component) => component.status === 'down'));
    if (!componentDown) expect(response.statusCode, where).toBeLessThan(500);
    expect(response.statusCode, where).toBeGreaterThanOrEqual(200);
    expect(({} as Record<string, unknown>).polluted, `prototype polluted by ${where}`).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort(), `prototype changed by ${where}`).toEqual(
      PROTOTYPE_KEYS_BEFORE,
    );
    for (const [role, token] of Object.entries(tokens)) {
      expect(response.body.includes(token), `the ${role} token is in the answer to ${where}`).toBe(false);
    }
    // A health report of a component that is down is the documented body, not an error's.
    if (response.statusCode < 400 || componentDown) return;
    for (const pattern of STACK_PATTERNS) {
      expect(pattern.test(response.body), `stack trace (${pattern}) in ${where}`).toBe(false);
    }
    if (request.method === 'HEAD') return; // no body to check
    expect(String(response.headers['content-type']), where).toMatch(/^application\/json/);
    const body = JSON.parse(response.body) as { error?: { code?: unknown; message?: unknown } };
    if ('jsonrpc' in body && /^\/api\/v1\/mcp($|[?#])/.test(request.url)) {
      // The MCP endpoint answers protocol errors the protocol's way: JSON-RPC error objects.
      expect(Object.keys(body).sort(), where).toEqual(['error', 'id', 'jsonrpc']);
      expect(typeof body.error?.code === 'number' && typeof body.error.message === 'string', where).toBe(
        true,
      );
      return;
    }
    expect(Object.keys(body), where).toEqual(['error']);
    const error = body.error as Record<string, unknown>;
    expect(
      Object.keys(error).filter((key) => !['code', 'message', 'details'].includes(key)),
      where,
    ).toEqual([]);
    expect(Object.keys(ERROR_CATALOGUE), where).toContain(error.code);
    expect(response.statusCode, where).toBe(
      ERROR_CATALOGUE[error.code as keyof typeof ERROR_CATALOGUE].status,
    );
    expect(typeof error.message === 'string' && error.message.length > 0, where).toBe(true);
    // A token refusal invites a bearer token; a GitHub delivery's refused signature invites nothing.
    if (response.statusCode === 401 && error.code !== 'invalid_signature') {
      expect(response.headers['www-authenticate'], where).toBe('Bearer');
    }
  }

  const bearer = (role: Role) => ({ authorization: `Bearer ${tokens[role]}` });

  beforeAll(async () => {
    process.on('unhandledRejection', onProcessError);
    process.on('uncaughtException', onProcessError);
    test = await startTestSupervisor('pglite', {
      env: {
        AUTH_MODE: 'tokens',
        SUBMIT_RATE_PER_MINUTE: '1000000',
        SUBMIT_RATE_PER_MINUTE_PER_IP: '1000000',
        ECHO_DRIVER_DELAY_MS: '10',
        MAX_BODY_BYTES: String(MAX_BODY_BYTES),
        LOG_LEVEL: 'warn',
        // The webhook route then checks signatures (none of the fuzzed ones can match); the API
        // URL answers nothing, and nothing reaches it.
        GITHUB_TOKEN: 'fuzz-token-never-sent',
        GITHUB_WEBHOOK_SECRET: 'fuzz-webhook-secret-0123456789',
        SLACK_SIGNING_SECRET: 'fuzz-slack-signing-secret',
        GITHUB_API_URL: 'http://127.0.0.1:9',
      },
    });
    // Read the server's log: request loggers are children of app.log and inherit its stream.
    const log = test.supervisor.app.log as unknown as Record<symbol, unknown> & { level: string };
    log[pino.symbols.streamSym] = {
      write: (line: string) => {
        try {
          logLines.push(JSON.parse(line) as LogLine);
        } catch {
          logLines.push({ level: 60, msg: `unparsable log line ${line}` });
        }
      },
    };
    // The capture must work, or a logged server error would pass unnoticed.
    test.supervisor.app.log.child({ reqId: 'fuzz-log-check' }).error('fuzz log capture check');
    expect(logLines.splice(0).map((line) => line.reqId)).toContain('fuzz-log-check');
    tokens.admin = test.adminToken!;
    const { app } = test.supervisor;
    for (const role of ['viewer', 'submitter', 'operator'] as const) {
      const created = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: bearer('admin'),
        payload: { name: `fuzz-${role}`, role },
      });
      expect(created.statusCode).toBe(201);
      tokens[role] = created.json().token;
    }
    // A token the fuzzer may revoke through DELETE /api/v1/tokens/{id}.
    const victim = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer('admin'),
      payload: { name: 'fuzz-victim', role: 'viewer' },
    });
    victimTokenId = victim.json().id;

    const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    // The status stream is live-only and never ends, so an authorised request would never answer:
    // it is left out here and driven by test/dashboard.test.ts and test/event-bus.test.ts.
    operations = Object.entries(spec.paths)
      .filter(([path]) => path !== '/api/v1/tasks/changes')
      .flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => ({ method: method.toUpperCase() as Method, path })),
      );
    expect(operations.length).toBeGreaterThan(10);

    const agents = (
      await app.inject({ method: 'GET', url: '/api/v1/agents', headers: bearer('viewer') })
    ).json().items as Array<{ id: string }>;
    agentName = agents[0]?.id ?? 'agent-1';

    // A finished task: its event stream ends after the replay, so the SSE route can be fuzzed safely.
    const finished = await app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: bearer('submitter'),
      payload: SEED_PR_REVIEW,
    });
    expect(finished.statusCode).toBe(201);
    finishedTaskId = finished.json().id;
    await test.waitForStatus(finishedTaskId, ['succeeded']);
    const stream = await app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${finishedTaskId}/events`,
      headers: bearer('viewer'),
    });
    lastFinishedEventId = Math.max(
      ...[...stream.body.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1])),
    );
    expect(lastFinishedEventId).toBeGreaterThan(0);
    // A task that waits (run_after far ahead): cancel and retry get a live target. Never streamed.
    const pending = await app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: bearer('submitter'),
      payload: { ...SEED_PR_REVIEW, run_after: '2999-01-01T00:00:00Z' },
    });
    expect(pending.statusCode).toBe(201);
    pendingTaskId = pending.json().id;
    const page = await app.inject({ method: 'GET', url: '/api/v1/tasks?limit=1', headers: bearer('viewer') });
    realCursor = page.json().next_cursor;
    expect(realCursor).toBeTruthy();
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', onProcessError);
    process.off('uncaughtException', onProcessError);
    await test?.stop();
  }, 60_000);

  // ---------------------------------------------------------------- generators

  const headerChar = fc
    .oneof(
      { weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
      { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
      { weight: 1, arbitrary: fc.constant(0x09) },
    )
    .map((code) => String.fromCharCode(code));
  /** What an HTTP client can put in a header value (visible ASCII, obs-text, tab). */
  const headerValue = (maxLength = 80) => fc.string({ unit: headerChar, maxLength });
  const longString = fc
    .constantFrom(64, 65, 100, 101, 255, 256, 1000, 5000, 20_000)
    .chain((length) => fc.constantFrom('a', 'é', '/', '%', '0').map((char) => char.repeat(length)));

  const nastyText = fc.constantFrom(
    '../../etc/passwd',
    '..%2f..%2fetc%2fpasswd',
    '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '%252e%252e%252f',
    '..\\..\\windows\\win.ini',
    '....//....//etc/passwd',
    '..',
    '.',
    '%00',
    'a%00b',
    '\u0000',
    'a\u0000b',
    '%',
    '%zz',
    '%c0%af',
    '%ff',
    '%u002e',
    '/etc/passwd',
    'file:///etc/passwd',
    '?',
    '#',
    '%23',
    '%3F',
    ' ',
    '%20',
    '+',
    ';',
    '*',
    'null',
    'undefined',
    'NaN',
    'Infinity',
    '-1',
    '0',
    '1e309',
    '__proto__',
    'constructor',
    'prototype',
    'hasOwnProperty',
    "' OR 1=1 --",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal log4j-style probe, not a template
    '${jndi:ldap://x/a}',
    '<script>alert(1)</script>',
    '🙂',
    '\u202egnp.exe',
    '\uFEFF',
    'İ',
    '\ud800',
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '00000000-0000-4000-8000-000000000000',
  );
  const randomText = fc.oneof(
    { weight: 3, arbitrary: nastyText },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    { weight: 1, arbitrary: longString },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.integer().map(String) },
  );
  /** A path segment: as is (even a lone `%`), percent-encoded or encoded twice, of any length. */
  const segment = fc
    .tuple(randomText, fc.constantFrom('raw', 'encoded', 'double'))
    .map(([text, how]) => (how === 'raw' ? text : how === 'encoded' ? encode(text) : encode(encode(text))));
  /**
   * A segment the router accepts: well-formed percent-encoding and at most 100 characters (Fastify's
   * maxParamLength). The path-parameter property covers the rest; the other properties use these so
   * they reach the routes' own code rather than all stopping at the router.
   */
  const routableSegment = randomText
    .map((text) => encode(text))
    .filter((text) => text.length <= 100 && /^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(text));

  /** Dates the ISO-8601 validators accept or almost accept, at the edges of what a database stores. */
  const edgeDate = fc.oneof(
    fc.constantFrom(
      '0000-01-01T00:00:00Z',
      '0001-01-01T00:00:00Z',
      '0001-01-01T00:00:00+14:00',
      '1969-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00Z',
      '2024-02-29T12:00:00+01:00',
      '2023-02-29T12:00:00Z',
      '2024-13-01T00:00:00Z',
      '2999-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
      '9999-12-31T23:59:59-23:59',
      '9999-12-31T23:59:59.999999999Z',
      '2024-01-01T00:00:00+99:99',
      '2024-01-01T24:00:00Z',
      '2024-01-01',
      '2024-01-01T00:00:00',
      '+275760-09-13T00:00:00Z',
      'yesterday',
      '',
      '1e3',
    ),
    fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
    fc
      .date({
        noInvalidDate: true,
        min: new Date('0000-01-01T00:00:00Z'),
        max: new Date('9999-12-31T23:59:59Z'),
      })
      .map((date) => date.toISOString()),
  );

  const deepJson = fc
    .tuple(fc.integer({ min: 10, max: 20_000 }), fc.boolean())
    .map(([depth, array]) =>
      array ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
    );
  /** Bodies of about MAX_BODY_BYTES: just under, at, and over the limit. */
  const sizedBody = fc
    .tuple(fc.integer({ min: -64, max: 64 }), fc.constantFrom('string', 'array', 'object'))
    .map(([delta, shape]) => {
      const size = MAX_BODY_BYTES + delta;
      if (shape === 'string') return `"${'x'.repeat(Math.max(0, size - 2))}"`;
      if (shape === 'array') {
        const items = Math.max(1, Math.floor((size - 1) / 2));
        return `[${'0,'.repeat(items - 1)}0]`.padEnd(size, ' ');
      }
      const filler = Math.max(0, size - '{"type":"PR_REVIEW","payload":{"x":""}}'.length);
      return `{"type":"PR_REVIEW","payload":{"x":"${'y'.repeat(filler)}"}}`;
    });
  const protoPollution = fc.constantFrom(
    '{"__proto__":{"polluted":"yes"}}',
    '{"a":1,"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"__proto__":{"__proto__":{"polluted":"yes"}}}',
    '{"prototype":{"polluted":"yes"}}',
    '[{"__proto__":{"polluted":"yes"}}]',
    '{"\\u005f_proto__":{"polluted":"yes"}}',
    '{"__proto__":null}',
    '{"__proto__":[]}',
    '{"name":"x","role":"viewer","__proto__":{"polluted":"yes","role":"admin"}}',
    `{"type":"PR_REVIEW","__proto__":{"polluted":"yes"},"payload":${JSON.stringify(SEED_PR_REVIEW.payload)}}`,
    `{"type":"PR_REVIEW","payload":{"__proto__":{"polluted":"yes"},"repository":"owner/repo","title":"t","diff":"d"}}`,
    `{"type":"PR_REVIEW","constructor":{"prototype":{"polluted":"yes"}},"payload":${JSON.stringify(SEED_PR_REVIEW.payload)}}`,
  );
  const brokenJson = fc.oneof(
    fc.constantFrom(
      '',
      ' ',
      '{',
      '}',
      '{"type":',
      '{"a":1}garbage',
      '{"a":1}{"b":2}',
      "{'a':1}",
      '{a:1}',
      '[1,]',
      '{"a":1,}',
      'NaN',
      'Infinity',
      '-0',
      '1e999',
      'null',
      'true',
      '"string"',
      '\uFEFF{}',
      '{"a":"\\ud800"}',
      '{"a":"\\u0000"}',
      '{"a":"\u0000"}',
      '\u0000',
      '{"a":1,"a":2}',
    ),
    fc.string({ maxLength: 60 }),
    fc.json().map((text) => text.slice(0, Math.max(0, text.length - 1))),
  );

  const validSubmissions: Record<string, unknown>[] = [
    SEED_PR_REVIEW,
    { type: 'PR_REVIEW', payload: { repository: 'owner/repo', title: 'Review', head_ref: 'feature/x' } },
    {
      type: 'ISSUE_SUMMARY',
      payload: {
        repository: 'https://example.com/o/r.git',
        title: 'Issue',
        body: 'It breaks',
        comments: ['a'],
      },
      run_after: '2999-01-01T00:00:00Z',
    },
    {
      type: 'CODE_ANALYSIS',
      payload: { repository: 'owner/repo', ref: 'main', paths: ['src'], focus: 'auth' },
    },
    {
      type: 'REFACTOR',
      payload: {
        repository: 'owner/repo',
        description: 'Tidy',
        paths: ['src/a.ts'],
        acceptance_criteria: ['ok'],
      },
      max_attempts: 2,
      run_after: '2999-01-01T00:00:00Z',
    },
    {
      type: 'BUG_FIX',
      payload: { repository: 'git@github.com:o/r.git', description: 'Fix it' },
      priority: 1,
    },
    {
      type: 'FEATURE',
      payload: { repository: 'ssh://git@example.com/o/r.git', description: 'Add it', base_ref: 'main' },
      priority: 10,
      max_cost_usd: 1.5,
      max_duration_seconds: 60,
      run_after: '2999-01-01T00:00:00Z',
    },
  ];
  const FIELDS = [
    'type',
    'priority',
    'run_after',
    'max_attempts',
    'max_cost_usd',
    'max_duration_seconds',
    'payload',
    'payload.repository',
    'payload.title',
    'payload.description',
    'payload.diff',
    'payload.pr_number',
    'payload.issue_number',
    'payload.body',
    'payload.comments',
    'payload.base_ref',
    'payload.head_ref',
    'payload.ref',
    'payload.paths',
    'payload.focus',
    'payload.acceptance_criteria',
  ];
  const repositoryValue = fc.oneof(
    fc.constantFrom(
      '../x',
      'owner/repo/../../',
      'owner/..',
      '..\\..\\x',
      'file:///etc',
      'file:///etc/passwd',
      '/etc/passwd',
      '/',
      '-oProxyCommand=x',
      '--upload-pack=touch /tmp/pwned',
      'ext::sh -c touch% /tmp/pwned',
      'ext::sh',
      'fd::17',
      'http://example.com/o/r.git',
      'git://example.com/o/r.git',
      'https://example.com/../../etc',
      'https://user:pass@example.com/o/r.git',
      'ssh://-oProxyCommand=x/o/r',
      'git@-oProxyCommand=x:o/r',
      'owner/repo\n',
      'owner/repo --help',
      'owner/repo;rm -rf /',
      'owner/repo%00',
      'owner/re\u0000po',
      'C:\\Windows',
      '\\\\server\\share',
      'owner/repo.git',
      '',
    ),
    randomText,
  );
  const mutationValue = fc.oneof(
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        0,
        -1,
        11,
        1.5,
        1e308,
        -1e308,
        2 ** 31,
        2 ** 53 + 1,
        Number.MAX_SAFE_INTEGER,
        '5',
        '',
        true,
        null,
        [],
        {},
        [1, 2],
      ),
    },
    { weight: 2, arbitrary: randomText },
    { weight: 2, arbitrary: repositoryValue },
    { weight: 2, arbitrary: edgeDate },
    { weight: 1, arbitrary: fc.constantFrom(...TASK_TYPES, 'pr_review', 'DEPLOY', 'PR_REVIEW ') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(256, 501, 2001, 60_000, 100_001).map((length) => 'z'.repeat(length)),
    },
    { weight: 1, arbitrary: fc.array(randomText, { maxLength: 5 }) },
  );
  type Mutation =
    | { kind: 'set'; field: string; value: unknown }
    | { kind: 'delete'; field: string }
    | { kind: 'unknown'; field: string; value: unknown };
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        field: fc.constantFrom(...FIELDS),
        value: mutationValue,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('delete' as const), field: fc.constantFrom(...FIELDS) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('unknown' as const),
        field: fc.oneof(
          fc.constantFrom('extra', 'payload.extra', 'id', 'status', 'submitted_by'),
          fc.string({ maxLength: 10 }),
        ),
        value: mutationValue,
      }),
    },
  );
  function mutate(base: Record<string, unknown>, change: Mutation): Record<string, unknown> {
    const copy = structuredClone(base) as Record<string, unknown>;
    const parts = change.field.split('.');
    let target = copy;
    for (const part of parts.slice(0, -1)) {
      const next = target[part];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) return copy;
      target = next as Record<string, unknown>;
    }
    const key = parts.at(-1)!;
    if (change.kind === 'delete') delete target[key];
    // defineProperty: a key named __proto__ must become an own property, not the prototype.
    else
      Object.defineProperty(target, key, {
        value: change.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return copy;
  }
  const mutatedSubmission = fc
    .record({ base: fc.constantFrom(...validSubmissions), change: mutation })
    .map(({ base, change }) => JSON.stringify(mutate(base, change)));
  const tokenBody = fc
    .record({
      name: fc.oneof(fc.constantFrom('fuzz', 'a.b@c-d_e'), randomText),
      role: fc.oneof(fc.constantFrom(...ROLES, 'root', 'ADMIN', ''), randomText),
      expires_at: fc.option(edgeDate, { nil: undefined }),
      extra: fc.option(fc.jsonValue({ maxDepth: 1 }), { nil: undefined }),
    })
    .map((body) => JSON.stringify(body));

  const bodyText = fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
    { weight: 4, arbitrary: mutatedSubmission },
    { weight: 2, arbitrary: tokenBody },
    { weight: 2, arbitrary: protoPollution },
    { weight: 3, arbitrary: brokenJson },
    { weight: 1, arbitrary: deepJson },
    { weight: 1, arbitrary: sizedBody },
  );
  const body: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 10, arbitrary: bodyText },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
  );
  const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    { weight: 2, arbitrary: fc.constant(undefined) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'application/json; charset=utf-8',
        'application/json; charset=evil',
        'application/json;charset=utf-16le',
        'application/json; charset="utf-8"; boundary=x',
        'APPLICATION/JSON',
        'application/json, text/plain',
        'application/vnd.api+json',
        'application/problem+json',
        'application/*',
        '*/*',
        'text/plain',
        'text/html',
        'text/json',
        'multipart/form-data; boundary=----fuzz',
        'application/x-www-form-urlencoded',
        'application/octet-stream',
        '',
        ';',
        'application/json;',
        ' application/json ',
      ),
    },
    { weight: 1, arbitrary: headerValue(60) },
  );

  /** Authorization headers: real tokens of each role, near misses, garbage and duplicates. */
  const authorization = (): fc.Arbitrary<string | string[] | undefined> =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...ROLES).map((role) => `Bearer ${tokens[role]}`) },
      { weight: 2, arbitrary: fc.constant(undefined) },
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          '',
          ' ',
          'Bearer',
          'Bearer ',
          'Bearer  x',
          'bearer x',
          'BEARER sv_',
          'Bearer sv_',
          `Bearer sv_${'A'.repeat(43)}`,
          `Bearer sv_${'A'.repeat(44)}`,
          `Bearer sv_${'-'.repeat(43)}`,
          'Basic dXNlcjpwYXNz',
          'Token abc',
          'Bearer null',
          'Bearer undefined',
          `Bearer ${'x'.repeat(10_000)}`,
          'x'.repeat(20_000),
        ),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            fc.constantFrom(...ROLES),
            fc.constantFrom('space', 'truncate', 'upper', 'twice', 'comma', 'tab', 'lowerScheme', 'noScheme'),
          )
          .map(([role, how]) => {
            const token = tokens[role];
            switch (how) {
              case 'space':
                return `Bearer ${token} `;
              case 'truncate':
                return `Bearer ${token.slice(0, -1)}`;
              case 'upper':
                return `Bearer ${token.toUpperCase()}`;
              case 'twice':
                return `Bearer ${token} ${token}`;
              case 'comma':
                return `Bearer ${token}, Bearer ${tokens.admin}`;
              case 'tab':
                return `Bearer\t${token}`;
              case 'lowerScheme':
                return `bearer ${token}`;
              default:
                return token;
            }
          }),
      },
      { weight: 2, arbitrary: headerValue(120) },
      { weight: 1, arbitrary: headerValue(40).map((value) => `Bearer ${value}`) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(headerValue(20), fc.constantFrom(...ROLES))
          .map(([garbage, role]) => [garbage, `Bearer ${tokens[role]}`]),
      },
    );

  const idempotencyKey = fc.oneof(
    fc.constantFrom('fuzz-key-1', 'fuzz-key-2', '', ' ', 'a'.repeat(255), 'a'.repeat(256)),
    headerValue(40),
    fc.array(fc.constantFrom('k1', 'k2'), { minLength: 2, maxLength: 3 }),
  );
  const lastEventId = fc.oneof(
    fc.constantFrom('0', '1', '-1', '1.5', '1e3', '', ' 1', '00000000000000000001', '9007199254740993'),
    fc.constantFrom('99999999999999999999', '9223372036854775807', '9223372036854775808', '1'.repeat(400)),
    fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
    headerValue(30),
  );
  const extraHeaders: fc.Arbitrary<Record<string, string | string[]>> = fc
    .record(
      {
        'idempotency-key': idempotencyKey,
        'last-event-id': lastEventId,
        'x-request-id': fc.oneof(fc.constantFrom('fuzz-1', 'a'.repeat(101), '../x', ''), headerValue(40)),
        origin: fc.constantFrom('https://evil.example', 'null', 'http://localhost', ''),
        accept: fc.constantFrom('text/event-stream', 'application/json', 'text/html', '*/*', ''),
        'content-length': fc.constantFrom('0', '-1', '1', '99999999', 'abc'),
        'transfer-encoding': fc.constantFrom('chunked', 'gzip', 'identity'),
        'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'evil'),
        'x-forwarded-for': fc.constantFrom('1.2.3.4', 'garbage', '::1'),
        host: fc.constantFrom('evil.example', 'localhost', '', '127.0.0.1:0'),
      },
      { requiredKeys: [] },
    )
    .map((headers) => headers as Record<string, string | string[]>);

  /** Query strings: the listing's parameters with odd values, duplicates, arrays and unknown keys. */
  const listValue = (values: readonly string[]) =>
    fc.oneof(
      fc.subarray([...values]).map((items) => items.join(',')),
      fc
        .array(fc.oneof(fc.constantFrom(...values), fc.constantFrom(' ', '', 'QUEUED', 'x', '__proto__')), {
          maxLength: 6,
        })
        .chain((items) => fc.constantFrom(',', ', ', ',,').map((separator) => items.join(separator))),
      randomText,
    );
  const cursorValue = fc.oneof(
    fc.constantFrom('', 'garbage', '====', 'null', 'a'.repeat(200), 'a'.repeat(201)),
    fc
      .tuple(
        fc.oneof(
          fc.constantFrom('0', '999999999999999', '253402300800000', '8640000000000000', '-1', '1e3', '1.5'),
          fc.bigInt({ min: 0n, max: 10n ** 15n - 1n }).map(String),
        ),
        fc.oneof(fc.uuid(), fc.constantFrom('00000000-0000-0000-0000-000000000000', 'not-a-uuid')),
      )
      .map(([millis, id]) => Buffer.from(`${millis}:${id}`).toString('base64url')),
    randomText,
    fc.base64String({ maxLength: 60 }),
  );
  const queryParam = fc.oneof(
    fc.tuple(fc.constant('status'), listValue(TASK_STATUSES)),
    fc.tuple(fc.constant('type'), listValue(TASK_TYPES)),
    fc.tuple(fc.constantFrom('created_after', 'created_before'), edgeDate),
    fc.tuple(
      fc.constant('limit'),
      fc.oneof(
        fc.constantFrom(
          '0',
          '1',
          '500',
          '501',
          '-1',
          '1.5',
          '1e2',
          '0x10',
          ' 5',
          '',
          'Infinity',
          'NaN',
          '9'.repeat(30),
        ),
        fc.integer().map(String),
      ),
    ),
    fc.tuple(fc.constant('cursor'), cursorValue),
    fc.tuple(fc.constant('repository'), repositoryValue),
    fc.tuple(
      fc.constantFrom(
        'after',
        'status[]',
        'limit[]',
        'limit[a]',
        '__proto__',
        '__proto__[polluted]',
        'constructor[prototype][polluted]',
      ),
      randomText,
    ),
    fc.tuple(randomText, randomText),
  );
  const queryString = fc
    .tuple(
      fc.array(queryParam, { maxLength: 6 }),
      fc.constantFrom('encoded', 'raw'),
      fc.constantFrom('&', '&', '&', ';', '&&'),
    )
    .map(([params, how, separator]) => {
      if (params.length === 0) return '';
      const pairs = params.map(([key, value]) =>
        how === 'encoded' ? `${encode(key)}=${encode(value)}` : `${key}=${value}`,
      );
      return `?${pairs.join(separator)}`;
    });
  const listQueryString = fc.oneof(
    { weight: 8, arbitrary: queryString },
    { weight: 1, arbitrary: fc.constant(`?cursor=${'REAL'}`) },
    { weight: 1, arbitrary: fc.constant('?limit=1&limit=2') },
  );

  /** A path parameter: a real one (a task, an agent, a token) or something made up. */
  type ParamChoice = { kind: 'real'; which: 'finished' | 'pending' } | { kind: 'random'; value: string };
  const paramChoice: fc.Arbitrary<ParamChoice> = fc.oneof(
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('finished' as const, 'pending' as const)
        .map((which) => ({ kind: 'real' as const, which })),
    },
    { weight: 2, arbitrary: routableSegment.map((value) => ({ kind: 'random' as const, value })) },
  );
  function fillPath(path: string, choice: ParamChoice): string {
    return path.replace(/\{[^}]+\}/g, () => {
      if (choice.kind === 'random') return choice.value;
      if (path.startsWith('/api/v1/agents/')) return agentName;
      if (path.startsWith('/api/v1/tokens/')) return victimTokenId;
      // An unfinished task's event stream stays open: stream only the finished one.
      if (path.endsWith('/events')) return finishedTaskId;
      return choice.which === 'finished' ? finishedTaskId : pendingTaskId;
    });
  }
  const resolveCursor = (query: string) => query.replace('REAL', encode(realCursor));

  function build(parts: {
    method: string;
    path: string;
    query?: string;
    auth?: string | string[] | undefined;
    contentType?: string | undefined;
    body?: string | Buffer | undefined;
    headers?: Record<string, string | string[]>;
  }): FuzzRequest {
    const headers: Record<string, string | string[]> = { ...parts.headers };
    if (parts.auth !== undefined) headers.authorization = parts.auth;
    if (parts.contentType !== undefined) headers['content-type'] = parts.contentType;
    return printable({
      method: parts.method,
      url: `${parts.path}${parts.query ?? ''}`,
      headers,
      ...(parts.body === undefined ? {} : { body: parts.body }),
    });
  }

  const propertyTest = <T extends [unknown]>(
    name: string,
    property: () => fc.IAsyncProperty<T>,
    numRuns: number,
  ) =>
    it(
      name,
      async () => {
        const started = Date.now();
        const before = requestCount;
        await fc.assert(property(), fcParams<T>(numRuns));
        console.info(
          `fuzz: ${name}: ${runs(numRuns)} runs, ${requestCount - before} requests, ${Date.now() - started} ms`,
        );
      },
      PROPERTY_TIMEOUT_MS,
    );

  /** Any operation, now and then with another method, with random auth, headers, query and body. */
  const anyRequest = () =>
    fc
      .record({
        operation: fc.constantFrom(...operations),
        otherMethod: fc.oneof(
          { weight: 8, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.constantFrom(...KNOWN_METHODS) },
        ),
        param: paramChoice,
        query: fc.option(queryString, { freq: 3 }),
        auth: authorization(),
        contentType,
        body,
        headers: extraHeaders,
      })
      .map((r) =>
        build({
          method: r.otherMethod ?? r.operation.method,
          path: fillPath(r.operation.path, r.param),
          query: r.query ?? '',
          auth: r.auth,
          contentType: r.contentType,
          body: r.body,
          headers: r.headers,
        }),
      );

  // ---------------------------------------------------------------- properties

  propertyTest(
    'answers any request to any operation below 500, in the documented error shape',
    () =>
      fc.asyncProperty(anyRequest(), async (request) => {
        await send(request);
      }),
    1000,
  );

  /** Placeholder for an Idempotency-Key made unique per run, so every burst starts afresh. */
  const BURST_KEY = 'burst-key-';
  propertyTest(
    'answers bursts of concurrent requests, and a repeated Idempotency-Key creates one task',
    () =>
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 2, arbitrary: anyRequest() },
            {
              weight: 3,
              arbitrary: fc
                .tuple(fc.constantFrom(0, 1), fc.constantFrom(...validSubmissions.slice(0, 2)))
                .map(([key, submission]) =>
                  build({
                    method: 'POST',
                    path: '/api/v1/tasks',
                    auth: `Bearer ${tokens.submitter}`,
                    contentType: 'application/json',
                    body: JSON.stringify(submission),
                    headers: { 'idempotency-key': `${BURST_KEY}${key}` },
                  }),
                ),
            },
            {
              weight: 2,
              arbitrary: fc.constantFrom('cancel', 'retry').map((action) =>
                build({
                  method: 'POST',
                  path: `/api/v1/tasks/${pendingTaskId}/${action}`,
                  auth: `Bearer ${tokens.operator}`,
                }),
              ),
            },
            {
              weight: 1,
              arbitrary: fc.constantFrom('pause', 'resume', 'reset-quota').map((action) =>
                build({
                  method: 'POST',
                  path: `/api/v1/agents/${agentName}/${action}`,
                  auth: `Bearer ${tokens.admin}`,
                }),
              ),
            },
          ),
          { minLength: 2, maxLength: 6 },
        ),
        async (burst) => {
          const nonce = `${Date.now()}-${requestCount}-`;
          const requests = burst.map((request) => {
            const key = request.headers['idempotency-key'];
            if (typeof key !== 'string' || !key.startsWith(BURST_KEY)) return request;
            return printable({
              ...request,
              headers: { ...request.headers, 'idempotency-key': `${nonce}${key}` },
            });
          });
          const responses = await Promise.all(requests.map((request) => send(request)));
          const byKey = new Map<string, Array<{ status: number; id: string; body: string }>>();
          requests.forEach((request, index) => {
            const key = request.headers['idempotency-key'];
            const response = responses[index]!;
            if (typeof key !== 'string' || !key.startsWith(nonce) || response.statusCode >= 300) return;
            const entry = {
              status: response.statusCode,
              id: response.json().id as string,
              body: request.body as string,
            };
            byKey.set(key, [...(byKey.get(key) ?? []), entry]);
          });
          for (const [key, answers] of byKey) {
            const where = `${key}: ${JSON.stringify(answers.map(({ status, id }) => ({ status, id })))}`;
            expect(new Set(answers.map((answer) => answer.id)).size, where).toBe(1);
            expect(new Set(answers.map((answer) => answer.body)).size, where).toBe(1);
            expect(answers.filter((answer) => answer.status === 201).length, where).toBeLessThanOrEqual(1);
          }
        },
      ),
    100,
  );

  propertyTest(
    'validates task submissions with one field changed; what it accepts reads back as sent',
    () =>
      fc.asyncProperty(
        fc
          .record({
            base: fc.constantFrom(...validSubmissions),
            change: mutation,
            role: fc.constantFrom('submitter', 'admin') as fc.Arbitrary<Role>,
            key: fc.option(idempotencyKey, { freq: 4 }),
          })
          .map(({ base, change, role, key }) =>
            build({
              method: 'POST',
              path: '/api/v1/tasks',
              auth: `Bearer ${tokens[role]}`,
              contentType: 'application/json',
              body: JSON.stringify(mutate(base, change)),
              headers: key === null ? {} : { 'idempotency-key': key },
            }),
          ),
        async (request) => {
          const response = await send(request);
          const where = describeRequest(request);
          expect([200, 201, 400, 409, 413], `${where} -> ${response.body}`).toContain(response.statusCode);
          if (response.statusCode !== 201) return;
          const sent = JSON.parse(request.body as string) as {
            type: string;
            payload: Record<string, unknown>;
          };
          const task = response.json() as {
            id: string;
            priority: number;
            repository: string;
            payload: unknown;
            type: string;
          };
          expect(task.priority, where).toBeGreaterThanOrEqual(1);
          expect(task.priority, where).toBeLessThanOrEqual(10);
          expect(task.repository.split(/[\\/]/), where).not.toContain('..');
          expect(task.repository, where).not.toMatch(/^(-|file:|\/|ext::|fd::)/);
          const read = await send(
            build({ method: 'GET', path: `/api/v1/tasks/${task.id}`, auth: `Bearer ${tokens.viewer}` }),
          );
          expect(read.statusCode, where).toBe(200);
          expect(read.json(), where).toMatchObject({ type: sent.type, payload: sent.payload });
        },
      ),
    600,
  );

  propertyTest(
    'never lets __proto__ or constructor.prototype in a body reach Object.prototype',
    () =>
      fc.asyncProperty(
        fc
          .record({
            operation: fc.constantFrom(...operations),
            method: fc.option(fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE'), { freq: 2 }),
            param: paramChoice,
            body: protoPollution,
            contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8'),
          })
          .map((r) =>
            build({
              method: r.method ?? r.operation.method,
              path: fillPath(r.operation.path, r.param),
              auth: `Bearer ${tokens.admin}`,
              contentType: r.contentType,
              body: r.body,
            }),
          ),
        async (request) => {
          const response = await send(request);
          if (response.statusCode < 300) {
            expect(response.body, describeRequest(request)).not.toContain('polluted');
          }
        },
      ),
    400,
  );

  propertyTest(
    'answers any query string on GET /api/v1/tasks with a page or a 400',
    () =>
      fc.asyncProperty(
        fc.record({ query: listQueryString, role: fc.constantFrom(...ROLES) }).map(({ query, role }) =>
          build({
            method: 'GET',
            path: '/api/v1/tasks',
            query: resolveCursor(query),
            auth: `Bearer ${tokens[role]}`,
          }),
        ),
        async (request) => {
          const response = await send(request);
          const where = `${describeRequest(request)} -> ${shorten(response.body)}`;
          expect([200, 400], where).toContain(response.statusCode);
          if (response.statusCode !== 200) return;
          const page = response.json() as {
            items: Array<{ status: string; type: string }>;
            next_cursor: unknown;
          };
          expect(Array.isArray(page.items), where).toBe(true);
          expect(page.next_cursor === null || typeof page.next_cursor === 'string', where).toBe(true);
          // What the server sees: the URL parser drops a fragment and trailing controls.
          const query = new URL(request.url, 'http://localhost').searchParams;
          const limit = query.getAll('limit');
          if (limit.length === 1) expect(page.items.length, where).toBeLessThanOrEqual(Number(limit[0]));
          const statuses = query.getAll('status');
          if (statuses.length === 1 && statuses[0]!.split(',').some((s) => s.trim())) {
            const wanted = statuses[0]!
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
            for (const item of page.items) expect(wanted, where).toContain(item.status);
          }
        },
      ),
    600,
  );

  const EXTRA_PATHS = [
    '/openapi.json',
    '/docs',
    '/docs/',
    '/docs/json',
    '/docs/static/{path}',
    '/docs/static/index.html',
    '/api/v1/{path}',
    '/api/v1/tasks/{id}/{path}',
    '/{path}',
  ];
  propertyTest(
    'answers odd path parameters (traversal, encodings, long, unicode, NUL) on every route',
    () =>
      fc.asyncProperty(
        fc
          .record({
            path: fc.constantFrom(
              ...operations.map((operation) => `${operation.method} ${operation.path}`),
              ...EXTRA_PATHS.map((path) => `GET ${path}`),
            ),
            value: segment,
            suffix: fc.constantFrom('', '', '/', '//', '/..', '?', '#x', '%2F', '/.%2e/'),
            role: fc.constantFrom(...ROLES),
          })
          .map(({ path, value, suffix, role }) => {
            const [method, template] = path.split(' ') as [string, string];
            const filled = template.replace(/\{[^}]+\}/g, value);
            // Never stream a real unfinished task (the fuzzer cannot name one by chance).
            return build({ method, path: `${filled}${suffix}`, auth: `Bearer ${tokens[role]}` });
          }),
        async (request) => {
          await send(request);
        },
      ),
    600,
  );

  propertyTest(
    'refuses every non-public operation without a valid bearer token, with 401 and WWW-Authenticate',
    () =>
      fc.asyncProperty(
        fc
          .record({ operation: fc.constantFrom(...operations), auth: authorization(), param: paramChoice })
          .map(({ operation, auth, param }) =>
            build({ method: operation.method, path: fillPath(operation.path, param), auth }),
          ),
        async (request) => {
          const response = await send(request);
          const header = request.headers.authorization;
          const first = Array.isArray(header) ? header[0] : header;
          const valid = Object.values(tokens).some(
            (token) =>
              first !== undefined && /^bearer +/i.test(first) && first.replace(/^bearer +/i, '') === token,
          );
          const path = request.url.split('?')[0]!;
          const isPublic = /^(\/api\/v1)?\/(healthz|readyz)$/.test(path);
          // GitHub's deliveries and Slack's interactions carry a signature instead of a token:
          // unsigned, they are a 401 to anyone.
          const signed = path === '/api/v1/github/webhooks' || path === '/api/v1/slack/interactions';
          if ((!valid && !isPublic) || signed)
            expect(response.statusCode, describeRequest(request)).toBe(401);
          else if (valid) expect(response.statusCode, describeRequest(request)).not.toBe(401);
        },
      ),
    500,
  );

  propertyTest(
    'answers unexpected HTTP methods on known paths',
    () =>
      fc.asyncProperty(
        fc
          .record({
            operation: fc.constantFrom(...operations),
            method: fc.constantFrom(...KNOWN_METHODS, ...ODD_METHODS),
            param: paramChoice,
            auth: fc.option(fc.constantFrom(...ROLES), { freq: 4 }),
            body: fc.option(bodyText, { freq: 2 }),
          })
          .map((r) =>
            build({
              method: r.method,
              path: fillPath(r.operation.path, r.param),
              auth: r.auth === null ? undefined : `Bearer ${tokens[r.auth]}`,
              contentType: r.body === null ? undefined : 'application/json',
              body: r.body ?? undefined,
            }),
          ),
        async (request) => {
          await send(request);
        },
      ),
    400,
  );

  propertyTest(
    'resumes the event stream of a finished task from any Last-Event-ID or ?after',
    () =>
      fc.asyncProperty(
        fc
          .record({
            lastEventId: fc.option(lastEventId, { freq: 4 }),
            after: fc.option(
              fc.oneof(lastEventId, fc.constantFrom('', 'x', '1.5', '-1', '1e400', '9'.repeat(25))),
              { freq: 3 },
            ),
          })
          .map(({ lastEventId, after }) =>
            build({
              method: 'GET',
              path: `/api/v1/tasks/${finishedTaskId}/events`,
              query: after === null ? '' : `?after=${encode(after)}`,
              auth: `Bearer ${tokens.viewer}`,
              headers: lastEventId === null ? {} : { 'last-event-id': lastEventId },
            }),
          ),
        async (request) => {
          const response = await send(request);
          const where = `${describeRequest(request)} -> ${shorten(response.body)}`;
          expect([200, 400], where).toContain(response.statusCode);
          if (response.statusCode !== 200) return;
          expect(response.body.startsWith('retry: 2000'), where).toBe(true);
          // The server resumes from Last-Event-ID when it is sent, else from ?after, else from the start.
          const header = request.headers['last-event-id'];
          const after = new URLSearchParams(request.url.split('?')[1] ?? '').get('after');
          const from = typeof header === 'string' ? Number(header) : after ? Number(after) : 0;
          const ids = [...response.body.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
          for (const id of ids) expect(id, where).toBeGreaterThan(from);
          if (from < lastFinishedEventId) {
            expect(ids.at(-1), `the stream stops before the final status event: ${where}`).toBe(
              lastFinishedEventId,
            );
          }
        },
      ),
    300,
  );

  /**
   * Minimal requests the properties above shrank to. Each is checked like any fuzzed request, so a
   * failing one names its bug directly, and stays as a regression test once it is fixed.
   */
  const cursorAt = (millis: string) =>
    Buffer.from(`${millis}:00000000-0000-4000-8000-000000000000`).toString('base64url');
  const COUNTEREXAMPLES: Array<{ name: string; request: () => FuzzRequest }> = [
    {
      name: 'a malformed percent-encoding in a path parameter',
      request: () => build({ method: 'GET', path: '/api/v1/tasks/%', auth: `Bearer ${tokens.viewer}` }),
    },
    {
      name: 'a path parameter longer than 100 characters',
      request: () =>
        build({ method: 'GET', path: `/api/v1/tasks/${'a'.repeat(101)}`, auth: `Bearer ${tokens.viewer}` }),
    },
    {
      name: 'created_after in year 0',
      request: () =>
        build({
          method: 'GET',
          path: '/api/v1/tasks',
          query: '?created_after=0000-01-01T00:00:00Z',
          auth: `Bearer ${tokens.viewer}`,
        }),
    },
    {
      name: 'created_before past year 9999 once its offset is applied',
      request: () =>
        build({
          method: 'GET',
          path: '/api/v1/tasks',
          query: `?created_before=${encode('9999-12-31T23:59:59-23:59')}`,
          auth: `Bearer ${tokens.viewer}`,
        }),
    },
    {
      name: 'a well-formed cursor past year 9999',
      request: () =>
        build({
          method: 'GET',
          path: '/api/v1/tasks',
          query: `?cursor=${cursorAt('253402300800000')}`,
          auth: `Bearer ${tokens.viewer}`,
        }),
    },
    {
      name: 'a NUL character in the repository filter',
      request: () =>
        build({
          method: 'GET',
          path: '/api/v1/tasks',
          query: '?repository=%00',
          auth: `Bearer ${tokens.viewer}`,
        }),
    },
    {
      name: 'a submission with run_after in year 0',
      request: () =>
        build({
          method: 'POST',
          path: '/api/v1/tasks',
          auth: `Bearer ${tokens.submitter}`,
          contentType: 'application/json',
          body: JSON.stringify({ ...SEED_PR_REVIEW, run_after: '0000-01-01T00:00:00Z' }),
        }),
    },
    {
      name: 'a submission with a NUL character in a payload string',
      request: () =>
        build({
          method: 'POST',
          path: '/api/v1/tasks',
          auth: `Bearer ${tokens.submitter}`,
          contentType: 'application/json',
          body: JSON.stringify({
            ...SEED_PR_REVIEW,
            payload: { ...SEED_PR_REVIEW.payload, title: '\u0000' },
          }),
        }),
    },
    {
      name: 'a submission with a lone UTF-16 surrogate in a payload string',
      request: () =>
        build({
          method: 'POST',
          path: '/api/v1/tasks',
          auth: `Bearer ${tokens.submitter}`,
          contentType: 'application/json',
          body: JSON.stringify({
            ...SEED_PR_REVIEW,
            payload: { ...SEED_PR_REVIEW.payload, title: '\ud800' },
          }),
        }),
    },
    {
      name: 'a token expiring past year 9999 once its offset is applied',
      request: () =>
        build({
          method: 'POST',
          path: '/api/v1/tokens',
          auth: `Bearer ${tokens.admin}`,
          contentType: 'application/json',
          body: JSON.stringify({ name: 'x', role: 'viewer', expires_at: '9999-12-31T23:59:59-23:59' }),
        }),
    },
    {
      name: 'the largest bigint as Last-Event-ID (Number() rounds it out of range)',
      request: () =>
        build({
          method: 'GET',
          path: `/api/v1/tasks/${finishedTaskId}/events`,
          auth: `Bearer ${tokens.viewer}`,
          headers: { 'last-event-id': '9223372036854775807' },
        }),
    },
  ];
  it.each(COUNTEREXAMPLES)(
    'answers $name below 500, in the documented shape, without a logged error',
    async ({ request }) => {
      await send(request());
    },
    15_000,
  );

  it('is still healthy afterwards, and nothing crashed or polluted the prototype', async () => {
    const { app } = test.supervisor;
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode, ready.body).toBe(200);
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: bearer('submitter'),
      payload: SEED_PR_REVIEW,
    });
    expect(created.statusCode, created.body).toBe(201);
    const read = await app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${created.json().id}`,
      headers: bearer('viewer'),
    });
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toMatchObject({
      id: created.json().id,
      type: 'PR_REVIEW',
      payload: SEED_PR_REVIEW.payload,
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS_BEFORE);
    expect(processErrors).toEqual([]);
    console.info(`fuzz: ${requestCount} requests in all`);
  }, 30_000);
});
