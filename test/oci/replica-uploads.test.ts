// Chunked uploads across replicas: two OciUploads ("replica A" and "replica B"), each with its
// own connection pool to ONE PostgreSQL database and its own blob store and staging objects
// over one shared root (and one shared bucket), as two Packyard processes behind a load
// balancer. The requests of one upload may land on either; two at once on one session take
// turns (never interleaved bytes); a claim left by a replica that died holds the session until
// it expires; purging runs on one replica at a time and never removes a session another is
// working on.

import t from 'tap'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { BlobIntake } from '../../src/blobs/intake.js'
import { BlobMeta } from '../../src/meta/blobs.js'
import type { Database } from '../../src/meta/database.js'
import { openDatabase } from '../../src/meta/db.js'
import type { RepositoryLocator } from '../../src/oci/names.js'
import { OciUploads, type UploadSettings } from '../../src/oci/uploads.js'
import { FilesystemBlobStore } from '../../src/store/fs.js'
import { S3BlobStore, type S3Settings } from '../../src/store/s3.js'
import { S3UploadStaging } from '../../src/store/s3-uploads.js'
import type { BlobStore } from '../../src/store/types.js'
import { FilesystemUploadStaging, type UploadStaging } from '../../src/store/uploads.js'
import { tempDir } from '../helpers.js'
import { freshDatabase } from '../postgres.js'
import { s3Settings, startS3Server } from '../s3-helpers.js'
import { readAll } from '../store/conformance.js'
import type { Teardown } from '../system.js'

const repo: RepositoryLocator = { kind: 'oci', name: 'team/app', oci: 'team/app' }
const sha = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`
const MiB = 1024 * 1024

interface Replica {
  uploads: OciUploads
  db: Database
  store: BlobStore
}

type Shared = { kind: 'filesystem'; root: string } | { kind: 's3'; settings: S3Settings }

async function openReplica(t: Teardown, url: string, shared: Shared, name: string, settings: Partial<UploadSettings> = {}): Promise<Replica> {
  const db = await openDatabase({ kind: 'postgres', url, pool: 4, connectTimeoutMs: 5000, tls: { ca: null, cert: null, key: null } })
  t.teardown(() => db.close())
  let store: BlobStore
  let staging: UploadStaging
  if (shared.kind === 'filesystem') {
    const fs = new FilesystemBlobStore(shared.root)
    await fs.init()
    store = fs
    staging = new FilesystemUploadStaging(fs)
  } else {
    const s3 = new S3BlobStore(shared.settings)
    store = s3
    staging = new S3UploadStaging(s3)
  }
  const uploads = new OciUploads(db, new BlobIntake(store, new BlobMeta(db)), staging, { maxSessionsPerUser: 100, replicaId: name, ...settings })
  return { uploads, db, store }
}

/** Two replicas on one fresh database and one shared root. */
async function twoReplicas(t: Teardown, settings: Partial<UploadSettings> = {}, shared?: Shared) {
  const url = await freshDatabase(t)
  const on: Shared = shared ?? { kind: 'filesystem', root: join(tempDir(t), 'shared-root') }
  return { a: await openReplica(t, url, on, 'replica-a', settings), b: await openReplica(t, url, on, 'replica-b', settings) }
}

/** A request body the test feeds by hand: what a slow client sends. */
function slowBody(): PassThrough {
  return new PassThrough()
}

function pattern(size: number, seed: number): Buffer {
  const data = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32BE(((i + seed) * 2654435761) >>> 0, i)
  return data
}

for (const kind of ['filesystem', 's3'] as const) {
  t.test(`${kind}: POST on A, PATCH on B, PATCH on A, PUT on B gives the blob`, async (t) => {
    let shared: Shared | undefined
    if (kind === 's3') shared = { kind: 's3', settings: s3Settings((await startS3Server(t)).endpoint) }
    const { a, b } = await twoReplicas(t, {}, shared)
    // Across a 5 MiB part, so S3 parts and tails go from one replica to the other.
    const data = pattern(11 * MiB + 5, 1)
    const id = await a.uploads.start(repo, 'alice')
    let offset = await b.uploads.append(repo, id, Readable.from([data.subarray(0, 3 * MiB)]), { offset: 0 })
    offset = await a.uploads.append(repo, id, Readable.from([data.subarray(offset, 8 * MiB)]), { offset })
    t.equal(await b.uploads.status(repo, id), 8 * MiB, 'either replica tells the size')
    const blob = await b.uploads.finish(repo, id, sha(data), Readable.from([data.subarray(offset)]), { offset })
    t.same(blob, { digest: sha(data), size: data.length })
    t.ok((await readAll(await a.store.open(sha(data)))).equals(data), 'the stored blob is every byte in order')
    await t.rejects(a.uploads.status(repo, id), { code: 'BLOB_UPLOAD_UNKNOWN' }, 'the session ended for every replica')
    const { n } = (await a.db.prepare('SELECT COUNT(*) AS n FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE rb.digest = ?').get(sha(data))) as { n: number }
    t.equal(n, 1, 'the blob is linked to the repository')
  })
}

t.test('two PATCHes of one session at once, from A and B, take turns', async (t) => {
  const { a, b } = await twoReplicas(t)
  const id = await a.uploads.start(repo, 'alice')
  const first = slowBody()
  const onA = a.uploads.append(repo, id, first, { offset: 0 })
  first.write(Buffer.alloc(1000, 0x61))
  await sleep(100)
  // B's chunk declares the same offset: it waits for A's request, then finds the upload longer.
  let bDone = false
  const sameOffset = b.uploads.append(repo, id, Readable.from([Buffer.alloc(10, 0x62)]), { offset: 0 }).finally(() => (bDone = true))
  // A chunk without an offset goes at the end, after A's.
  const atTheEnd = b.uploads.append(repo, id, Readable.from([Buffer.alloc(10, 0x63)]), {})
  await sleep(300)
  t.equal(bDone, false, "B waits while A's request streams")
  first.end(Buffer.alloc(1000, 0x61))
  t.equal(await onA, 2000)
  await t.rejects(sameOffset, { code: 'RANGE_INVALID', detail: { offset: 0, size: 2000 } }, 'then gets RANGE_INVALID')
  t.equal(await atTheEnd, 2010)
  const expected = Buffer.concat([Buffer.alloc(2000, 0x61), Buffer.alloc(10, 0x63)])
  t.same(await a.uploads.finish(repo, id, sha(expected), null, {}), { digest: sha(expected), size: 2010 }, 'no interleaved bytes')
})

t.test('a claim left by a replica that died holds the session until it expires', async (t) => {
  const { a, b } = await twoReplicas(t, { claimTtlMs: 600, claimWaitMs: 5000 })
  const id = await a.uploads.start(repo, 'alice')
  await a.uploads.append(repo, id, Readable.from([Buffer.from('before ')]), { offset: 0 })
  // Replica C took the session and was killed mid-request: its claim runs for 1.5 s more.
  const until = Date.now() + 1500
  await a.db.prepare('UPDATE upload_sessions SET claimed_by = ?, claimed_until = ? WHERE id = ?').run('replica-c', until, id)
  const started = Date.now()
  t.equal(await b.uploads.append(repo, id, Readable.from([Buffer.from('after')]), { offset: 7 }), 12)
  t.ok(Date.now() >= until, 'B continued only once the claim had expired')
  t.ok(Date.now() - started < 4000, 'and soon after')
  const row = (await a.db.prepare('SELECT claimed_by, claimed_until FROM upload_sessions WHERE id = ?').get(id)) as { claimed_by: string | null; claimed_until: number }
  t.same(row, { claimed_by: null, claimed_until: 0 }, 'B let the session go')
  t.same(await a.uploads.finish(repo, id, sha('before after'), null, {}), { digest: sha('before after'), size: 12 })
})

t.test('a session held longer than a request may wait is 409 CONFLICT, never a 5xx', async (t) => {
  const { a, b } = await twoReplicas(t, { claimTtlMs: 600, claimWaitMs: 300 })
  const id = await a.uploads.start(repo, 'alice')
  await a.db.prepare('UPDATE upload_sessions SET claimed_by = ?, claimed_until = ? WHERE id = ?').run('replica-c', Date.now() + 60_000, id)
  await t.rejects(b.uploads.append(repo, id, Readable.from([Buffer.from('x')]), {}), { code: 'CONFLICT', status: 409, message: /busy with another request/ })
  await t.rejects(b.uploads.append({ ...repo, oci: 'team/other' }, id, Readable.from([Buffer.from('x')]), {}), { code: 'BLOB_UPLOAD_UNKNOWN' }, "another repository's session is unknown, held or not")
})

t.test('a request whose claim is lost stops, and leaves the upload as it was', async (t) => {
  const { a, b } = await twoReplicas(t, { claimTtlMs: 300 })
  const id = await a.uploads.start(repo, 'alice')
  await a.uploads.append(repo, id, Readable.from([Buffer.from('kept')]), { offset: 0 })
  const body = slowBody()
  const onA = a.uploads.append(repo, id, body, { offset: 4 })
  body.write(Buffer.from('lost'))
  await sleep(50)
  // As if A had stalled past its claim and B had taken the session.
  await a.db.prepare('UPDATE upload_sessions SET claimed_by = ? WHERE id = ?').run('replica-b', id)
  await t.rejects(onA, { code: 'BLOB_UPLOAD_UNKNOWN', message: /taken over or ended/ })
  await a.db.prepare('UPDATE upload_sessions SET claimed_by = NULL, claimed_until = 0 WHERE id = ?').run(id)
  t.equal(await b.uploads.status(repo, id), 4, "A's bytes did not count")
})

t.test('purge on A never removes a session B is working on; purges take turns', async (t) => {
  const { a, b } = await twoReplicas(t)
  const working = await a.uploads.start(repo, 'alice')
  const idle = await a.uploads.start(repo, 'alice')
  await a.uploads.append(repo, idle, Readable.from([Buffer.from('idle')]), { offset: 0 })
  const body = slowBody()
  const onB = b.uploads.append(repo, working, body, { offset: 0 })
  await sleep(100)
  const later = Date.now() + 3600_000
  // An hour on, B's request has claimed the session but sent no byte yet: empty, but held.
  const empty = await a.uploads.purgeEmpty(60_000, later)
  t.same(empty.sessions, [], "B's session has no byte yet but is held: not empty-purged")
  body.write(Buffer.from('work '))
  await sleep(100)
  // With B's request still streaming: the idle session goes, B's stays.
  const purged = await a.uploads.purge(60_000, later)
  t.same(purged.sessions, [idle])
  body.end(Buffer.from('done'))
  t.equal(await onB, 9)
  t.same(await a.uploads.finish(repo, working, sha('work done'), null, {}), { digest: sha('work done'), size: 9 })

  // While one replica purges, another's purge does not run.
  const held = await a.db.exclusively('upload-purging', () => b.uploads.purge(60_000, later))
  t.same(held, { ran: true, value: { sessions: [], files: [], bytes: 0, skipped: true } })
  // Two purges at once: every stale session is removed exactly once.
  const stale: string[] = []
  for (let i = 0; i < 20; i++) {
    const id = await (i % 2 ? a : b).uploads.start(repo, 'bob')
    await a.uploads.append(repo, id, Readable.from([Buffer.from(`bytes ${i}`)]), {})
    stale.push(id)
  }
  const [fromA, fromB] = await Promise.all([a.uploads.purge(60_000, later), b.uploads.purge(60_000, later)])
  const removed = [...fromA.sessions, ...fromB.sessions]
  t.same(removed.sort(), [...stale].sort(), 'all removed, none twice')
})
