import type { Config } from '../../config/schema.ts';
import { TaskQueue } from '../../queue/task-queue.ts';
import { createLogger } from '../../runtime/logger.ts';
import { withDirectDatabase } from '../direct-database.ts';

/** `supervisor migrate`: applies the schema and the queue's tables, then exits. */
export async function migrate(config: Config, out: (text: string) => void): Promise<void> {
  const logger = createLogger(config);
  await withDirectDatabase(config, async (database) => {
    await database.migrate();
    const queue = await TaskQueue.start(database, {
      heartbeatSeconds: config.WORKER_HEARTBEAT_SECONDS,
      logger,
    });
    await queue.stop();
    out(`migrations applied (${database.kind})`);
  });
}
