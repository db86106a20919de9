import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, ERROR_CATALOGUE, type ErrorCode } from '../core/errors.ts';
import { isDatabaseUnavailable } from '../store/unavailable.ts';

/**
 * One error shape everywhere: `{"error":{"code","message","details"}}`. Client mistakes get a
 * specific code and message; anything unexpected is a generic 500 whose detail stays in the log
 * under the request id (a database error can carry query text or data, so it is never echoed).
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      reply.headers(error.headers);
      if (error.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
      return send(reply, error.code, error.message, error.details);
    }

    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'request';
      const details = error.validation.map((issue) => ({
        field: fieldPath(where, issue.instancePath),
        message: issue.message ?? 'invalid',
      }));
      const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
      return send(reply, 'validation_failed', `invalid ${where}: ${summary}`, details);
    }
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return send(
          reply,
          'payload_too_large',
          `request body is larger than the ${app.initialConfig.bodyLimit}-byte limit`,
        );
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return send(
          reply,
          'unsupported_media_type',
          `unsupported Content-Type ${request.headers['content-type'] ?? '(none)'}`,
        );
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return send(reply, 'validation_failed', 'the request body is empty; send a JSON object');
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return send(reply, 'validation_failed', 'the request body is not valid JSON');
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      // Fastify's own 4xx errors describe the request, not the server, so their message is safe.
      return send(reply, 'bad_request', error.message);
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return send(reply, 'database_unavailable', 'the database cannot be reached right now; retry shortly');
    }
    request.log.error({ err: error }, 'request failed');
    return send(reply, 'internal_error', `internal error; quote request id ${request.id} when reporting it`);
  });

  // The methods each known path answers, so a wrong method on a right path is a 405 with Allow.
  const known: Array<{ pattern: RegExp; methods: Set<string> }> = [];
  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(
      `^${route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+')}/?$`,
    );
    const entry = known.find((item) => item.pattern.source === pattern.source) ?? {
      pattern,
      methods: new Set(),
    };
    if (!known.includes(entry)) known.push(entry);
    for (const method of [route.method].flat()) entry.methods.add(method);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split(/[?#]/)[0]!;
    const allowed = known.find((item) => item.pattern.test(path))?.methods;
    if (allowed) {
      const allow = [...allowed].sort().join(', ');
      reply.header('allow', allow);
      return send(reply, 'method_not_allowed', `${request.method} is not allowed on ${path}; use ${allow}`);
    }
    return send(reply, 'not_found', `no route for ${request.method} ${path}`);
  });
}

export function send(reply: FastifyReply, code: ErrorCode, message: string, details?: unknown): FastifyReply {
  const body = { error: { code, message, ...(details === undefined ? {} : { details }) } };
  return reply.status(ERROR_CATALOGUE[code].status).type('application/json').send(JSON.stringify(body));
}

function fieldPath(where: string, instancePath: string): string {
  const path = instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  return path ? `${where}.${path}` : where;
}
