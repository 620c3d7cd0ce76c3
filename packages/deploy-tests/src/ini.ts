import { RegattaError } from '@regatta/contracts';

/** An INI file as PgBouncer reads it: sections of `key = value`, in file order. */
export type IniFile = Map<string, Map<string, string>>;

/** Parses PgBouncer-style INI (`;` and `#` comments, `[section]`, `key = value`, empty values allowed). */
export function parseIni(text: string, source = 'ini'): IniFile {
  const sections: IniFile = new Map();
  let current: Map<string, string> | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header?.[1]) {
      current = new Map();
      sections.set(header[1].trim(), current);
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `${source}:${index + 1}: expected "key = value" inside a [section]`,
      );
    }
    current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  });
  return sections;
}

/** Renders sections back to INI text (what a test hands to a real PgBouncer). */
export function renderIni(ini: IniFile): string {
  const parts: string[] = [];
  for (const [section, entries] of ini) {
    parts.push(`[${section}]`);
    for (const [key, value] of entries) parts.push(`${key} = ${value}`);
    parts.push('');
  }
  return parts.join('\n');
}

/** A copy of `ini` with `overrides` applied per section (sections are created when missing). */
export function withIniOverrides(ini: IniFile, overrides: Record<string, Record<string, string>>): IniFile {
  const copy: IniFile = new Map([...ini].map(([name, entries]) => [name, new Map(entries)]));
  for (const [section, entries] of Object.entries(overrides)) {
    const target = copy.get(section) ?? new Map<string, string>();
    for (const [key, value] of Object.entries(entries)) target.set(key, value);
    copy.set(section, target);
  }
  return copy;
}

/** An integer setting of `section`; INVALID_ARGUMENT when missing or not an integer. */
export function iniInt(ini: IniFile, section: string, key: string): number {
  const raw = ini.get(section)?.get(key);
  const value = raw === undefined ? NaN : Number(raw);
  if (!Number.isInteger(value)) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `[${section}] ${key} must be an integer, got ${raw ?? '(missing)'}`,
    );
  }
  return value;
}

/** `key = value` settings of a postgresql.conf / redis.conf-like file (comments and quotes removed). */
export function parseConfSettings(text: string, separator: '=' | ' ' = '='): Map<string, string> {
  const settings = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = separator === '=' ? line.indexOf('=') : line.search(/\s/);
    if (at <= 0) continue;
    const value = line
      .slice(at + 1)
      .trim()
      .replace(/^'(.*)'$/, '$1');
    settings.set(line.slice(0, at).trim(), value);
  }
  return settings;
}
