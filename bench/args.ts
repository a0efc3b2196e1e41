// The command-line arguments npm run bench and npm run chaos share: `--quick`, `--only=a,b`
// naming some of their parts (scenarios, categories), and a usage error that prints the usage.

export class UsageError extends Error {}

/**
 * The parts `--only=VALUE` names, in the order of `known` (the order they run in, whatever
 * order they were given); a name not in `known`, or none at all, is a usage error naming it.
 */
export function onlyParts(value: string, known: readonly string[], noun: string): string[] {
  const wanted = value.split(',').filter(Boolean)
  const unknown = wanted.filter((name) => !known.includes(name))
  if (unknown.length > 0 || wanted.length === 0) throw new UsageError(`unknown ${noun} ${unknown.join(', ') || '(none given)'}`)
  return known.filter((name) => wanted.includes(name))
}

/** An argument neither command knows (--help and -h print the usage alone). */
export function unknownArgument(arg: string): UsageError {
  return new UsageError(arg === '--help' || arg === '-h' ? '' : `unknown argument ${arg}`)
}
