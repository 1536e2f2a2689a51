import { builder } from '../builder.ts'
import { encodeAssignmentCursor } from '../db/assignments.ts'
import type { AssignmentEvent } from '../pubsub.ts'
import { streamAssignments } from '../streamAssignments.ts'
import { Job } from './job.ts'
import { exposeBigInts } from './scalars.ts'

const JobAssignment = builder.objectRef<AssignmentEvent>('JobAssignment').implement({
  description: 'A job assigned to a provider, as delivered to its agent. `cursor` resumes the subscription after this event.',
  fields: (t) => ({
    ...exposeBigInts(t, ['jobId', 'pricePerUnit', 'collateral', 'commitDeadline']),
    cursor: t.string({ resolve: (e) => encodeAssignmentCursor(e) }),
    provider: t.expose('provider', { type: 'Address' }),
    round: t.exposeInt('round'),
    slot: t.exposeInt('slot'),
    job: t.field({ type: Job, resolve: (e) => e.jobId.toString() }),
  }),
})

builder.subscriptionFields((t) => ({
  jobAssignments: t.field({
    type: JobAssignment,
    description:
      "A provider's assignments: first those after `after` replayed from Postgres (all of them without `after`), then live ones " +
      'as the indexer sees them. Each (job, provider, round) is delivered once per subscription; resume with the last `cursor` received.',
    args: {
      provider: t.arg({ type: 'Address', required: true }),
      after: t.arg.string(),
    },
    subscribe: (_root, args, ctx) => streamAssignments({ views: ctx.views, pubsub: ctx.pubsub, ...args }),
    resolve: (event) => event,
  }),
}))
