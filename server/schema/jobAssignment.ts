import { GraphQLError } from 'graphql'
import { builder } from '../builder.ts'
import {
  decodeAssignmentCursor,
  encodeAssignmentCursor,
  findAssignmentsAfter,
  isAfter,
  positionOf,
  toAssignmentEvent,
} from '../db/assignments.ts'
import type { FeedPosition } from '../db/feedCursors.ts'
import type { AssignmentEvent } from '../pubsub.ts'
import { Job } from './job.ts'

/** Rows replayed from Postgres per query while catching a subscriber up. */
const replayBatch = 500

const JobAssignment = builder.objectRef<AssignmentEvent>('JobAssignment').implement({
  description: 'A job assigned to a provider, as delivered to its agent. `cursor` resumes the subscription after this event.',
  fields: (t) => ({
    cursor: t.string({ resolve: (e) => encodeAssignmentCursor({ blockNumber: BigInt(e.blockNumber), logIndex: e.logIndex }) }),
    jobId: t.field({ type: 'BigInt', resolve: (e) => BigInt(e.jobId) }),
    provider: t.field({ type: 'Address', resolve: (e) => e.provider }),
    round: t.int({ resolve: (e) => e.round }),
    slot: t.int({ resolve: (e) => e.slot }),
    pricePerUnit: t.field({ type: 'BigInt', resolve: (e) => BigInt(e.pricePerUnit) }),
    collateral: t.field({ type: 'BigInt', resolve: (e) => BigInt(e.collateral) }),
    commitDeadline: t.field({ type: 'BigInt', resolve: (e) => BigInt(e.commitDeadline) }),
    job: t.field({ type: Job, resolve: (e) => e.jobId }),
  }),
})

builder.subscriptionFields((t) => ({
  jobAssignments: t.field({
    type: JobAssignment,
    description:
      "A provider's assignments: first those after `after` replayed from Postgres (all of them without `after`), then live ones as the indexer sees them. Each (job, provider, round) is delivered once per subscription; resume with the last `cursor` received.",
    args: {
      provider: t.arg({ type: 'Address', required: true }),
      after: t.arg.string(),
    },
    subscribe: (_root, args, ctx) => {
      let position: FeedPosition | undefined
      if (args.after) {
        try {
          position = decodeAssignmentCursor(args.after)
        } catch (error) {
          throw new GraphQLError((error as Error).message, { extensions: { code: 'BAD_USER_INPUT' } })
        }
      }
      const provider = args.provider.toLowerCase()
      // Listen before replaying: anything published while we read Postgres is queued, then
      // dropped if the replay already covered it (feed positions are totally ordered).
      const live = ctx.pubsub.subscribe(provider)
      async function* stream(): AsyncGenerator<AssignmentEvent> {
        try {
          for (;;) {
            const rows = await findAssignmentsAfter(ctx.views, { provider, after: position, limit: replayBatch })
            for (const row of rows) {
              position = positionOf(row)
              yield toAssignmentEvent(row)
            }
            if (rows.length < replayBatch) break
          }
          for await (const event of live) {
            const at = { blockNumber: BigInt(event.blockNumber), logIndex: event.logIndex }
            if (position && !isAfter(at, position)) continue
            position = at
            yield event
          }
        } finally {
          live.close()
        }
      }
      return stream()
    },
    resolve: (event) => event,
  }),
}))
