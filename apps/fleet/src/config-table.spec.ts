import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_TABLE_END, CONFIG_TABLE_START, configTable } from './config-table.js';

const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md');

describe(configTable.name, () => {
  it('is what the README shows (regenerate: pnpm --filter @regatta/fleet run config-table)', () => {
    const text = readFileSync(readme, 'utf8');
    const start = text.indexOf(CONFIG_TABLE_START);
    const end = text.indexOf(CONFIG_TABLE_END);
    expect(start).toBeGreaterThan(0);
    expect(text.slice(start + CONFIG_TABLE_START.length, end).trim()).toBe(configTable());
  });
});
