// Sizes for people: what the CLI prints and what the server's log lines say.

/** `512 B`, `1.5 KiB`, `5.0 MiB`: powers of 1024, one decimal. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
