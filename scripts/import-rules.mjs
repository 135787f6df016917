// The import rules of ARCHITECTURE.md, as data: scripts/check-imports.mjs enforces them in
// `npm test` (test/architecture/import-rules.test.ts). A rule names the importing files
// (`from`, path prefixes under the repository root), what they may not import (`forbid`:
// path prefixes of our own files, or `pkg:NAME` for an npm package), and why. An exception is
// one importer/imported pair with its reason; add one only on purpose and say why.

/** @type {{ name: string, from: string[], forbid: string[], allowOnly?: string[], why: string }[]} */
export const rules = [
  {
    name: 'core-is-pure',
    from: ['src/core/'],
    allowOnly: ['src/core/', 'pkg:zod'],
    forbid: [],
    why: 'core/ is the pure domain: it imports nothing else of ours, and no npm package but zod.',
  },
  {
    name: 'net-only-node',
    from: ['src/net/'],
    allowOnly: ['src/net/'],
    forbid: [],
    why: 'net/ is the trust store of our own TLS connections; it builds on Node alone.',
  },
  {
    name: 'auth-not-transport',
    from: ['src/auth/'],
    allowOnly: ['src/auth/', 'src/core/', 'src/net/', 'src/log/', 'pkg:@azure/msal-node', 'pkg:@azure/msal-common'],
    forbid: [],
    why: 'auth/ (tokens) and transport/ (SMTP) never import each other; mailer.ts composes them.',
  },
  {
    name: 'transport-not-auth',
    from: ['src/transport/'],
    allowOnly: ['src/transport/', 'src/core/', 'src/net/', 'src/log/', 'pkg:nodemailer'],
    forbid: [],
    why: 'auth/ (tokens) and transport/ (SMTP) never import each other; mailer.ts composes them.',
  },
  {
    name: 'only-transport-touches-nodemailer',
    from: ['src/'],
    forbid: ['pkg:nodemailer'],
    why: 'Everything sends through createMailer (mailer.ts); only transport/ speaks nodemailer.',
  },
  {
    name: 'only-auth-touches-msal',
    from: ['src/'],
    forbid: ['pkg:@azure/msal-node', 'pkg:@azure/msal-common'],
    why: 'Token acquisition (MSAL) lives in auth/ only.',
  },
  {
    name: 'service-below-admin-cli-emulator',
    from: ['src/service/'],
    forbid: ['src/admin/', 'src/cli/', 'src/emulator/', 'src/app/'],
    why: 'service/ is a layer below the admin page and the composition roots (app/, cli/); the emulator is for tests and `mailgate dev` only.',
  },
  {
    name: 'emulator-stands-alone',
    from: ['src/emulator/'],
    allowOnly: ['src/emulator/', 'pkg:smtp-server', 'pkg:hono', 'pkg:@hono/node-server', 'pkg:@peculiar/x509', 'pkg:zod'],
    forbid: [],
    why: 'The emulator imports nothing of the product, so it stays an independent model of Microsoft 365.',
  },
  {
    name: 'emulator-only-for-dev-and-tests',
    from: ['src/'],
    forbid: ['src/emulator/'],
    why: 'Only tests, benchmarks and the `mailgate dev` / `mailgate emulator` composition import the emulator.',
  },
  {
    name: 'nothing-imports-bench',
    from: ['src/', 'test/', 'scripts/'],
    forbid: ['bench/'],
    why: 'The benchmarks sit on top of everything; nothing depends on them.',
  },
  {
    name: 'product-not-tests',
    from: ['src/'],
    forbid: ['test/'],
    why: 'The product never imports test code.',
  },
];

/**
 * Deliberate exceptions: `{ rule, from, to, why }` where from/to are exact repository paths
 * (an npm package as `pkg:NAME`).
 * @type {{ rule: string, from: string, to: string, why: string }[]}
 */
export const exceptions = [
  { rule: 'only-transport-touches-nodemailer', from: 'src/transport/', to: 'pkg:nodemailer', why: 'transport/ is where nodemailer lives.' },
  { rule: 'only-auth-touches-msal', from: 'src/auth/', to: 'pkg:@azure/msal-node', why: 'auth/ is where MSAL lives.' },
  { rule: 'only-auth-touches-msal', from: 'src/auth/', to: 'pkg:@azure/msal-common', why: 'auth/ is where MSAL lives.' },
  { rule: 'emulator-stands-alone', from: 'src/emulator/pki.ts', to: 'src/net/der.ts', why: 'The DER writer for certificates is shared with the relay (one copy); it imports Node only.' },
  { rule: 'emulator-stands-alone', from: 'src/emulator/pki.ts', to: 'src/net/self-signed-rsa.ts', why: 'One construction of the self-signed RSA client certificate, shared with `mailgate cert create`; it imports Node and net/der.ts only.' },
  { rule: 'emulator-only-for-dev-and-tests', from: 'src/emulator/', to: 'src/emulator/', why: 'The emulator imports its own modules.' },
  { rule: 'emulator-only-for-dev-and-tests', from: 'src/cli/commands/emulator.ts', to: 'src/emulator/', why: '`mailgate emulator` runs the emulator.' },
  { rule: 'emulator-only-for-dev-and-tests', from: 'src/app/dev.ts', to: 'src/emulator/', why: '`mailgate dev` is the service plus the emulator\'s demo tenant.' },
  { rule: 'auth-not-transport', from: 'src/auth/app-credentials-graph.ts', to: 'pkg:zod', why: 'Graph\'s answer about the app\'s own credentials is untrusted input, parsed once at the boundary with a schema (as core/ does with zod).' },
  { rule: 'auth-not-transport', from: 'src/auth/client-certificate.ts', to: 'src/config/bounded-file.ts', why: 'A certificate file named by the settings is read like every such file: a regular file of at most 64 KB, without blocking (one reader, Node-only).' },
];
