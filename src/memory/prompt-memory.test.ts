import { describe, expect, it } from 'vitest';
import {
  estimateTokens,
  memorySection,
  type PromptMemoryEntry,
  renderEntry,
  selectWithinBudget,
} from './prompt-memory.ts';

const entry = (id: string, content: string): PromptMemoryEntry => ({
  id,
  kind: 'analysis',
  title: `Entry ${id}`,
  content,
  paths: ['src/a.ts'],
  commit: 'abcdef1234567890',
  taskId: 'task-1',
});

describe('selectWithinBudget', () => {
  it('keeps entries in rank order while they fit, passing over one too large for smaller ones', () => {
    const small = entry('1', 'short');
    const huge = entry('2', 'x'.repeat(4000));
    const another = entry('3', 'also short');
    const budget = 120 + estimateTokens(renderEntry(small)) + estimateTokens(renderEntry(another));
    expect(selectWithinBudget([small, huge, another], budget).map((e) => e.id)).toEqual(['1', '3']);
    expect(selectWithinBudget([small], 0)).toEqual([]);
  });

  it('cuts the first entry that did not fit to the room left, rather than leave the room empty', () => {
    const huge = entry('1', 'x'.repeat(40_000));
    const chosen = selectWithinBudget([huge], 2000);
    expect(chosen).toHaveLength(1);
    expect(chosen[0]!.content.endsWith('memory_read has the whole entry)')).toBe(true);
    expect(120 + estimateTokens(renderEntry(chosen[0]!))).toBeLessThanOrEqual(2000);
    expect(huge.content).toHaveLength(40_000); // the caller's entry is left as it was
  });
});

describe('memorySection', () => {
  it('fences the entries with their provenance and mentions the tools', () => {
    const section = memorySection([entry('1', 'Weak hash in src/a.ts')], {
      nonce: 'n0nce',
      toolsAvailable: true,
    })!;
    expect(section).toContain('<untrusted-data kind="project-memory" nonce="n0nce">');
    expect(section).toContain(
      '[memory 1] analysis: Entry 1 (task task-1; commit abcdef123456; files src/a.ts)',
    );
    expect(section).toContain('memory_search');
    expect(section).toContain('check the code before relying on it');
  });

  it('says nothing without entries or tools, and points to the tools when memory is empty', () => {
    expect(memorySection([], { nonce: 'n', toolsAvailable: false })).toBeUndefined();
    expect(memorySection([], { nonce: 'n', toolsAvailable: true })).toMatch(
      /^Project memory: nothing relevant/,
    );
    expect(memorySection([entry('1', 'c')], { nonce: 'n', toolsAvailable: false })).not.toContain(
      'memory_search',
    );
  });
});
