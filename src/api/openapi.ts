import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * What makes /openapi.json loadable by generators and linters, on top of the zod route schemas:
 * named schemas as components (only those the paths use), a bearer security scheme with each
 * operation's own requirement (none for the public probes and docs), and a stable `operationId`
 * per operation.
 */

/** The operationId of a route: its method and path, e.g. `GET /api/v1/tasks/:id/cancel` → `getTasksIdCancel`. */
export function operationIdFor(method: string, url: string): string {
  // The probes answer at /healthz and, for the seed project, at /api/v1/healthz: both stay unique.
  const alias = /^\/api\/v1\/(healthz|readyz|health\/)/.test(url);
  const path = alias ? url : url.replace(/^\/api\/v1(?=\/|$)/, '');
  const words = path
    .split(/[/_.-]+/)
    .map((word) => word.replace(/^:/, '').replace(/[{}]/g, ''))
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((word) => word[0]!.toUpperCase() + word.slice(1))].join('');
}

/** The error body every 4xx and 5xx answer has (src/api/schemas.ts errorSchema). */
const ERROR = { $ref: '#/components/schemas/Error' };

/** Answers every route may give that its own schema need not repeat. */
function commonResponses(access: string | undefined, hasBody: boolean): Record<string, unknown> {
  return {
    ...(access === 'public'
      ? {}
      : {
          401: { ...ERROR, description: 'No token, or one that is unknown, revoked or expired' },
          403: { ...ERROR, description: 'The token’s role may not do this' },
        }),
    ...(hasBody ? { 415: { ...ERROR, description: 'The body is not application/json' } } : {}),
  };
}

export const openapiTransform: SwaggerTransform = (input) => {
  const transformed = jsonSchemaTransform(input);
  const method = [input.route.method].flat()[0] ?? 'get';
  const access = (input.route.config as { access?: string } | undefined)?.access;
  const schema = transformed.schema as { body?: unknown; response?: Record<string, unknown> };
  return {
    ...transformed,
    schema: {
      ...transformed.schema,
      operationId: operationIdFor(method, input.url),
      security: access === 'public' ? [] : [{ bearer: [] }],
      response: { ...commonResponses(access, schema.body !== undefined), ...schema.response },
    },
  };
};

export const openapiTransformObject: SwaggerTransformObject = (documentObject) => {
  const document = jsonSchemaTransformObject(documentObject) as {
    paths?: unknown;
    components?: { schemas?: Record<string, unknown> };
  };
  // zod's registry yields an input and an output variant of every named schema; keep those used.
  const schemas = { ...(document.components?.schemas ?? {}) };
  const used = (name: string) => {
    const needle = `"#/components/schemas/${name}"`;
    return JSON.stringify(document.paths).includes(needle) || JSON.stringify(schemas).includes(needle);
  };
  for (const name of Object.keys(schemas)) if (!used(name)) delete schemas[name];
  return {
    ...document,
    components: { ...document.components, schemas },
  } as ReturnType<SwaggerTransformObject>;
};
