/**
 * PostgreSQL cannot store a NUL character in text or JSON, nor an unpaired UTF-16 surrogate in
 * JSON. Such input is refused up front with the field named, instead of failing deep in a query.
 */
export function findUnstorableText(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === 'string') {
    return value.includes('\u0000') || !value.isWellFormed() ? path : undefined;
  }
  if (depth > 64 || value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const keyPath = `${path}.${key}`;
    if (key.includes('\u0000') || !key.isWellFormed()) return keyPath;
    const found = findUnstorableText(item, keyPath, depth + 1);
    if (found) return found;
  }
  return undefined;
}
