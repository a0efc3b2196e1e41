// The limits the client unpacks archives under (a pulled pack, a chart .tgz): the registry's
// default archive limits, so a hostile server or file costs no more than a push to a default
// registry would. The compressed size is left open: it is what the user asked to download
// or handed over, and inflating it is bounded by the ratio and the unpacked size.

import { ARCHIVE_LIMIT_DEFAULTS } from '../config/schema.js'
import type { ArchiveLimits } from '../packs/archive-read.js'

export const CLIENT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxArchiveBytes: Number.POSITIVE_INFINITY,
  maxUnpackedBytes: ARCHIVE_LIMIT_DEFAULTS.unpackedSize,
  maxEntries: ARCHIVE_LIMIT_DEFAULTS.entries,
  maxExtractedFileBytes: ARCHIVE_LIMIT_DEFAULTS.fileSize,
  maxCompressionRatio: ARCHIVE_LIMIT_DEFAULTS.maxCompressionRatio,
}
