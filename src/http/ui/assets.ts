// The pack browser's own files: its templates' folder, and its static files (stylesheet,
// script, icon), read once when the plugin starts and served under names carrying a hash of
// their content (`app.3f2a9c1b.css`), so browsers keep them for a year and a new release is
// fetched at once. They live in src/http/ui/ beside this file's source (tsc copies no assets).

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { PACKAGE_ROOT } from '../../paths.js'

const UI_DIR = join(PACKAGE_ROOT, 'src', 'http', 'ui')
export const TEMPLATES_DIR = join(UI_DIR, 'templates')
const STATIC_DIR = join(UI_DIR, 'static')

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
}

export interface Asset {
  /** the name it is served under, with its hash */
  servedName: string
  type: string
  body: Buffer
  etag: string
}

export class UiAssets {
  private readonly byServedName = new Map<string, Asset>()
  private readonly byName = new Map<string, Asset>()

  constructor() {
    for (const name of readdirSync(STATIC_DIR).sort()) {
      const type = TYPES[extname(name)]
      if (type === undefined) continue
      const body = readFileSync(join(STATIC_DIR, name))
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 12)
      const ext = extname(name)
      const asset = { servedName: `${name.slice(0, -ext.length)}.${hash}${ext}`, type, body, etag: `"${hash}"` }
      this.byServedName.set(asset.servedName, asset)
      this.byName.set(name, asset)
    }
  }

  /** The served name of a static file (`app.css` → `app.3f2a9c1b0d4e.css`). */
  servedName(name: string): string {
    const asset = this.byName.get(name)
    if (!asset) throw new Error(`no static file ${name} in ${STATIC_DIR}`)
    return asset.servedName
  }

  find(servedName: string): Asset | undefined {
    return this.byServedName.get(servedName)
  }
}
