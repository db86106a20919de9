import { fileURLToPath } from 'node:url';

/** The Gemini CLI the project pins (`@google/gemini-cli` in package.json, exact version), run by the pinned Node. */
export const GEMINI_ENTRY = fileURLToPath(
  new URL('../../../node_modules/@google/gemini-cli/bundle/gemini.js', import.meta.url),
);
