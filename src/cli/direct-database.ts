import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { acquireDataDirLock } from '../runtime/data-dir-lock.ts';
import { type Database, openDatabase } from '../store/database.ts';
import { EXIT, ExitError } from './exit.ts';

/**
 * Runs `work` on the supervisor's own database, opened directly by a CLI command: PostgreSQL at
 * DATABASE_URL, or the embedded one under DATA_DIR, which belongs to one process at a time (so the
 * supervisor must be stopped: the data-directory lock says so if it is not).
 */
export async function withDirectDatabase<T>(
  config: Config,
  work: (database: Database) => Promise<T>,
  options: { poolSize?: number } = {},
): Promise<T> {
  let lock: { release(): void } | undefined;
  if (!config.DATABASE_URL) {
    try {
      lock = acquireDataDirLock(resolve(config.DATA_DIR));
    } catch (error) {
      // Its message names the process holding the directory, or the stale lock file to remove.
      throw new ExitError(EXIT.usage, error instanceof Error ? error.message : String(error));
    }
  }
  try {
    const database = config.DATABASE_URL
      ? await openDatabase({ kind: 'postgres', url: config.DATABASE_URL, ...options })
      : await openDatabase({ kind: 'pglite', dataDir: join(resolve(config.DATA_DIR), 'pglite') });
    try {
      return await work(database);
    } finally {
      await database.close();
    }
  } finally {
    lock?.release();
  }
}
