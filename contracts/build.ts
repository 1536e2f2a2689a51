/**
 * Compiles every `.sol` under `contracts/src` with solc-js and writes typed ABIs and bytecode to
 * `contracts/generated/`. Skips when the sources, compiler and settings hash is unchanged.
 *
 * Run: `npx tsx contracts/build.ts [--force]`.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { TesseraError } from '../protocol/errors.ts'

const require = createRequire(import.meta.url)

const contractsDir = path.dirname(fileURLToPath(import.meta.url))
const defaultSrcDir = path.join(contractsDir, 'src')
const defaultOutDir = path.join(contractsDir, 'generated')
const hashFileName = '.sources-hash'
const nodeModules = path.resolve(contractsDir, '..', 'node_modules')

/** Contracts that get a generated module; anything else under src (interfaces, libraries) is compiled but not emitted. */
export const deployableContracts = [
  'TesseraToken',
  'ProviderRegistry',
  'JobMarket',
  'EmissionController',
  'ChallengeLedger',
  'TesseraTimelock',
  'JobBatcher',
  'ProviderBatcher',
] as const

/** solc settings shared by every build (PROTOCOL.md). */
const settings = {
  evmVersion: 'cancun',
  viaIR: true,
  optimizer: { enabled: true, runs: 1 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
} as const

/** solc reported errors; `details` holds its formatted messages (also in the message). Not retryable. */
export class ContractsBuildError extends TesseraError {
  override name = 'ContractsBuildError'
  constructor(details: string) {
    super(`solc failed:\n${details}`, { details })
  }
}

export type BuildContractsParameters = {
  /** Compile even when the sources' hash is unchanged. */
  force?: boolean
  /** No progress output. */
  quiet?: boolean
  /** Sources folder (default `contracts/src`); tests point it elsewhere. */
  srcDir?: string
  /** Output folder (default `contracts/generated`). */
  outDir?: string
}
export type BuildContractsReturnType = { skipped: boolean; contracts: string[]; hash: string }

function listSources(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listSources(full))
    else if (entry.name.endsWith('.sol')) out.push(full)
  }
  return out.sort()
}

function camel(name: string): string {
  return name[0].toLowerCase() + name.slice(1)
}

/** solc's import callback: `@openzeppelin/...` (any package) from node_modules, else relative to the sources. */
function importResolver(srcDir: string) {
  return (importPath: string): { contents: string } | { error: string } => {
    const candidates = [path.join(nodeModules, importPath), path.join(srcDir, importPath)]
    for (const file of candidates) if (existsSync(file)) return { contents: readFileSync(file, 'utf8') }
    return { error: `File not found: ${importPath}` }
  }
}

type Solc = { compile: (input: string, callbacks: object) => string; version: () => string }

/** The Solidity sources under `contracts/src`, keyed by their path relative to it. */
function readSources(srcDir: string): Record<string, { content: string }> {
  const sources: Record<string, { content: string }> = {}
  for (const file of listSources(srcDir)) {
    sources[path.relative(srcDir, file).split(path.sep).join('/')] = { content: readFileSync(file, 'utf8') }
  }
  return sources
}

function hashOf(solc: Solc, sources: Record<string, { content: string }>): string {
  const ozVersion = JSON.parse(readFileSync(path.join(nodeModules, '@openzeppelin/contracts/package.json'), 'utf8')).version
  const hasher = createHash('sha256')
  hasher.update(JSON.stringify({ solc: solc.version(), oz: ozVersion, settings, generator: 1 }))
  for (const [name, { content }] of Object.entries(sources)) hasher.update(`${name}\0${content}\0`)
  return hasher.digest('hex')
}

/** The hash of the sources, compiler, OpenZeppelin version and settings that a build would record. */
export function sourcesHash(): string {
  return hashOf(require('solc') as Solc, readSources(defaultSrcDir))
}

/** Whether `contracts/generated` was built from the current sources (no compilation). */
export function isGeneratedCurrent(): boolean {
  const hashFile = path.join(defaultOutDir, hashFileName)
  return existsSync(hashFile) && readFileSync(hashFile, 'utf8').trim() === sourcesHash()
}

/**
 * Compiles the contracts and regenerates `contracts/generated/` unless nothing changed.
 * Throws {@link ContractsBuildError} with solc's messages on any compiler error.
 */
export async function buildContracts(parameters: BuildContractsParameters = {}): Promise<BuildContractsReturnType> {
  const log = parameters.quiet ? () => {} : (m: string) => console.log(m)
  const solc = require('solc') as Solc
  const srcDir = parameters.srcDir ?? defaultSrcDir
  const outDir = parameters.outDir ?? defaultOutDir
  const hashFile = path.join(outDir, hashFileName)
  const sources = readSources(srcDir)
  const files = Object.keys(sources)
  const hash = hashOf(solc, sources)

  const present = deployableContracts.filter((name) => files.some((s) => path.basename(s) === `${name}.sol`))
  if (!parameters.force && existsSync(hashFile) && readFileSync(hashFile, 'utf8').trim() === hash) {
    log(`contracts: sources unchanged (${hash.slice(0, 12)}), skipped`)
    return { skipped: true, contracts: [...present], hash }
  }

  log(`contracts: compiling ${files.length} sources with solc ${solc.version()}…`)
  const started = Date.now()
  const input = { language: 'Solidity', sources, settings }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: importResolver(srcDir) })) as {
    errors?: { severity: string; formattedMessage: string }[]
    contracts?: Record<
      string,
      Record<string, { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>
    >
  }
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  const warnings = (output.errors ?? []).filter((e) => e.severity !== 'error')
  for (const w of warnings) log(w.formattedMessage)
  if (errors.length > 0) throw new ContractsBuildError(errors.map((e) => e.formattedMessage).join('\n'))

  mkdirSync(outDir, { recursive: true })
  const emitted: string[] = []
  for (const name of deployableContracts) {
    const source = Object.keys(output.contracts ?? {}).find((s) => path.basename(s) === `${name}.sol`)
    const artifact = source ? output.contracts?.[source]?.[name] : undefined
    if (!artifact) {
      log(`contracts: ${name} not found under contracts/src, not generated`)
      continue
    }
    const bytecode = artifact.evm.bytecode.object
    const deployedSize = artifact.evm.deployedBytecode.object.length / 2
    log(`contracts: ${name} ${deployedSize} bytes deployed (${bytecode.length / 2} with its constructor)`)
    const body =
      `// Generated by contracts/build.ts from contracts/src/${source}. Do not edit.\n\n` +
      `export const ${camel(name)}Abi = ${JSON.stringify(artifact.abi, null, 2)} as const\n\n` +
      `export const ${camel(name)}Bytecode = '0x${bytecode}' as const\n\n` +
      `/** Size of the code the deployment leaves on chain (EIP-170 caps it at 24,576 bytes). */\n` +
      `export const ${camel(name)}DeployedSize = ${deployedSize}\n`
    writeFileSync(path.join(outDir, `${name}.ts`), body)
    emitted.push(name)
  }
  const index =
    `// Generated by contracts/build.ts. Do not edit.\n` +
    emitted.map((name) => `export { ${camel(name)}Abi, ${camel(name)}Bytecode, ${camel(name)}DeployedSize } from './${name}.ts'\n`).join('')
  writeFileSync(path.join(outDir, 'index.ts'), index)
  writeFileSync(hashFile, `${hash}\n`)
  log(`contracts: generated ${emitted.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return { skipped: false, contracts: emitted, hash }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildContracts({ force: process.argv.includes('--force') }).catch((error) => {
    console.error(error instanceof ContractsBuildError ? error.message : error)
    process.exit(1)
  })
}
