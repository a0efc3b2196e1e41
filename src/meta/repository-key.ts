// How a caller names a repository: packs and other OCI content live in repositories of their
// own kind. Apart from oci.ts, which owns the table, so the outbox can name one without it.

export type RepositoryKind = 'pack' | 'oci'

/** A repository as the caller names it; created on first write. */
export interface RepositoryKey {
  kind: RepositoryKind
  name: string
}
