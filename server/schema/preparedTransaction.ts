import { contractNames } from '../../protocol/deployment.ts'
import { defaultOutputTolerance } from '../../protocol/fingerprint.ts'
import { jobSpecBounds } from '../../protocol/jobSpec.ts'
import { builder } from '../builder.ts'
import { type PreparedTransaction, walletContextOf } from '../wallet/preparedTransaction.ts'
import { prepareCancelJob, prepareChallenge, prepareSubmitJob, prepareWithdraw } from '../wallet/prepareJobTransactions.ts'
import {
  maxClaimsPerCall,
  type ProviderSettings,
  prepareClaimRewards,
  prepareRegisterProvider,
  prepareStake,
  prepareUnstake,
  prepareUpdateProvider,
  prepareWithdrawStake,
} from '../wallet/prepareProviderTransactions.ts'
import { Verification } from './job.ts'

const ContractName = builder.enumType('ContractName', { values: contractNames })

const PreparedTransactionRef = builder.objectRef<PreparedTransaction>('PreparedTransaction').implement({
  description:
    'An unsigned transaction for the caller’s wallet: sign it as `from` and send `to`, `data`, `value` on `chainId`, in list order, each once the one before is mined. Encoded with the contracts’ ABIs (`GET /deployment`).',
  fields: (t) => ({
    from: t.expose('from', { type: 'Address', description: 'The account that must sign it (the `from` argument).' }),
    to: t.expose('to', { type: 'Address' }),
    data: t.exposeString('data', { description: 'The calldata, 0x-prefixed hex.' }),
    value: t.expose('value', { type: 'BigInt', description: 'Wei of the chain’s native coin to send: always 0 (TSR moves by allowance).' }),
    chainId: t.exposeInt('chainId'),
    gas: t.expose('gas', {
      type: 'BigInt',
      nullable: true,
      description:
        'The node’s gas estimate now; null when it depends on an earlier transaction of the list (an approve), or could not be made.',
    }),
    contract: t.expose('contract', { type: ContractName, description: 'The contract `to` is.' }),
    functionName: t.exposeString('functionName', { description: 'The function `data` calls.' }),
    description: t.exposeString('description', { description: 'What signing it does, for a person.' }),
  }),
})

const SubmitJobInput = builder.inputType('SubmitJobInput', {
  description: 'JobMarket’s `JobSpec`, `verification` by name. Checked as `submitJob` checks it before anything is encoded.',
  fields: (t) => ({
    modelHash: t.field({ type: 'Bytes32', required: true, description: 'sha256 of the ONNX model blob (uploaded: PUT /blobs).' }),
    inputHash: t.field({ type: 'Bytes32', required: true, description: 'sha256 of the input tensor blob.' }),
    units: t.field({ type: 'BigInt', required: true, description: 'Inferences: the input’s rows (1 to 2^64 − 1).' }),
    maxPricePerUnit: t.field({ type: 'BigInt', required: true, description: 'TSR wei per unit, positive.' }),
    redundancy: t.int({
      required: true,
      description: `k: ${jobSpecBounds.minRedundancy} to ${jobSpecBounds.maxRedundancy} when REDUNDANT, 1 when OPTIMISTIC.`,
    }),
    verification: t.field({ type: Verification, defaultValue: 'REDUNDANT' }),
    minVramMiB: t.field({ type: 'BigInt', defaultValue: 0n, description: 'VRAM per GPU a provider needs (uint32).' }),
    gpuModel: t.field({ type: 'BigInt', defaultValue: 0n, description: 'GPU model id a provider needs (uint32); 0 = any.' }),
    regions: t.field({
      type: ['Bytes32'],
      defaultValue: [],
      description: `Allowed regions, at most ${jobSpecBounds.maxRegions}; empty = any.`,
    }),
    deadline: t.field({ type: 'BigInt', required: true, description: 'Unix seconds (chain time), at least 60 s ahead.' }),
    outputTolerance: t.int({
      defaultValue: defaultOutputTolerance,
      description: `Significant mantissa bits outputs agree to: 1 to ${jobSpecBounds.maxOutputTolerance}.`,
    }),
  }),
})

const ProviderSettingsInput = builder.inputType('ProviderSettingsInput', {
  description: 'A provider’s machine, ask and region as ProviderRegistry `register` and `update` take them.',
  fields: (t) => ({
    gpuModel: t.field({ type: 'BigInt', defaultValue: 0n, description: 'Canonical GPU model id (uint32); 0 = unknown or CPU only.' }),
    gpuCount: t.int({ required: true, description: 'uint16.' }),
    vramMiB: t.field({ type: 'BigInt', required: true, description: 'VRAM per GPU, MiB (uint32).' }),
    cpuCores: t.int({ required: true, description: 'uint16.' }),
    memoryMiB: t.field({ type: 'BigInt', required: true, description: 'Memory, MiB (uint32).' }),
    benchmarkScore: t.field({ type: 'BigInt', required: true, description: 'Inference units one device serves per epoch (uint32).' }),
    pricePerUnit: t.field({ type: 'BigInt', required: true, description: 'The ask: TSR wei per unit, positive.' }),
    region: t.string({ description: 'A label of at most 32 bytes (`eu`) or a bytes32; absent or empty: none.' }),
  }),
})

/** The input's settings, its defaults applied. */
const settingsOf = (input: Omit<ProviderSettings, 'gpuModel'> & { gpuModel?: bigint | null }): ProviderSettings => ({
  ...input,
  gpuModel: input.gpuModel ?? 0n,
})

const from = { type: 'Address', required: true, description: 'The account that will sign and send the transactions.' } as const
const complexity = 20

builder.mutationFields((t) => ({
  prepareSubmitJob: t.field({
    type: [PreparedTransactionRef],
    description:
      'The transactions that submit a job from `from`: `TesseraToken.approve` of the escrow when JobMarket’s allowance is short, then `JobMarket.submitJob`. ' +
      'No EIP-2612 permit path: the token supports permit, but JobMarket takes none, so a permit would cost a transaction all the same. ' +
      'Refused, naming each field, for a spec `submitJob` would refuse, a job that can’t run (where this server checks jobs) and a balance short of the escrow.',
    args: { from: t.arg(from), spec: t.arg({ type: SubmitJobInput, required: true }) },
    complexity,
    resolve: (_root, { from, spec }, ctx) =>
      prepareSubmitJob(walletContextOf(ctx), {
        from,
        spec: {
          ...spec,
          verification: spec.verification ?? 'REDUNDANT',
          minVramMiB: spec.minVramMiB ?? 0n,
          gpuModel: spec.gpuModel ?? 0n,
          regions: spec.regions ?? [],
          outputTolerance: spec.outputTolerance ?? defaultOutputTolerance,
        },
      }),
  }),
  prepareCancelJob: t.field({
    type: PreparedTransactionRef,
    description:
      '`JobMarket.cancel(jobId)`: refused unless the job is OPEN on chain and `from` is its requester. The escrow is credited back (`prepareWithdraw`).',
    args: { from: t.arg(from), jobId: t.arg({ type: 'BigInt', required: true }) },
    complexity,
    resolve: (_root, args, ctx) => prepareCancelJob(walletContextOf(ctx), args),
  }),
  prepareWithdraw: t.field({
    type: PreparedTransactionRef,
    description:
      '`JobMarket.withdraw()`: pays `from` all JobMarket owes it (fees, refunds, slash shares: `Account.owed`). Refused when nothing is owed.',
    args: { from: t.arg(from) },
    complexity,
    resolve: (_root, args, ctx) => prepareWithdraw(walletContextOf(ctx), args),
  }),
  prepareChallenge: t.field({
    type: [PreparedTransactionRef],
    description:
      '`JobMarket.challenge(jobId)`, after an approve of the bond when the allowance is short: sends an OPTIMISTIC job’s revealed result to a fresh auditor. ' +
      'Refused unless the job is OPTIMISTIC, REVEALED, not yet audited and within its challenge window, and `from` holds the bond.',
    args: { from: t.arg(from), jobId: t.arg({ type: 'BigInt', required: true }) },
    complexity,
    resolve: (_root, args, ctx) => prepareChallenge(walletContextOf(ctx), args),
  }),
  prepareRegisterProvider: t.field({
    type: PreparedTransactionRef,
    description:
      '`ProviderRegistry.register`: refused for fields outside their types, an ask of 0 or less, and an account registered already.',
    args: {
      from: t.arg(from),
      provider: t.arg({ type: ProviderSettingsInput, required: true }),
      encryptionPubKey: t.arg.string({ description: 'The key requesters encrypt to, 0x-prefixed hex; default none (0x).' }),
    },
    complexity,
    resolve: (_root, { provider, ...args }, ctx) =>
      prepareRegisterProvider(walletContextOf(ctx), { ...args, provider: settingsOf(provider) }),
  }),
  prepareUpdateProvider: t.field({
    type: PreparedTransactionRef,
    description: '`ProviderRegistry.update`: refused as `prepareRegisterProvider` is, and for an account not registered.',
    args: { from: t.arg(from), provider: t.arg({ type: ProviderSettingsInput, required: true }) },
    complexity,
    resolve: (_root, { provider, ...args }, ctx) =>
      prepareUpdateProvider(walletContextOf(ctx), { ...args, provider: settingsOf(provider) }),
  }),
  prepareStake: t.field({
    type: [PreparedTransactionRef],
    description:
      '`ProviderRegistry.stake(amount)`, after an approve of `amount` when the registry’s allowance is short. Refused for an amount of 0 or less, an account not registered, a balance short of it.',
    args: { from: t.arg(from), amount: t.arg({ type: 'BigInt', required: true }) },
    complexity,
    resolve: (_root, args, ctx) => prepareStake(walletContextOf(ctx), args),
  }),
  prepareUnstake: t.field({
    type: PreparedTransactionRef,
    description:
      '`ProviderRegistry.requestUnstake(amount)`: starts unbonding; `prepareWithdrawStake` pays it after the unbonding period. Refused for an amount of 0 or less, or above the free stake.',
    args: { from: t.arg(from), amount: t.arg({ type: 'BigInt', required: true }) },
    complexity,
    resolve: (_root, args, ctx) => prepareUnstake(walletContextOf(ctx), args),
  }),
  prepareWithdrawStake: t.field({
    type: PreparedTransactionRef,
    description: '`ProviderRegistry.withdraw()`: pays the unbonded stake. Refused while nothing is unbonding or its period has not passed.',
    args: { from: t.arg(from) },
    complexity,
    resolve: (_root, args, ctx) => prepareWithdrawStake(walletContextOf(ctx), args),
  }),
  prepareClaimRewards: t.field({
    type: [PreparedTransactionRef],
    description:
      `\`EmissionController.claim(epoch)\`, one per closed epoch with a reward for \`from\` (\`Provider.claimable\`), oldest first, at most ${maxClaimsPerCall}: ` +
      'the `epochs` named, or every such epoch. Refused for an epoch not closed or with nothing left to claim, and when there is nothing to claim.',
    args: { from: t.arg(from), epochs: t.arg({ type: ['BigInt'] }) },
    complexity,
    resolve: (_root, args, ctx) => prepareClaimRewards(walletContextOf(ctx), args),
  }),
}))
