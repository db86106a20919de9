import { afterEach, describe, expect, it, vi } from 'vitest';
import { SPINNER_FRAMES } from './progress.ts';
import { startProgress } from './spinner.ts';

const CLEAR = '\r\x1b[2K';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 80, write: (text: string) => writes.push(text) } };
}

describe('startProgress', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('draws nothing when the stream is not a terminal', () => {
    const { writes, stream } = fakeStream(false);
    const printed: string[] = [];
    const progress = startProgress(
      { status: 'queued', attempt: 0, since: 0 },
      (t) => printed.push(t),
      stream,
    );
    progress.update({ status: 'running' });
    progress.print('hello');
    progress.stop();
    expect(progress.active).toBe(false);
    expect(writes).toEqual([]);
    expect(printed).toEqual(['hello']);
  });

  it('rewrites one line in place, clears it around output and removes it at the end', () => {
    vi.useFakeTimers();
    const { writes, stream } = fakeStream(true);
    const printed: string[] = [];
    const progress = startProgress(
      { status: 'queued', attempt: 0, since: Date.now() },
      (t) => printed.push(t),
      stream,
    );
    expect(progress.active).toBe(true);
    expect(writes.at(-1)).toBe(`${CLEAR}${SPINNER_FRAMES[0]} queued · 0ms · no attempt yet`);

    progress.update({ status: 'running', attempt: 1, lastEvent: 'assistant' });
    vi.advanceTimersByTime(100);
    expect(writes.at(-1)).toBe(`${CLEAR}${SPINNER_FRAMES[1]} running · 100ms · attempt 1 · last assistant`);

    const before = writes.length;
    progress.print('a line');
    expect(printed).toEqual(['a line']);
    expect(writes[before]).toBe(CLEAR);
    expect(writes.at(-1)).toContain('running');

    progress.stop();
    progress.stop();
    expect(writes.at(-1)).toBe(CLEAR);
    const after = writes.length;
    vi.advanceTimersByTime(1_000);
    expect(writes).toHaveLength(after);
  });
});
