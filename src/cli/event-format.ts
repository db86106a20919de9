/** One line per interesting event for `supervisor logs`; noisy stream deltas are left out. */
export interface StreamedEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

const clip = (text: string, max = 160) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

type Block = {
  type?: string;
  text?: string;
  name?: string;
  input?: unknown;
  content?: unknown;
  is_error?: boolean;
};

export function formatEvent(event: StreamedEvent): string | undefined {
  const time = event.created_at.slice(11, 19);
  const data = event.data ?? {};
  const line = (text: string) => `${time}  ${text}`;
  switch (event.type) {
    case 'status': {
      const outcome =
        data.outcome && data.status !== 'running' && data.status !== 'queued' ? ` (${data.outcome})` : '';
      return line(`status ${data.status}${outcome}${data.error ? `: ${clip(String(data.error))}` : ''}`);
    }
    case 'supervisor/workspace':
      return line(
        `workspace ${data.kind}${data.branch ? ` on ${data.branch}` : ''}${data.note ? ` (${clip(String(data.note))})` : ''}`,
      );
    case 'system/init':
      return line(`agent started: model ${data.model}, ${data.permissionMode} mode`);
    case 'system/api_retry':
      return line(
        `api retry ${data.attempt}/${data.max_retries}: ${data.error} (${data.error_status ?? 'no status'})`,
      );
    case 'rate_limit_event': {
      const info = (data.rate_limit_info ?? {}) as Record<string, unknown>;
      return line(`rate limit ${info.status} (${info.rateLimitType ?? 'window'})`);
    }
    case 'assistant': {
      const blocks = ((data.message as { content?: Block[] } | undefined)?.content ?? []) as Block[];
      const parts = blocks.map((block) =>
        block.type === 'tool_use'
          ? `→ ${block.name} ${clip(JSON.stringify(block.input ?? {}), 100)}`
          : clip(block.text ?? ''),
      );
      return parts.filter(Boolean).length ? line(parts.filter(Boolean).join('  ')) : undefined;
    }
    case 'user': {
      const blocks = ((data.message as { content?: Block[] } | undefined)?.content ?? []) as Block[];
      const results = blocks.filter((block) => block.type === 'tool_result');
      if (results.length === 0) return undefined;
      return line(
        results
          .map(
            (block) =>
              `${block.is_error ? '✗' : '✓'} ${clip(typeof block.content === 'string' ? block.content : JSON.stringify(block.content), 100)}`,
          )
          .join('  '),
      );
    }
    case 'result':
      return line(
        `result: ${data.is_error ? 'error' : 'ok'}${typeof data.total_cost_usd === 'number' ? `, CLI cost estimate $${data.total_cost_usd.toFixed(4)}` : ''}${typeof data.result === 'string' ? ` — ${clip(data.result)}` : ''}`,
      );
    case 'supervisor/handoff':
      return line(
        `handing over from attempt ${data.from_attempt} on ${data.agent} (${data.cli}, ${data.outcome ?? 'unfinished'}): ${data.steps} steps`,
      );
    case 'thread.started':
      return line(`codex thread ${data.thread_id}`);
    case 'item.completed/agent_message':
      return line(clip(String((data.item as { text?: unknown } | undefined)?.text ?? '')));
    case 'item.completed/command_execution': {
      const item = (data.item ?? {}) as {
        command?: unknown;
        exit_code?: unknown;
        aggregated_output?: unknown;
      };
      return line(`→ ${clip(String(item.command ?? ''), 100)} (exit ${String(item.exit_code ?? '?')})`);
    }
    case 'turn.completed': {
      const usage = (data.usage ?? {}) as { input_tokens?: unknown; output_tokens?: unknown };
      return line(
        `turn completed: thread totals ${usage.input_tokens} tokens in / ${usage.output_tokens} out`,
      );
    }
    case 'turn.failed':
      return line(
        `turn failed: ${clip(String((data.error as { message?: unknown } | undefined)?.message ?? ''))}`,
      );
    case 'gemini.init':
      return line(`gemini session ${data.session_id}, model ${data.model}`);
    case 'gemini.message':
      // What the agent says arrives in pieces; each is shown as it came.
      return data.role === 'assistant' && typeof data.content === 'string' && data.content.trim()
        ? line(clip(data.content))
        : undefined;
    case 'gemini.tool_use':
      return line(`→ ${data.tool_name} ${clip(JSON.stringify(data.parameters ?? {}), 100)}`);
    case 'gemini.tool_result': {
      const error = (data.error as { message?: unknown } | undefined)?.message;
      return line(data.status === 'success' ? '✓' : `✗ ${clip(String(error ?? ''), 100)}`);
    }
    case 'gemini.result': {
      const stats = (data.stats ?? {}) as { input_tokens?: unknown; output_tokens?: unknown };
      const error = (data.error as { message?: unknown } | undefined)?.message;
      return line(
        `result: ${data.status}${error ? ` — ${clip(String(error))}` : ''}, ${stats.input_tokens} tokens in / ${stats.output_tokens} out`,
      );
    }
    case 'echo.started':
    case 'echo.result':
      return line(`${event.type} ${clip(JSON.stringify(data))}`);
    default:
      return undefined;
  }
}
