import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { emissionsCsvColumns } from '../economics/emissionsCsv.ts'
import { TSR, WAD } from '../protocol/units.ts'
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts'
import { fixtureDeployment } from '../test/support/deployment.ts'
import { createYoga } from './createYoga.ts'
import { createDb } from './db/createDb.ts'
import type { Database } from './db/database.ts'
import { migrateToLatest } from './db/migrateToLatest.ts'

// emissionsVsUsage and its CSV on Postgres: the indexer's tables faked in a views schema of their own, as Ponder writes
// them, holding ten closed epochs of hand-picked activity. Both outputs must say the same, windows and roll-ups included.

const viewsSchema = 'chain_analytics_test'
const deployment = fixtureDeployment
const genesis = deployment.emissionGenesis
const epochLength = deployment.params.emission.epochLength
const genesisSupply = deployment.params.token.genesisSupply
/** Unix seconds `second` into epoch `epoch`. */
const at = (epoch: number, second: number) => (genesis + BigInt(epoch) * epochLength + BigInt(second)).toString()
const tsr = (n: number) => (BigInt(n) * TSR).toString()

const [A, B, C] = [
  '0x00000000000000000000000000000000000000a1',
  '0x00000000000000000000000000000000000000b2',
  '0x00000000000000000000000000000000000000c3',
]
const [P, Q, R] = [
  '0x0000000000000000000000000000000000000001',
  '0x0000000000000000000000000000000000000002',
  '0x0000000000000000000000000000000000000003',
]

let database: TestDatabase
let db: Kysely<Database>
let dataDir: string
let yoga: ReturnType<typeof createYoga>['yoga']

/** The indexer's tables this query reads, with Ponder's column names and types (the columns it doesn't read left out). */
async function createViews() {
  const table = (name: string, columns: string) => sql`create table ${sql.id(viewsSchema, name)} (${sql.raw(columns)})`.execute(db)
  const event =
    'id text primary key, block_number numeric not null, log_index integer not null, timestamp numeric not null, tx_hash text not null'
  await sql`create schema ${sql.id(viewsSchema)}`.execute(db)
  await table(
    'epoch',
    `id numeric primary key, fees numeric not null, units numeric not null, compute numeric not null,
    attested numeric not null, utilisation numeric not null,
    fee_ema numeric not null, utilisation_ema numeric not null, phi numeric not null, base_availability numeric not null,
    usage_emission numeric not null, availability_emission numeric not null, forfeited numeric not null, cap numeric not null,
    limiter integer not null, claimed numeric not null, block_number numeric not null, timestamp numeric not null, tx_hash text not null`,
  )
  await table(
    'job',
    'id numeric primary key, requester text not null, status text not null, claimed boolean not null, fees numeric, finalized_at numeric',
  )
  await table('payment', `${event}, job_id numeric, account text not null, kind text not null, amount numeric not null`)
  await table('fee_burn', `${event}, job_id numeric not null, amount numeric not null`)
  await table(
    'slash',
    `${event}, provider text not null, job_id numeric not null, amount numeric not null, beneficiary text not null,
    to_beneficiary numeric not null, burned numeric not null`,
  )
  await table('audit', 'job_id numeric primary key, settled_at numeric, bond_burned numeric')
  await table(
    'reward_claim',
    `${event}, epoch numeric not null, provider text not null, usage numeric not null, availability numeric not null`,
  )
  await table(
    'challenge_record',
    `${event}, round numeric not null, job_id numeric not null, provider text not null, passed boolean not null, units_per_hour numeric not null`,
  )
}

let nextEvent = 0
/** The columns of an event row at `timestamp`, each its own block. */
const eventAt = (timestamp: string) => {
  nextEvent++
  return { id: `e${nextEvent}`, block_number: nextEvent, log_index: 0, timestamp, tx_hash: '0x00' }
}

/**
 * Ten closed epochs. Requesters A, B, C; providers P, Q, R.
 * - epoch 0: a take of 2 burned (a job outside these rows).
 * - epoch 1: job 1 (A, 100, matched: P 60, Q 40) and job 2 (B, 300, claimed: P 300) complete, burning 10 and 30;
 *   P passes a challenge at 900/h, Q fails one. F_k = 100, usage emission 5, availability 40.
 * - epoch 2: job 3 (A) fails; P is slashed, 7 burned; P claims epoch 1 (3 usage, 25 availability).
 * - epoch 3: job 4 (A, 50 to Q, burning 5) completes, job 5 (C) fails invalid (a fee of 10 to P, burning 1); a lost
 *   challenge bond burns 3; P fails a challenge, Q passes at 400/h.
 * - epoch 4: Q claims epoch 1 (2 usage, 15 availability).
 * - epoch 8: job 6 (B, 200 to R, burning 20) completes.
 */
async function index() {
  const views = (name: string) => db.withSchema(viewsSchema).insertInto(name as 'job')
  const raw = (name: string, rows: Record<string, unknown>[]) =>
    views(name)
      .values(rows as never)
      .execute()
  const fees: Record<number, [string, string, number]> = { 1: [tsr(100), tsr(5), 40], 3: [tsr(50), tsr(2), 40], 8: [tsr(200), tsr(10), 40] }
  await raw(
    'epoch',
    Array.from({ length: 10 }, (_, e) => {
      const [f, usage, availability] = fees[e] ?? ['0', '0', 40]
      return {
        id: e,
        fees: f,
        units: e,
        compute: e,
        attested: 10,
        utilisation: ((BigInt(e) * WAD) / 10n).toString(),
        fee_ema: tsr(e),
        utilisation_ema: ((BigInt(55 + e) * WAD) / 100n).toString(),
        phi: (WAD - (BigInt(e) * WAD) / 100n).toString(),
        base_availability: tsr(100),
        usage_emission: usage,
        availability_emission: tsr(availability),
        forfeited: tsr(1),
        cap: tsr(1000),
        limiter: e === 9 ? 3 : 1,
        claimed: '0',
        block_number: 1000 + e,
        timestamp: at(e + 1, 0),
        tx_hash: '0x00',
      }
    }),
  )
  const job = (id: number, requester: string, status: string, claimed: boolean, f: string | null, finalizedAt: string) => ({
    id,
    requester,
    status,
    claimed,
    fees: f,
    finalized_at: finalizedAt,
  })
  await raw('job', [
    job(1, A, 'COMPLETED', false, tsr(100), at(1, 5)),
    job(2, B, 'COMPLETED', true, tsr(300), at(1, 10)),
    job(3, A, 'FAILED', false, null, at(2, 3)),
    job(4, A, 'COMPLETED', false, tsr(50), at(3, 1)),
    job(5, C, 'FAILED_INVALID', false, tsr(10), at(3, 2)),
    job(6, B, 'COMPLETED', false, tsr(200), at(8, 0)),
    job(7, C, 'OPEN', false, null, at(8, 1)),
  ])
  const payment = (jobId: number, account: string, kind: string, amount: string, timestamp: string) => ({
    ...eventAt(timestamp),
    job_id: jobId,
    account,
    kind,
    amount,
  })
  await raw('payment', [
    payment(1, P, 'FEE', tsr(60), at(1, 5)),
    payment(1, Q, 'FEE', tsr(40), at(1, 5)),
    payment(1, A, 'REFUND', tsr(999), at(1, 5)),
    payment(2, P, 'FEE', tsr(300), at(1, 10)),
    payment(4, Q, 'FEE', tsr(50), at(3, 1)),
    payment(5, P, 'FEE', tsr(10), at(3, 2)),
    payment(6, R, 'FEE', tsr(200), at(8, 0)),
  ])
  const burn = (jobId: number, amount: string, timestamp: string) => ({ ...eventAt(timestamp), job_id: jobId, amount })
  await raw('fee_burn', [
    burn(0, tsr(2), at(0, 1)),
    burn(1, tsr(10), at(1, 5)),
    burn(2, tsr(30), at(1, 10)),
    burn(4, tsr(5), at(3, 1)),
    burn(5, tsr(1), at(3, 2)),
    burn(6, tsr(20), at(8, 0)),
  ])
  await raw('slash', [
    { ...eventAt(at(2, 4)), provider: P, job_id: 3, amount: tsr(14), beneficiary: A, to_beneficiary: tsr(7), burned: tsr(7) },
  ])
  await raw('audit', [
    { job_id: 9, settled_at: at(3, 20), bond_burned: tsr(3) },
    { job_id: 10, settled_at: at(3, 21), bond_burned: '0' },
    { job_id: 11, settled_at: null, bond_burned: null },
  ])
  await raw('reward_claim', [
    { ...eventAt(at(2, 6)), epoch: 1, provider: P, usage: tsr(3), availability: tsr(25) },
    { ...eventAt(at(4, 1)), epoch: 1, provider: Q, usage: tsr(2), availability: tsr(15) },
  ])
  const challenge = (provider: string, passed: boolean, unitsPerHour: number, timestamp: string) => ({
    ...eventAt(timestamp),
    round: 1,
    job_id: 100 + nextEvent,
    provider,
    passed,
    units_per_hour: unitsPerHour,
  })
  await raw('challenge_record', [
    challenge(P, true, 900, at(1, 2)),
    challenge(Q, false, 0, at(1, 3)),
    challenge(P, false, 0, at(3, 5)),
    challenge(Q, true, 400, at(3, 6)),
  ])
}

beforeAll(async () => {
  database = await createTestDatabase()
  db = createDb({ databaseUrl: database.url }).db
  await migrateToLatest(db)
  await createViews()
  await index()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-analytics-'))
  yoga = createYoga({ db, viewsSchema, deployment, dataDir }).yoga
})

afterAll(async () => {
  await db?.destroy()
  await database?.drop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

type Point = Record<keyof typeof emissionsCsvColumns, string | number | null>
type Report = { from: string; to: string; interval: string; windowEpochs: number; points: Point[]; totals: Point | null }

const pointFields = Object.keys(emissionsCsvColumns).join(' ')

async function gql<T>(query: string, variables?: Record<string, unknown>) {
  const res = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  return (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] }
}

/** emissionsVsUsage with every field of a point, for the arguments given as GraphQL source. */
async function report(args: string): Promise<Report & { annualised: Record<string, string | number | null> | null }> {
  const { data, errors } = await gql<{ emissionsVsUsage: Report & { annualised: Record<string, string | number | null> | null } }>(
    `{ emissionsVsUsage(${args}) { from to interval windowEpochs coverageTargetRatio targetUtilisationRatio deadbandRatio
      points { ${pointFields} } totals { ${pointFields} }
      annualised { epochs grossFees protocolRevenue emitted minted burnedTotal netIssuance netIssuanceRatio } } }`,
  )
  if (!data) throw new Error(JSON.stringify(errors))
  return data.emissionsVsUsage
}

/** The CSV route's answer for the query string `search`. */
async function csv(search: string) {
  const res = await yoga.fetch(`http://localhost/analytics/emissions.csv?${search}`)
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() }
}

/** CSV rows as GraphQL would give them: each column back under its field name, in GraphQL's JSON types. */
function rowsOf(text: string): Point[] {
  const [header, ...lines] = text.trimEnd().split('\r\n')
  const fieldOf = new Map<string, string>(Object.entries(emissionsCsvColumns).map(([field, column]) => [column, field]))
  const columns = header.split(',')
  return lines.map((line) => {
    const cells = line.split(',')
    return Object.fromEntries(
      columns.map((column, i) => {
        const cell = cells[i]
        const value = cell === '' ? null : column.endsWith('_ratio') || column.endsWith('_count') ? Number(cell) : cell
        return [fieldOf.get(column), value]
      }),
    ) as Point
  })
}

const tsrString = (n: number) => (BigInt(n) * TSR).toString()

describe('emissionsVsUsage', () => {
  test('per epoch: fees, burns, emission, supply, the supply and demand sides, from the indexed rows', async () => {
    const r = await report('from: "0", to: "9"')
    expect(r).toMatchObject({ from: '0', to: '9', interval: 'EPOCH', windowEpochs: 1 })
    expect(r.points.map((p) => p.epoch)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
    const [e0, e1, e2, e3, e4, , , , e8] = r.points
    expect(e1).toMatchObject({
      grossFees: tsrString(400), // jobs 1 and 2
      verifiedFees: tsrString(100), // F_k: job 2 was claimed
      supplySideFees: tsrString(400), // P 60 + 300, Q 40: the requester's refund is no fee
      protocolRevenue: tsrString(40),
      emitted: tsrString(45),
      coverageRatio: 0.888888888888, // 40 / 45
      subsidyShareRatio: 0.101123595505, // 45 / (45 + 400)
      providersPaid: 2,
      uniquePayers: 2,
      payerHerfindahlRatio: 0.625, // A 100, B 300
      repeatPayerRatio: 0,
      challengesRecorded: 2,
      challengesPassed: 1,
      challengePassRatio: 0.5,
      attestedCapacity: '900',
      // P: 60/100 × 5 usage + 25 claimed; Q: 40/100 × 5 + 15: 28 and 17 of 45
      emissionHerfindahlRatio: 0.529876543209,
      emissionTop10ShareRatio: 1,
      utilisationRatio: 0.1,
      utilisationEmaRatio: 0.56,
      utilisationBand: 'BELOW', // 0.56 + db 0.05 < U* 0.65
      phiRatio: 0.99,
      limiter: 'STEP_UP',
      budget: tsrString(46),
      capUsedRatio: 0.046,
    })
    // The supply: genesis, less the burns (2 in epoch 0, 40 in 1, 7 + 9 in 2–3), plus the claims (28 in 2, 17 in 4).
    expect([e0, e1, e2, e3, e4, e8].map((p) => BigInt(p.endSupply as string) - genesisSupply)).toEqual(
      [-2n, -42n, -21n, -30n, -13n, -33n].map((n) => n * TSR),
    )
    expect(e2).toMatchObject({
      jobsFailed: 1,
      minted: tsrString(28),
      burnedTotal: tsrString(7),
      netIssuance: tsrString(21),
      uniquePayers: 0,
    })
    expect(e3).toMatchObject({
      grossFees: tsrString(50), // job 5 failed: its fee is the supply side's, not a payer's
      supplySideFees: tsrString(60),
      protocolRevenue: tsrString(6),
      burnedTotal: tsrString(9), // and a lost bond of 3
      jobsCompleted: 1,
      jobsFailed: 1,
      uniquePayers: 1,
      repeatPayerRatio: 0, // A paid in epoch 1, not in 2
      attestedCapacity: '400', // P failed, Q passed
      challengePassRatio: 0.5,
    })
    expect(e8).toMatchObject({ uniquePayers: 1, jobsCompleted: 1, providersPaid: 1, emissionHerfindahlRatio: 1 })
    expect(r.points[9]).toMatchObject({ limiter: 'CAP', capBoundEpochs: 1, challengePassRatio: null, coverageRatio: 0 })
  })

  test('totals over the range, annualised; rolling windows; a window by time', async () => {
    const r = await report('from: "0", to: "9"')
    expect(r.totals).toMatchObject({
      fromEpoch: '0',
      epoch: '9',
      epochs: 10,
      grossFees: tsrString(650),
      protocolRevenue: tsrString(68),
      burnedTotal: tsrString(78),
      minted: tsrString(45),
      netIssuance: tsrString(-33),
      startSupply: genesisSupply.toString(),
      netIssuanceRatio: -0.00000033,
      uniquePayers: 2,
      providersPaid: 3,
      challengePassRatio: 0.5,
      attestedCapacity: '400', // P's last challenge failed
    })
    expect(r.annualised).toMatchObject({ epochs: 10, grossFees: tsrString(23_725), netIssuance: ((-33n * TSR * 365n) / 10n).toString() })
    expect(r.annualised?.netIssuanceRatio).toBe(-0.000012045) // −33 × 36.5 / 100M

    const weekly = await report('from: "3", to: "9", interval: D7')
    expect(weekly).toMatchObject({ interval: 'D7', windowEpochs: 7 })
    // Near genesis a window holds fewer epochs than its length.
    expect(weekly.points.map((p) => [p.fromEpoch, p.epoch, p.epochs])).toEqual([
      ['0', '3', 4],
      ['0', '4', 5],
      ['0', '5', 6],
      ['0', '6', 7],
      ['1', '7', 7],
      ['2', '8', 7],
      ['3', '9', 7],
    ])
    const at8 = weekly.points.find((p) => p.epoch === '8')
    // [2, 8]: A (3) and B (8); both paid in [−5, 1] too.
    expect(at8).toMatchObject({ uniquePayers: 2, repeatPayerRatio: 1, grossFees: tsrString(250), protocolRevenue: tsrString(26) })

    const byTime = await report(`fromTime: "${at(1, 29)}", toTime: "${at(3, 0)}"`)
    const byNumber = await report('from: "1", to: "3"')
    expect(byTime).toEqual(byNumber)
    expect(byTime.points.map((p) => p.epoch)).toEqual(['1', '2', '3'])
    // From before genesis is from epoch 0.
    expect((await report(`fromTime: "0", to: "1"`)).from).toBe('0')
  })

  test('the CSV says what GraphQL says, point for point, windows and roll-ups included', async () => {
    for (const [args, search] of [
      ['from: "0", to: "9"', 'from=0&to=9'],
      ['from: "2", to: "9", interval: D7', 'from=2&to=9&interval=D7'],
      ['from: "0", to: "9", interval: D30', 'from=0&to=9&interval=d30'],
      [`fromTime: "${at(1, 0)}", toTime: "${at(8, 29)}"`, `fromTime=${at(1, 0)}&toTime=${at(8, 29)}`],
    ]) {
      const res = await csv(search)
      expect(res.status).toBe(200)
      expect(res.contentType).toMatch(/^text\/csv/)
      expect(res.text.split('\r\n')[0]).toBe(Object.values(emissionsCsvColumns).join(','))
      const points = (await report(args)).points
      expect(points.length).toBeGreaterThan(0)
      expect(rowsOf(res.text)).toEqual(points)
    }
  })

  test('Epoch serves its WAD fields as ratios too', async () => {
    const { data } = await gql<{ epochs: { edges: { node: Record<string, string | number> }[] } }>(
      '{ epochs(from: "3", to: "3") { edges { node { utilisation utilisationRatio utilisationEmaRatio phi phiRatio } } } }',
    )
    expect(data?.epochs.edges[0]?.node).toEqual({
      utilisation: (3n * (WAD / 10n)).toString(),
      utilisationRatio: 0.3,
      utilisationEmaRatio: 0.58,
      phi: ((97n * WAD) / 100n).toString(),
      phiRatio: 0.97,
    })
  })
})

describe('bad input is refused by name', () => {
  test('CSV: 400 naming the parameter', async () => {
    const refused = async (search: string) => {
      const res = await csv(search)
      expect(res.status).toBe(400)
      return JSON.parse(res.text) as { error: string; parameter: string }
    }
    expect(await refused('from=abc&to=3')).toEqual({
      error: 'from must be a non-negative integer (an epoch number), got "abc"',
      parameter: 'from',
    })
    expect(await refused('from=1&toTime=-5')).toMatchObject({ parameter: 'toTime' })
    expect(await refused('from=5&to=2')).toEqual({ error: 'emissionsVsUsage: need 0 ≤ from ≤ to, got from 5, to 2', parameter: 'to' })
    expect(await refused('from=0&to=1000')).toEqual({
      error: 'emissionsVsUsage: at most 1000 epochs per call, asked for 1001',
      parameter: 'from',
    })
    expect(await refused('from=0&to=3&interval=weekly')).toEqual({
      error: 'interval must be one of EPOCH, D7, D30, got "weekly"',
      parameter: 'interval',
    })
    expect(await refused(`from=1&fromTime=${at(1, 0)}`)).toMatchObject({ parameter: 'fromTime' })
    expect(await refused(`toTime=${genesis - 1n}`)).toMatchObject({ parameter: 'toTime' })
    expect((await yoga.fetch('http://localhost/analytics/emissions.csv', { method: 'POST' })).status).toBe(405)
  })

  test('GraphQL: BAD_USER_INPUT with the same message', async () => {
    const error = async (args: string) => (await gql(`{ emissionsVsUsage(${args}) { from } }`)).errors?.[0]
    expect(await error('from: "5", to: "2"')).toMatchObject({
      message: 'emissionsVsUsage: need 0 ≤ from ≤ to, got from 5, to 2',
      extensions: { code: 'BAD_USER_INPUT' },
    })
    expect((await error(`from: "1", fromTime: "${at(1, 0)}"`))?.message).toBe('emissionsVsUsage: give from or fromTime, not both')
    expect((await error(`toTime: "${genesis - 1n}"`))?.message).toBe(
      `emissionsVsUsage: toTime ${genesis - 1n} is before epoch 0 began at ${genesis}`,
    )
    expect((await error('from: "x"'))?.message).toMatch(/BigInt must be a decimal integer string/)
    expect((await error('interval: WEEKLY'))?.message).toMatch(/Value "WEEKLY" does not exist in "EmissionsInterval" enum/)
  })
})
