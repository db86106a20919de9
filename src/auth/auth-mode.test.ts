import { describe, expect, it } from 'vitest';
import { isLoopbackHost, resolveAuthMode } from './auth-mode.ts';

describe('auth mode', () => {
  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) {
      expect(isLoopbackHost(host)).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '127.example.com', '128.0.0.1']) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });

  it('allows development mode only for one process on loopback', () => {
    expect(resolveAuthMode('auto', '127.0.0.1', true)).toEqual({ mode: 'none' });
    expect(resolveAuthMode('auto', '0.0.0.0', true)).toEqual({ mode: 'tokens' });
    expect(resolveAuthMode('auto', '127.0.0.1', false)).toEqual({ mode: 'tokens' });
    expect(resolveAuthMode('tokens', '127.0.0.1', true)).toEqual({ mode: 'tokens' });
    expect(resolveAuthMode('none', '127.0.0.1', true)).toEqual({ mode: 'none' });
    expect(resolveAuthMode('none', '0.0.0.0', true)).toMatchObject({
      refused: expect.stringContaining('HOST=0.0.0.0'),
    });
    expect(resolveAuthMode('none', '127.0.0.1', false)).toMatchObject({
      refused: expect.stringContaining('supervisor api'),
    });
  });
});
