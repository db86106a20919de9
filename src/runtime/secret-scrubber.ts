/**
 * The secret values this process knows (credentials, keys, tokens from its configuration), and a
 * scrubber that replaces them in text on its way out: every log line goes through it, so a secret
 * that reaches a message by some path nobody foresaw is still not written. Redacting known field
 * paths (the logger's `redact`) catches the expected places; this catches the rest.
 */
const REPLACEMENT = '[redacted]';
/** Shorter values would also match ordinary text; no real credential is this short. */
const MIN_LENGTH = 8;

const known = new Set<string>();
let pattern: RegExp | undefined;

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_LENGTH) return;
  const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
  let added = false;
  for (const form of forms) {
    if (form.length >= MIN_LENGTH && !known.has(form)) {
      known.add(form);
      added = true;
    }
  }
  if (added) {
    // Longest first, so a secret that contains another is replaced whole.
    const alternatives = [...known].sort((a, b) => b.length - a.length).map(escapeRegExp);
    pattern = new RegExp(alternatives.join('|'), 'g');
  }
}

/** Registers the secrets inside a URL (its password), and the URL itself. */
export function registerUrlSecret(url: string | undefined): void {
  if (!url) return;
  registerSecret(url);
  try {
    const password = new URL(url).password;
    if (password) registerSecret(decodeURIComponent(password));
  } catch {
    // not a URL: the whole value is registered above
  }
}

export function scrubSecrets(text: string): string {
  return pattern ? text.replace(pattern, REPLACEMENT) : text;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
