/**
 * PostgreSQL stores neither a NUL character in text or JSON, nor an unpaired UTF-16 surrogate in
 * JSON, and agent output may hold either. What the supervisor writes on an agent's behalf (events,
 * results, errors, questions, memory) goes through `storable`: each such character becomes U+FFFD,
 * the replacement character, so the text is kept and shows where something was replaced. (Input
 * to the API is refused instead, naming the field: src/api/storable-text.ts.)
 */

const REPLACEMENT = '\uFFFD';
/** How deep an agent's JSON is followed; deeper values are stored as they are. */
const MAX_DEPTH = 64;

/** The value unchanged when it is storable (no copy is made), else a copy with every bad character replaced. */
export function storable<T>(value: T): T {
  return clean(value, 0) as T;
}

function clean(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || value instanceof Date) return value;
  if (Array.isArray(value)) {
    const cleaned = value.map((item) => clean(item, depth + 1));
    return cleaned.some((item, i) => item !== value[i]) ? cleaned : value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const cleanKey = cleanText(key);
    const cleaned = clean(item, depth + 1);
    if (cleaned === item && cleanKey === key) continue;
    copy ??= { ...(value as Record<string, unknown>) };
    if (cleanKey !== key) delete copy[key];
    copy[cleanKey] = cleaned;
  }
  return copy ?? value;
}

function cleanText(text: string): string {
  const noNul = text.includes('\u0000') ? text.replaceAll('\u0000', REPLACEMENT) : text;
  return noNul.isWellFormed() ? noNul : noNul.toWellFormed();
}
