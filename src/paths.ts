// Where the package's own files are, whether running from dist/ or from a global install.

import { join } from 'node:path'

/** dist/src/paths.js → the package root, which holds migrations/ and package.json. */
export const PACKAGE_ROOT = join(__dirname, '..', '..')
