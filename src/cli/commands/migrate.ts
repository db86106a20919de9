import { join, resolve } from 'node:path';
import type { Config } from '../../config/schema.ts';
import { TaskQueue } from '../../queue/task-queue.ts';
import { acquireDataDirLock } from '../../runtime/data-dir-lock.ts';
import { createLogger } from '../../runtime/logger.ts';
import { openDatabase } from '../../store/database.ts';

/** `supervisor migrate`: applies the schema and the queue's tables, then exits. */
export async function migrate(config: Config, out: (text: string) => void): Promise<void> {
  const logger = createLogger(config);
  const lock = config.DATABASE_URL ? undefined : acquireDataDirLock(resolve(config.DATA_DIR));
  const database = config.DATABASE_URL
    ? await openDatabase({ kind: 'postgres', url: config.DATABASE_URL })
    : await openDatabase({ kind: 'pglite', dataDir: join(resolve(config.DATA_DIR), 'pglite') });
  try {
    await database.migrate();
    const queue = await TaskQueue.start(database, {
      heartbeatSeconds: config.WORKER_HEARTBEAT_SECONDS,
      logger,
    });
    await queue.stop();
    out(`migrations applied (${database.kind})`);
  } finally {
    await database.close();
    lock?.release();
  }
}
