import type { Principal } from '../auth/roles.ts';
import type { MemoryService } from '../memory/memory-service.ts';
import { entryView, historyView } from '../memory/memory-views.ts';
import type { MemoryBackend } from './memory-server.ts';

/** The memory tools' backend inside the API (`/api/v1/mcp`): the memory service, acting for the caller. */
export function serviceBackend(service: MemoryService, caller: Principal): MemoryBackend {
  return {
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
}
