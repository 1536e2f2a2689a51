import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { devKeys } from '../devnet/devAccounts.ts'
import { freePort } from '../devnet/startAnvil.ts'
import packageJson from '../package.json' with { type: 'json' }
import { type TesseraRun, runTessera as tessera } from '../test/support/tessera.ts'

// The real `tessera` binary (bin/tessera.js → tsx → cli/tessera.ts), run as a person runs it, with nothing listening:
// --help and --version, the settings' precedence, and every bad input refused, by name and before any network call.

/** Runs `tasks` at most `limit` at a time (the machine has two cores). */
async function inBatches<T>(tasks: (() => Promise<T>)[], limit = 3): Promise<T[]> {
  const results: T[] = []
  for (let i = 0; i < tasks.length; i += limit) results.push(...(await Promise.all(tasks.slice(i, i + limit).map((task) => task()))))
  return results
}

/** Every dev key, with and without 0x: none may ever be printed. */
const keyTexts = devKeys.flatMap((key) => [key, key.slice(2)])
const printsNoKey = (run: TesseraRun) => {
  for (const key of keyTexts) {
    expect(run.stdout).not.toContain(key)
    expect(run.stderr).not.toContain(key)
  }
}

let tmp: string
let model: string
let input: string

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tessera-cli-'))
  model = path.join(tmp, 'model.onnx')
  input = path.join(tmp, 'input.json')
  await writeFile(model, new Uint8Array([8, 7]))
  await writeFile(input, JSON.stringify({ dims: [2, 2], dtype: 'float32', data: Buffer.alloc(16).toString('base64') }))
})

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

const commands = [
  [],
  ['dev'],
  ['agent'],
  ['job'],
  ...['submit', 'quote', 'status', 'wait', 'result', 'cancel', 'list'].map((c) => ['job', c]),
  ['gateway'],
  ...['deposit', 'balance', 'withdraw', 'cancel'].map((c) => ['gateway', c]),
  ['provider'],
  ...['status', 'register', 'stake', 'unstake', 'withdraw', 'claim'].map((c) => ['provider', c]),
  ['models'],
  ['models', 'build'],
  ['economics'],
  ...['simulate', 'sweep', 'report'].map((c) => ['economics', c]),
  ['server'],
  ['indexer'],
  ['deploy'],
]

test('--help of every command exits 0, names its variables and never prints a private key', async () => {
  const runs = await inBatches(commands.map((command) => () => tessera([...command, '--help'])))
  for (const [i, run] of runs.entries()) {
    expect({ command: commands[i].join(' '), code: run.code, stderr: run.stderr }).toEqual({
      command: commands[i].join(' '),
      code: 0,
      stderr: '',
    })
    expect(run.stdout).toContain(`Usage: tessera${commands[i].length ? ` ${commands[i].join(' ')}` : ''}`)
    printsNoKey(run)
    // No key flag takes a value: keys come from a file or TESSERA_PRIVATE_KEY.
    expect(run.stdout).not.toMatch(/--private-key/)
  }
  const submit = runs[commands.findIndex((c) => c.join(' ') === 'job submit')]
  expect(submit.stdout).toMatch(/--key-file <path>/)
  expect(submit.stdout).toMatch(/TESSERA_SERVER_URL/)
}, 120_000)

test('--version prints the package version', async () => {
  const run = await tessera(['--version'])
  expect(run).toEqual({ code: 0, stdout: `${packageJson.version}\n`, stderr: '' })
})

describe('settings', () => {
  test('flags beat TESSERA_* variables beat the --config file beat defaults; secrets print as ***', async () => {
    const config = path.join(tmp, 'config.json')
    await writeFile(
      config,
      JSON.stringify({ server: 'http://file.example:1', maxPrice: '0.5', tolerance: 12, rpc: 'http://file.example:2' }),
    )
    const run = await tessera(['job', 'submit', '--config', config, '--max-price', '0.3', '--print-config'], {
      env: { TESSERA_PRIVATE_KEY: devKeys[3], TESSERA_MAX_PRICE: '0.2', TESSERA_RPC_URL: 'http://env.example:3' },
    })
    expect(run.code).toBe(0)
    const shown = JSON.parse(run.stdout)
    expect(shown.maxPrice).toEqual({ value: '0.3', from: '--max-price' })
    expect(shown.rpc).toEqual({ value: 'http://env.example:3', from: 'TESSERA_RPC_URL' })
    expect(shown.server).toEqual({ value: 'http://file.example:1', from: `"server" in ${config}` })
    expect(shown.tolerance).toEqual({ value: '12', from: `"tolerance" in ${config}` })
    expect(shown.verification).toEqual({ value: 'redundant', from: 'default' })
    expect(shown.privateKey).toEqual({ value: '***', from: 'TESSERA_PRIVATE_KEY' })
    printsNoKey(run)
  })

  test("the defaults follow the dev stack's ports; an old variable name still works, with a warning", async () => {
    const run = await tessera(['job', 'status', '1', '--print-config'], { env: { TESSERA_PORT: '4100' } })
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).server.value).toBe('http://127.0.0.1:4100')
    expect(run.stderr).toContain('TESSERA_PORT is deprecated: use TESSERA_SERVER_PORT')
    const dev = await tessera(['dev', '--print-config'], {
      env: { TESSERA_PONDER_PORT: '42070', TESSERA_DATABASE_URL: 'postgres://u:pw@h/db' },
    })
    const shown = JSON.parse(dev.stdout)
    expect(shown.indexerPort).toEqual({ value: '42070', from: 'TESSERA_PONDER_PORT' })
    expect(shown.databaseUrl).toEqual({ value: '***', from: 'TESSERA_DATABASE_URL' })
    expect(dev.stderr).toContain('TESSERA_PONDER_PORT is deprecated: use TESSERA_INDEXER_PORT')
    expect(dev.stdout).not.toContain('pw')
  })

  test('an unknown key in the config file is named', async () => {
    const config = path.join(tmp, 'typo.json')
    await writeFile(config, JSON.stringify({ sever: 'http://x' }))
    const run = await tessera(['job', 'status', '1', '--config', config])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`the config file ${config} has unknown settings: sever`)
  })
})

describe('keys', () => {
  test('a key given as a flag value is refused without echoing it', async () => {
    for (const args of [
      ['agent', '--private-key', devKeys[2]],
      ['job', 'submit', '--model', model, '--input', input, '--key-file', devKeys[2]],
    ]) {
      const run = await tessera(args)
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/takes the path of a file holding the key, not the key/)
      printsNoKey(run)
    }
  })

  test('a malformed TESSERA_PRIVATE_KEY or key file is named, not echoed', async () => {
    const secret = `0x${'ab'.repeat(31)}`
    const env = await tessera(['job', 'cancel', '1', '--print-config'], { env: { TESSERA_PRIVATE_KEY: secret } })
    expect(env.code).toBe(1)
    expect(env.stderr).toContain('TESSERA_PRIVATE_KEY is not a private key')
    expect(env.stderr).not.toContain(secret)
    const file = path.join(tmp, 'bad.key')
    await writeFile(file, `${secret}\n`)
    const run = await tessera(['job', 'list', '--key-file', file], { env: { TESSERA_SERVER_URL: 'http://127.0.0.1:9' } })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`the key file ${file} (--key-file) is not a private key`)
    expect(run.stderr).not.toContain(secret)
  })

  test('a command that sends needs a key; the provider commands have no default one', async () => {
    const run = await tessera(['provider', 'withdraw'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('provider withdraw needs a private key: --key-file <path> (a file holding it) or TESSERA_PRIVATE_KEY')
  })
})

describe('bad input is refused by name, before anything is uploaded or sent', () => {
  // Nothing listens on this server or RPC: a command that got past its checks would fail to reach them instead.
  let offline: Record<string, string>
  beforeAll(async () => {
    offline = { TESSERA_SERVER_URL: `http://127.0.0.1:${await freePort()}`, TESSERA_RPC_URL: `http://127.0.0.1:${await freePort()}` }
  })
  const submit = (...args: string[]) => tessera(['job', 'submit', '--model', model, '--input', input, ...args], { env: offline })

  test.each([
    [['--redundancy', '1'], '--redundancy must be 2 to 16 with --verification redundant, got 1'],
    [['--redundancy', '17'], '--redundancy must be 2 to 16 with --verification redundant, got 17'],
    [['--verification', 'optimistic', '--redundancy', '3'], '--redundancy must be 1 with --verification optimistic'],
    [['--verification', 'fast'], '--verification must be one of redundant, optimistic, got "fast"'],
    [['--tolerance', '24'], '--tolerance must be a whole number from 1 to 23, got "24"'],
    [['--tolerance', '0'], '--tolerance must be a whole number from 1 to 23, got "0"'],
    [['--max-price', '0'], '--max-price must be an amount of TSR above 0 (up to 18 decimals), got "0"'],
    [['--max-price', 'cheap'], '--max-price must be an amount of TSR above 0 (up to 18 decimals), got "cheap"'],
  ])('job submit %j', async (args, message) => {
    const run = await submit(...args)
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(message)
    expect(run.stderr).not.toContain('cannot reach')
  })

  test('an input that is not a tensor blob, or a file that is not there', async () => {
    const notJson = path.join(tmp, 'not.json')
    await writeFile(notJson, 'rows,cols\n1,2\n')
    const binary = path.join(tmp, 'binary.json')
    await writeFile(binary, new Uint8Array([0xff, 0xfe, 0x00]))
    const cases: [string[], string][] = [
      [['--input', notJson], `--input ${notJson} is not a tensor blob: tensor blob is not valid JSON`],
      [['--input', binary], `--input ${binary} is not a tensor blob: tensor blob is not UTF-8 text`],
      [['--input', path.join(tmp, 'missing.json')], `--input ${path.join(tmp, 'missing.json')}: no such file`],
      [['--model', path.join(tmp, 'missing.onnx')], `--model ${path.join(tmp, 'missing.onnx')}: no such file`],
    ]
    for (const [args, message] of cases) {
      const run = await tessera(['job', 'submit', '--model', model, '--input', input, ...args], { env: offline })
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(message)
    }
    const missing = await tessera(['job', 'submit', '--input', input], { env: offline })
    expect(missing.stderr).toContain('--model <file> is required')
  })

  test('job ids, --out, amounts and the unstake choice', async () => {
    const cases: [string[], string][] = [
      [['job', 'status', 'seven'], 'the <job-id> argument must be a job id (a whole number), got "seven"'],
      [['job', 'result', '1', '--out', path.join(tmp, 'out.csv')], '--out must name a .json file (the tensor blob) or a .npy file (NumPy)'],
      [['job', 'wait', '1', '--timeout', 'soon'], '--timeout must be a number of seconds ≥ 0, got "soon"'],
      [['job', 'list', '--status', 'DONE'], '--status must be one of OPEN, ASSIGNED'],
      [['gateway', 'deposit', '--amount', '-1'], '--amount must be an amount of TSR above 0'],
      [['provider', 'stake'], '--amount <tsr> is required'],
      [['provider', 'unstake'], 'give --amount <tsr> to start unbonding, or --complete'],
      [['server'], '--database-url (or DATABASE_URL) is required'],
      [['server', '--database-url', 'mysql://x'], '--database-url must be a postgres:// URL'],
      [['dev', '--server-port', '70000'], '--server-port must be a port number (0 to 65535), got "70000"'],
      [['agent', '--head-poll', '0'], '--head-poll must be a number of seconds from 0.01 to 60, got "0"'],
    ]
    const runs = await inBatches(
      cases.map(
        ([args]) =>
          () =>
            tessera(args, { env: offline }),
      ),
    )
    for (const [i, run] of runs.entries()) {
      expect({ args: cases[i][0], code: run.code }).toEqual({ args: cases[i][0], code: 1 })
      expect(run.stderr).toContain(cases[i][1])
    }
  }, 60_000)

  test('an unreachable server or RPC is named with its URL and the flag that sets it', async () => {
    const server = await tessera(['job', 'wait', '1'], { env: offline })
    expect(server.code).toBe(1)
    expect(server.stderr).toContain(`cannot reach the Tessera server at ${offline.TESSERA_SERVER_URL}: ECONNREFUSED`)
    expect(server.stderr).toContain('set it with --server, TESSERA_SERVER_URL')
    const rpc = await tessera(['deploy'], { env: offline })
    expect(rpc.code).toBe(1)
    expect(rpc.stderr).toContain(`cannot reach the chain RPC at ${offline.TESSERA_RPC_URL}`)
    expect(rpc.stderr).toContain('set it with --rpc, TESSERA_RPC_URL')
  })
})

test('models build writes the same bytes on every run', async () => {
  const [a, b] = [path.join(tmp, 'models-a'), path.join(tmp, 'models-b')]
  const runs = await Promise.all([a, b].map((out) => tessera(['models', 'build', '--out', out])))
  for (const run of runs) expect(run.code).toBe(0)
  const files = (await readdir(a)).sort()
  expect(files).toEqual((await readdir(b)).sort())
  expect(files).toContain('catalogue.json')
  for (const file of files) expect(Buffer.compare(await readFile(path.join(a, file)), await readFile(path.join(b, file)))).toBe(0)
  const catalogue = JSON.parse(await readFile(path.join(a, 'catalogue.json'), 'utf8'))
  expect(catalogue.models.map((m: { name: string }) => m.name)).toEqual(['small', 'demo', 'medium', 'wide', 'broadcast'])
})
