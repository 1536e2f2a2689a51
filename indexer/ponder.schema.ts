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

// Column conventions (see docs/PROTOCOL.md, "Indexer tables"): every uint64/uint256 on-chain value and every
// block number / timestamp is `t.bigint()` → numeric(78,0), a decimal string through pg; uint8/16/32 are
// `t.integer()`; addresses and hashes are `t.hex()`, which Ponder stores lower-case. camelCase here becomes
// snake_case in SQL (`pricePerUnit` → `price_per_unit`); hence `vramMib`, not `vramMiB` (→ `vram_mi_b`).

/** One row per provider that ever registered or staked; counters are derived from events. */
export const provider = onchainTable(
  'provider',
  (t) => ({
    address: t.hex().primaryKey(),
    gpuModel: t.integer().notNull().default(0),
    gpuCount: t.integer().notNull().default(0),
    vramMib: t.integer().notNull().default(0),
    cpuCores: t.integer().notNull().default(0),
    memoryMib: t.integer().notNull().default(0),
    benchmarkScore: t.integer().notNull().default(0),
    pricePerUnit: t.bigint().notNull().default(0n),
    region: t.hex().notNull().default('0x0000000000000000000000000000000000000000000000000000000000000000'),
    encryptionPubKey: t.hex().notNull().default('0x'),
    registered: t.boolean().notNull().default(false),
    paused: t.boolean().notNull().default(false),
    stake: t.bigint().notNull().default(0n),
    locked: t.bigint().notNull().default(0n),
    pendingUnstake: t.bigint().notNull().default(0n),
    unstakeAvailableAt: t.bigint().notNull().default(0n),
    slashedTotal: t.bigint().notNull().default(0n),
    earnedTotal: t.bigint().notNull().default(0n),
    jobsCompleted: t.integer().notNull().default(0),
    jobsFailed: t.integer().notNull().default(0),
    slashCount: t.integer().notNull().default(0),
    noShowCount: t.integer().notNull().default(0),
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
    kind: t.text().notNull(), // staked | unstake_requested | withdrawn | locked | unlocked
    amount: t.bigint().notNull(),
    jobId: t.bigint(),
  }),
  (table) => ({
    providerIdx: index().on(table.provider),
  }),
)

/** One row per job: the spec as submitted plus its lifecycle. */
export const job = onchainTable(
  'job',
  (t) => ({
    id: t.bigint().primaryKey(),
    requester: t.hex().notNull(),
    modelHash: t.hex().notNull(),
    inputHash: t.hex().notNull(),
    units: t.bigint().notNull(),
    maxPricePerUnit: t.bigint().notNull(),
    minVramMib: t.integer().notNull(),
    gpuModel: t.integer().notNull(),
    regions: t.json().$type<`0x${string}`[]>().notNull(),
    redundancy: t.integer().notNull(),
    verification: t.integer().notNull(),
    deadline: t.bigint().notNull(),
    outputTolerance: t.integer().notNull(),
    escrow: t.bigint().notNull(),
    status: t.text().notNull(), // OPEN | ASSIGNED | COMMITTED | REVEALED | COMPLETED | FAILED | CANCELLED | EXPIRED
    round: t.integer().notNull().default(0),
    providers: t.json().$type<`0x${string}`[]>().notNull(),
    commitDeadline: t.bigint(),
    revealDeadline: t.bigint(),
    fingerprint: t.hex(),
    fees: t.bigint(),
    burned: t.bigint(),
    refunded: t.bigint(),
    submittedAt: t.bigint().notNull(),
    submittedBlock: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
    finalizedAt: t.bigint(),
    txHash: t.hex().notNull(),
  }),
  (table) => ({
    statusIdx: index().on(table.status),
    requesterIdx: index().on(table.requester),
  }),
)

/** One row per (job, provider); a reassignment of the same provider overwrites it with the new round. */
export const assignment = onchainTable(
  'assignment',
  (t) => ({
    id: t.text().primaryKey(), // `${jobId}:${provider}`
    jobId: t.bigint().notNull(),
    provider: t.hex().notNull(),
    round: t.integer().notNull(),
    slot: t.integer().notNull(),
    pricePerUnit: t.bigint().notNull(),
    collateral: t.bigint().notNull(),
    commitDeadline: t.bigint().notNull(),
    assignedAt: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    logIndex: t.integer().notNull(),
    txHash: t.hex().notNull(),
    commitment: t.hex(),
    committedAt: t.bigint(),
    fingerprint: t.hex(),
    outputHash: t.hex(),
    revealedAt: t.bigint(),
    outcome: t.text().notNull(), // PENDING | AGREED | DISSENTED | NO_REVEAL | NO_SHOW | FAILED
    paid: t.bigint().notNull().default(0n),
  }),
  (table) => ({
    jobIdx: index().on(table.jobId),
    providerIdx: index().on(table.provider),
    feedIdx: index().on(table.blockNumber, table.logIndex),
  }),
)

/** Credits to `owed` balances (FEE, SLASH_SHARE, REFUND) and withdrawals from JobMarket. */
export const payment = onchainTable(
  'payment',
  (t) => ({
    ...eventRow(t),
    jobId: t.bigint(),
    account: t.hex().notNull(),
    kind: t.text().notNull(), // FEE | SLASH_SHARE | REFUND | WITHDRAWAL
    amount: t.bigint().notNull(),
  }),
  (table) => ({
    jobIdx: index().on(table.jobId),
    accountIdx: index().on(table.account),
  }),
)

export const slash = onchainTable(
  'slash',
  (t) => ({
    ...eventRow(t),
    provider: t.hex().notNull(),
    jobId: t.bigint().notNull(),
    amount: t.bigint().notNull(),
    beneficiary: t.hex().notNull(),
    toBeneficiary: t.bigint().notNull(),
    burned: t.bigint().notNull(),
  }),
  (table) => ({
    providerIdx: index().on(table.provider),
    jobIdx: index().on(table.jobId),
  }),
)

export const feeBurn = onchainTable('fee_burn', (t) => ({
  ...eventRow(t),
  jobId: t.bigint().notNull(),
  amount: t.bigint().notNull(),
}))

/** One row per closed epoch (EpochAdvanced), plus the running sum of rewards claimed from it. */
export const epoch = onchainTable('epoch', (t) => ({
  id: t.bigint().primaryKey(),
  fees: t.bigint().notNull(),
  units: t.bigint().notNull(),
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
