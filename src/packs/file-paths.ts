// The paths of the pack browser's file pages: which file of a pack version's archive a URL
// names, including files inside the gzip tars a pack carries (Helm charts in charts/*.tgz, and
// charts inside those). A path is split into one path per archive level at every segment named
// like an archive that has more segments after it: `charts/app-1.0.0.tgz/app/values.yaml` is
// values.yaml inside the chart. Tar paths are safe by the push rules (archive-read.ts
// checkEntry), so a path that breaks them can name no file: it is refused here before any
// archive is read. Pure.

import { RegistryError } from '../errors.js'

/** How many archives deep a path may reach: a pack's chart, its subcharts, theirs. */
export const MAX_ARCHIVE_DEPTH = 3

const MAX_PATH_CHARS = 4096
const ARCHIVE_NAME = /\.(tgz|tar\.gz)$/

/** Whether a file is a gzip tar the browser opens as a folder (a chart). */
export function isArchiveName(path: string): boolean {
  return ARCHIVE_NAME.test(path)
}

/**
 * The path of each archive level, outermost first: ['values.yaml'], or
 * ['charts/app-1.0.0.tgz', 'app/values.yaml']. BAD_REQUEST for anything that is no relative
 * path inside an archive: empty, absolute, `..` or `.` segments, empty segments, backslashes,
 * NUL, or more than MAX_ARCHIVE_DEPTH archives deep.
 */
export function splitFilePath(path: string): string[] {
  const bad = (why: string) => new RegistryError('BAD_REQUEST', `${JSON.stringify(path.slice(0, 200))} is not a file of this pack: ${why}`, { path: path.slice(0, 200) })
  if (path === '') throw bad('the path is empty')
  if (path.length > MAX_PATH_CHARS) throw bad(`a path is at most ${MAX_PATH_CHARS} characters`)
  if (path.includes('\0')) throw bad('it holds a NUL byte')
  if (path.includes('\\')) throw bad('it holds a backslash')
  if (path.startsWith('/')) throw bad('paths are relative to the pack\'s folder')
  const segments = path.split('/')
  if (segments.includes('..')) throw bad('".." would leave the pack')
  if (segments.some((s) => s === '' || s === '.')) throw bad('it has an empty or "." segment')
  const levels: string[] = []
  let start = 0
  segments.forEach((segment, i) => {
    if (i < segments.length - 1 && isArchiveName(segment)) {
      levels.push(segments.slice(start, i + 1).join('/'))
      start = i + 1
    }
  })
  levels.push(segments.slice(start).join('/'))
  if (levels.length > MAX_ARCHIVE_DEPTH + 1) throw bad(`the browser opens archives at most ${MAX_ARCHIVE_DEPTH} deep`)
  return levels
}

/**
 * A file page's breadcrumb: each segment of the path with the path up to it; the archives on
 * the way are pages of their own (their file lists), folders are not.
 */
export function crumbsOf(path: string): Array<{ name: string; path: string; page: boolean }> {
  const segments = path.split('/')
  return segments.map((name, i) => ({ name, path: segments.slice(0, i + 1).join('/'), page: i < segments.length - 1 && isArchiveName(name) }))
}
