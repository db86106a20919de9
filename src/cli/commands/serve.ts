import { describeConfig } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { createLogger } from '../../runtime/logger.ts';
import { Supervisor } from '../../runtime/supervisor.ts';
import { EXIT, ExitError } from '../exit.ts';

/**
 * What a process runs: `serve` everything in one process (embedded or on PostgreSQL), `api` a
 * stateless API replica, `worker` a worker that only serves health probes over HTTP.
 */
export type ProcessRole = 'serve' | 'api' | 'worker';

/**
 * Runs the supervisor in the given role. SIGTERM or Ctrl-C drains it (no new work, running attempts
 * get SHUTDOWN_GRACE_SECONDS, then are handed back); a second signal exits at once.
 */
export async function serve(config: Config, role: ProcessRole = 'serve'): Promise<void> {
  if (role !== 'serve' && (!config.DATABASE_URL || !config.REDIS_URL)) {
    // The embedded database belongs to one process, and live events need a bus all processes share.
    throw new ExitError(
      EXIT.usage,
      `supervisor ${role} runs beside other processes, so it needs DATABASE_URL (PostgreSQL) and REDIS_URL ` +
        `(missing: ${[!config.DATABASE_URL && 'DATABASE_URL', !config.REDIS_URL && 'REDIS_URL'].filter(Boolean).join(', ')}). ` +
        'For a single process with the embedded database, use `supervisor serve`.',
    );
  }
  const logger = createLogger(config);
  logger.info({ role, config: describeConfig(config) }, 'configuration');
  const supervisor = await Supervisor.start({
    config,
    logger,
    worker: role !== 'api',
    api: role !== 'worker',
  });
  logger.info(
    role === 'worker'
      ? `worker running; health probes on http://${config.HOST}:${config.PORT}/healthz and /readyz`
      : `supervisor ${role} listening on http://${config.HOST}:${config.PORT} (API docs at /docs)`,
  );
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal; exiting without draining');
      process.exit(130);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down: no new work; running attempts get the grace period');
    supervisor.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
