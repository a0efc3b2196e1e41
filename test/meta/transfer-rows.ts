// A small registry's metadata written with SQL into every table migrate-metadata copies, for the
// transfer tests: a pack and an OCI repository, manifest bytes that are not UTF-8, tags whose
// names sort differently by bytes and by letters, a search row with an accent, events of two
// replicas and a command, the replicas themselves, and an
// outbox whose highest number was delivered and deleted (its sequence is ahead of its rows).

import { type Database, writeTransaction } from '../../src/meta/database.js'

/** Manifest content that is not valid UTF-8 (and holds a NUL): it must come back byte for byte. */
export const BINARY_CONTENT = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x7d])

export async function fillRegistry(db: Database): Promise<void> {
  const run = (sql: string, ...params: unknown[]) => db.prepare(sql).run(...params)
  await writeTransaction(db, async () => {
    await run("INSERT INTO repositories (id, kind, name, created_at, updated_at) VALUES (1, 'pack', 'hello', 1000, 2000), (2, 'oci', 'library/busybox', 1100, 2100)")
    await run("INSERT INTO blobs (digest, size, created_at) VALUES ('sha256:aa', 10, 1000), ('sha256:bb', 20, 1001), ('sha256:cc', 30, 1002)")
    await run("INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (1, 'sha256:aa', 1000), (2, 'sha256:bb', 1001), (2, 'sha256:cc', 1002)")
    await run("INSERT INTO manifests (id, repository_id, digest, media_type, artifact_type, size, content, subject_digest, created_at) VALUES (1, 1, 'sha256:m1', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.spectrocloud.pack', ?, ?, NULL, 1000)", BINARY_CONTENT.length, BINARY_CONTENT)
    await run("INSERT INTO manifests (id, repository_id, digest, media_type, artifact_type, size, content, subject_digest, created_at) VALUES (2, 2, 'sha256:m2', 'application/vnd.oci.image.manifest.v1+json', NULL, 2, ?, NULL, 1100), (3, 2, 'sha256:m3', 'application/vnd.oci.image.manifest.v1+json', NULL, 2, ?, 'sha256:m2', 1200)", Buffer.from('{}'), Buffer.from('[]'))
    await run("INSERT INTO manifest_references (manifest_id, digest, kind) VALUES (1, 'sha256:aa', 'blob'), (2, 'sha256:bb', 'blob'), (2, 'sha256:cc', 'blob'), (3, 'sha256:m2', 'manifest')")
    await run("INSERT INTO tags (id, repository_id, name, group_name, label, kind, manifest_id, seq, updated_at, line, target, view) VALUES (1, 1, '1.0.0', NULL, '1.0.0', 'version', 1, 1, 2000, '1', NULL, '{\"name\":\"1.0.0\"}'), (2, 1, '1.x', NULL, '1.x', 'parent', 1, 2, 2000, '1', '1.0.0', '{\"name\":\"1.x\"}'), (3, 2, 'latest', NULL, 'latest', 'alias', 2, 3, 2100, NULL, NULL, NULL), (4, 2, 'B', NULL, 'B', 'alias', 3, 4, 2100, NULL, NULL, NULL), (5, 2, 'a', NULL, 'a', 'alias', 2, 5, 2100, NULL, NULL, NULL), (7, 2, 'é', NULL, 'é', 'alias', 3, 6, 2100, NULL, NULL, NULL)")
    await run("INSERT INTO pack_versions (manifest_id, repository_id, version, group_name, display_name, layer, pack_json, archive_digest, archive_size, content_digest, unpacked_size, files, pushed_at, pushed_by, message, warnings) VALUES (1, 1, '1.0.0', NULL, 'Hello', 'addon', '{\"name\":\"hello\"}', 'sha256:aa', 10, 'sha256:content', 100, '{\"README.md\":{\"digest\":\"sha256:aa\",\"size\":10}}', 2000, 'admin', 'first', '[]')")
    await run("INSERT INTO pack_headers (repository_id, name, layer, header) VALUES (1, 'hello', 'addon', '{\"name\":\"hello\"}')")
    await run("INSERT INTO pack_readmes (manifest_id, text) VALUES (1, '# Hello')")
    await run("INSERT INTO upload_sessions (id, repository, size, started_at, updated_at, owner) VALUES ('u1', 'library/busybox', 0, 3000, 3000, 'admin')")
    // Events of two replicas, and one of an operator command (no replica).
    await run("INSERT INTO events (id, at, actor, action, repository, tag, old_digest, new_digest, forced, message, detail, replica) VALUES (1, 2000, 'admin', 'push', 'hello', '1.0.0', NULL, 'sha256:m1', 0, 'first', NULL, 'host-a:5000'), (2, 2100, 'admin', 'tag', 'library/busybox', 'latest', NULL, 'sha256:m2', 1, NULL, '{\"x\":1}', 'host-b:5000'), (5, 2200, 'ops', 'gc', '', NULL, NULL, NULL, 0, NULL, '{\"blobsRemoved\":0,\"bytesFreed\":0}', NULL)")
    await run("INSERT INTO replicas (id, address, version, started_at, last_seen) VALUES ('host-a:5000', 'http://host-a:5000', '1.0.0', 1000, 2500), ('host-b:5000', 'https://10.0.0.8', '1.0.0', 1100, 2400)")
    await run("INSERT INTO blob_leases (lease_id, digest, taken_at) VALUES ('l1', 'sha256:bb', 3000)")
    await run("INSERT INTO blob_deletions (digest, started_at) VALUES ('sha256:zz', 3000)")
    await run("INSERT INTO notification_outbox (at, action, media_type, event) VALUES (2000, 'push', 'application/vnd.docker.distribution.events.v1+json', '{\"n\":1}'), (2001, 'push', 'application/vnd.docker.distribution.events.v1+json', '{\"n\":2}'), (2002, 'push', 'application/vnd.docker.distribution.events.v1+json', '{\"n\":3}')")
    // Delivered and dropped: the outbox's highest number is gone, its sequence stays at 3.
    await run('DELETE FROM notification_outbox WHERE seq = 3')
    await run("INSERT INTO notification_endpoints (name, delivered_seq) VALUES ('hook', 3)")
    await run("INSERT INTO sync_origins (repository, tag, upstream, manifest_digest, synced_at) VALUES ('hello', '1.0.0', 'upstream', 'sha256:m1', 2000)")
  })
}
