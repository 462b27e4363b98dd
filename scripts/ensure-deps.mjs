// `npm start` on a fresh clone: install the npm dependencies from the lockfile when node_modules is missing or stale.
import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

// No options: anything on the command line is a mistake, said with the usage (strict, as every CLI here).
try {
  parseArgs({ args: process.argv.slice(2), options: {}, strict: true, allowPositionals: false });
} catch (e) {
  console.error(`${e.message}\nusage: node scripts/ensure-deps.mjs   (no options; run by npm start)`);
  process.exit(2);
}

const sum = createHash('sha256').update(readFileSync('package-lock.json')).digest('hex');
let installed = '';
try {
  installed = readFileSync('node_modules/.lock-sha256', 'utf8').trim();
} catch {
  // not installed yet
}
if (installed !== sum) {
  console.log('Installing dependencies from package-lock.json (npm ci)…');
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
  writeFileSync('node_modules/.lock-sha256', sum + '\n');
}
