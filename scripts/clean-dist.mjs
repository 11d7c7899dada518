// Removes dist/ before a build: files moved or deleted in src/ would otherwise leave
// their old compiled copies behind, and the test runner would still run them.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
