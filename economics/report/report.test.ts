import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TSR, WAD } from '../../protocol/units.ts'
import { type AnalyticsEpoch, type EmissionsPoint, emissionsReport, ratio } from '../analytics.ts'
import { Limiter } from '../emissionLaw.ts'
import { emissionsCsvColumns } from '../emissionsCsv.ts'
import { GENESIS_SUPPLY } from '../simulation/simulate.ts'
import type { SweepResult } from '../simulation/sweep.ts'
import type { SimulatedEpoch, SimulationRun } from '../simulation/types.ts'
import { chartNames } from './charts.ts'
import { fileNameOf, writeSimulationIndex, writeSimulationReport } from './report.ts'
import { sweepCsv, sweepTable } from './sweepReport.ts'
import { simulationAnalyticsParams, simulationClock, simulationReport, toAnalyticsEpochs } from './toAnalytics.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli')
const scratch: string[] = []

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-report-'))
  scratch.push(dir)
  return dir
}

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })))
})

/** Runs `tsx cli/tessera.ts …args` from the repository root, without the caller's TESSERA_* settings. */
function tessera(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TESSERA_')))
  return new Promise((resolve) => {
    execFile(process.execPath, [tsxCli, 'cli/tessera.ts', ...args], { cwd: root, env, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

/**
 * Parses `xml` as one well-formed element tree (every tag closed in order, attributes quoted, entities named) and
 * returns its root element's name; throws where it isn't. Enough of XML for SVG, without a parser package.
 */
function xmlRoot(xml: string): string {
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g
  const badEntity = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/
  const open: string[] = []
  let root = ''
  let at = 0
  for (const match of xml.matchAll(tag)) {
    const text = xml.slice(at, match.index)
    if (text.includes('<') || badEntity.test(text)) throw new Error(`not XML near offset ${at}: ${text.slice(0, 40)}`)
    if (!open.length && text.trim()) throw new Error(`text outside the root near offset ${at}`)
    if (badEntity.test(match[3] ?? '')) throw new Error(`bad entity in the attributes of <${match[2]}>`)
    at = match.index + match[0].length
    const [, closing, name, , selfClosing] = match
    if (!name) continue
    if (closing) {
      const expected = open.pop()
      if (expected !== name) throw new Error(`</${name}> closes <${expected}>`)
    } else {
      if (!open.length && root) throw new Error(`a second root <${name}>`)
      root ||= name
      if (!selfClosing) open.push(name)
    }
  }
  if (xml.slice(at).trim()) throw new Error('text after the root')
  if (open.length) throw new Error(`<${open[open.length - 1]}> is never closed`)
  return root
}

const markCount = (svg: string, mark: string) => svg.split(`class="mark-${mark} `).length - 1

const limiterCycle = [Limiter.None, Limiter.None, Limiter.StepUp, Limiter.Cap, Limiter.StepDown] as const

/**
 * 20 hand-built epochs of a run with an attacker: a keeper outage leaves epochs 10–12 unclosed until epoch 12 (their
 * emission minted then), and a stake slash burns 0.1 TSR every fifth epoch.
 */
function handBuiltRun(name: string, verdicts: SimulationRun['verdicts']): SimulationRun {
  let supply = GENESIS_SUPPLY
  let unminted = 0n
  const epochs: SimulatedEpoch[] = []
  for (let k = 0; k < 20; k++) {
    const big = BigInt(k)
    const organicFees = (2_000n + 100n * big) * TSR
    const washFees = k >= 15 ? 500n * TSR : 0n
    const usageEmission = ((organicFees + washFees) * 5n) / 100n
    const availabilityEmission = (6_000n - 10n * big) * TSR
    const burned = (organicFees + washFees) / 10n
    const slash = k % 5 === 0 ? TSR / 10n : 0n
    unminted += usageEmission + availabilityEmission
    const closes = k < 10 || k >= 12
    if (closes) supply += unminted
    if (closes) unminted = 0n
    supply -= burned + slash
    const attackerRewards = washFees / 20n
    epochs.push({
      law: {
        epoch: big,
        fees: organicFees + washFees,
        units: 1_000n + big,
        compute: 900n,
        attested: 1_800n,
        utilisation: WAD / 2n + big * 10n ** 16n,
        feeEma: organicFees - 50n * TSR,
        utilisationEma: WAD / 2n,
        phi: WAD - big * 10n ** 16n,
        baseAvailability: availabilityEmission,
        usageEmission,
        availabilityEmission,
        forfeited: k === 3 ? TSR : 0n,
        cap: 20_000n * TSR,
        limiter: limiterCycle[k % limiterCycle.length] as Limiter,
      },
      organicFees,
      washFees,
      burned,
      honestRewards: usageEmission + availabilityEmission - attackerRewards,
      attackerRewards,
      attackerCosts: burned / 2n,
      supply,
      providers: 40,
      attestedCapacity: 24n * 3_600n * 10n,
      clearingPrice: { h100: 10n ** 15n },
    })
  }
  return { name, seed: 7, epochs, verdicts, headline: { 'coverage year 1': 0.61, 'providers at the end': 40 } }
}

const verdicts = [
  { bar: 'coverage ≥ 0.5 by year 2', measured: 0.61, threshold: 0.5, passed: true },
  { bar: 'subsidy share ≤ 20 % by year 2', measured: 0.27, threshold: 0.2, passed: false },
]

describe('toAnalyticsEpochs', () => {
  const run = handBuiltRun('S1', verdicts)
  const rows = toAnalyticsEpochs({ run })

  it('mints each epoch’s emission when the simulator paid it, and books the rest of the supply change as other burns', () => {
    const emitted = (k: number) => rows[k].usageEmission + rows[k].availabilityEmission
    expect(rows.map((r) => r.epoch)).toEqual(run.epochs.map((e) => e.law.epoch))
    expect(rows[0].minted).toBe(emitted(0))
    expect([rows[10].minted, rows[11].minted]).toEqual([0n, 0n])
    expect(rows[12].minted).toBe(emitted(10) + emitted(11) + emitted(12))
    expect(rows.map((r) => r.otherBurned)).toEqual(rows.map((_, k) => (k % 5 === 0 ? TSR / 10n : 0n)))
    expect(rows.reduce((sum, r) => sum + r.minted, 0n)).toBe(rows.reduce((sum, _, k) => sum + emitted(k), 0n))
  })

  it('maps the law and the market to the analytics fields the API reads', () => {
    const epoch = run.epochs[16] as SimulatedEpoch
    const row = rows[16] as AnalyticsEpoch
    expect(row).toMatchObject({ fees: epoch.law.fees, takeBurned: epoch.burned, supply: epoch.supply, phi: epoch.law.phi, limiter: 'NONE' })
    expect(rows[3]?.limiter).toBe('CAP')
    expect([...row.providerFees]).toEqual([
      ['market', epoch.organicFees],
      ['attacker', epoch.washFees],
    ])
    expect([...row.providerRewards]).toEqual([
      ['honest', epoch.honestRewards],
      ['attacker', epoch.attackerRewards],
    ])
    expect(row.attestedCapacity.get('market')).toBe(36_000n)
    expect(rows[3]?.providerFees.has('attacker')).toBe(false)
  })

  it('gives the same report as emissionsReport over the rows, its totals reading the run end to end', () => {
    const report = simulationReport({ run, interval: 'D7' })
    const direct = emissionsReport({ rows, from: 0n, to: 19n, interval: 'D7', clock: simulationClock, params: simulationAnalyticsParams })
    expect(report).toEqual(direct)
    const totals = report.totals as EmissionsPoint
    const burned = run.epochs.reduce((sum, e) => sum + e.burned, 0n)
    const emitted = run.epochs.reduce((sum, e) => sum + e.law.usageEmission + e.law.availabilityEmission, 0n)
    expect(totals.startSupply).toBe(GENESIS_SUPPLY)
    expect(totals.endSupply).toBe(run.epochs[19]?.supply)
    expect(totals.netIssuance).toBe(totals.endSupply - totals.startSupply)
    expect(totals.coverageRatio).toBe(ratio(burned, emitted))
    expect(totals.coverageTargetRatio).toBeCloseTo(10 / 3, 9) // τ / κ = 0.10 / 0.03
    expect(report.points.map((p) => p.epochs)).toEqual([1, 2, 3, 4, 5, 6, 7, ...Array(13).fill(7)])
  })
})

describe('writeSimulationReport', () => {
  let outDir: string
  let written: Awaited<ReturnType<typeof writeSimulationReport>>
  const run = handBuiltRun('S6 share=0.2 wash=1 regime=demand', verdicts)

  beforeAll(async () => {
    outDir = await tempDir()
    written = await writeSimulationReport({ run, outDir })
  })

  it('writes the CSV, one SVG per chart and report.md', async () => {
    const csv = `${fileNameOf(run.name)}.csv`
    expect(csv).toBe('S6-share-0.2-wash-1-regime-demand.csv')
    expect((await readdir(outDir)).sort()).toEqual([csv, 'report.md', ...chartNames.map((n) => `${n}.svg`)].sort())
    expect(written.passed).toBe(false)
    for (const file of written.files) expect((await readFile(file.path)).length).toBe(file.bytes)
  })

  it('draws every chart as an SVG document with the marks of its series', async () => {
    const svg = Object.fromEntries(await Promise.all(chartNames.map(async (n) => [n, await readFile(join(outDir, `${n}.svg`), 'utf8')])))
    for (const name of chartNames) {
      expect(xmlRoot(svg[name]), name).toBe('svg')
      expect(svg[name], name).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
      expect(svg[name], name).toMatch(/<path [^>]*d="M/)
    }
    // A line per series: fees, burned, emitted, usage, availability; coverage and its target; U*, U_k and Ū.
    expect(markCount(svg.emissions, 'line')).toBe(5)
    expect(svg.emissions).toContain('>verified fees</text>')
    expect(svg.emissions).toContain('>burned take</text>')
    expect(markCount(svg.coverage, 'line')).toBe(2)
    expect(svg.coverage).toContain('>target τ/κ</text>')
    expect(markCount(svg['subsidy-share'], 'line')).toBe(1)
    expect(markCount(svg['net-issuance'], 'line')).toBe(1)
    expect(markCount(svg['phi-limiter'], 'line')).toBe(1)
    expect(markCount(svg['phi-limiter'], 'rect')).toBe(1)
    for (const limiter of ['NONE', 'STEP_UP', 'STEP_DOWN', 'CAP']) expect(svg['phi-limiter']).toContain(`>${limiter}</text>`)
    expect(markCount(svg.utilisation, 'area')).toBe(1)
    expect(markCount(svg.utilisation, 'line')).toBe(3)
    expect(svg.emissions).toContain('rolling 7 epochs')
  })

  it('writes the per-epoch CSV with the API’s unit-named columns', async () => {
    const lines = (await readFile(join(outDir, 'S6-share-0.2-wash-1-regime-demand.csv'), 'utf8')).trimEnd().split('\r\n')
    expect(lines[0]?.split(',')).toEqual(Object.values(emissionsCsvColumns))
    expect(lines[0]).toContain('verified_fees_tsr_wei')
    expect(lines[0]).toContain('coverage_ratio')
    expect(lines).toHaveLength(run.epochs.length + 1)
    // Per epoch: each row spans one epoch.
    expect(lines.slice(1).every((line) => line.split(',')[2] === '1')).toBe(true)
  })

  it('states each bar’s verdict, measured against threshold, and the headline numbers', async () => {
    const markdown = await readFile(join(outDir, 'report.md'), 'utf8')
    expect(markdown).toContain('## Verdict: FAIL (1 of 2 bars)')
    expect(markdown).toContain('| coverage ≥ 0.5 by year 2 | 0.61 | 0.5 | PASS |')
    expect(markdown).toContain('| subsidy share ≤ 20 % by year 2 | 0.27 | 0.2 | FAIL |')
    expect(markdown).toContain('| coverage year 1 | 0.61 |')
    expect(markdown).toContain('| coverage (burned / emitted) |')
    for (const name of chartNames) expect(markdown).toContain(`(${name}.svg)`)
  })

  it('indexes several runs, each linking to its own report', async () => {
    const dir = await tempDir()
    const reports = [
      await writeSimulationReport({ run: handBuiltRun('S2', verdicts.slice(0, 1)), outDir: join(dir, 'S2') }),
      await writeSimulationReport({ run, outDir: join(dir, fileNameOf(run.name)) }),
      await writeSimulationReport({ run: handBuiltRun('S7 baseline', []), outDir: join(dir, 'S7-baseline') }),
    ]
    const index = await writeSimulationIndex({ reports, outDir: dir, title: 'Scenarios S2, S6' })
    expect(index.path).toBe(join(dir, 'report.md'))
    const markdown = await readFile(index.path, 'utf8')
    expect(markdown).toContain('# Scenarios S2, S6')
    expect(markdown).toContain('1 of 2 runs pass every bar (1 run without bars).')
    expect(markdown).toContain('| S7 baseline | NO BARS | 0 / 0 |  | [S7-baseline/report.md](S7-baseline/report.md) |')
    expect(markdown).toContain('| S2 | PASS | 1 / 1 |  | [S2/report.md](S2/report.md) |')
    expect(markdown).toContain(
      '| S6 share=0.2 wash=1 regime=demand | FAIL | 1 / 2 | subsidy share ≤ 20 % by year 2: 0.27 vs 0.2 | ' +
        '[S6-share-0.2-wash-1-regime-demand/report.md](S6-share-0.2-wash-1-regime-demand/report.md) |',
    )
  })
})

describe('sweepTable', () => {
  const results: SweepResult[] = [
    {
      point: { kappa: 0.03, takeBps: 1000 },
      scenarios: { S1: { passed: true, failed: [] }, S10: { passed: true, failed: [] } },
      passed: true,
    },
    {
      point: { kappa: 0.05, takeBps: 1000 },
      scenarios: {
        S1: { passed: false, failed: [{ run: 'S1', bar: 'coverage ≥ 1 by year 3', measured: 0.9, threshold: 1, passed: false }] },
        S10: { passed: true, failed: [] },
      },
      passed: false,
    },
    { point: { kappa: 0.1, takeBps: 1000 }, scenarios: {}, passed: false, skipped: 'κ ≥ τ' },
  ]

  it('tabulates which scenarios pass at each point, and why the others failed', () => {
    const table = sweepTable({ results, scenarios: ['S1', 'S10'] })
    expect(table.split('\n').slice(0, 5)).toEqual([
      '| κ | τ (bps) | S1 | S10 | all pass |',
      '| --- | --- | --- | --- | --- |',
      '| 0.03 | 1,000 | PASS | PASS | PASS |',
      '| 0.05 | 1,000 | FAIL | PASS | FAIL |',
      '| 0.1 | 1,000 | SKIPPED | SKIPPED | SKIPPED (κ ≥ τ) |',
    ])
    expect(table).toContain('- κ 0.05, τ (bps) 1,000: S1: coverage ≥ 1 by year 3: 0.9 vs 1')
    expect(
      sweepCsv({ results, scenarios: ['S1', 'S10'] })
        .split('\r\n')
        .slice(0, 2),
    ).toEqual(['kappa_ratio,take_bps,s1_verdict_name,s10_verdict_name,all_pass_verdict_name', '0.03,1000,PASS,PASS,PASS'])
  })
})

describe('tessera economics', () => {
  it('simulate runs S10 end to end: verdicts on stdout, the files in --out', async () => {
    const out = await tempDir()
    const { code, stdout, stderr } = await tessera([
      'economics',
      'simulate',
      '--scenario',
      'S10',
      '--years',
      '1',
      '--seed',
      '1',
      '--out',
      out,
    ])
    expect(code, stderr).toBe(0)
    expect(stdout).toMatch(/^S10: (PASS|FAIL) \(\d+ of \d+ bars\)/)
    expect(stdout).toContain(`wrote ${join(out, 'S10.csv')}`)
    expect((await readdir(out)).sort()).toEqual(['S10.csv', 'report.md', ...chartNames.map((n) => `${n}.svg`)].sort())
    const markdown = await readFile(join(out, 'report.md'), 'utf8')
    expect(markdown).toMatch(/## Verdict: (PASS|FAIL)/)
    expect(markdown).toContain('catch-up')
    for (const name of chartNames) expect(xmlRoot(await readFile(join(out, `${name}.svg`), 'utf8'))).toBe('svg')
  })

  it('sweep tabulates which scenarios pass at each point of the grid, skipping κ ≥ τ', async () => {
    const out = await tempDir()
    const args = ['economics', 'sweep', '--kappa', '0.05', '--take-bps', '1000,400', '--scenarios', 'S10', '--out', out]
    const { code, stdout, stderr } = await tessera(args)
    expect(code, stderr).toBe(0)
    expect(stderr).toContain('point 2 of 2 (kappa 0.05, takeBps 400)')
    expect(stdout).toContain('| 0.05 | 1,000 | PASS | PASS |')
    expect(stdout).toContain('| 0.05 | 400 | SKIPPED | SKIPPED (κ ≥ τ) |')
    expect((await readFile(join(out, 'sweep.csv'), 'utf8')).split('\r\n')).toEqual([
      'kappa_ratio,take_bps,s10_verdict_name,all_pass_verdict_name',
      '0.05,1000,PASS,PASS',
      '0.05,400,SKIPPED,SKIPPED',
      '',
    ])
  })

  it('refuses a bad scenario (listing the valid ones), years or seed that aren’t whole, and an --out it can’t write', async () => {
    const out = await tempDir()
    const file = join(out, 'a-file')
    await writeFile(file, '')
    const runs = await Promise.all([
      tessera(['economics', 'simulate', '--scenario', 'S4', '--out', out]),
      tessera(['economics', 'simulate', '--scenario', 'S10', '--years', '1.5', '--out', out]),
      tessera(['economics', 'simulate', '--scenario', 'S10', '--seed', 'abc', '--out', out]),
      tessera(['economics', 'simulate', '--scenario', 'S10', '--out', join(file, 'report')]),
      tessera(['economics', 'sweep', '--kappa', '0.03,x', '--out', out]),
    ])
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1, 1, 1])
    const [scenario, years, seed, unwritable, list] = runs.map((r) => r.stderr)
    expect(scenario).toContain('--scenario must be one of S1, S2, S3, S5, S6, S7, S9, S10, S11, or all; got "S4"')
    expect(years).toContain('--years must be a whole number from 1 to 100, got "1.5"')
    expect(seed).toContain('--seed must be a whole number from 0 to 4294967295, got "abc"')
    expect(unwritable).toContain(`--out: cannot write to ${join(file, 'report')}`)
    expect(list).toContain('--kappa takes a comma-separated list of numbers from 0 to 1, got "0.03,x"')
  })

  describe('report', () => {
    let server: Server
    let serverUrl: string
    const requests: { query: string; variables: Record<string, unknown> }[] = []
    // What the live server would answer: the analytics over hand-built rows, amounts as decimal strings (BigInt).
    const live = emissionsReport({
      rows: toAnalyticsEpochs({ run: handBuiltRun('live', []) }),
      from: 0n,
      to: 19n,
      interval: 'D7',
      clock: simulationClock,
      params: simulationAnalyticsParams,
    })
    const wire = JSON.stringify({ data: { emissionsVsUsage: { ...live, windowEpochs: Number(live.windowEpochs) } } }, (_, value) =>
      typeof value === 'bigint' ? value.toString() : value,
    )

    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = ''
        req.on('data', (chunk) => {
          body += chunk
        })
        req.on('end', () => {
          if (req.method !== 'POST' || req.url !== '/graphql') return res.writeHead(404).end()
          requests.push(JSON.parse(body))
          res.writeHead(200, { 'content-type': 'application/json' }).end(wire)
        })
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve))
    })

    it('draws the same charts from the server’s emissionsVsUsage', async () => {
      const out = await tempDir()
      const { code, stdout, stderr } = await tessera([
        'economics',
        'report',
        '--server',
        serverUrl,
        '--from',
        '0',
        '--to',
        '19',
        '--interval',
        'D7',
        '--out',
        out,
      ])
      expect(code, stderr).toBe(0)
      expect(requests).toHaveLength(1)
      expect(requests[0]?.query).toContain('emissionsVsUsage(from: $from, to: $to, interval: $interval)')
      expect(requests[0]?.variables).toEqual({ from: '0', to: '19', interval: 'D7' })
      expect(stdout).toContain('epochs 0 to 19, 20 points D7')
      expect((await readdir(out)).sort()).toEqual(['emissions.csv', 'report.md', ...chartNames.map((n) => `${n}.svg`)].sort())
      for (const name of chartNames) expect(xmlRoot(await readFile(join(out, `${name}.svg`), 'utf8'))).toBe('svg')
      const csv = (await readFile(join(out, 'emissions.csv'), 'utf8')).split('\r\n')
      expect(csv[0]?.split(',')).toEqual(Object.values(emissionsCsvColumns))
      expect(csv[20]?.split(',')[0]).toBe('19')
      const markdown = await readFile(join(out, 'report.md'), 'utf8')
      expect(markdown).toContain(`# Emissions against usage: ${serverUrl}`)
      expect(markdown).toContain('| coverage (burned / emitted) |')
    })

    it('names the URL and the flag that sets it when nothing answers', async () => {
      const closed = createServer()
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
      const port = (closed.address() as AddressInfo).port
      await new Promise((resolve) => closed.close(resolve))
      const { code, stderr } = await tessera(['economics', 'report', '--server', `http://127.0.0.1:${port}`, '--out', await tempDir()])
      expect(code).toBe(1)
      expect(stderr).toContain(`cannot reach the Tessera server at http://127.0.0.1:${port}`)
      expect(stderr).toMatch(/set it with --server, TESSERA_SERVER_URL, "server" in --config/)
    })
  })
})
