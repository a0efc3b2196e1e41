// Seeds the reference registry for the listing scenario by writing its storage directly, in
// the layout distribution 2.x keeps on the filesystem driver. Through its API the same seeding
// is some 60,000 requests that each pay a bcrypt check and several file writes: about 530
// requests/s on the 2-core bench machine even on tmpfs (150/s on its disk), two minutes of a
// ten-minute budget. Seeding is not a figure, and the files written here are exactly what those
// requests would leave (checked by the scenario through the API afterwards), so the reference
// lists the same registry it would have had. Packyard is still seeded through its API.
//
// Layout, under <root>/docker/registry/v2:
//   blobs/sha256/<2 hex>/<hex>/data                              blob content (manifests too)
//   repositories/<name>/_layers/sha256/<hex>/link                 a blob linked into the repository
//   repositories/<name>/_manifests/revisions/sha256/<hex>/link    a manifest stored in it
//   repositories/<name>/_manifests/tags/<tag>/current/link        what the tag points at
//   repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link  every manifest the tag has had

import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sha256Digest } from '../src/store/digest.js'

export interface SeedRepository {
  name: string
  /** blobs the repository's manifests refer to */
  blobs: Buffer[]
  manifests: Array<{ tag: string; content: Buffer }>
}

function link(dir: string, digest: string): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'link'), digest)
}

export class ReferenceStorage {
  private readonly v2: string
  private readonly written = new Set<string>()

  constructor(root: string) {
    this.v2 = join(root, 'docker', 'registry', 'v2')
  }

  private blob(content: Buffer): string {
    const digest = sha256Digest(content)
    if (!this.written.has(digest)) {
      const hex = digest.slice('sha256:'.length)
      const dir = join(this.v2, 'blobs', 'sha256', hex.slice(0, 2), hex)
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, 'data'), content)
      this.written.add(digest)
    }
    return digest
  }

  addRepository(repo: SeedRepository): void {
    const base = join(this.v2, 'repositories', ...repo.name.split('/'))
    for (const content of repo.blobs) {
      const digest = this.blob(content)
      link(join(base, '_layers', 'sha256', digest.slice('sha256:'.length)), digest)
    }
    for (const { tag, content } of repo.manifests) {
      const digest = this.blob(content)
      const hex = digest.slice('sha256:'.length)
      link(join(base, '_manifests', 'revisions', 'sha256', hex), digest)
      link(join(base, '_manifests', 'tags', tag, 'current'), digest)
      link(join(base, '_manifests', 'tags', tag, 'index', 'sha256', hex), digest)
    }
  }
}
