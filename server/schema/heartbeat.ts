import { heartbeatMaxSkewSeconds } from '../../protocol/heartbeat.ts'
import { acceptHeartbeat } from '../acceptHeartbeat.ts'
import { builder } from '../builder.ts'

builder.mutationFields((t) => ({
  heartbeat: t.boolean({
    description:
      'Marks a provider live. `signature` is the EIP-191 personal_sign of `tessera-heartbeat:<provider lower-case>:<timestamp>` ' +
      `by the provider key; \`timestamp\` (unix s) must be within ${heartbeatMaxSkewSeconds} s of server time.`,
    args: {
      provider: t.arg({ type: 'Address', required: true }),
      timestamp: t.arg.int({ required: true }),
      signature: t.arg.string({ required: true }),
    },
    resolve: async (_root, args, ctx) => {
      await acceptHeartbeat(ctx.db, { ...args, now: ctx.now() })
      return true
    },
  }),
}))
