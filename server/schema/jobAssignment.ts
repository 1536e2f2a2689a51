import { builder } from '../builder.ts'
import { encodeAssignmentCursor } from '../db/assignments.ts'
import type { AssignmentEvent } from '../pubsub.ts'
import { retractionResumePosition } from '../reorgWindow.ts'
import { streamAssignments } from '../streamAssignments.ts'
import { Job } from './job.ts'
import { exposeBigInts } from './scalars.ts'

const JobAssignment = builder.objectRef<AssignmentEvent>('JobAssignment').implement({
  description:
    'A job assigned to a provider, as delivered to its agent, or its retraction (`retracted`). `cursor` resumes the subscription ' +
    'after this event.',
  fields: (t) => ({
    ...exposeBigInts(t, ['jobId', 'pricePerUnit', 'collateral', 'commitDeadline']),
    cursor: t.string({ resolve: (e) => encodeAssignmentCursor(e.retracted ? retractionResumePosition(e) : e) }),
    retracted: t.boolean({
      description:
        'A chain reorganisation removed this assignment, delivered before on this subscription (same job, provider and ' +
        '`commitDeadline`): drop it. Its `cursor` is then where to resume to see what replaced it: 128 blocks before the ' +
        "one it was in (as deep as reorganisations are followed), so resuming replays those blocks' assignments again.",
      resolve: (e) => e.retracted === true,
    }),
    provider: t.expose('provider', { type: 'Address' }),
    round: t.exposeInt('round'),
    slot: t.exposeInt('slot'),
    job: t.field({
      type: Job,
      description: 'The job, as indexed when this event was delivered.',
      // Loaded once per event for all its subscribers; the request's own loader only if the job wasn't there yet.
      resolve: async (e, _args, ctx) => (await ctx.eventJobs(e)) ?? e.jobId.toString(),
    }),
  }),
})

builder.subscriptionFields((t) => ({
  jobAssignments: t.field({
    type: JobAssignment,
    description:
      "A provider's assignments: first those after `after` replayed from Postgres (all of them without `after`), then live ones " +
      'as the indexer sees them. Each assignment (job, provider, commitDeadline, position) is delivered once per subscription, ' +
      'including one a chain reorganisation put at a position already passed; one it removed comes again with `retracted: true`. ' +
      'Resume with the last `cursor` received.',
    args: {
      provider: t.arg({ type: 'Address', required: true }),
      after: t.arg.string(),
    },
    subscribe: (_root, args, ctx) => streamAssignments({ views: ctx.views, pubsub: ctx.pubsub, ...args }),
    resolve: (event) => event,
  }),
}))
