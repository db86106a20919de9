import { fileURLToPath } from 'node:url';

/**
 * The Codex CLI the project pins (`@openai/codex` in package.json, exact version). Its entry is a
 * Node launcher that replaces itself with the native binary (execve), run by the pinned Node.
 */
export const CODEX_ENTRY = fileURLToPath(
  new URL('../../../node_modules/@openai/codex/bin/codex.js', import.meta.url),
);
