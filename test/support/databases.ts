import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import pino from 'pino';
import { TaskQueue } from '../../src/queue/task-queue.ts';
import { type Database, openDatabase } from '../../src/store/database.ts';

/**
 * Fresh, fully migrated databases for tests, one per test, on both backends the supervisor
 * supports. A migrated template is built once (PGlite: a data-dir dump; PostgreSQL: a template
 * database) and each test gets a cheap copy, so tests never see each other's rows.
 */

export type Backend = 'pglite' | 'postgres';

/** Where the test PostgreSQL server is; trust auth on the CI machine. */
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';

const silent = pino({ level: 'silent' });

/** Changes whenever the migrations do, so a stale template is never reused. */
const MIGRATIONS_HASH = (() => {
  const dir = new URL('../../src/store/migrations/', import.meta.url);
  const hash = createHash('sha1');
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith('.sql')) hash.update(readFileSync(new URL(file, dir)));
  }
  return hash.digest('hex').slice(0, 10);
})();

async function prepare(database: Database): Promise<void> {
  await database.migrate();
  const queue = await TaskQueue.start(database, { heartbeatSeconds: 10, logger: silent });
  await queue.stop();
}

let pgliteDump: Promise<File | Blob> | undefined;

async function freshPglite(): Promise<Database> {
  pgliteDump ??= (async () => {
    const client = new PGlite();
    const database = await openDatabase({ kind: 'pglite', client });
    await prepare(database);
    const dump = await client.dumpDataDir('none');
    await client.close();
    return dump;
  })();
  const client = new PGlite({ loadDataDir: await pgliteDump });
  return openDatabase({ kind: 'pglite', client });
}

let postgresTemplate: Promise<string> | undefined;

function urlFor(database: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function templateDatabase(): Promise<string> {
  postgresTemplate ??= withAdmin(async (admin) => {
    const name = `supervisor_template_${MIGRATIONS_HASH}`;
    // Test files run in parallel workers; one of them builds the template, the others wait.
    await admin.query('select pg_advisory_lock(7020424613)');
    try {
      const exists = await admin.query('select 1 from pg_database where datname = $1', [name]);
      if (exists.rowCount === 0) {
        const building = `${name}_building_${process.pid}`;
        await admin.query(`drop database if exists ${building}`);
        await admin.query(`create database ${building}`);
        const database = await openDatabase({ kind: 'postgres', url: urlFor(building), poolSize: 2 });
        await prepare(database);
        await database.close();
        await admin.query(`alter database ${building} rename to ${name}`);
      }
    } finally {
      await admin.query('select pg_advisory_unlock(7020424613)');
    }
    return name;
  });
  return postgresTemplate;
}

export interface TestDatabase {
  database: Database;
  /** The connection URL (PostgreSQL only), for code that opens its own connections. */
  url?: string;
  drop(): Promise<void>;
}

async function freshPostgres(): Promise<TestDatabase> {
  const template = await templateDatabase();
  const name = `supervisor_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  await withAdmin((admin) => admin.query(`create database ${name} template ${template}`));
  const url = urlFor(name);
  const database = await openDatabase({ kind: 'postgres', url, poolSize: 5 });
  return {
    database,
    url,
    drop: async () => {
      await database.close().catch(() => {});
      await withAdmin((admin) => admin.query(`drop database if exists ${name} with (force)`));
    },
  };
}

export async function freshDatabase(backend: Backend): Promise<TestDatabase> {
  if (backend === 'postgres') return freshPostgres();
  const database = await freshPglite();
  return { database, drop: () => database.close() };
}

/**
 * The backends a suite should run on. PGlite always; PostgreSQL in CI (where it must be up) and
 * locally when it answers. Elsewhere the PostgreSQL half is skipped with a message saying so.
 */
export async function availableBackends(): Promise<Backend[]> {
  if (process.env.CI === 'true') return ['pglite', 'postgres'];
  try {
    await withAdmin((admin) => admin.query('select 1'));
    return ['pglite', 'postgres'];
  } catch {
    console.warn(
      `PostgreSQL at ${TEST_POSTGRES_URL} is not reachable: skipping the PostgreSQL half (it runs in CI).`,
    );
    return ['pglite'];
  }
}

export const BACKENDS: Backend[] = await availableBackends();
