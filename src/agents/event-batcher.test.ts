import { describe, expect, it } from 'vitest';
import type { AgentEvent } from './driver.ts';
import { EventBatcher } from './event-batcher.ts';
import { LineSplitter } from './line-splitter.ts';

describe('EventBatcher', () => {
  it('writes in order, in batches, and everything by close()', async () => {
    const written: AgentEvent[][] = [];
    const batcher = new EventBatcher(
      async (events) => {
        written.push(events);
      },
      { intervalMs: 10_000, maxBatch: 3 },
    );
    for (let i = 0; i < 7; i++) batcher.add({ type: 't', data: i });
    await batcher.close();
    expect(written.map((batch) => batch.map((event) => event.data))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it('reports a failed write at close', async () => {
    const batcher = new EventBatcher(async () => {
      throw new Error('database down');
    });
    batcher.add({ type: 't', data: 1 });
    await expect(batcher.close()).rejects.toThrow('database down');
  });
});

describe('LineSplitter', () => {
  it('joins lines cut across chunks and keeps an unterminated tail for the end', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(splitter.push(':2}\n\n{"c":')).toEqual(['{"b":2}']);
    expect(splitter.end()).toEqual(['{"c":']);
  });
});
