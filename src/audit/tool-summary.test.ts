import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { summariseTools } from './tool-summary.ts';

/** The stored form of a recorded stream: type (with subtype) and the event itself. */
function recorded(name: string) {
  const { events } = JSON.parse(
    readFileSync(new URL(`../../test/fixtures/claude-streams/${name}.json`, import.meta.url), 'utf8'),
  ) as { events: Array<Record<string, unknown>> };
  return events.map((event) => ({
    type: typeof event.subtype === 'string' ? `${event.type}/${event.subtype}` : String(event.type),
    data: event,
  }));
}

describe('summariseTools', () => {
  it('counts tool calls and denials of a real recorded run', () => {
    expect(summariseTools(recorded('permission-denied'))).toEqual({
      calls: { Bash: 1 },
      denied: { Bash: 1 },
    });
  });

  it('counts the tool calls of a real recorded Codex run, once each (started and completed)', () => {
    const { events } = JSON.parse(
      readFileSync(new URL('../../test/fixtures/codex-streams/success.json', import.meta.url), 'utf8'),
    ) as { events: Array<{ type: string; item?: { type: string } }> };
    const stored = events.map((event) => ({
      type: event.item ? `${event.type}/${event.item.type}` : event.type,
      data: event,
    }));
    expect(summariseTools(stored)).toEqual({ calls: { command_execution: 1 }, denied: {} });
  });

  it('is empty for a run without tools, and tolerates odd events', () => {
    expect(
      summariseTools([
        { type: 'assistant', data: null },
        { type: 'raw', data: { line: 'x' } },
      ]),
    ).toEqual({
      calls: {},
      denied: {},
    });
  });
});
