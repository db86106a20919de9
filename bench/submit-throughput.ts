/**
 * Submit throughput: POST /api/v1/tasks under load, next to two baselines measured in the same
 * run, same process, same load settings: a bare Fastify handler (the HTTP floor), and a handler
 * doing the same durable work without ours (a task row and its pg-boss job in one transaction, on
 * the same database). The supervisor runs with no worker, so its figure is the API (token lookup,
 * validation, dedup, rate limits) + the transaction (task row, queue job, status event, audit
 * record) alone. The target is ≥ 0.7 of the same-transaction baseline.
 *
 *   npm run bench                       # embedded PGlite
 *   DATABASE_URL=postgres://… npm run bench   # PostgreSQL server
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=20 npm run bench
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pino from 'pino';
import { generateToken } from '../src/auth/token-secret.ts';
import { loadConfig } from '../src/config/load.ts';
import { TaskQueue } from '../src/queue/task-queue.ts';
import { Supervisor } from '../src/runtime/supervisor.ts';
import { type Database, openDatabase } from '../src/store/database.ts';
import { insertTask } from '../src/store/task-store.ts';
import { SEED_PR_REVIEW } from '../test/support/seed.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const body = JSON.stringify(SEED_PR_REVIEW);

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** The bench measures the authenticated path: every request carries a token that is looked up. */
const token = generateToken();

async function load(url: string): Promise<Figures> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
    connections,
    duration: seconds,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

async function baseline(): Promise<Figures> {
  const app = Fastify();
  app.post('/api/v1/tasks', async (request, reply) =>
    reply.status(201).send({ id: 'x', received: request.body }),
  );
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    await load(`${address}/api/v1/tasks`); // warm-up
    return await load(`${address}/api/v1/tasks`);
  } finally {
    await app.close();
  }
}

/** The same database work as a submission, without ours: a task row and its job, one transaction. */
async function transactionBaseline(): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'supervisor-bench-'));
  const database: Database = process.env.DATABASE_URL
    ? await openDatabase({ kind: 'postgres', url: process.env.DATABASE_URL })
    : await openDatabase({ kind: 'pglite', dataDir: join(dataDir, 'pglite') });
  await database.migrate();
  const queue = await TaskQueue.start(database, { heartbeatSeconds: 10, logger: pino({ level: 'silent' }) });
  const app = Fastify();
  app.post('/api/v1/tasks', async (request, reply) => {
    const submission = request.body as typeof SEED_PR_REVIEW;
    const id = randomUUID();
    const now = new Date();
    await database.db.transaction(async (tx) => {
      await insertTask(tx, {
        id,
        type: 'PR_REVIEW',
        status: 'queued',
        priority: submission.priority ?? 5,
        repository: submission.payload.repository,
        payload: submission.payload,
        maxAttempts: 3,
        submittedBy: 'bench',
        createdAt: now,
        updatedAt: now,
      });
      await queue.dispatch(tx, id, { priority: submission.priority ?? 5 });
    });
    return reply.status(201).send({ id });
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    await load(`${address}/api/v1/tasks`); // warm-up
    return await load(`${address}/api/v1/tasks`);
  } finally {
    await app.close();
    await queue.stop();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function supervisor(): Promise<Figures & { database: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'supervisor-bench-'));
  const config = loadConfig({
    env: {
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      SECRETS_KEY: 'a benchmark key, long enough',
      AUTH_MODE: 'tokens',
      ADMIN_TOKEN: token,
      // The bench measures throughput, not the rate limiter's refusals.
      SUBMIT_RATE_PER_MINUTE: '1000000',
      SUBMIT_RATE_PER_MINUTE_PER_IP: '1000000',
    },
  });
  const instance = await Supervisor.start({ config, logger: pino({ level: 'silent' }), worker: false });
  try {
    const { port } = instance.app.server.address() as { port: number };
    const url = `http://127.0.0.1:${port}/api/v1/tasks`;
    await load(url); // warm-up
    return { ...(await load(url)), database: instance.database.kind };
  } finally {
    await instance.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const base = await baseline();
const sameWork = await transactionBaseline();
const ours = await supervisor();
const row = (name: string, f: Figures) =>
  `${name.padEnd(44)} ${f.rps.toFixed(0).padStart(8)} req/s   p50 ${String(f.p50).padStart(4)} ms   p99 ${String(f.p99).padStart(4)} ms   errors ${f.errors + f.non2xx}`;
console.log(`submit throughput: ${seconds} s per run, ${connections} connections, Node ${process.version}`);
console.log(row('bare Fastify handler', base));
console.log(row(`task row + job, one transaction (${ours.database})`, sameWork));
console.log(row(`supervisor (${ours.database})`, ours));
console.log(
  `ratio supervisor/same transaction: ${(ours.rps / sameWork.rps).toFixed(2)} (throughput, target ≥ 0.7); supervisor/bare Fastify: ${(ours.rps / base.rps).toFixed(3)}`,
);
