// Reads a pack folder from disk for `pack push`: which files go into the archive, with their
// sizes, modes and a way to stream each one. What is left out:
//
//   - `.DS_Store` files and `.git` (the folder, or the file a submodule has) at any depth;
//   - `.packignore` at the pack root, which holds the patterns for the rest.
//
// `.packignore` takes a subset of the .gitignore syntax:
//
//   - blank lines and lines starting with `#` are ignored; trailing spaces are trimmed;
//   - `*` matches anything but `/`, `?` one character but `/`; `**` matches across folders:
//     `**/x` (x at any depth), `x/**` (everything inside x), `a/**/b` (zero or more folders);
//     any other `**` is a plain `*`;
//   - a trailing `/` makes the pattern match folders only;
//   - a leading `/`, or a `/` in the middle, anchors the pattern at the pack root; a pattern
//     with no `/` matches the name at any depth;
//   - `!pattern` re-includes what an earlier pattern left out; the last matching line wins;
//   - as in git, nothing inside a left-out folder can be re-included.
//
// Not supported: character classes (`[abc]`), backslash escapes, nested .packignore files.
//
// Symbolic links are refused rather than followed: an archive must not depend on what a link
// happens to point at on the pusher's machine, and the registry refuses links anyway.

import { createReadStream } from 'node:fs'
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { comparePaths, type ArchiveInput } from '../packs/archive-write.js'
import { unlessMissing } from '../files.js'

const IGNORE_FILE = '.packignore'
const ALWAYS_LEFT_OUT: ReadonlySet<string> = new Set(['.DS_Store', '.git'])

export type PackFile = ArchiveInput & { absPath: string }

export async function collectPackFiles(dir: string): Promise<PackFile[]> {
  const ignored = packIgnoreMatcher(await readIgnoreFile(join(dir, IGNORE_FILE)))
  const files: PackFile[] = []

  async function walk(absDir: string, relDir: string): Promise<void> {
    for (const name of await readdir(absDir)) {
      const rel = relDir === '' ? name : `${relDir}/${name}`
      if (ALWAYS_LEFT_OUT.has(name) || rel === IGNORE_FILE) continue
      const absPath = join(absDir, name)
      const stats = await lstat(absPath)
      if (ignored(rel, stats.isDirectory())) continue
      if (stats.isSymbolicLink()) throw new Error(`symbolic links are not allowed in a pack: ${rel}`)
      if (stats.isDirectory()) {
        await walk(absPath, rel)
      } else if (stats.isFile()) {
        files.push({ path: rel, absPath, size: stats.size, mode: stats.mode, open: () => createReadStream(absPath) })
      } else {
        throw new Error(`only regular files and folders can go in a pack: ${rel}`)
      }
    }
  }

  await walk(dir, '')
  return files.sort((a, b) => comparePaths(a.path, b.path))
}

async function readIgnoreFile(path: string): Promise<string> {
  return (await unlessMissing(readFile(path, 'utf8'))) ?? ''
}

interface IgnoreRule {
  regex: RegExp
  negate: boolean
  dirOnly: boolean
  /** unanchored patterns are tested against the last path segment only */
  anchored: boolean
}

/** Returns a predicate telling whether a path (relative, posix) is left out of the pack. */
export function packIgnoreMatcher(patternsText: string): (path: string, isDir: boolean) => boolean {
  const rules: IgnoreRule[] = []
  for (const rawLine of patternsText.split(/\r?\n/)) {
    const rule = parseRule(rawLine)
    if (rule !== undefined) rules.push(rule)
  }

  const matchesItself = (path: string, isDir: boolean): boolean => {
    const name = path.slice(path.lastIndexOf('/') + 1)
    let ignored = false
    for (const rule of rules) {
      if (rule.dirOnly && !isDir) continue
      if (rule.regex.test(rule.anchored ? path : name)) ignored = !rule.negate
    }
    return ignored
  }

  return (path: string, isDir: boolean): boolean => {
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      if (matchesItself(parts.slice(0, i).join('/'), true)) return true
    }
    return matchesItself(path, isDir)
  }
}

function parseRule(rawLine: string): IgnoreRule | undefined {
  let pattern = rawLine.replace(/\s+$/, '')
  if (pattern === '' || pattern.startsWith('#')) return undefined
  const negate = pattern.startsWith('!')
  if (negate) pattern = pattern.slice(1)
  const dirOnly = pattern.endsWith('/')
  if (dirOnly) pattern = pattern.replace(/\/+$/, '')
  const anchored = pattern.includes('/')
  if (pattern.startsWith('/')) pattern = pattern.slice(1)
  if (pattern === '') return undefined
  return { regex: globToRegExp(pattern), negate, dirOnly, anchored }
}

function globToRegExp(glob: string): RegExp {
  let source = ''
  let i = 0
  while (i < glob.length) {
    if (glob.startsWith('**', i)) {
      const atStart = i === 0
      const slashAfter = glob[i + 2] === '/'
      const slashBefore = i > 0 && glob[i - 1] === '/'
      if (slashAfter && (atStart || slashBefore)) {
        // `**/`: zero or more whole folders
        source += '(?:.*/)?'
        i += 3
      } else if (slashBefore && i + 2 === glob.length) {
        // a trailing `/**`: everything inside
        source += '.*'
        i += 2
      } else {
        // as in git, any other `**` is just `*`
        source += '[^/]*'
        i += 2
      }
    } else if (glob[i] === '*') {
      source += '[^/]*'
      i += 1
    } else if (glob[i] === '?') {
      source += '[^/]'
      i += 1
    } else {
      source += (glob[i] as string).replace(/[.+^${}()|[\]\\]/g, '\\$&')
      i += 1
    }
  }
  return new RegExp(`^${source}$`)
}
