#!/usr/bin/env bash
# Scaffolds a workspace package: tools/new-package.sh packages/<name> "<description>"
set -euo pipefail
dir=$1; desc=$2; name=@regatta/$(basename "$dir")
mkdir -p "$dir/src"
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "private": true,
  "description": "$desc",
  "type": "module",
  "exports": {
    ".": { "types": "./src/index.ts", "default": "./dist/index.js" }
  },
  "scripts": {
    "build": "tsc -p tsconfig.build.json",
    "check-types": "tsc -p tsconfig.json --noEmit",
    "lint": "eslint . --max-warnings 0",
    "test": "NODE_OPTIONS='--experimental-vm-modules --no-warnings' jest",
    "test:int": "REGATTA_TEST_KIND=int NODE_OPTIONS='--experimental-vm-modules --no-warnings' jest"
  },
  "dependencies": {},
  "devDependencies": {
    "@jest/globals": "catalog:",
    "@types/node": "catalog:",
    "jest": "catalog:",
    "typescript": "catalog:"
  }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": ".", "noEmit": true },
  "include": ["src", "test"]
}
JSON
cat > "$dir/tsconfig.build.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "noEmit": false },
  "include": ["src"],
  "exclude": ["src/**/*.spec.ts", "src/**/*.int-spec.ts", "src/testing/**"]
}
JSON
cat > "$dir/jest.config.mjs" <<'JS'
import { jestConfig } from '../../jest.preset.mjs';

export default jestConfig(import.meta.dirname);
JS
