import { heartbeatMaxModels, heartbeatMaxSkewSeconds } from '../../protocol/heartbeat.ts'
import { acceptHeartbeat } from '../acceptHeartbeat.ts'
import { builder } from '../builder.ts'

builder.mutationFields((t) => ({
  heartbeat: t.boolean({
    description:
      'Marks a provider live. `signature` is the EIP-191 personal_sign of `tessera-heartbeat:<provider lower-case>:<timestamp>` ' +
      `by the provider key; \`timestamp\` (unix s) must be within ${heartbeatMaxSkewSeconds} s of server time. With \`models\`, ` +
      'the message ends `:<keccak256 of the model hashes lower-case, sorted, deduplicated, concatenated>`.',
    args: {
      provider: t.arg({ type: 'Address', required: true }),
      timestamp: t.arg.int({ required: true }),
      signature: t.arg.string({ required: true }),
      models: t.arg.stringList({
        description: `sha256 hashes (0x + 64 hex) of the models the agent holds warm, at most ${heartbeatMaxModels}; the matcher prefers it for jobs of those models.`,
      }),
    },
    resolve: async (_root, args, ctx) => {
      await acceptHeartbeat(ctx.db, { ...args, now: ctx.now() })
      return true
    },
  }),
}))
