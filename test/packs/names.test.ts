// Pack name grammar: which names are accepted and how a refusal reads.

import t from 'tap'
import { RegistryError } from '../../src/errors.js'
import { PACK_NAME_MAX, packNameProblem, validatePackName } from '../../src/packs/names.js'

t.equal(PACK_NAME_MAX, 128)

const valid = ['nginx', 'a', '0', 'kube-vip', 'ubuntu-aws', 'a.b_c-d', '1.28', 'a'.repeat(128), 'csi-vsphere-csi']

for (const name of valid) {
  t.test(`accepts ${JSON.stringify(name)}`, async (t) => {
    t.doesNotThrow(() => validatePackName(name))
    t.equal(packNameProblem(name), null)
  })
}

const invalid: { name: string; problem: RegExp }[] = [
  { name: '', problem: /must match/ },
  { name: 'Nginx', problem: /must match/ },
  { name: '-a', problem: /must match/ },
  { name: 'a-', problem: /must match/ },
  { name: '_a', problem: /must match/ },
  { name: 'a--b', problem: /must match/ },
  { name: 'a..b', problem: /must match/ },
  { name: 'a._b', problem: /must match/ },
  { name: 'a b', problem: /must match/ },
  { name: 'a/b', problem: /must match/ },
  { name: 'spectro-packs/archive/nginx', problem: /must match/ },
  { name: 'nginx:1.0', problem: /must match/ },
  { name: 'é', problem: /must match/ },
  { name: 'a'.repeat(129), problem: /is 129 characters long; a pack name is at most 128/ },
]

for (const { name, problem } of invalid) {
  t.test(`refuses ${JSON.stringify(name.length > 20 ? `${name.slice(0, 20)}...` : name)}`, async (t) => {
    t.match(packNameProblem(name), problem)
    const err = t.throws(() => validatePackName(name), { code: 'NAME_INVALID', status: 400 })
    t.ok(err instanceof RegistryError)
    t.same((err as RegistryError).detail, { name })
    t.match((err as RegistryError).message, `pack name ${JSON.stringify(name)} `)
    t.match((err as RegistryError).message, problem)
  })
}
