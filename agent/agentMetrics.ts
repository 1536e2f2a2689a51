import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The agent's Prometheus metrics, on a registry of its own so several agents can share a process. */
export function createAgentMetrics(parameters: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry()
  if (parameters.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'tessera_agent_' })
  const registers = [registry]
  return {
    registry,
    assignments: new Counter({ name: 'tessera_agent_assignments_total', help: 'Assignments received from the subscription', registers }),
    assignmentsRetracted: new Counter({
      name: 'tessera_agent_assignments_retracted_total',
      help: 'Assignments the subscription retracted after a chain reorganisation removed them',
      registers,
    }),
    jobs: new Counter({
      name: 'tessera_agent_jobs_total',
      help: 'Assignments finished, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    failuresReported: new Counter({
      name: 'tessera_agent_failures_reported_total',
      help: 'Assignments that could not run, committed as a failure, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    activeJobs: new Gauge({ name: 'tessera_agent_active_jobs', help: 'Assignments being worked on', registers }),
    inferenceSeconds: new Histogram({
      name: 'tessera_agent_inference_seconds',
      help: 'Inference wall time per job',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
    inferenceUnits: new Counter({ name: 'tessera_agent_inference_units_total', help: 'Input rows run', registers }),
    batchedCalls: new Histogram({
      name: 'tessera_agent_batched_calls',
      help: 'Commits and reveals per transaction sent through the batcher',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
    transactions: new Counter({
      name: 'tessera_agent_transactions_total',
      help: 'Transactions sent, by function and result',
      labelNames: ['function', 'result'] as const,
      registers,
    }),
    chainAssignments: new Counter({
      name: 'tessera_agent_chain_assignments_total',
      help: "Assignments read from the chain's JobAssigned logs and handed to the job workflow (the feed may bring them too)",
      registers,
    }),
    claims: new Counter({
      name: 'tessera_agent_claims_total',
      help: 'Jobs claimed (claimJob) after the claim grace, by result: claimed (slot taken, job still waiting), filled (the claim assigned the job), refused (the contract would revert), error',
      labelNames: ['result'] as const,
      registers,
    }),
    rewardClaims: new Counter({
      name: 'tessera_agent_reward_claims_total',
      help: 'Emission rewards claimed (EmissionController.claim), by result: claimed, refused (the contract says already claimed or nothing to claim: a restart raced a claim), error (a round that failed and is retried)',
      labelNames: ['result'] as const,
      registers,
    }),
    rewardsClaimedTsr: new Counter({
      name: 'tessera_agent_rewards_claimed_tsr_total',
      help: 'TSR minted to the provider by its reward claims',
      registers,
    }),
    rewardsCheckedEpoch: new Gauge({
      name: 'tessera_agent_rewards_checked_epoch',
      help: 'The last closed emission epoch whose reward was checked, and claimed when there was one',
      registers,
    }),
    withdrawals: new Counter({
      name: 'tessera_agent_withdrawals_total',
      help: "Withdrawals of the provider's JobMarket earnings, by result: withdrawn, refused (nothing owed by then), error",
      labelNames: ['result'] as const,
      registers,
    }),
    withdrawnTsr: new Counter({ name: 'tessera_agent_withdrawn_tsr_total', help: 'TSR withdrawn from JobMarket', registers }),
    heartbeats: new Counter({
      name: 'tessera_agent_heartbeats_total',
      help: 'Heartbeats sent, by result',
      labelNames: ['result'] as const,
      registers,
    }),
    subscriptionConnected: new Gauge({
      name: 'tessera_agent_subscription_connected',
      help: '1 while the assignment stream is open',
      registers,
    }),
    subscriptionReconnects: new Counter({
      name: 'tessera_agent_subscription_reconnects_total',
      help: 'Assignment stream reconnects',
      registers,
    }),
  }
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>
