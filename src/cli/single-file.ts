// The entry point of the single-file client (scripts/build-client.ts bundles it into the
// executable): the packyard command router without the server and operator commands.

import { main } from './main.js'

main(process.argv.slice(2), { clientOnly: true })
