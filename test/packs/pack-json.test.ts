// A pack's validation in two columns: errors (the registry cannot store or serve it: refused)
// and warnings (the stock registry serves it anyway: accepted and reported, refused only under
// strict validation). Every rule of each column has a row here, and every problem of a pack is
// reported at once.

import t from 'tap'
import { RegistryError } from '../../src/errors.js'
import { CLOUD_TYPES, LAYERS, checkPack, type PackProblem } from '../../src/packs/pack-json.js'

/** Every file a complete pack has, so only the case's own problem shows. */
const COMPLETE = new Set(['pack.json', 'values.yaml', 'logo.png'])
const lenient = { strict: false }
const parsePackJson = (text: string) => checkPack(text, COMPLETE, lenient)
const warningsOf = (pack: unknown, paths: Iterable<string> = COMPLETE): PackProblem[] => checkPack(JSON.stringify(pack), new Set(paths), lenient).warnings

function caught(fn: () => unknown): RegistryError {
  try {
    fn()
  } catch (err) {
    if (err instanceof RegistryError) return err
    throw err
  }
  throw new Error('expected a RegistryError')
}

const base = { name: 'nginx', displayName: 'Nginx', version: '1.16.1', layer: 'addon' }

t.test('enumerations', async (t) => {
  t.same(LAYERS, ['kernel', 'os', 'k8s', 'cni', 'csi', 'addon'])
  for (const cloud of ['all', 'aws', 'azure', 'gcp', 'vsphere', 'openstack', 'baremetal', 'maas', 'aks', 'eks', 'tke', 'edge', 'libvirt', 'edge-native', 'coxedge', 'tencent', 'custom']) {
    t.ok(CLOUD_TYPES.includes(cloud as (typeof CLOUD_TYPES)[number]), cloud)
  }
  t.equal(CLOUD_TYPES.length, 17)
})

t.test('accepts', async (t) => {
  const cases: { name: string; pack: Record<string, unknown> }[] = [
    { name: 'the required fields only', pack: base },
    {
      name: 'every optional field',
      pack: {
        ...base,
        group: 'LTS',
        cloudTypes: ['all', 'aws', 'tencent', 'custom'],
        cloudType: 'edge-native',
        eol: '2028-04-30',
        addonType: 'ingress',
        addonSubType: 'nginx',
        ansibleRoles: ['harden_os'],
        charts: ['charts/nginx-1.16.1.tgz'],
        kubeManifests: ['manifests/a.yaml'],
        annotations: { ingressSupported: 'true', 'spectrocloud.com/source': 'community' },
        constraints: {
          dependencies: [
            { packName: 'kubernetes', layer: 'k8s', minVersion: '1.24.0', maxVersion: '1.29.0', type: 'required' },
            { packName: 'calico', layer: 'cni', type: 'notSupported' },
            { packName: 'a', layer: 'os', type: 'optional' },
            { packName: 'b', layer: 'csi', type: 'upgrade' },
          ],
          resources: [
            {
              type: 'cpu',
              minLimit: 2000,
              components: [{ scheduleType: 'all', resourceRequestParamRef: 'requests.cpu', replicaCountParamRef: 'replicas' }],
            },
            { type: 'memory', minLimit: 2048.5, components: [{ scheduleType: 'worker' }, { scheduleType: 'master' }] },
            { type: 'diskSize', minLimit: 10 },
          ],
        },
      },
    },
    { name: 'empty arrays and objects', pack: { ...base, cloudTypes: [], charts: [], kubeManifests: [], ansibleRoles: [], annotations: {}, constraints: {} } },
    { name: 'unknown keys at the top', pack: { ...base, commit_msg: 'bump', nested: { anything: [1, null] } } },
    {
      name: 'unknown keys inside constraints',
      pack: {
        ...base,
        constraints: {
          note: 'x',
          dependencies: [{ packName: 'k', layer: 'k8s', type: 'required', comment: 1 }],
          resources: [{ type: 'cpu', unit: 'm', components: [{ scheduleType: 'all', extra: true }] }],
        },
      },
    },
    { name: 'empty group', pack: { ...base, group: '' } },
    { name: 'blank group', pack: { ...base, group: ' ' } },
    { name: 'version 1.5', pack: { ...base, version: '1.5' } },
    { name: 'version v1.1.0', pack: { ...base, version: 'v1.1.0' } },
    { name: 'version 2.0.1-up.1', pack: { ...base, version: '2.0.1-up.1' } },
    { name: 'version 0.30.0-5.5.2026', pack: { ...base, version: '0.30.0-5.5.2026' } },
    { name: 'a non-version version is an alias, still a valid tag', pack: { ...base, version: 'stable' } },
    { name: 'every layer', pack: { ...base, layer: 'kernel' } },
    { name: 'os layer with empty values', pack: { ...base, layer: 'os', group: 'LTS', version: '22.04' } },
    { name: 'displayName of a space', pack: { ...base, displayName: ' ' } },
  ]
  for (const c of cases) {
    const checked = parsePackJson(JSON.stringify(c.pack, null, 2))
    t.same(checked.pack, c.pack, c.name)
    // A version that is not semantic is the one warning such a pack may carry.
    t.same(checked.warnings.filter((w) => w.file === 'pack.json' && w.field !== 'version'), [], `${c.name}: no warnings about pack.json`)
  }
  t.same(parsePackJson(' \n{"name":"a","displayName":"A","version":"1","layer":"os"}\n\n').pack, {
    name: 'a',
    displayName: 'A',
    version: '1',
    layer: 'os',
  }, 'surrounding whitespace')
  t.same(parsePackJson(JSON.stringify({ ...base, group: ' ' })).tag, '1.16.1', 'a blank group means no group')
  t.same(parsePackJson(JSON.stringify({ ...base, group: 'LTS', version: '22.04' })).tag, 'LTS__22.04')
})

t.test('refuses text that is not JSON, saying where', async (t) => {
  const cases: { text: string; line: number; column: number; position: number; why: RegExp }[] = [
    { text: '', line: 1, column: 1, position: 0, why: /unexpected end of input/ },
    { text: '   ', line: 1, column: 4, position: 3, why: /unexpected end of input/ },
    { text: 'not json', line: 1, column: 1, position: 0, why: /unexpected character "n"/ },
    { text: '{\n  "name": "a",\n}', line: 3, column: 1, position: 17, why: /expected a property name in double quotes/ },
    { text: '{"a":1', line: 1, column: 7, position: 6, why: /unexpected end of input/ },
    { text: '{"a":1}x', line: 1, column: 8, position: 7, why: /unexpected text after the JSON value/ },
    { text: '{"a":1} {}', line: 1, column: 9, position: 8, why: /unexpected text after the JSON value/ },
    { text: '{"a":"x\ny"}', line: 1, column: 8, position: 7, why: /control character in string/ },
    { text: '{"a":"\\q"}', line: 1, column: 7, position: 6, why: /invalid escape in string/ },
    { text: '{"a":"\\u12"}', line: 1, column: 7, position: 6, why: /invalid escape in string/ },
    { text: '{"a" 1}', line: 1, column: 6, position: 5, why: /expected ":" after a property name/ },
    { text: '{a:1}', line: 1, column: 2, position: 1, why: /expected a property name in double quotes/ },
    { text: "{'a':1}", line: 1, column: 2, position: 1, why: /expected a property name in double quotes/ },
    { text: '[1 2]', line: 1, column: 4, position: 3, why: /expected "," or "\]"/ },
    { text: '[1,]', line: 1, column: 4, position: 3, why: /unexpected character "\]"/ },
    { text: '{"a":[1,{"b":2]}', line: 1, column: 15, position: 14, why: /expected "," or "}"/ },
    { text: '{"a":tru}', line: 1, column: 6, position: 5, why: /unexpected character "t"/ },
    { text: '{"a":01}', line: 1, column: 7, position: 6, why: /expected "," or "}"/ },
    { text: '{"a":-}', line: 1, column: 6, position: 5, why: /unexpected character "-"/ },
    { text: '{"a":1.}', line: 1, column: 7, position: 6, why: /expected "," or "}"/ },
    { text: '"abc', line: 1, column: 5, position: 4, why: /unterminated string/ },
    { text: '{\r\n"a":\r\n  NaN}', line: 3, column: 3, position: 11, why: /unexpected character "N"/ },
    { text: '\uFEFF{}', line: 1, column: 1, position: 0, why: /unexpected character U\+FEFF \(a byte-order mark/ },
    { text: '{"a":\u00a0"x"}', line: 1, column: 6, position: 5, why: /unexpected character U\+00A0$/ },
    { text: '{"a":😀}', line: 1, column: 6, position: 5, why: /unexpected character U\+1F600$/ },
    { text: '{"a":1 // comment\n}', line: 1, column: 8, position: 7, why: /expected "," or "}"/ },
  ]
  for (const c of cases) {
    t.throws(() => JSON.parse(c.text), SyntaxError, `JSON.parse refuses ${JSON.stringify(c.text)}`)
    const err = caught(() => parsePackJson(c.text))
    t.equal(err.code, 'PACK_INVALID', JSON.stringify(c.text))
    t.same(err.detail, { file: 'pack.json', field: null, position: c.position, line: c.line, column: c.column }, JSON.stringify(c.text))
    t.match(err.message, `pack.json: not valid JSON at line ${c.line}, column ${c.column}: `)
    t.match(err.message, c.why)
  }
})

t.test('refuses JSON that is not an object', async (t) => {
  const cases: [string, string][] = [
    ['[]', 'an array'],
    ['null', 'null'],
    ['"nginx"', 'a string'],
    ['1', 'a number'],
    ['true', 'a boolean'],
  ]
  for (const [text, kind] of cases) {
    const err = caught(() => parsePackJson(text))
    t.equal(err.code, 'PACK_INVALID')
    t.same(err.detail, { file: 'pack.json', field: null })
    t.equal(err.message, `pack.json: must be a JSON object, got ${kind}`)
  }
})

const without = (key: string) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== key))

t.test('errors: what the registry cannot store or serve is refused, naming the field', async (t) => {
  const cases: { pack: Record<string, unknown>; field: string; why: string | RegExp }[] = [
    { pack: without('name'), field: 'name', why: 'is required' },
    { pack: { ...base, name: 5 }, field: 'name', why: 'must be a string, got a number' },
    { pack: { ...base, name: null }, field: 'name', why: 'must be a string, got null' },
    { pack: { ...base, name: '' }, field: 'name', why: 'must not be empty' },
    { pack: { ...base, name: 'Nginx' }, field: 'name', why: /^"Nginx" must match \[a-z0-9\]\+/ },
    { pack: { ...base, name: 'a'.repeat(129) }, field: 'name', why: /is 129 characters long/ },
    { pack: without('version'), field: 'version', why: 'is required' },
    { pack: { ...base, version: 1.5 }, field: 'version', why: 'must be a string, got a number' },
    { pack: { ...base, version: '' }, field: 'version', why: 'must not be empty' },
    { pack: { ...base, version: '1.0.0+build' }, field: 'version', why: /^"1\.0\.0\+build" cannot be used as a tag: it contains "\+"/ },
    { pack: { ...base, version: '1.x' }, field: 'version', why: /reserved for parent tags/ },
    { pack: { ...base, version: ' ' }, field: 'version', why: /cannot be used as a tag/ },
    { pack: { ...base, group: 5 }, field: 'group', why: 'must be a string, got a number' },
    { pack: { ...base, group: null }, field: 'group', why: 'must be a string, got null' },
    { pack: { ...base, group: ' LTS' }, field: 'group', why: /cannot be used in a tag/ },
    { pack: { ...base, group: 'a__b' }, field: 'group', why: /must not contain "__"/ },
    { pack: { ...base, group: 'g'.repeat(121), version: '1.0.0-rc' }, field: 'version', why: /131 characters long/ },
  ]
  for (const c of cases) {
    for (const strict of [false, true]) {
      const err = caught(() => checkPack(JSON.stringify(c.pack), COMPLETE, { strict }))
      t.equal(err.code, 'PACK_INVALID', c.field)
      t.equal(err.status, 400)
      t.match(err.detail, { file: 'pack.json', field: c.field }, c.field)
      if (typeof c.why === 'string') t.equal(err.message, `pack.json: ${c.field} ${c.why}`)
      else {
        t.ok(err.message.startsWith(`pack.json: ${c.field} `), err.message)
        t.match(err.message.slice(`pack.json: ${c.field} `.length), c.why)
      }
    }
  }
})

t.test('warnings: what the stock registry serves anyway is accepted and reported; strict refuses it', async (t) => {
  const dep = { packName: 'kubernetes', layer: 'k8s', type: 'required' }
  const cases: { pack: Record<string, unknown>; field: string; why: string | RegExp }[] = [
    { pack: without('displayName'), field: 'displayName', why: 'is required' },
    { pack: { ...base, displayName: '' }, field: 'displayName', why: 'must not be empty' },
    { pack: { ...base, displayName: ['x'] }, field: 'displayName', why: 'must be a string, got an array' },
    { pack: without('layer'), field: 'layer', why: 'is required' },
    { pack: { ...base, layer: 'app' }, field: 'layer', why: 'must be one of kernel, os, k8s, cni, csi, addon; got "app"' },
    { pack: { ...base, layer: 'Addon' }, field: 'layer', why: /got "Addon"$/ },
    { pack: { ...base, layer: 3 }, field: 'layer', why: /got a number$/ },
    { pack: { ...base, cloudTypes: 'all' }, field: 'cloudTypes', why: 'must be an array, got a string' },
    { pack: { ...base, cloudTypes: ['all', 'mars'] }, field: 'cloudTypes[1]', why: /^must be one of all, aws, .*; got "mars"$/ },
    { pack: { ...base, cloudTypes: [1] }, field: 'cloudTypes[0]', why: /got a number$/ },
    { pack: { ...base, cloudType: 'mars' }, field: 'cloudType', why: /got "mars"$/ },
    { pack: { ...base, cloudType: ['aws'] }, field: 'cloudType', why: /got an array$/ },
    { pack: { ...base, eol: 2028 }, field: 'eol', why: 'must be a string, got a number' },
    { pack: { ...base, addonType: null }, field: 'addonType', why: 'must be a string, got null' },
    { pack: { ...base, addonSubType: {} }, field: 'addonSubType', why: 'must be a string, got an object' },
    { pack: { ...base, ansibleRoles: [1] }, field: 'ansibleRoles[0]', why: 'must be a string, got a number' },
    { pack: { ...base, charts: 'charts/x.tgz' }, field: 'charts', why: 'must be an array, got a string' },
    { pack: { ...base, charts: ['a', false] }, field: 'charts[1]', why: 'must be a string, got a boolean' },
    { pack: { ...base, kubeManifests: [null] }, field: 'kubeManifests[0]', why: 'must be a string, got null' },
    { pack: { ...base, annotations: [] }, field: 'annotations', why: 'must be an object, got an array' },
    { pack: { ...base, annotations: { a: 'x', b: 1 } }, field: 'annotations.b', why: 'must be a string, got a number' },
    { pack: { ...base, annotations: { 'spectrocloud.com/x': true } }, field: 'annotations["spectrocloud.com/x"]', why: 'must be a string, got a boolean' },
    { pack: { ...base, constraints: [] }, field: 'constraints', why: 'must be an object, got an array' },
    { pack: { ...base, constraints: { dependencies: {} } }, field: 'constraints.dependencies', why: 'must be an array, got an object' },
    { pack: { ...base, constraints: { dependencies: ['x'] } }, field: 'constraints.dependencies[0]', why: 'must be an object, got a string' },
    { pack: { ...base, constraints: { dependencies: [{ layer: 'k8s', type: 'required' }] } }, field: 'constraints.dependencies[0].packName', why: 'is required' },
    { pack: { ...base, constraints: { dependencies: [{ ...dep, packName: '' }] } }, field: 'constraints.dependencies[0].packName', why: 'must not be empty' },
    { pack: { ...base, constraints: { dependencies: [{ packName: 'k', type: 'required' }] } }, field: 'constraints.dependencies[0].layer', why: 'is required' },
    { pack: { ...base, constraints: { dependencies: [{ ...dep, layer: 'x' }] } }, field: 'constraints.dependencies[0].layer', why: /^must be one of kernel, os/ },
    { pack: { ...base, constraints: { dependencies: [{ ...dep, minVersion: 1.2 }] } }, field: 'constraints.dependencies[0].minVersion', why: 'must be a string, got a number' },
    { pack: { ...base, constraints: { dependencies: [{ ...dep, maxVersion: null }] } }, field: 'constraints.dependencies[0].maxVersion', why: 'must be a string, got null' },
    // A dependency without a type: published packs carry these, and the stock registry serves them.
    { pack: { ...base, constraints: { dependencies: [{ packName: 'k', layer: 'k8s' }] } }, field: 'constraints.dependencies[0].type', why: 'is required' },
    {
      pack: { ...base, constraints: { dependencies: [dep, { ...dep, type: 'must' }] } },
      field: 'constraints.dependencies[1].type',
      why: 'must be one of required, optional, notSupported, upgrade; got "must"',
    },
    { pack: { ...base, constraints: { resources: 'cpu' } }, field: 'constraints.resources', why: 'must be an array, got a string' },
    { pack: { ...base, constraints: { resources: [{}] } }, field: 'constraints.resources[0].type', why: 'is required' },
    { pack: { ...base, constraints: { resources: [{ type: 'gpu' }] } }, field: 'constraints.resources[0].type', why: 'must be one of cpu, memory, diskSize; got "gpu"' },
    { pack: { ...base, constraints: { resources: [{ type: 'cpu', minLimit: '2000' }] } }, field: 'constraints.resources[0].minLimit', why: 'must be a number, got a string' },
    { pack: { ...base, constraints: { resources: [{ type: 'cpu', components: {} }] } }, field: 'constraints.resources[0].components', why: 'must be an array, got an object' },
    { pack: { ...base, constraints: { resources: [{ type: 'cpu', components: [{}] }] } }, field: 'constraints.resources[0].components[0].scheduleType', why: 'is required' },
    {
      pack: { ...base, constraints: { resources: [{ type: 'cpu', components: [{ scheduleType: 'control-plane' }] }] } },
      field: 'constraints.resources[0].components[0].scheduleType',
      why: 'must be one of all, master, worker; got "control-plane"',
    },
    {
      pack: { ...base, constraints: { resources: [{ type: 'cpu', components: [{ scheduleType: 'all', replicaCountParamRef: 3 }] }] } },
      field: 'constraints.resources[0].components[0].replicaCountParamRef',
      why: 'must be a string, got a number',
    },
    {
      pack: { ...base, constraints: { resources: [{ type: 'cpu', components: [{ scheduleType: 'all', resourceRequestParamRef: [] }] }] } },
      field: 'constraints.resources[0].components[0].resourceRequestParamRef',
      why: 'must be a string, got an array',
    },
    { pack: { ...base, version: 'stable' }, field: 'version', why: /^"stable" is not a semantic version .* so it gets no parent tags/ },
  ]
  for (const c of cases) {
    // Only pack.json's own: a chart it names that is not there is the next test's business.
    const warnings = warningsOf(c.pack).filter((w) => w.file === 'pack.json')
    t.equal(warnings.length, 1, `${c.field}: one warning`)
    t.equal(warnings[0]?.field, c.field)
    t.equal(warnings[0]?.file, 'pack.json')
    const message = warnings[0]?.message ?? ''
    if (typeof c.why === 'string') t.equal(message, `pack.json: ${c.field} ${c.why}`)
    else t.match(message.slice(`pack.json: ${c.field} `.length), c.why, message)
    const strict = caught(() => checkPack(JSON.stringify(c.pack), COMPLETE, { strict: true }))
    t.equal(strict.code, 'PACK_INVALID', `${c.field}: strict refuses`)
    t.match(strict.message, /\(strict validation: warnings are errors\)/)
  }
})

t.test('every problem of a pack is reported at once, errors first in a fixed order', async (t) => {
  const err = caught(() => checkPack(JSON.stringify({ name: 'Bad', version: '', layer: 'x', cloudTypes: ['mars'] }), new Set(['pack.json']), lenient))
  t.equal(err.message, 'pack.json: 2 problems in the pack: pack.json: name "Bad" must match [a-z0-9]+([._-][a-z0-9]+)*: lowercase letters and digits, in runs joined by single ".", "_" or "-"; pack.json: version must not be empty'.replace('pack.json: 2', '2'))
  t.same((err.detail?.problems as PackProblem[]).map((p) => p.field), ['name', 'version'], 'warnings are not listed when errors refuse the pack')
  const warnings = warningsOf({ ...base, layer: 'x', cloudTypes: ['mars', 'venus'], constraints: { dependencies: [{}] } }, ['pack.json'])
  t.same(
    warnings.map((w) => w.field),
    ['layer', 'cloudTypes[0]', 'cloudTypes[1]', 'constraints.dependencies[0].packName', 'constraints.dependencies[0].layer', 'constraints.dependencies[0].type', null, null],
    'every warning, pack.json first, then the files',
  )
  const strict = caught(() => checkPack(JSON.stringify({ ...base, layer: 'x' }), new Set(['pack.json']), { strict: true }))
  t.match(strict.message, /^3 problems in the pack \(strict validation: warnings are errors\): pack\.json: layer .*; values\.yaml is missing.*; neither logo\.png nor logo\.webp is in the pack/)
})

t.test('files pack.json names, and the files every pack is expected to have', async (t) => {
  const pack = (extra: Record<string, unknown> = {}) => ({ name: 'nginx', displayName: 'Nginx', version: '1.0.0', layer: 'addon', ...extra })
  const all = ['pack.json', 'values.yaml', 'logo.png']
  const accepted: { name: string; pack: Record<string, unknown>; paths: string[] }[] = [
    { name: 'values.yaml alone', pack: pack(), paths: all },
    { name: 'a chart archive', pack: pack({ charts: ['charts/nginx-1.0.0.tgz'] }), paths: [...all, 'charts/nginx-1.0.0.tgz'] },
    { name: 'a leading ./', pack: pack({ charts: ['./charts/x.tgz'], kubeManifests: ['./m/a.yaml'] }), paths: [...all, 'charts/x.tgz', 'm/a.yaml'] },
    { name: 'empty and . segments', pack: pack({ charts: ['charts//./x.tgz'] }), paths: [...all, 'charts/x.tgz'] },
    { name: 'an unpacked chart folder', pack: pack({ charts: ['charts/nginx'] }), paths: [...all, 'charts/nginx/Chart.yaml', 'charts/nginx/values.yaml'] },
    { name: 'a chart folder with a trailing slash', pack: pack({ charts: ['charts/nginx/'] }), paths: [...all, 'charts/nginx/templates/a.yaml'] },
    { name: 'manifests', pack: pack({ kubeManifests: ['manifests/a.yaml', 'manifests/b.yaml'] }), paths: [...all, 'manifests/a.yaml', 'manifests/b.yaml'] },
    { name: 'empty lists', pack: pack({ charts: [], kubeManifests: [] }), paths: all },
    { name: 'ansible roles are not checked', pack: pack({ ansibleRoles: ['harden_os'] }), paths: all },
  ]
  for (const c of accepted) t.same(warningsOf(c.pack, c.paths), [], c.name)

  const warned: { name: string; pack: Record<string, unknown>; paths: string[]; file: string; field: string | null; why: RegExp }[] = [
    { name: 'no values.yaml', pack: pack(), paths: ['pack.json', 'logo.png'], file: 'values.yaml', field: null, why: /^values\.yaml is missing/ },
    { name: 'values.yaml only in a folder', pack: pack(), paths: ['pack.json', 'logo.png', 'x/values.yaml'], file: 'values.yaml', field: null, why: /^values\.yaml is missing/ },
    { name: 'no logo', pack: pack(), paths: ['pack.json', 'values.yaml'], file: 'logo.png', field: null, why: /^neither logo\.png nor logo\.webp is in the pack: Palette shows a placeholder instead$/ },
    { name: 'a logo in a folder only', pack: pack(), paths: ['pack.json', 'values.yaml', 'x/logo.webp'], file: 'logo.png', field: null, why: /^neither logo\.png nor logo\.webp/ },
    {
      // Real packs name a .tgz in charts but ship the chart unpacked; the stock registry serves them.
      name: 'a missing chart',
      pack: pack({ charts: ['./charts/x.tgz'] }),
      paths: [...all, 'charts/x/Chart.yaml'],
      file: 'charts/x.tgz',
      field: 'charts[0]',
      why: /^pack\.json: charts\[0\] names "charts\/x\.tgz", which is not in the pack$/,
    },
    { name: 'the second chart', pack: pack({ charts: ['a.tgz', 'b.tgz'] }), paths: [...all, 'a.tgz'], file: 'b.tgz', field: 'charts[1]', why: /charts\[1\] names "b\.tgz"/ },
    { name: 'a prefix of a folder name is not the folder', pack: pack({ charts: ['charts/ngin'] }), paths: [...all, 'charts/nginx/Chart.yaml'], file: 'charts/ngin', field: 'charts[0]', why: /not in the pack/ },
    { name: 'a missing manifest', pack: pack({ kubeManifests: ['m/a.yaml'] }), paths: all, file: 'm/a.yaml', field: 'kubeManifests[0]', why: /kubeManifests\[0\] names "m\/a\.yaml"/ },
    { name: 'a manifest folder', pack: pack({ kubeManifests: ['manifests'] }), paths: [...all, 'manifests/a.yaml'], file: 'manifests', field: 'kubeManifests[0]', why: /not in the pack/ },
    { name: 'an absolute path', pack: pack({ charts: ['/etc/passwd'] }), paths: [...all, 'etc/passwd'], file: 'pack.json', field: 'charts[0]', why: /^pack\.json: charts\[0\] "\/etc\/passwd" must be a relative path/ },
    { name: 'a .. path', pack: pack({ charts: ['../x.tgz'] }), paths: all, file: 'pack.json', field: 'charts[0]', why: /must stay inside the pack/ },
    { name: 'a .. in the middle', pack: pack({ kubeManifests: ['m/../../x.yaml'] }), paths: [...all, 'x.yaml'], file: 'pack.json', field: 'kubeManifests[0]', why: /must stay inside the pack/ },
    { name: 'a .. that stays inside is still refused', pack: pack({ charts: ['charts/../c.tgz'] }), paths: [...all, 'c.tgz'], file: 'pack.json', field: 'charts[0]', why: /must stay inside the pack/ },
    { name: 'an empty path', pack: pack({ charts: [''] }), paths: all, file: 'pack.json', field: 'charts[0]', why: /^pack\.json: charts\[0\] "" names no file$/ },
    { name: 'only ./', pack: pack({ kubeManifests: ['./'] }), paths: all, file: 'pack.json', field: 'kubeManifests[0]', why: /names no file/ },
  ]
  for (const c of warned) {
    const warnings = warningsOf(c.pack, c.paths)
    t.equal(warnings.length, 1, c.name)
    t.match(warnings[0], { file: c.file, field: c.field }, c.name)
    t.match(warnings[0]?.message, c.why, c.name)
  }
  const missing = caught(() => checkPack(undefined, new Set(['values.yaml']), lenient))
  t.equal(missing.message, 'pack.json is missing from the archive')
})

t.test('YAML problems are warnings with the others, errors under strict validation', async (t) => {
  const yaml = [{ file: 'values.yaml', field: null, message: 'values.yaml: line 3, column 5: Missing closing "quote' }]
  const checked = checkPack(JSON.stringify({ ...base, layer: 'gui' }), COMPLETE, lenient, yaml)
  t.same(checked.warnings.map((w) => w.file), ['pack.json', 'values.yaml'], 'after the pack.json and file warnings')
  t.same(checked.warnings[1], yaml[0])
  const strict = caught(() => checkPack(JSON.stringify(base), COMPLETE, { strict: true }, yaml))
  t.equal(strict.code, 'PACK_INVALID')
  t.equal(strict.message, 'values.yaml: line 3, column 5: Missing closing "quote (strict validation: warnings are errors)')
  t.match(strict.detail, { file: 'values.yaml', field: null })
})
