import type { FastifyInstance } from 'fastify';
import { AppError } from '../core/errors.ts';

const ALLOWED_HEADERS = 'authorization, content-type, idempotency-key, last-event-id, x-request-id';
const ALLOWED_METHODS = 'GET, POST, DELETE';

/**
 * CORS is closed unless CORS_ORIGINS lists an origin: without `Access-Control-Allow-Origin`
 * browsers keep other sites from reading responses, and preflights from them are refused.
 */
export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  app.options('/*', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined || !origins.includes(origin)) {
      throw new AppError(
        'forbidden',
        `cross-origin requests from ${origin ?? '(no Origin)'} are not allowed; operators can list the origin in CORS_ORIGINS`,
      );
    }
    return reply
      .status(204)
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-methods', ALLOWED_METHODS)
      .header('access-control-allow-headers', ALLOWED_HEADERS)
      .header('access-control-max-age', '600')
      .header('vary', 'Origin')
      .send();
  });
  if (origins.length === 0) return;
  app.addHook('onSend', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && origins.includes(origin)) {
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    }
  });
}
