import t from 'tap'
import { UsageError } from '../../src/cli/command.js'
import { parsePackRef } from '../../src/cli/pack-ref.js'

const D = `sha256:${'ab'.repeat(32)}`
const both = { digestAllowed: true, what: 'NAME:TAG or NAME@sha256:DIGEST' }
const tagOnly = { digestAllowed: false, what: 'PACK:TAG' }

t.test('NAME:TAG and NAME@DIGEST as the spectro CLI takes them', async (t) => {
  t.same(parsePackRef('nginx:1.16.1', both), { name: 'nginx', ref: '1.16.1', kind: 'tag' })
  t.same(parsePackRef('ubuntu:lts__14.4.3', tagOnly), { name: 'ubuntu', ref: 'lts__14.4.3', kind: 'tag' })
  t.same(parsePackRef('ubuntu:LTS__22.4.x', both), { name: 'ubuntu', ref: 'LTS__22.4.x', kind: 'tag' }, 'parent tags can be read')
  t.same(parsePackRef(`nginx@${D}`, both), { name: 'nginx', ref: D, kind: 'digest' })
})

t.test('mistakes are usage errors that say what was expected', async (t) => {
  const cases: Array<[string, typeof both, RegExp]> = [
    ['nginx', both, /"nginx" names no tag; expected NAME:TAG or NAME@sha256:DIGEST \(packyard pack ls -n nginx lists the tags\)/],
    [`nginx@${D}`, tagOnly, /a digest cannot be used here; expected PACK:TAG/],
    ['nginx@sha256:abc', both, /the digest must be sha256: followed by 64 lowercase hex digits/],
    [`nginx@${D.toUpperCase()}`, both, /64 lowercase hex/],
    ['nginx:', both, /tag "" is invalid: it is empty/],
    ['nginx:a__b__c', both, /contains "__" more than once/],
    ['nginx:bad tag', both, /contains " "/],
    ['Nginx:1.0.0', both, /pack name "Nginx" must match/],
    [':1.0.0', both, /pack name ""/],
  ]
  for (const [arg, options, message] of cases) t.throws(() => parsePackRef(arg, options), { constructor: UsageError, message }, arg)
})
