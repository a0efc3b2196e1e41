// Where the distribution API is mounted, and what differs between the two mounts. The handlers
// are the same on both (routes.ts); a surface only says how a name in the path maps to a stored
// repository, how to name it back in Location and Link headers, what the catalog lists and
// whether tags/list shows parent tags.
//
// - /v2: the OCI registry. Names are OCI paths; packs live under `<oci.namespace>/<name>`. The
//   catalog lists every repository; parent tags resolve but are listed only when configured.
// - /v1: the protocol of spectro-registry (distribution with its API root at /v1). A name is a
//   pack name: `/v1/<name>` is the same repository as `/v2/<oci.namespace>/<name>`. The catalog
//   lists pack repositories; tags/list shows parent tags, as the legacy registry's clients expect.

import type { RepositoryLocator } from '../../oci/names.js'
import type { OciRegistry } from '../../oci/registry.js'
import type { Page, PageRequest } from '../../pages.js'

export interface Surface {
  /** /v1 or /v2 */
  prefix: string
  /** Validates a repository name from a path and says which stored repository it means. */
  locate(name: string): RepositoryLocator
  /** The repository's name on this surface. */
  nameOf(repo: RepositoryLocator): string
  /** Whether tags/list shows the parent tags (1.x, 1.0.x) of a repository. */
  listsParentTags(repo: RepositoryLocator): boolean
  catalog(request: PageRequest): Promise<Page<string>>
}

export function v2Surface(registry: OciRegistry, listParentTags: boolean): Surface {
  return {
    prefix: '/v2',
    locate: (name) => registry.locate(name),
    nameOf: (repo) => repo.oci,
    listsParentTags: (repo) => repo.kind === 'oci' || listParentTags,
    catalog: (request) => registry.catalog(request),
  }
}

export function v1Surface(registry: OciRegistry, packCatalog: (request: PageRequest) => Promise<Page<string>>): Surface {
  return {
    prefix: '/v1',
    locate: (name) => registry.locatePack(name),
    nameOf: (repo) => repo.name,
    listsParentTags: () => true,
    catalog: packCatalog,
  }
}
