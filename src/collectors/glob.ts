// A directory glob: wildcards in the file-name part only (`/opt/backups/app/postgres_*.sql.gz`).
// This is all the backup collector needs, and it is pure: its tests need no file system.

/** Splits `/dir/sub/name*.gz` into the literal directory and the file-name pattern. */
export function splitGlob(pattern: string): { dir: string; name: string } {
  const i = pattern.lastIndexOf('/');
  if (i < 0) return { dir: '.', name: pattern };
  return { dir: pattern.slice(0, i) || '/', name: pattern.slice(i + 1) };
}

const SPECIAL = /[.+^${}()|\\/]/;

/**
 * Shell file-name pattern → anchored RegExp: `*` any run, `?` one character, `[abc]`, `[a-z]`,
 * `[!x]`/`[^x]` classes, `\` escapes. As in the shell, a wildcard does not match a leading dot.
 */
export function globToRegExp(name: string): RegExp {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i] as string;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\' && i + 1 < name.length) out += escapeChar(name[++i] as string);
    else if (c === '[') {
      const end = name.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let body = name.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      out += `[${negate ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\^/g, '\\^')}]`;
      i = end;
    } else out += escapeChar(c);
  }
  const leadingDot = name.startsWith('.') ? '' : '(?!\\.)';
  return new RegExp(`^${leadingDot}${out}$`);
}

function escapeChar(c: string): string {
  return SPECIAL.test(c) || c === '[' || c === ']' || c === '*' || c === '?' ? `\\${c}` : c;
}
