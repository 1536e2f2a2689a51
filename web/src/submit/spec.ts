import { parseEther } from 'viem'
import type { VerificationName } from '../../../protocol/enums.ts'
import { knownGpuModels } from '../../../protocol/hardware.ts'
import { jobSpecBounds, jobSpecProblems } from '../../../protocol/jobSpec.ts'
import { encodeRegion } from '../../../protocol/region.ts'

/** The job's terms as the form holds them: text, as typed. */
export type SpecForm = {
  verification: VerificationName
  redundancy: string
  maxPrice: string
  deadlineMinutes: string
  tolerance: string
  gpuModel: string
  minVramMiB: string
  regions: string
}

export const defaultSpecForm: SpecForm = {
  verification: 'REDUNDANT',
  redundancy: '2',
  // The CLI's default (`--max-price`).
  maxPrice: '0.01',
  deadlineMinutes: '30',
  tolerance: '16',
  gpuModel: '0',
  minVramMiB: '0',
  regions: '',
}

/** The terms `quote` and `prepareSubmitJob` take, as the API's variables (BigInt as decimal strings). */
export type SpecTerms = {
  verification: VerificationName
  redundancy: number
  units: string
  maxPricePerUnit: string
  gpuModel: string
  minVramMiB: string
  regions: `0x${string}`[]
}

/** A form field the page can't use, and why, for a person. */
export type FieldProblem = { field: keyof SpecForm | 'units'; message: string }

const wholeNumber = /^\d+$/

/**
 * The form's terms for `units` rows, or the problems with them: each field read strictly (a price as a decimal string
 * of TSR, never through a float), then what JobMarket would refuse (protocol/jobSpec.ts), named by the form's field.
 */
export function specTerms(form: SpecForm, units: number | undefined): { terms?: SpecTerms; problems: FieldProblem[] } {
  const problems: FieldProblem[] = []
  const optimistic = form.verification === 'OPTIMISTIC'
  const redundancy = optimistic ? 1 : Number(form.redundancy)
  if (!optimistic && !wholeNumber.test(form.redundancy.trim()))
    problems.push({
      field: 'redundancy',
      message: `Providers (k) must be a whole number, ${jobSpecBounds.minRedundancy} to ${jobSpecBounds.maxRedundancy}`,
    })
  let maxPricePerUnit: bigint | undefined
  try {
    // At most 18 decimals: wei is the smallest amount, and parseEther would round anything finer.
    if (!/^(\d+\.?\d{0,18}|\.\d{1,18})$/.test(form.maxPrice.trim())) throw new Error()
    maxPricePerUnit = parseEther(form.maxPrice.trim())
  } catch {
    problems.push({
      field: 'maxPrice',
      message: `Max price per unit must be a decimal number of TSR, e.g. 0.002 (at most 18 decimals); got "${form.maxPrice}"`,
    })
  }
  if (maxPricePerUnit === 0n) problems.push({ field: 'maxPrice', message: 'Max price per unit must be more than 0 TSR' })
  const gpuModel = form.gpuModel
  if (!wholeNumber.test(form.minVramMiB.trim()))
    problems.push({ field: 'minVramMiB', message: 'Minimum VRAM must be a whole number of MiB (0 = any)' })
  const regions: `0x${string}`[] = []
  for (const label of form.regions
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean)) {
    try {
      regions.push(encodeRegion(label))
    } catch (error) {
      problems.push({ field: 'regions', message: `Regions: ${(error as Error).message}` })
    }
  }
  if (units === undefined) problems.push({ field: 'units', message: 'The input has no valid rows yet: its rows are the units' })
  if (problems.length || maxPricePerUnit === undefined || units === undefined) return { problems }
  const terms = {
    verification: form.verification,
    redundancy,
    units: BigInt(units),
    maxPricePerUnit,
    minVramMiB: BigInt(form.minVramMiB),
    gpuModel: BigInt(gpuModel),
    regions,
  }
  for (const p of jobSpecProblems(terms))
    problems.push({ field: p.field === 'maxPricePerUnit' ? 'maxPrice' : (p.field as FieldProblem['field']), message: p.message })
  if (problems.length) return { problems }
  return {
    problems,
    terms: {
      verification: form.verification,
      redundancy,
      units: String(units),
      maxPricePerUnit: maxPricePerUnit.toString(),
      gpuModel: String(gpuModel),
      minVramMiB: String(BigInt(form.minVramMiB)),
      regions,
    },
  }
}

/** The deadline, tolerance and the form's problems with them, read at submit time against the chain's time `now`. */
export function submitTiming(form: SpecForm, now: bigint): { deadline?: bigint; outputTolerance?: number; problems: FieldProblem[] } {
  const problems: FieldProblem[] = []
  const minutes = Number(form.deadlineMinutes)
  if (!wholeNumber.test(form.deadlineMinutes.trim()) || minutes < 2)
    problems.push({ field: 'deadlineMinutes', message: 'Deadline must be a whole number of minutes, at least 2' })
  const tolerance = Number(form.tolerance)
  if (!wholeNumber.test(form.tolerance.trim()) || tolerance < 1 || tolerance > jobSpecBounds.maxOutputTolerance)
    problems.push({ field: 'tolerance', message: `Output tolerance must be 1 to ${jobSpecBounds.maxOutputTolerance} mantissa bits` })
  if (problems.length) return { problems }
  return { deadline: now + BigInt(minutes) * 60n, outputTolerance: tolerance, problems }
}

/** GPU models a job may require: the ids protocol/hardware.ts names (it keeps its table private; ids are appended, never reused). */
export const gpuModelChoices = knownGpuModels
