// One conformance walk of the distribution API (push, pull, discovery, management and their
// errors), run unchanged against every mount: /v2 with a plain repository, /v2 with a pack
// repository under the namespace, and /v1 (spectro-registry's root) with a pack name. A client
// must not be able to tell the surfaces apart but by their paths; Location and Link headers point
// back into the surface the client used, and what one surface stores the other shows.

import t from 'tap'
import { testApp } from '../helpers.js'
import { MOUNTS, walk } from './distribution-walk.js'

for (const mount of MOUNTS) {
  t.test(mount.what, async (t) => {
    const app = await testApp(t)
    await walk(t, app, mount)
  })
}
