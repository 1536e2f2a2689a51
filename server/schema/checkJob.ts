import { jobFailureReasons } from '../../protocol/jobInputs.ts'
import { builder } from '../builder.ts'
import { checkJob, type JobCheck, JobCheckUnavailableError, type JobProblem } from '../checkJob.ts'

const JobProblemCode = builder.enumType('JobProblemCode', {
  description: 'Why a job can not run: a blob the server lacks, or the failure an honest provider would report.',
  values: ['MODEL_NOT_FOUND', 'INPUT_NOT_FOUND', ...jobFailureReasons] as const,
})

const JobProblemRef = builder.objectRef<JobProblem>('JobProblem').implement({
  fields: (t) => ({
    code: t.expose('code', { type: JobProblemCode }),
    message: t.exposeString('message', { description: 'What exactly is wrong, for a person.' }),
  }),
})

export const JobCheckRef = builder.objectRef<JobCheck>('JobCheck').implement({
  description: 'Whether a job spec can run, checked before any escrow moves.',
  fields: (t) => ({
    runnable: t.exposeBoolean('runnable'),
    problems: t.expose('problems', { type: [JobProblemRef] }),
  }),
})

const CheckJobInput = builder.inputType('CheckJobInput', {
  fields: (t) => ({
    modelHash: t.field({ type: 'Bytes32', required: true }),
    inputHash: t.field({ type: 'Bytes32', required: true }),
    units: t.field({ type: 'BigInt', required: true }),
  }),
})

builder.queryFields((t) => ({
  checkJob: t.field({
    type: JobCheckRef,
    description:
      'Checks a job before its escrow moves: both blobs stored, the model loads in onnxruntime, the input matches ' +
      "the model's input (element type, rank, fixed dimensions) and `units` equals the input's rows.",
    args: { spec: t.arg({ type: CheckJobInput, required: true }) },
    complexity: 20,
    resolve: (_root, { spec }, ctx) => {
      if (!ctx.blobs || !ctx.inspector) throw new JobCheckUnavailableError('this server does not check jobs (no model inspector)')
      return checkJob({ blobs: ctx.blobs, inspector: ctx.inspector, spec })
    },
  }),
}))
