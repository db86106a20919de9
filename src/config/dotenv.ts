/**
 * Reads a `.env` file's text into variables. Pure.
 *
 * The common format: `KEY=value` lines, blank lines and `#` comments, an optional `export `, values
 * in single quotes (taken as they are), double quotes (with `\n`, `\t`, `\"` and `\\` escapes, and
 * spanning lines) or none. An unquoted value ends at a `#` that follows whitespace, as in
 * python-dotenv and the shell: so the seed project's `SLACK_CHANNEL=#alerts` is the channel
 * `#alerts` (Node's own `util.parseEnv` reads it as a comment, an empty value).
 */
export function parseDotEnv(text: string): Record<string, string> {
  const variables: Record<string, string> = {};
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(lines[i]!);
    if (!match) continue;
    const key = match[1]!;
    let rest = match[2]!;
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      // A quoted value may span lines until its closing quote.
      let body = rest.slice(1);
      while (!closes(body, quote) && i + 1 < lines.length) body += `\n${lines[++i]}`;
      const end = closingIndex(body, quote);
      rest = end === -1 ? body : body.slice(0, end);
      variables[key] = quote === '"' ? unescapeDoubleQuoted(rest) : rest;
      continue;
    }
    variables[key] = rest.replace(/\s+#.*$/, '').trim();
  }
  return variables;
}

function closingIndex(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (quote === '"' && body[i] === '\\') i++;
    else if (body[i] === quote) return i;
  }
  return -1;
}

const closes = (body: string, quote: string) => closingIndex(body, quote) !== -1;

function unescapeDoubleQuoted(value: string): string {
  return value.replace(/\\([nrt"\\])/g, (_, char: string) =>
    char === 'n' ? '\n' : char === 'r' ? '\r' : char === 't' ? '\t' : char,
  );
}
