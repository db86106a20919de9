import type { ApiClient } from '../cli/api-client.ts';
import type { HistoryItemView, MemoryEntryView } from '../memory/memory-views.ts';
import type { MemoryBackend } from './memory-server.ts';

/** The memory tools' backend for `supervisor mcp`: the supervisor's memory API, with the caller's token. */
export function apiBackend(api: ApiClient): MemoryBackend {
  return {
    async search({ text, includeStale, limit }) {
      const params = new URLSearchParams({ limit: String(limit) });
      if (text) params.set('q', text);
      if (!includeStale) params.set('stale', 'false');
      return (await api.request<{ items: MemoryEntryView[] }>('GET', `/api/v1/memory?${params}`)).items;
    },
    read: (id) => api.request<MemoryEntryView>('GET', `/api/v1/memory/${encodeURIComponent(id)}`),
    saveNote: (note) =>
      api.request<MemoryEntryView>('POST', '/api/v1/memory', { body: { kind: 'note', ...note } }),
    async history(limit) {
      return (await api.request<{ items: HistoryItemView[] }>('GET', `/api/v1/memory/history?limit=${limit}`))
        .items;
    },
  };
}
