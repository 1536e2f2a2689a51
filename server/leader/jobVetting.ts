import type { JobCheck } from '../checkJob.ts'

/** A job spec as the matcher vets it. */
export type VettedSpec = { modelHash: string; inputHash: string; units: bigint }

/** Most verdicts kept; the oldest is forgotten first. */
const maxVerdicts = 10_000

/**
 * Vets open jobs before the matcher assigns them: a job whose model doesn't load or whose input doesn't fit would
 * have honest providers fail it, so it is never assigned (it expires with a full refund). Verdicts are kept per
 * (model, input, units): blobs are content-addressed, so a verdict never changes — except a missing blob, which may
 * still be uploaded, so that one is asked again next time.
 */
export function createJobVetting(check: (spec: VettedSpec) => Promise<JobCheck>): (spec: VettedSpec) => Promise<JobCheck> {
  const verdicts = new Map<string, JobCheck>()
  return async (spec) => {
    const key = `${spec.modelHash.toLowerCase()}:${spec.inputHash.toLowerCase()}:${spec.units}`
    const known = verdicts.get(key)
    if (known) return known
    const verdict = await check(spec)
    if (!verdict.problems.some((p) => p.code === 'MODEL_NOT_FOUND' || p.code === 'INPUT_NOT_FOUND')) {
      verdicts.set(key, verdict)
      if (verdicts.size > maxVerdicts) verdicts.delete(verdicts.keys().next().value ?? key)
    }
    return verdict
  }
}
