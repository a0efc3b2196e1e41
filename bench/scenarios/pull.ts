// Reads under load. Manifest GET by tag of a pack at 32 connections from
// autocannon (req/s and p99), and GET of a 1 MB blob by concurrent clients (MB/s). The pack
// and the blob are pushed first, identically to both registries, so the reads hit real stored
// content.

import { sha256Digest } from '../../src/store/digest.js'
import type { Context } from '../context.js'
import { downloadLoad, load } from '../load.js'
import { MANIFEST_ACCEPT, PACK_NAMESPACE, pushPackOci, uploadBlob } from '../oci-client.js'
import { writeTinyPack } from '../packs.js'
import { randomBytes } from '../random.js'
import { type Figure, roundOrder, Samples } from '../stats.js'

const PACK = { name: 'bench-pull', version: '1.0.0' }
const BLOB_REPO = 'bench/blob'

export async function pullScenario(ctx: Context): Promise<Figure[]> {
  const { manifestGet, blobGet } = ctx.settings
  const pack = await writeTinyPack(ctx.work, PACK.name, PACK.version)
  const blob = randomBytes('blob-get', blobGet.bytes)
  const blobDigest = sha256Digest(blob)
  const { both } = await ctx.main()
  for (const registry of both) {
    await pushPackOci(registry.ep, pack)
    await uploadBlob(registry.ep, BLOB_REPO, blobDigest, blob, blob.length)
  }

  const samples = new Samples()
  for (let round = 0; round < ctx.settings.rounds; round++) {
    for (const registry of roundOrder(both, round)) {
      ctx.progress(`pull: round ${round + 1}, ${registry.kind}, manifest GET at ${manifestGet.connections} connections for ${manifestGet.seconds} s`)
      const manifests = await load(registry.ep, `/v2/${PACK_NAMESPACE}/${PACK.name}/manifests/${PACK.version}`, {
        connections: manifestGet.connections,
        seconds: manifestGet.seconds,
        headers: { accept: MANIFEST_ACCEPT },
      })
      samples.add('manifest-rps', registry.kind, manifests.rps)
      samples.add('manifest-p99', registry.kind, manifests.p99)
      ctx.progress(`pull: round ${round + 1}, ${registry.kind}, 1 MB blob GET at ${blobGet.connections} connections for ${blobGet.seconds} s`)
      const mbps = await downloadLoad(registry.ep, `/v2/${BLOB_REPO}/blobs/${blobDigest}`, { connections: blobGet.connections, seconds: blobGet.seconds, bytes: blobGet.bytes })
      samples.add('blob-mbps', registry.kind, mbps)
    }
  }
  const scenario = 'pull'
  return [
    samples.figure('manifest-rps', { scenario, name: `manifest GET by tag, ${manifestGet.connections} connections`, unit: 'req/s', target: { kind: 'ratio-at-least', ratio: 14 } }),
    samples.figure('manifest-p99', { scenario, name: `manifest GET by tag, ${manifestGet.connections} connections, p99`, unit: 'ms', target: null }),
    samples.figure('blob-mbps', { scenario, name: `GET of a ${blobGet.bytes / 1e6} MB blob, ${blobGet.connections} connections`, unit: 'MB/s', target: { kind: 'ratio-at-least', ratio: 1 } }),
  ]
}
