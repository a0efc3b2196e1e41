// Receiving a pack's bytes, the slow half of every pack write before its one transaction
// (pack-writes.ts): an archive streamed into the blob store and the archive reader at once, then
// validated (pack.json, YAML) with its small files stored as blobs of their own, all under the
// write's lease. Used by /v1/_packs pushes (publishing.ts) and by packs recognised in a
// distribution client's push (distribution-pushes.ts).

import { PassThrough, type Readable } from 'node:stream'
import type { BlobIntake, Lease } from '../blobs/intake.js'
import { RegistryError } from '../errors.js'
import type { BlobInfo } from '../store/types.js'
import { type ArchiveLimits, type PackArchive, readPackArchive } from './archive-read.js'
import { EMPTY_CONFIG } from './oras-manifest.js'
import { checkPack } from './pack-json.js'
import type { ReceivedPack } from './pack-writes.js'
import type { YamlChecker } from './yaml-checker.js'

export class PackReceiver {
  constructor(
    private readonly intake: BlobIntake,
    private readonly limits: ArchiveLimits,
    private readonly yaml: YamlChecker,
  ) {}

  /**
   * One streaming pass: `upload` goes to the blob store under `lease` and to the archive reader
   * at once; the pack it holds is then validated and its small files stored.
   */
  async receive(upload: Readable, lease: Lease): Promise<Omit<ReceivedPack, 'manifest'>> {
    const { stored, archive } = await this.storeWhileReading(upload, lease)
    if (stored.digest !== archive.archiveDigest) throw new RegistryError('INTERNAL', 'the stored archive and the read archive differ')
    return await this.validateAndStoreFiles(archive, lease)
  }

  private async storeWhileReading(upload: Readable, lease: Lease): Promise<{ stored: BlobInfo; archive: PackArchive }> {
    const toStore = new PassThrough({ highWaterMark: 1 << 20 })
    const toReader = new PassThrough({ highWaterMark: 1 << 20 })
    let failed = false
    const fail = (err: Error) => {
      if (failed) return
      failed = true
      // Stop both consumers, then drain what the client still sends so it can read our answer.
      upload.unpipe(toStore)
      upload.unpipe(toReader)
      toStore.destroy(err)
      toReader.destroy(err)
      upload.resume()
    }
    upload.on('error', fail)
    upload.pipe(toStore)
    upload.pipe(toReader)
    const storing = this.intake.put(toStore, lease)
    const reading = readPackArchive(toReader, this.limits)
    let firstError: unknown = null
    const note = (err: unknown) => {
      firstError ??= err
      fail(err as Error)
      throw err
    }
    const [stored, archive] = await Promise.allSettled([storing.catch(note), reading.catch(note)])
    upload.off('error', fail)
    if (stored.status === 'rejected' || archive.status === 'rejected') throw firstError
    return { stored: stored.value, archive: archive.value }
  }

  /** A pack archive already read: validated (pack.json, YAML), its small files stored under `lease`. */
  async validateAndStoreFiles(archive: PackArchive, lease: Lease): Promise<Omit<ReceivedPack, 'manifest'>> {
    const yamlProblems = await this.yaml.check(archive.extracted)
    const checked = checkPack(archive.extracted.get('pack.json')?.toString('utf8'), new Set(archive.files.map((f) => f.path)), { strict: false }, yamlProblems)
    const names = [...archive.extracted.keys()]
    const placed = await this.intake.placeBuffers([...archive.extracted.values(), EMPTY_CONFIG], lease)
    const files: Record<string, BlobInfo> = {}
    names.forEach((name, i) => (files[name] = placed[i] as BlobInfo))
    return { lease, checked, archive, files }
  }

}
