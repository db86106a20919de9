import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { createMemoryServer } from '../../mcp/memory-server.ts';
import { serviceBackend } from '../../mcp/service-backend.ts';
import type { MemoryService } from '../../memory/memory-service.ts';
import { principalOf } from '../access.ts';
import { errorSchema } from '../schemas.ts';

/** JSON-RPC's answer to a method the endpoint does not serve, as the MCP SDK words it. */
const NOT_ALLOWED = { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null };

/**
 * The memory tools over MCP's Streamable HTTP transport, stateless: each POST is one JSON-RPC
 * exchange, answered as JSON by a server made for the caller's token. Agent runs connect here
 * (MEMORY_TOOLS=http), so a run starts no extra process.
 */
export function mcpRoutes(app: FastifyInstance, service: () => MemoryService): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/mcp',
    {
      config: { access: 'task' },
      schema: {
        tags: ['memory'],
        summary:
          'MCP endpoint for agents (task tokens only) (Streamable HTTP, stateless, JSON responses): the memory tools memory_search, memory_read, memory_save and task_history',
        body: z.unknown().describe('One JSON-RPC message (batches are refused)'),
        response: {
          200: {
            description: 'The JSON-RPC response',
            content: { 'application/json': { schema: z.unknown() } },
          },
          202: z.unknown().describe('A notification or response accepted: no body'),
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      // One message per request: a batch of tool calls would be up to a hundred requests' worth of queries.
      if (Array.isArray(request.body)) {
        throw new AppError('bad_request', 'send one JSON-RPC message per request; batches are not accepted');
      }
      const server = createMemoryServer(serviceBackend(service(), principalOf(request), request.log));
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      await server.connect(transport);
      reply.raw.on('close', () => {
        void transport.close();
        void server.close();
      });
      // The transport writes the response itself.
      reply.hijack();
      try {
        await transport.handleRequest(request.raw, reply.raw, request.body);
      } catch (error) {
        request.log.error({ err: error }, 'MCP request failed');
        if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify({ ...NOT_ALLOWED, error: { code: -32603, message: 'Internal error' } }));
      }
    },
  );

  api.get(
    '/mcp',
    {
      config: { access: 'task' },
      schema: {
        tags: ['memory'],
        summary: 'Not served: the endpoint is stateless and opens no server-to-client stream (405)',
        response: { 401: errorSchema, 403: errorSchema, 405: z.unknown() },
      },
    },
    async (_request, reply) => reply.status(405).header('allow', 'POST').send(NOT_ALLOWED),
  );
}
