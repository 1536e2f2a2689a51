import type { EmissionsAnnualised, EmissionsPoint, EmissionsReport } from '../../economics/analytics.ts'
import { annualisedAmounts, type intervalEpochs, limiterNames, wadToNumber } from '../../economics/analytics.ts'
import { builder } from '../builder.ts'
import { findEmissionsVsUsage, maxEmissionsRange } from '../db/emissionsVsUsage.ts'
import { findEpochs, type IndexedEpoch } from '../db/epochs.ts'
import { connectionComplexity, resolveConnection } from './connection.ts'
import { exposeBigInts, OrderDirection } from './scalars.ts'

const EmissionLimiter = builder.enumType('EmissionLimiter', {
  description: 'Which bound shaped the epoch emission: none, the +2 % step-up, the −1.5 % step-down, or the supply cap.',
  values: Object.values(limiterNames),
})

const EmissionsInterval = builder.enumType('EmissionsInterval', {
  description: 'What each emissionsVsUsage point spans. One epoch is one economic day.',
  values: {
    EPOCH: { description: 'One epoch.' },
    D7: { description: 'The 7 epochs ending at the point: flows summed, U_k averaged, levels read at the point.' },
    D30: { description: 'The 30 epochs ending at the point, likewise.' },
  } satisfies Record<keyof typeof intervalEpochs, { description: string }>,
})

const UtilisationBand = builder.enumType('UtilisationBand', {
  description: 'Where Ū stands against U* ± db. φ falls (in the demand regime) only while BELOW.',
  values: {
    BELOW: { description: 'Ū < U* − db.' },
    WITHIN: { description: 'U* − db ≤ Ū ≤ U* + db.' },
    ABOVE: { description: 'Ū > U* + db.' },
  },
})

const Epoch = builder.objectRef<IndexedEpoch>('Epoch').implement({
  description:
    'A closed emission epoch (one EpochAdvanced event). WAD fields are 1e18 fixed point; each has a float companion ending in Ratio.',
  fields: (t) => ({
    ...exposeBigInts(t, ['units', 'usageEmission', 'availabilityEmission', 'forfeited', 'cap', 'claimed', 'blockNumber', 'timestamp']),
    id: t.expose('epoch', { type: 'BigInt' }),
    fees: t.expose('fees', { type: 'BigInt', description: 'Verified fees F_k.' }),
    compute: t.expose('compute', {
      type: 'BigInt',
      description: "Paid units counted as compute: each provider's only up to its attested capacity (the utilisation's numerator).",
    }),
    attested: t.expose('attested', {
      type: 'BigInt',
      description: 'Capacity (units per epoch) the epoch’s passed challenge jobs measured (the utilisation’s denominator).',
    }),
    utilisation: t.expose('utilisation', { type: 'BigInt', description: 'U_k (WAD).' }),
    utilisationRatio: t.float({ description: 'U_k as a fraction.', resolve: (e) => wadToNumber(e.utilisation) }),
    feeEma: t.expose('feeEma', { type: 'BigInt', description: 'F̄ after this epoch.' }),
    utilisationEma: t.expose('utilisationEma', { type: 'BigInt', description: 'Ū after this epoch (WAD).' }),
    utilisationEmaRatio: t.float({ description: 'Ū after this epoch as a fraction.', resolve: (e) => wadToNumber(e.utilisationEma) }),
    phi: t.expose('phi', { type: 'BigInt', description: 'φ (WAD).' }),
    phiRatio: t.float({ description: 'φ as a fraction.', resolve: (e) => wadToNumber(e.phi) }),
    baseAvailability: t.expose('baseAvailability', { type: 'BigInt', description: 'B_k.' }),
    limiter: t.expose('limiter', { type: EmissionLimiter }),
  }),
})

const EmissionsPointRef = builder.objectRef<EmissionsPoint>('EmissionsPoint').implement({
  description:
    'A window of closed epochs [fromEpoch, epoch]: one epoch, a rolling 7 or 30, or the whole range (totals). Flows are ' +
    'sums over the window, levels (F̄, Ū, φ, limiter, endSupply) are read at its last closed epoch. Amounts are TSR wei ' +
    '(BigInt), fields ending in Ratio are fractions (1 = 100 %). The CSV at /analytics/emissions.csv has a column per field.',
  fields: (t) => ({
    epoch: t.expose('epoch', { type: 'BigInt', description: 'The window’s last epoch.' }),
    fromEpoch: t.expose('fromEpoch', { type: 'BigInt', description: 'The window’s first epoch (never before 0).' }),
    epochs: t.exposeInt('epochs', { description: 'Closed epochs in the window: fewer near genesis or past the last closed epoch.' }),
    startTime: t.expose('startTime', { type: 'BigInt', description: 'Window start (unix s, chain time).' }),
    endTime: t.expose('endTime', { type: 'BigInt', description: 'Window end, exclusive.' }),
    grossFees: t.expose('grossFees', {
      type: 'BigInt',
      description: 'Fees of the jobs that completed in the window (what their providers were paid; the take comes on top).',
    }),
    verifiedFees: t.expose('verifiedFees', {
      type: 'BigInt',
      description: 'F_k, the fees the controller recorded: completed jobs not taken through claimJob.',
    }),
    supplySideFees: t.expose('supplySideFees', {
      type: 'BigInt',
      description: 'Fees credited to providers in the window, failure fees of FAILED_INVALID jobs included.',
    }),
    protocolRevenue: t.expose('protocolRevenue', { type: 'BigInt', description: 'The take burned in the window.' }),
    usageEmission: t.expose('usageEmission', { type: 'BigInt' }),
    availabilityEmission: t.expose('availabilityEmission', { type: 'BigInt' }),
    forfeited: t.expose('forfeited', {
      type: 'BigInt',
      description: 'Availability no one can claim: all of it in an epoch without recipients, else the capped recipients’ excess.',
    }),
    emitted: t.expose('emitted', { type: 'BigInt', description: 'usage + availability emission: what providers can claim.' }),
    earnings: t.expose('earnings', { type: 'BigInt', description: 'protocolRevenue − emitted (negative while subsidised).' }),
    coverageRatio: t.exposeFloat('coverageRatio', {
      nullable: true,
      description: 'protocolRevenue / emitted; null when nothing was emitted.',
    }),
    coverageTargetRatio: t.exposeFloat('coverageTargetRatio', {
      nullable: true,
      description: 'τ/κ, where coverage glides to as B_k decays; null when κ = 0.',
    }),
    subsidyShareRatio: t.exposeFloat('subsidyShareRatio', {
      nullable: true,
      description: 'emitted / (emitted + supplySideFees): the subsidy share of provider income; null when both are 0.',
    }),
    minted: t.expose('minted', { type: 'BigInt', description: 'Rewards minted (claimed) in the window, whichever epoch earned them.' }),
    burnedTotal: t.expose('burnedTotal', {
      type: 'BigInt',
      description: 'Everything the protocol burned in the window: the take, slashed collateral’s burned part, lost challenge bonds.',
    }),
    netIssuance: t.expose('netIssuance', { type: 'BigInt', description: 'minted − burnedTotal: the change of the supply.' }),
    netIssuanceRatio: t.exposeFloat('netIssuanceRatio', { nullable: true, description: 'netIssuance / startSupply.' }),
    startSupply: t.expose('startSupply', {
      type: 'BigInt',
      description:
        'Token supply at the window’s start: genesis supply + rewards minted − protocol burns (a holder’s own burn outside the ' +
        'protocol is not indexed).',
    }),
    endSupply: t.expose('endSupply', { type: 'BigInt', description: 'Token supply at the window’s end, likewise.' }),
    units: t.expose('units', { type: 'BigInt', description: 'Paid units the controller recorded.' }),
    feeEma: t.expose('feeEma', { type: 'BigInt', description: 'F̄ after the last epoch.' }),
    utilisationRatio: t.exposeFloat('utilisationRatio', { description: 'U_k, averaged over the window’s epochs.' }),
    utilisationEmaRatio: t.exposeFloat('utilisationEmaRatio', { description: 'Ū after the last epoch.' }),
    targetUtilisationRatio: t.exposeFloat('targetUtilisationRatio', { description: 'U* (deployment parameter).' }),
    deadbandRatio: t.exposeFloat('deadbandRatio', { description: 'db (deployment parameter): φ falls only while Ū < U* − db.' }),
    utilisationBand: t.expose('utilisationBand', { type: UtilisationBand, description: 'Ū after the last epoch against U* ± db.' }),
    phiRatio: t.exposeFloat('phiRatio', { description: 'φ after the last epoch.' }),
    baseAvailability: t.expose('baseAvailability', { type: 'BigInt', description: 'Σ B_k.' }),
    budget: t.expose('budget', { type: 'BigInt', description: 'Σ E_k, the budget after the bounds: usage + availability + forfeited.' }),
    cap: t.expose('cap', { type: 'BigInt', description: 'Σ cap_k.' }),
    capUsedRatio: t.exposeFloat('capUsedRatio', { nullable: true, description: 'budget / cap.' }),
    limiter: t.expose('limiter', { type: EmissionLimiter, description: 'The bound that shaped the last epoch’s budget.' }),
    capBoundEpochs: t.exposeInt('capBoundEpochs', { description: 'Epochs whose budget the supply cap bound.' }),
    stepUpBoundEpochs: t.exposeInt('stepUpBoundEpochs', { description: 'Epochs whose budget the step-up bound held down.' }),
    stepDownBoundEpochs: t.exposeInt('stepDownBoundEpochs', { description: 'Epochs whose budget the step-down bound held up.' }),
    providersPaid: t.exposeInt('providersPaid', { description: 'Providers credited a fee in the window.' }),
    attestedCapacity: t.expose('attestedCapacity', {
      type: 'BigInt',
      description: 'Units per hour: Σ over the providers challenged in the window of what their latest challenge showed, if it passed.',
    }),
    challengesRecorded: t.exposeInt('challengesRecorded'),
    challengesPassed: t.exposeInt('challengesPassed'),
    challengePassRatio: t.exposeFloat('challengePassRatio', { nullable: true, description: 'challengesPassed / challengesRecorded.' }),
    emissionHerfindahlRatio: t.exposeFloat('emissionHerfindahlRatio', {
      nullable: true,
      description:
        'Herfindahl index of the emission per provider earned in the window, as far as known: each provider’s usage reward ' +
        '(its verified fees × the epoch’s usage rate) plus the availability it has claimed (unclaimed availability is unknown).',
    }),
    emissionTop10ShareRatio: t.exposeFloat('emissionTop10ShareRatio', {
      nullable: true,
      description: 'The ten largest providers’ share of that emission.',
    }),
    uniquePayers: t.exposeInt('uniquePayers', { description: 'Requesters with a job completed in the window.' }),
    payerHerfindahlRatio: t.exposeFloat('payerHerfindahlRatio', {
      nullable: true,
      description: 'Herfindahl index of the fees each requester paid (grossFees by requester).',
    }),
    payerTop10ShareRatio: t.exposeFloat('payerTop10ShareRatio', { nullable: true, description: 'The ten largest requesters’ share.' }),
    repeatPayerRatio: t.exposeFloat('repeatPayerRatio', {
      nullable: true,
      description: 'Share of the window’s payers that also paid in the window of equal length before it.',
    }),
    jobsCompleted: t.exposeInt('jobsCompleted'),
    jobsFailed: t.exposeInt('jobsFailed', { description: 'Jobs that failed in the window, FAILED or FAILED_INVALID.' }),
    // The names before the Ratio convention, kept for older clients.
    fees: t.expose('verifiedFees', { type: 'BigInt', deprecationReason: 'Use verifiedFees.' }),
    jobFees: t.expose('grossFees', { type: 'BigInt', deprecationReason: 'Use grossFees.' }),
    burned: t.expose('protocolRevenue', { type: 'BigInt', deprecationReason: 'Use protocolRevenue.' }),
    coverage: t.exposeFloat('coverageRatio', { nullable: true, deprecationReason: 'Use coverageRatio.' }),
    subsidyShare: t.exposeFloat('subsidyShareRatio', {
      nullable: true,
      deprecationReason: 'Use subsidyShareRatio (now over supply-side fees, not F_k).',
    }),
    utilisation: t.exposeFloat('utilisationRatio', { deprecationReason: 'Use utilisationRatio.' }),
    utilisationEma: t.exposeFloat('utilisationEmaRatio', { deprecationReason: 'Use utilisationEmaRatio.' }),
    phi: t.exposeFloat('phiRatio', { deprecationReason: 'Use phiRatio.' }),
  }),
})

const EmissionsAnnualisedRef = builder.objectRef<EmissionsAnnualised>('EmissionsAnnualised').implement({
  description: 'The totals’ flows scaled to a year of 365 epochs (× 365 / epochs, rounded toward zero).',
  fields: (t) => ({
    epochs: t.exposeInt('epochs', { description: 'Closed epochs the totals span, the amounts scaled from.' }),
    ...exposeBigInts(t, annualisedAmounts),
    netIssuanceRatio: t.exposeFloat('netIssuanceRatio', {
      nullable: true,
      description: 'Annualised netIssuance / the supply at the range’s start: the yearly dilution rate, not compounded.',
    }),
  }),
})

const EmissionsVsUsageRef = builder.objectRef<EmissionsReport>('EmissionsVsUsage').implement({
  fields: (t) => ({
    ...exposeBigInts(t, ['from', 'to']),
    interval: t.expose('interval', { type: EmissionsInterval }),
    windowEpochs: t.int({ description: 'Epochs each point spans.', resolve: (r) => Number(r.windowEpochs) }),
    coverageTargetRatio: t.exposeFloat('coverageTargetRatio', { nullable: true, description: 'τ/κ; null when κ = 0.' }),
    targetUtilisationRatio: t.exposeFloat('targetUtilisationRatio', { description: 'U*.' }),
    deadbandRatio: t.exposeFloat('deadbandRatio', { description: 'db.' }),
    points: t.expose('points', { type: [EmissionsPointRef], description: 'One per closed epoch in [from, to], ascending.' }),
    totals: t.expose('totals', {
      type: EmissionsPointRef,
      nullable: true,
      description: '[from, to] as one window; null when no epoch in it has closed.',
    }),
    annualised: t.expose('annualised', { type: EmissionsAnnualisedRef, nullable: true, description: 'The totals scaled to 365 epochs.' }),
    coverageTarget: t.exposeFloat('coverageTargetRatio', { nullable: true, deprecationReason: 'Use coverageTargetRatio.' }),
  }),
})

builder.queryFields((t) => ({
  epochs: t.connection({
    type: Epoch,
    description: 'Closed epochs, newest first by default.',
    args: {
      from: t.arg({ type: 'BigInt' }),
      to: t.arg({ type: 'BigInt' }),
      orderDirection: t.arg({ type: OrderDirection, defaultValue: 'desc' }),
    },
    complexity: connectionComplexity,
    resolve: (_root, args, ctx) => resolveConnection(args, () => findEpochs(ctx.views, args)),
  }),
  emissionsVsUsage: t.field({
    type: EmissionsVsUsageRef,
    description:
      'What analysts read per closed epoch in [from, to] (default: the last 100) or per rolling 7 / 30 epochs (interval): ' +
      'fees, burns, emission, supply, controller internals, supply and demand side; with the totals and them annualised. ' +
      `At most ${maxEmissionsRange} epochs. The same as CSV: GET /analytics/emissions.csv?from=&to=&interval=.`,
    args: {
      from: t.arg({ type: 'BigInt', description: 'First epoch.' }),
      to: t.arg({ type: 'BigInt', description: 'Last epoch; default the last closed one.' }),
      fromTime: t.arg({ type: 'BigInt', description: 'Instead of from: unix seconds in the first epoch (before genesis: epoch 0).' }),
      toTime: t.arg({ type: 'BigInt', description: 'Instead of to: unix seconds in the last epoch.' }),
      interval: t.arg({ type: EmissionsInterval, defaultValue: 'EPOCH' }),
    },
    complexity: { field: 50, multiplier: 1 },
    resolve: (_root, args, ctx) => findEmissionsVsUsage(ctx.views, { ...args, deployment: ctx.deployment }),
  }),
}))

builder.subscriptionFields((t) => ({
  epochAdvanced: t.field({
    type: Epoch,
    description:
      'Each epoch as the indexer sees it close (EpochAdvanced), from the next one on; read once for all subscribers. Epochs closed ' +
      'while not subscribed are in `epochs`.',
    subscribe: (_root, _args, ctx) => ctx.indexWatcher.epochs(),
    resolve: (epoch) => epoch,
  }),
}))
