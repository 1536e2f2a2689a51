import { index, onchainTable } from 'ponder'

/** Ponder's column builders, as `onchainTable` hands them to a table's column function. */
type ColumnBuilders = Parameters<Extract<Parameters<typeof onchainTable>[1], (...args: never[]) => unknown>>[0]

/** The columns every event row has, keyed by `event.id`; `src/eventColumns.ts` fills them. */
const eventRow = (t: ColumnBuilders) => ({
  id: t.text().primaryKey(),
  blockNumber: t.bigint().notNull(),
  logIndex: t.integer().notNull(),
  timestamp: t.bigint().notNull(),
  txHash: t.hex().notNull(),
})

/** The unsigned integer widths the contracts use (`uint8` … `uint256`). */
type UintBits = 8 | 16 | 32 | 64 | 256

/**
 * The column for an on-chain `uint<bits>`: the one place a Solidity integer type meets a Postgres type, chosen so the
 * column holds the type's whole range. Up to uint16 that is `integer` (int4, at most 2^31 − 1; a JS number); from
 * uint32 on it is `numeric(78,0)` (Ponder's `t.bigint()`, a JS bigint in handlers, a decimal string through pg), since
 * a uint32 at 2^31 or more overflows int4 and Postgres would refuse the row, stopping indexing for good. The server
 * draws the same line for GraphQL, whose Int is int32 too: uint32 and wider are `BigInt` there.
 */
function uint(t: ColumnBuilders, bits: 8 | 16): ReturnType<ColumnBuilders['integer']>
function uint(t: ColumnBuilders, bits: 32 | 64 | 256): ReturnType<ColumnBuilders['bigint']>
function uint(t: ColumnBuilders, bits: UintBits): ReturnType<ColumnBuilders['integer'] | ColumnBuilders['bigint']> {
  return bits <= 16 ? t.integer() : t.bigint()
}

// Column conventions (see docs/PROTOCOL.md, "Indexer tables"): every on-chain integer goes through `uint(t, bits)` with
// its Solidity width (contracts/src/interfaces/IProviderRegistry.sol, contracts/src/JobMarket.sol); block numbers and
// timestamps are `t.bigint()`; the log index and the counters the indexer derives are `t.integer()`, each with why it
// can't outgrow int4. Addresses and hashes are `t.hex()`, which Ponder stores lower-case. camelCase here becomes
// snake_case in SQL (`pricePerUnit` → `price_per_unit`); hence `vramMib`, not `vramMiB` (→ `vram_mi_b`).
//
// Why the derived counters fit int4: `jobsCompleted`, `jobsFailed`, `slashCount` and `noShowCount` move by one per
// job round a provider was assigned to, and a round costs well over 100,000 gas (submit, assign, then commits or an
// expiry), so 2^31 of them is over 2·10^14 gas: more than two years of every block of Ethereum mainnet. `round` moves
// by one per expired commit window (JobMarket refuses a zero window), plus once for a job's one tie-break (an
// optimistic job's audit and its escalation: twice), so 2^31 rounds take over 68 years.

/** One row per provider that ever registered or staked; counters are derived from events. */
export const provider = onchainTable(
  'provider',
  (t) => ({
    address: t.hex().primaryKey(),
    gpuModel: uint(t, 32).notNull().default(0n),
    gpuCount: uint(t, 16).notNull().default(0),
    vramMib: uint(t, 32).notNull().default(0n),
    cpuCores: uint(t, 16).notNull().default(0),
    memoryMib: uint(t, 32).notNull().default(0n),
    benchmarkScore: uint(t, 32).notNull().default(0n),
    pricePerUnit: uint(t, 256).notNull().default(0n),
    region: t.hex().notNull().default('0x0000000000000000000000000000000000000000000000000000000000000000'),
    encryptionPubKey: t.hex().notNull().default('0x'),
    registered: t.boolean().notNull().default(false),
    paused: t.boolean().notNull().default(false),
    stake: uint(t, 256).notNull().default(0n),
    locked: uint(t, 256).notNull().default(0n),
    pendingUnstake: uint(t, 256).notNull().default(0n),
    unstakeAvailableAt: uint(t, 64).notNull().default(0n),
    // Sums of uint256 token amounts, bounded by the token's supply cap.
    slashedTotal: uint(t, 256).notNull().default(0n),
    earnedTotal: uint(t, 256).notNull().default(0n),
    jobsCompleted: t.integer().notNull().default(0),
    jobsFailed: t.integer().notNull().default(0),
    slashCount: t.integer().notNull().default(0),
    noShowCount: t.integer().notNull().default(0),
    // ChallengeLedger's ChallengeRecorded: one per challenge job the issuer submitted, ran and recorded (each well over
    // the gas of a job round), so they fit int4 as `jobsCompleted` does.
    challengesPassed: t.integer().notNull().default(0),
    challengesFailed: t.integer().notNull().default(0),
    // Units per hour the provider's latest challenge showed if it passed, 0 after a failed one (and before any).
    attestedCapacity: uint(t, 64).notNull().default(0n),
    // Block timestamp of its latest ChallengeRecorded; null while never challenged.
    lastChallengedAt: t.bigint(),
    registeredAt: t.bigint(),
    registeredBlock: t.bigint(),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({
    pausedIdx: index().on(table.paused),
  }),
)

/** Stake and collateral movements of the ProviderRegistry. */
export const stakeEvent = onchainTable(
  'stake_event',
  (t) => ({
    ...eventRow(t),
    provider: t.hex().notNull(),
    kind: t.text().notNull(), // staked | unstake_requested | withdrawn | locked | unlocked | stake_slashed
    amount: uint(t, 256).notNull(),
    jobId: uint(t, 256),
  }),
  (table) => ({
    providerIdx: index().on(table.provider),
  }),
)

/** One row per job: the spec as submitted plus its lifecycle. */
export const job = onchainTable(
  'job',
  (t) => ({
    id: uint(t, 256).primaryKey(),
    requester: t.hex().notNull(),
    modelHash: t.hex().notNull(),
    inputHash: t.hex().notNull(),
    units: uint(t, 64).notNull(),
    maxPricePerUnit: uint(t, 256).notNull(),
    minVramMib: uint(t, 32).notNull(),
    gpuModel: uint(t, 32).notNull(),
    regions: t.json().$type<`0x${string}`[]>().notNull(),
    // k of the current round: as submitted, then for an optimistic job's audit the auditors AuditStarted asks for (1,
    // then 2 when the auditor disagrees), as JobMarket's `assign` counts them.
    redundancy: uint(t, 8).notNull(),
    verification: uint(t, 8).notNull(),
    // As submitted, pushed out by an optimistic job's AuditStarted so its audit has time to run.
    deadline: uint(t, 64).notNull(),
    outputTolerance: uint(t, 8).notNull(),
    escrow: uint(t, 256).notNull(),
    status: t.text().notNull(), // protocol/enums.ts jobStatusNames
    round: t.integer().notNull().default(0),
    providers: t.json().$type<`0x${string}`[]>().notNull(),
    // The first round of a job that went to a tie-break (JobDisputed), or an optimistic job's audited provider (then
    // `[original, auditor]` once the audit escalated), empty otherwise: JobMarket refuses them for it.
    disputedProviders: t.json().$type<`0x${string}`[]>().notNull(),
    // Providers holding a slot taken by `claimJob` while the job still waits (OPEN or DISPUTED), in claim order; emptied
    // when the claims fill the job (the round starts) or are released (assign, cancel, expire).
    claimers: t.json().$type<`0x${string}`[]>().notNull().default([]),
    // Block timestamp of the first of the current claimers' claims (JobMarket's `firstClaimAt`), null without claimers:
    // the matcher leaves a partly claimed job alone for a commit window after it (JobPartlyClaimed).
    firstClaimedAt: uint(t, 64),
    // Whether the current (or last) round was filled by claims rather than the matcher: it earns no usage emissions.
    claimed: t.boolean().notNull().default(false),
    // Block timestamp of JobMarket's `openedAt`: set at submit, reopen (AssignmentExpired) and dispute. A job may be
    // claimed from `openedAt + claimGrace`.
    openedAt: t.bigint().notNull(),
    commitDeadline: uint(t, 64),
    revealDeadline: uint(t, 64),
    // Block of the round's JobRevealed (JobMarket's `getAudit(jobId).revealBlock` in an optimistic job's first round):
    // the hash of the block after it decides the spot check. Null before the reveals and again after JobDisputed.
    revealBlock: t.bigint(),
    fingerprint: t.hex(),
    fees: uint(t, 256),
    burned: uint(t, 256),
    refunded: uint(t, 256),
    submittedAt: t.bigint().notNull(),
    submittedBlock: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
    finalizedAt: t.bigint(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({
    statusIdx: index().on(table.status),
    requesterIdx: index().on(table.requester),
    // The blob store finds the jobs that use a blob: who may read it, and whether the sweep must keep it.
    modelHashIdx: index().on(table.modelHash),
    inputHashIdx: index().on(table.inputHash),
  }),
)

/** One row per (job, provider); a reassignment of the same provider overwrites it with the new round. */
export const assignment = onchainTable(
  'assignment',
  (t) => ({
    id: t.text().primaryKey(), // `${jobId}:${provider}`
    jobId: uint(t, 256).notNull(),
    provider: t.hex().notNull(),
    round: t.integer().notNull(),
    slot: uint(t, 8).notNull(),
    pricePerUnit: uint(t, 256).notNull(),
    collateral: uint(t, 256).notNull(),
    commitDeadline: uint(t, 64).notNull(),
    assignedAt: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    logIndex: t.integer().notNull(),
    txHash: t.hex().notNull(),
    commitment: t.hex(),
    committedAt: t.bigint(),
    fingerprint: t.hex(),
    outputHash: t.hex(),
    revealedAt: t.bigint(),
    outcome: t.text().notNull(), // protocol/enums.ts assignmentOutcomes
    // Block timestamp of the SlotSettled or NoShow that set `outcome`; null while PENDING. Reputation decays by it.
    settledAt: t.bigint(),
    paid: uint(t, 256).notNull().default(0n),
  }),
  (table) => ({
    jobIdx: index().on(table.jobId),
    providerIdx: index().on(table.provider),
    feedIdx: index().on(table.blockNumber, table.logIndex),
    // Who may read a revealed output, and whether the blob sweep must keep it.
    outputHashIdx: index().on(table.outputHash),
  }),
)

/** Credits to `owed` balances (FEE, SLASH_SHARE, REFUND) and withdrawals from JobMarket. */
export const payment = onchainTable(
  'payment',
  (t) => ({
    ...eventRow(t),
    jobId: uint(t, 256),
    account: t.hex().notNull(),
    kind: t.text().notNull(), // protocol/enums.ts paymentKinds: FEE | SLASH_SHARE | REFUND | WITHDRAWAL | BOND_SHARE | BOND_RETURN
    amount: uint(t, 256).notNull(),
  }),
  (table) => ({
    jobIdx: index().on(table.jobId),
    accountIdx: index().on(table.account),
  }),
)

/**
 * A disagreement under the tolerance proven on chain (`DisagreementProven`): the outputs `a` and `b` committed differ
 * beyond the job's tolerance at element `elementIndex` (or in length). Why a dissenter was slashed.
 */
export const disagreement = onchainTable(
  'disagreement',
  (t) => ({
    ...eventRow(t),
    jobId: uint(t, 256).notNull(),
    a: t.hex().notNull(),
    b: t.hex().notNull(),
    elementIndex: uint(t, 64).notNull(),
  }),
  (table) => ({ jobIdx: index().on(table.jobId) }),
)

/**
 * An optimistic job's audit and the money it moved (`Challenged`, `AuditStarted`, `AuditSettled`), one row per
 * optimistic job that was challenged, sent to an audit or settled; a job settled unaudited has `kind` 0 and paid
 * `premium` into the audit fund. The money columns stay null until the job settles (`AuditSettled`).
 */
export const audit = onchainTable(
  'audit',
  (t) => ({
    jobId: uint(t, 256).primaryKey(),
    kind: uint(t, 8).notNull().default(0), // protocol/spotCheck.ts AuditKind: 0 None, 1 Spot, 2 Threshold, 3 Challenge
    // Fresh providers the last AuditStarted asked for: 1, then 2 when the auditor disagreed (escalated); 0 unaudited.
    auditors: uint(t, 8).notNull().default(0),
    challenger: t.hex(),
    // The challenge bond posted (kept after settlement: the bond columns below say where it went); 0 unchallenged.
    bond: uint(t, 256).notNull().default(0n),
    // Block timestamps of the first AuditStarted and of the AuditSettled; null until then.
    startedAt: t.bigint(),
    settledAt: t.bigint(),
    premium: uint(t, 256),
    reimbursed: uint(t, 256),
    bondToProvider: uint(t, 256),
    bondBurned: uint(t, 256),
    bondReturned: uint(t, 256),
    updatedBlock: t.bigint().notNull(),
  }),
  (table) => ({ kindIdx: index().on(table.kind) }),
)

export const slash = onchainTable(
  'slash',
  (t) => ({
    ...eventRow(t),
    provider: t.hex().notNull(),
    jobId: uint(t, 256).notNull(),
    amount: uint(t, 256).notNull(),
    beneficiary: t.hex().notNull(),
    toBeneficiary: uint(t, 256).notNull(),
    burned: uint(t, 256).notNull(),
  }),
  (table) => ({
    providerIdx: index().on(table.provider),
    jobIdx: index().on(table.jobId),
  }),
)

export const feeBurn = onchainTable('fee_burn', (t) => ({
  ...eventRow(t),
  jobId: uint(t, 256).notNull(),
  amount: uint(t, 256).notNull(),
}))

/** One row per closed epoch (EpochAdvanced), plus the running sum of rewards claimed from it. */
export const epoch = onchainTable('epoch', (t) => ({
  id: t.bigint().primaryKey(),
  fees: t.bigint().notNull(),
  units: t.bigint().notNull(),
  compute: t.bigint().notNull(),
  attested: t.bigint().notNull(),
  utilisation: t.bigint().notNull(),
  feeEma: t.bigint().notNull(),
  utilisationEma: t.bigint().notNull(),
  phi: t.bigint().notNull(),
  baseAvailability: t.bigint().notNull(),
  usageEmission: t.bigint().notNull(),
  availabilityEmission: t.bigint().notNull(),
  forfeited: t.bigint().notNull(),
  cap: t.bigint().notNull(),
  limiter: t.integer().notNull(),
  claimed: t.bigint().notNull().default(0n),
  blockNumber: t.bigint().notNull(),
  timestamp: t.bigint().notNull(),
  txHash: t.hex().notNull(),
}))

export const rewardClaim = onchainTable(
  'reward_claim',
  (t) => ({
    ...eventRow(t),
    epoch: t.bigint().notNull(),
    provider: t.hex().notNull(),
    usage: t.bigint().notNull(),
    availability: t.bigint().notNull(),
  }),
  (table) => ({
    epochIdx: index().on(table.epoch),
    providerIdx: index().on(table.provider),
  }),
)

/**
 * One row per round of challenge jobs (ChallengeLedger `RoundCommitted`): the seed committed to before the round, the
 * seed once revealed after it (`RoundRevealed`), and counts of the challenges recorded in it.
 */
export const challengeRound = onchainTable('challenge_round', (t) => ({
  round: uint(t, 64).primaryKey(),
  seedHash: t.hex().notNull(),
  // Null until RoundRevealed.
  seed: t.hex(),
  committedAt: t.bigint().notNull(),
  revealedAt: t.bigint(),
  // One per ChallengeRecorded of the round, bounded by the round's jobs as the provider counters are.
  recorded: t.integer().notNull().default(0),
  passed: t.integer().notNull().default(0),
  failed: t.integer().notNull().default(0),
  blockNumber: t.bigint().notNull(),
  txHash: t.hex().notNull(),
}))

/**
 * A settled challenge job as ChallengeLedger recorded it (`ChallengeRecorded`): whether the provider answered right and
 * the throughput it showed. The ledger records a job once, and only after it settled in JobMarket.
 */
export const challengeRecord = onchainTable(
  'challenge_record',
  (t) => ({
    ...eventRow(t),
    round: uint(t, 64).notNull(),
    jobId: uint(t, 256).notNull(),
    provider: t.hex().notNull(),
    passed: t.boolean().notNull(),
    unitsPerHour: uint(t, 64).notNull(),
  }),
  (table) => ({
    roundIdx: index().on(table.round),
    jobIdx: index().on(table.jobId),
    providerIdx: index().on(table.provider),
  }),
)

/**
 * A TesseraToken transfer to or from the gateway (the deployment's `matcher`, the server's key): requesters' deposits
 * and the gateway's payouts, and its own escrow and withdrawals on JobMarket. The server derives each account's gateway
 * balance from the deposits (transfers from the account to the gateway).
 */
export const gatewayTransfer = onchainTable(
  'gateway_transfer',
  (t) => ({
    ...eventRow(t),
    from: t.hex().notNull(),
    to: t.hex().notNull(),
    amount: uint(t, 256).notNull(),
  }),
  (table) => ({
    fromIdx: index().on(table.from),
    toIdx: index().on(table.to),
  }),
)
