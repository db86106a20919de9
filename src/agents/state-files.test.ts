import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyTranscript } from './claude-code/session-files.ts';
import { geminiChat } from './gemini/session-files.ts';
import { copyWithoutLinks, noLinksBetween, readInside, removeStateFile } from './state-files.ts';

/** An agent owning its state directory may swap a directory for a link to somewhere else. */
describe('state files in a directory the agent may own', () => {
  const scratch = () => mkdtempSync(join(tmpdir(), 'state-files-'));

  it('removes a file only when no directory on the way is a link', () => {
    const root = scratch();
    const elsewhere = scratch();
    writeFileSync(join(elsewhere, 'config.toml'), 'precious');
    symlinkSync(elsewhere, join(root, 'codex'));
    expect(noLinksBetween(root, join(root, 'codex', 'config.toml'))).toBe(false);
    removeStateFile(root, join(root, 'codex', 'config.toml'));
    expect(readFileSync(join(elsewhere, 'config.toml'), 'utf8')).toBe('precious');

    mkdirSync(join(root, 'real'));
    writeFileSync(join(root, 'real', 'config.toml'), 'x');
    removeStateFile(root, join(root, 'real', 'config.toml'));
    expect(existsSync(join(root, 'real', 'config.toml'))).toBe(false);
    expect(noLinksBetween(root, '/etc/passwd')).toBe(false);
  });

  it('copies an earlier attempt’s state without following or copying a link', () => {
    const from = scratch();
    const secret = scratch();
    writeFileSync(join(secret, 'key'), 'secret');
    mkdirSync(join(from, 'sessions'));
    writeFileSync(join(from, 'sessions', 'rollout-1-t.jsonl'), '{}');
    symlinkSync(secret, join(from, 'sessions', 'loot'));
    symlinkSync(join(secret, 'key'), join(from, 'key'));
    writeFileSync(join(from, 'config.toml'), 'skip me');
    const to = join(scratch(), 'codex');
    copyWithoutLinks(from, to, (name) => name === 'config.toml');
    expect(existsSync(join(to, 'sessions', 'rollout-1-t.jsonl'))).toBe(true);
    expect(existsSync(join(to, 'sessions', 'loot'))).toBe(false);
    expect(existsSync(join(to, 'key'))).toBe(false);
    expect(existsSync(join(to, 'config.toml'))).toBe(false);

    // The directory itself a link: nothing at all.
    const linked = join(scratch(), 'codex');
    symlinkSync(secret, linked);
    const into = join(scratch(), 'codex');
    copyWithoutLinks(linked, into);
    expect(existsSync(into)).toBe(false);
  });

  it('copies a Claude transcript only where no link stands in the way', () => {
    const from = scratch();
    const secret = scratch();
    mkdirSync(join(secret, 'p'));
    writeFileSync(join(secret, 'p', 's1.jsonl'), 'secret');
    symlinkSync(secret, join(from, 'projects'));
    const to = scratch();
    copyTranscript(from, to, 's1');
    expect(existsSync(join(to, 'projects'))).toBe(false);

    const real = scratch();
    mkdirSync(join(real, 'projects', 'p'), { recursive: true });
    writeFileSync(join(real, 'projects', 'p', 's1.jsonl'), '{}');
    // A project directory that is a link to one holding a file of the session's name.
    symlinkSync(join(secret, 'p'), join(real, 'projects', 'q'));
    copyTranscript(real, to, 's1');
    expect(readFileSync(join(to, 'projects', 'p', 's1.jsonl'), 'utf8')).toBe('{}');
    expect(existsSync(join(to, 'projects', 'q'))).toBe(false);
  });

  it('reads only regular files really inside: not through a swapped directory, not a pipe (which would block)', () => {
    const root = scratch();
    const outside = scratch();
    writeFileSync(join(outside, 'key'), 'secret');
    symlinkSync(outside, join(root, 'dir'));
    expect(readInside(root, join(root, 'dir', 'key'))).toBeUndefined();
    execFileSync('mkfifo', [join(root, 'pipe.jsonl')]);
    expect(readInside(root, join(root, 'pipe.jsonl'))).toBeUndefined();
    writeFileSync(join(root, 'ok'), 'fine');
    expect(readInside(root, join(root, 'ok'))?.toString()).toBe('fine');
    expect(readInside(root, join(root, 'ok'), 2)?.toString()).toBe('fi');
    // A planted pipe among a Gemini session's files: looked past, at once.
    const chats = join(root, 'gemini', '.gemini', 'tmp', 'p', 'chats');
    mkdirSync(chats, { recursive: true });
    execFileSync('mkfifo', [join(chats, 'session-x.jsonl')]);
    expect(geminiChat(root, 'x')).toBeUndefined();
    // A directory where a file was: left alone, without an error.
    mkdirSync(join(root, 'config.toml'));
    expect(() => removeStateFile(root, join(root, 'config.toml'))).not.toThrow();
  });
});
