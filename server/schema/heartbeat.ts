import { heartbeatMaxAgeSeconds, heartbeatMaxAheadSeconds, heartbeatMaxModels } from '../../protocol/heartbeat.ts'
import { acceptHeartbeat } from '../acceptHeartbeat.ts'
import { builder } from '../builder.ts'

builder.mutationFields((t) => ({
  heartbeat: t.boolean({
    description:
      'Marks a registered, unpaused provider live. `signature` is the provider key’s low-s EIP-191 personal_sign of ' +
      '`tessera-heartbeat:<chainId>:<domain>:<provider lower-case>:<timestamp>`, where `chainId` is the deployment’s ' +
      '(`_meta.chainId`, `GET /deployment`) and `domain` the host of the URL the agent reaches this server at, with ' +
      '`:port` unless it is the scheme’s default (e.g. `api.tessera.example`, `127.0.0.1:4000`). `timestamp` (unix s) must ' +
      `be at most ${heartbeatMaxAgeSeconds} s behind server time and ${heartbeatMaxAheadSeconds} s ahead of it, and greater ` +
      'than the last one accepted from the provider (so at most one heartbeat a second; a replay is refused). With ' +
      '`models`, the message ends `:<keccak256 of the model hashes lower-case, sorted, deduplicated, concatenated>`. ' +
      'A refusal is an error with code `HEARTBEAT_REJECTED` saying why, and records nothing.',
    args: {
      provider: t.arg({ type: 'Address', required: true }),
      timestamp: t.arg.int({ required: true }),
      signature: t.arg.string({ required: true }),
      models: t.arg.stringList({
        description: `sha256 hashes (0x + 64 hex) of the models the agent holds warm, at most ${heartbeatMaxModels}; the matcher prefers it for jobs of those models.`,
      }),
    },
    resolve: async (_root, args, ctx) => {
      await acceptHeartbeat(ctx, args)
      return true
    },
  }),
}))
