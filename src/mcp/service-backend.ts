import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/roles.ts';
import { AppError } from '../core/errors.ts';
import type { MemoryService } from '../memory/memory-service.ts';
import { entryView, historyView } from '../memory/memory-views.ts';
import type { MemoryBackend } from './memory-server.ts';

/**
 * The memory tools' backend inside the API (`/api/v1/mcp`): the memory service, acting for the
 * caller. What the agent reads back of a failure is the service's own message (out of scope, not
 * found); anything unexpected is logged and reported without its details.
 */
export function serviceBackend(
  service: MemoryService,
  caller: Principal,
  log: FastifyBaseLogger,
): MemoryBackend {
  const backend: MemoryBackend = {
    async search({ text, includeStale, limit }) {
      const page = await service.list(
        { ...(text ? { text } : {}), ...(includeStale ? {} : { stale: false }), limit, offset: 0 },
        caller,
      );
      return page.items.map(entryView);
    },
    read: async (id) => entryView(await service.get(id, caller)),
    saveNote: async (note) => entryView(await service.save({ kind: 'note', ...note }, caller)),
    history: async (limit) => (await service.history(undefined, limit, caller)).map(historyView),
  };
  const guarded =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (error) {
        if (error instanceof AppError) throw error;
        log.error({ err: error }, 'memory tool failed');
        throw new Error('the memory service failed; the supervisor log has the details');
      }
    };
  return {
    search: guarded(backend.search),
    read: guarded(backend.read),
    saveNote: guarded(backend.saveNote),
    history: guarded(backend.history),
  };
}
