import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { LIMITS, relativePath, repositorySchema } from '../../core/task-types.ts';
import { MEMORY_KINDS } from '../../memory/memory-kinds.ts';
import type { MemoryService } from '../../memory/memory-service.ts';
import { entrySchema, entryView, historySchema, historyView } from '../../memory/memory-views.ts';
import { MAX_MEMORY_CONTENT_CHARS, MAX_MEMORY_TITLE_CHARS } from '../../memory/task-memory.ts';
import { principalOf } from '../access.ts';
import { errorSchema } from '../schemas.ts';

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 503: errorSchema };
const idParams = z.object({ id: z.uuid({ error: 'expected a memory entry id (UUID)' }) });
/** Ranked listings page by position: `next_cursor` wraps the offset of the next page. */
function decodeOffset(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new AppError('invalid_cursor', 'cursor is not one this server returned');
  return Number(match[1]);
}
const encodeOffset = (offset: number) => Buffer.from(`o:${offset}`).toString('base64url');

/**
 * Project memory. People read it (viewer), add entries (submitter; global ones: admin) and delete
 * them (operator). Agents reach them through their memory tools (the API's /api/v1/mcp, or
 * `supervisor mcp`), with a task token that confines them to their task's repository.
 */
export function memoryRoutes(app: FastifyInstance, service: () => MemoryService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/memory',
    {
      config: { access: 'viewer', taskScoped: true },
      schema: {
        tags: ['memory'],
        summary: 'Search project memory: most relevant first with `q`, else newest first',
        querystring: z.object({
          repository: repositorySchema.optional().describe("One repository's entries"),
          global: z
            .enum(['true', 'false'])
            .optional()
            .describe('true: only global entries (those with no repository)'),
          kind: z.enum(MEMORY_KINDS).optional(),
          q: z.string().max(LIMITS.shortTextChars).optional().describe('Words to look for (any of them)'),
          stale: z
            .enum(['true', 'false'])
            .optional()
            .describe('true: only stale entries; false: only current'),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.string().max(200).optional().describe('`next_cursor` from the previous page'),
        }),
        response: {
          200: z.object({ items: z.array(entrySchema), next_cursor: z.string().nullable() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const query = request.query;
      const offset = decodeOffset(query.cursor);
      const page = await service().list(
        {
          ...(query.repository !== undefined ? { repository: query.repository } : {}),
          global: query.global === 'true',
          ...(query.kind ? { kind: query.kind } : {}),
          ...(query.q ? { text: query.q } : {}),
          ...(query.stale !== undefined ? { stale: query.stale === 'true' } : {}),
          limit: query.limit,
          offset,
        },
        principalOf(request),
      );
      return {
        items: page.items.map(entryView),
        next_cursor: page.more ? encodeOffset(offset + page.items.length) : null,
      };
    },
  );

  api.get(
    '/memory/history',
    {
      config: { access: 'viewer', taskScoped: true },
      schema: {
        tags: ['memory'],
        summary: 'Which tasks ran on a repository, newest first, with their outcome and a summary',
        querystring: z.object({
          repository: repositorySchema.optional().describe('Required, except with a task token (its own)'),
          limit: z.coerce.number().int().min(1).max(100).default(20),
        }),
        response: { 200: z.object({ items: z.array(historySchema) }), ...errors },
      },
    },
    async (request) => {
      const rows = await service().history(
        request.query.repository,
        request.query.limit,
        principalOf(request),
      );
      return { items: rows.map(historyView) };
    },
  );

  api.get(
    '/memory/:id',
    {
      config: { access: 'viewer', taskScoped: true },
      schema: {
        tags: ['memory'],
        summary: 'Read one memory entry with its provenance',
        params: idParams,
        response: { 200: entrySchema, ...errors },
      },
    },
    async (request) => entryView(await service().get(request.params.id, principalOf(request))),
  );

  api.post(
    '/memory',
    {
      config: { access: 'submitter', taskScoped: true },
      schema: {
        tags: ['memory'],
        summary: 'Save a memory entry (without repository: a global entry, admins only)',
        body: z.strictObject({
          repository: repositorySchema.optional(),
          kind: z.enum(MEMORY_KINDS).default('note'),
          title: z.string().trim().min(1).max(MAX_MEMORY_TITLE_CHARS),
          content: z.string().trim().min(1).max(MAX_MEMORY_CONTENT_CHARS),
          paths: z.array(relativePath).max(LIMITS.listItems).default([]),
          commit: z
            .string()
            .regex(/^[0-9a-f]{7,64}$/, { error: 'expected a commit id (7-64 lowercase hex digits)' })
            .optional(),
        }),
        response: { 201: entrySchema, ...errors },
      },
    },
    async (request, reply) => {
      const { repository, commit, ...note } = request.body;
      const entry = await service().save(
        { ...note, ...(repository !== undefined ? { repository } : {}), ...(commit ? { commit } : {}) },
        principalOf(request),
      );
      return reply.status(201).send(entryView(entry));
    },
  );

  api.delete(
    '/memory/:id',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['memory'],
        summary: 'Delete a memory entry',
        params: idParams,
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      await service().remove(request.params.id, principalOf(request));
      return reply.status(204).send(null);
    },
  );
}
