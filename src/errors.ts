// The one table of typed errors. Domain code throws `RegistryError`s by code; the single
// error handler in http/errors.ts turns them into the envelope
// {"errors":[{"code","message","detail"}]} with the status from this table.
// Codes shared with the OCI distribution spec keep the spec's names and statuses.

export const ERROR_STATUS = {
  // request shape
  BAD_REQUEST: 400,
  NAME_INVALID: 400,
  TAG_INVALID: 400,
  DIGEST_INVALID: 400,
  SIZE_INVALID: 400,
  PACK_INVALID: 400,
  ARCHIVE_INVALID: 400,
  MESSAGE_REQUIRED: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  BLOB_UPLOAD_INVALID: 400,
  RANGE_INVALID: 416,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // who you are
  UNAUTHORIZED: 401,
  DENIED: 403,
  TAG_PROTECTED: 403,
  TOO_MANY_REQUESTS: 429,
  // distribution's spelling, for a limit of the distribution API (open upload sessions)
  TOOMANYREQUESTS: 429,
  // what exists
  NOT_FOUND: 404,
  NAME_UNKNOWN: 404,
  TAG_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_UNKNOWN: 404,
  FILE_UNKNOWN: 404,
  METHOD_NOT_ALLOWED: 405,
  UNSUPPORTED: 405,
  TAG_EXISTS: 409,
  CONFLICT: 409,
  // the server
  INTERNAL: 500,
  UNAVAILABLE: 503,
  INSUFFICIENT_STORAGE: 507,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export type ErrorDetail = Record<string, unknown>

export class RegistryError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly detail: ErrorDetail | undefined
  /** Extra response headers the handler must send with this error (e.g. Retry-After). */
  readonly headers: Record<string, string>

  constructor(code: ErrorCode, message: string, detail?: ErrorDetail, headers: Record<string, string> = {}) {
    super(message)
    this.name = 'RegistryError'
    this.code = code
    this.status = ERROR_STATUS[code]
    this.detail = detail
    this.headers = headers
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError
}

// What the operating system, SQLite and PostgreSQL (53100 disk_full) say when the disk (or a quota) is full.
const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100'])

export function isStorageFull(err: unknown): boolean {
  return typeof err === 'object' && err !== null && STORAGE_FULL_CODES.has(String((err as { code?: unknown }).code))
}

/** 507: the write did not fit. Reads, deletes and garbage collection keep working. */
export function storageFull(neededBytes?: number): RegistryError {
  const needed = neededBytes === undefined ? '' : ` (this write needed at least ${neededBytes} bytes)`
  return new RegistryError(
    'INSUFFICIENT_STORAGE',
    `the registry's storage is full${needed}; delete packs or tags you no longer need and run garbage-collect, or give the storage more space`,
    neededBytes === undefined ? undefined : { neededBytes },
  )
}
