import type { Address, Hex } from 'viem'
import { type VerificationName, Verification as VerificationValue } from '../../protocol/enums.ts'
import { gatewayAddressOf, gatewayReadMaxSeconds, gatewayRequestKinds, gatewayRequestStatuses } from '../../protocol/gateway.ts'
import { builder } from '../builder.ts'
import { findGatewayRequest, findGatewayRequestsOf, type GatewayBalance, type GatewayRequest } from '../db/gateway.ts'
import { acceptGatewayCancel, acceptGatewaySubmit, acceptGatewayWithdraw, verifyGatewayRead } from '../gatewayIntake.ts'
import { Job, Verification } from './job.ts'
import { exposeBigInts } from './scalars.ts'

const GatewayRequestKind = builder.enumType('GatewayRequestKind', { values: gatewayRequestKinds })
const GatewayRequestStatus = builder.enumType('GatewayRequestStatus', {
  values: gatewayRequestStatuses,
  description:
    'QUEUED: accepted, its amount held from the balance; SENDING: its transaction is being sent or mined; DONE: on chain; FAILED: refused on chain (see `error`), nothing spent.',
})

const GatewayRequestRef = builder.objectRef<GatewayRequest>('GatewayRequest').implement({
  description: 'A request the job gateway accepted and what became of it. Readable by whoever holds its `id`.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'An unguessable token: keep it to follow the request.' }),
    kind: t.expose('kind', { type: GatewayRequestKind }),
    status: t.expose('status', { type: GatewayRequestStatus }),
    account: t.expose('account', { type: 'Address' }),
    ...exposeBigInts(t, ['nonce', 'amount']),
    jobId: t.expose('jobId', { type: 'BigInt', nullable: true, description: "A SUBMIT's job once on chain; a CANCEL's job." }),
    job: t.field({
      type: Job,
      nullable: true,
      description: 'The job a DONE SUBMIT became, once indexed.',
      resolve: (r) => (r.kind === 'SUBMIT' && r.jobId !== null ? r.jobId.toString() : null),
    }),
    txHash: t.expose('txHash', { type: 'Bytes32', nullable: true }),
    error: t.exposeString('error', { nullable: true, description: 'Why the chain refused it (FAILED).' }),
    createdAt: t.string({ resolve: (r) => r.createdAt.toISOString() }),
  }),
})

type GatewayAccountView = GatewayBalance & { account: Address }

const GatewayAccount = builder.objectRef<GatewayAccountView>('GatewayAccount').implement({
  description: "An account's balance at the job gateway, in wei, and its requests.",
  fields: (t) => ({
    account: t.expose('account', { type: 'Address' }),
    ...exposeBigInts(t, ['deposited', 'refunded', 'held', 'withdrawn', 'balance']),
    requests: t.field({
      type: [GatewayRequestRef],
      args: { first: t.arg.int({ defaultValue: 20, description: 'At most 100.' }) },
      complexity: (args) => ({ field: 1, multiplier: Math.min(100, Math.max(1, args.first ?? 20)) }),
      resolve: (a, args, ctx) => findGatewayRequestsOf(ctx.db, a.account, Math.min(100, Math.max(1, args.first ?? 20))),
    }),
  }),
})

const GatewaySubmitInput = builder.inputType('GatewaySubmitInput', {
  description: 'The EIP-712 `Submit` message (protocol/gateway.ts), `verification` by name.',
  fields: (t) => ({
    account: t.field({ type: 'Address', required: true }),
    nonce: t.field({ type: 'BigInt', required: true }),
    modelHash: t.field({ type: 'Bytes32', required: true }),
    inputHash: t.field({ type: 'Bytes32', required: true }),
    units: t.field({ type: 'BigInt', required: true }),
    maxPricePerUnit: t.field({ type: 'BigInt', required: true }),
    minVramMiB: t.int({ required: true }),
    gpuModel: t.int({ required: true }),
    regions: t.field({ type: ['Bytes32'], required: true }),
    redundancy: t.int({ required: true }),
    verification: t.field({ type: Verification, required: true }),
    deadline: t.field({ type: 'BigInt', required: true }),
    outputTolerance: t.int({ required: true }),
  }),
})

const GatewayCancelInput = builder.inputType('GatewayCancelInput', {
  fields: (t) => ({
    account: t.field({ type: 'Address', required: true }),
    nonce: t.field({ type: 'BigInt', required: true }),
    jobId: t.field({ type: 'BigInt', required: true }),
  }),
})

const GatewayWithdrawInput = builder.inputType('GatewayWithdrawInput', {
  fields: (t) => ({
    account: t.field({ type: 'Address', required: true }),
    nonce: t.field({ type: 'BigInt', required: true }),
    amount: t.field({ type: 'BigInt', required: true }),
  }),
})

const signature = { required: true, description: "The account's EIP-712 signature of the request (domain `Tessera Gateway` v1)." } as const

const verificationOf = (name: VerificationName) => VerificationValue[name === 'OPTIMISTIC' ? 'Optimistic' : 'Redundant']

builder.queryFields((t) => ({
  gatewayAddress: t.field({
    type: 'Address',
    description: 'Where deposits go and gateway jobs come from (the server key; it also issues the challenge jobs).',
    resolve: (_root, _args, ctx) => gatewayAddressOf(ctx.deployment),
  }),
  gatewayRequest: t.field({
    type: GatewayRequestRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => findGatewayRequest(ctx.db, String(id)).then((r) => r ?? null),
  }),
  gatewayAccount: t.field({
    type: GatewayAccount,
    description: `An account's gateway balance and requests, to whoever holds its EIP-712 \`Read\` signature (expiresAt at most ${gatewayReadMaxSeconds} s ahead).`,
    args: {
      account: t.arg({ type: 'Address', required: true }),
      expiresAt: t.arg({ type: 'BigInt', required: true }),
      signature: t.arg.string({ required: true }),
    },
    complexity: 10,
    resolve: async (_root, args, ctx) => ({
      account: args.account,
      ...(await verifyGatewayRead(ctx, { account: args.account, expiresAt: args.expiresAt }, args.signature)),
    }),
  }),
}))

builder.mutationFields((t) => ({
  gatewaySubmit: t.field({
    type: GatewayRequestRef,
    description:
      "Submits a job through the gateway, paid from the account's gateway balance: checked, stored QUEUED with its escrow held, and sent on chain by the server. On chain its requester is the gateway.",
    args: { request: t.arg({ type: GatewaySubmitInput, required: true }), signature: t.arg.string(signature) },
    complexity: 20,
    resolve: (_root, { request, signature }, ctx) =>
      acceptGatewaySubmit(
        ctx,
        {
          ...request,
          regions: request.regions as Hex[],
          verification: verificationOf(request.verification),
        },
        signature,
      ),
  }),
  gatewayCancel: t.field({
    type: GatewayRequestRef,
    description: "Cancels one of the account's OPEN gateway jobs; its escrow comes back to the gateway balance once the refund is indexed.",
    args: { request: t.arg({ type: GatewayCancelInput, required: true }), signature: t.arg.string(signature) },
    resolve: (_root, { request, signature }, ctx) => acceptGatewayCancel(ctx, request, signature),
  }),
  gatewayWithdraw: t.field({
    type: GatewayRequestRef,
    description: "Pays `amount` of the account's gateway balance back to the account.",
    args: { request: t.arg({ type: GatewayWithdrawInput, required: true }), signature: t.arg.string(signature) },
    resolve: (_root, { request, signature }, ctx) => acceptGatewayWithdraw(ctx, request, signature),
  }),
}))
