import { fileURLToPath } from 'node:url';

/**
 * The Claude Code CLI the project pins (`@anthropic-ai/claude-code` in package.json, exact
 * version), so every install runs the binary the supervisor was tested with.
 */
export const CLAUDE_BIN = fileURLToPath(new URL('../../../node_modules/.bin/claude', import.meta.url));
