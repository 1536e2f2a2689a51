import { builder } from '../builder.ts'
import { findJobOutputs, type JobOutput } from '../db/assignments.ts'
import { Job } from './job.ts'

const JobOutputRef = builder.objectRef<JobOutput>('JobOutput').implement({
  description:
    'A completed job’s agreed output: the winning fingerprint and the output blob of the first provider (by round, then slot) that revealed it. Agreeing providers may have uploaded different bytes within the job’s tolerance; all share the fingerprint.',
  fields: (t) => ({
    fingerprint: t.expose('fingerprint', { type: 'Bytes32', description: 'The result the majority revealed (`Job.fingerprint`).' }),
    outputHash: t.expose('outputHash', { type: 'Bytes32', description: 'sha256 of the output tensor blob.' }),
    blobPath: t.string({
      description: 'Where this server serves the blob: `GET /blobs/<outputHash>`.',
      resolve: (o) => `/blobs/${o.outputHash}`,
    }),
    provider: t.expose('provider', { type: 'Address', description: 'The agreeing provider that uploaded it.' }),
  }),
})

builder.objectField(Job, 'output', (t) =>
  t.loadable({
    type: JobOutputRef,
    nullable: true,
    description: 'The agreed output once the job COMPLETED; null before, and for a job that failed, expired or was cancelled.',
    load: (jobIds: string[], ctx) => findJobOutputs(ctx.views, jobIds),
    sort: (output) => output.jobId.toString(),
    resolve: (job) => (job.status === 'COMPLETED' ? job.id.toString() : null),
  }),
)
