import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLES } from '../../auth/roles.ts';
import type { TokenService } from '../../auth/token-service.ts';
import { isoDateTime } from '../../core/timestamps.ts';
import type { ApiTokenRow } from '../../store/schema.ts';
import { principalOf } from '../access.ts';
import { errorSchema } from '../schemas.ts';

const iso = (value: Date | null) => (value ? value.toISOString() : null);

export const tokenNameSchema = z
  .string()
  .regex(/^[\w.@-]{1,64}$/, { error: 'expected 1-64 letters, digits and . _ @ -' })
  .describe('Who the token stands for: the actor in the audit trail and the submitter of its tasks');

const tokenSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    role: z.enum(ROLES),
    prefix: z.string().describe('The token’s first characters, to tell tokens apart'),
    created_by: z.string(),
    created_at: z.string(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    last_used_at: z.string().nullable().describe('Updated at most once a minute'),
  })
  .meta({ id: 'ApiToken' });

const createdSchema = tokenSchema
  .extend({ token: z.string().describe('The token itself. Shown only in this response: store it now.') })
  .meta({ id: 'ApiTokenCreated' });

function tokenView(row: ApiTokenRow): z.infer<typeof tokenSchema> {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    expires_at: iso(row.expiresAt),
    revoked_at: iso(row.revokedAt),
    last_used_at: iso(row.lastUsedAt),
  };
}

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema };

/** API tokens: admins create (the value is shown once), list and revoke them. */
export function tokenRoutes(app: FastifyInstance, tokens: () => TokenService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token; the response is the only time its value is shown',
        body: z.strictObject({
          name: tokenNameSchema,
          role: z.enum(ROLES),
          expires_at: isoDateTime.optional().describe('A future instant; no expiry when omitted'),
        }),
        response: { 201: createdSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { name, role, expires_at } = request.body;
      const { token, row } = await tokens().create(
        { name, role, ...(expires_at ? { expiresAt: new Date(expires_at) } : {}) },
        principalOf(request).name,
      );
      return reply.status(201).send({ ...tokenView(row), token });
    },
  );

  api.get(
    '/tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['tokens'],
        summary: 'List API tokens (never their values)',
        response: { 200: z.object({ items: z.array(tokenSchema) }), ...errors },
      },
    },
    async () => ({ items: (await tokens().list()).map(tokenView) }),
  );

  api.delete(
    '/tokens/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['tokens'],
        summary: 'Revoke an API token: it stops working at once (revoking twice is harmless)',
        params: z.object({ id: z.uuid({ error: 'expected a token id (UUID)' }) }),
        response: { 200: tokenSchema, 404: errorSchema, ...errors },
      },
    },
    async (request) => tokenView(await tokens().revoke(request.params.id, principalOf(request).name)),
  );
}
