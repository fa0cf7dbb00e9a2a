import { afterAll } from 'vitest';
import { removeTempDirs } from './temp-dirs.js';

// A setup file's hooks are registered before the test file's own, and vitest runs after-hooks in
// reverse order: a file's servers are stopped before their data dirs are removed.
afterAll(removeTempDirs);
