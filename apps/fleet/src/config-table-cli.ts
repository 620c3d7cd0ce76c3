// Rewrites the configuration table in README.md from the services' env specs.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_TABLE_END, CONFIG_TABLE_START, configTable } from './config-table.js';

const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md');
const text = readFileSync(readme, 'utf8');
const start = text.indexOf(CONFIG_TABLE_START);
const end = text.indexOf(CONFIG_TABLE_END);
if (start < 0 || end < start)
  throw new Error(`README.md has no ${CONFIG_TABLE_START} ... ${CONFIG_TABLE_END} block`);
writeFileSync(
  readme,
  `${text.slice(0, start + CONFIG_TABLE_START.length)}\n${configTable()}\n${text.slice(end)}`,
);
process.stdout.write('README.md configuration table updated\n');
