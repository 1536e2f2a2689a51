import {
  bearerTokenOf,
  issueSiweNonce,
  type SignInReturnType,
  sessionMaxSeconds,
  signIn,
  signOut,
  siweNonceTtlSeconds,
} from '../auth/siwe.ts'
import { builder } from '../builder.ts'
import { UserInputError } from '../errors.ts'

/** What `siweNonce` and `signIn` cost toward a client's query-cost budget (`useCostRateLimit`): a row and a signature check. */
const authCost = 100

const Session = builder.objectRef<SignInReturnType>('Session').implement({
  description: 'A signed-in account: send `token` as `Authorization: Bearer <token>` (the blob store takes it).',
  fields: (t) => ({
    token: t.exposeString('token', { description: 'Secret: whoever holds it acts as `address` until `expiresAt`.' }),
    address: t.expose('address', { type: 'Address' }),
    expiresAt: t.expose('expiresAt', { type: 'BigInt', description: 'Unix seconds.' }),
  }),
})

builder.mutationFields((t) => ({
  siweNonce: t.string({
    description: `A single-use nonce for a Sign-In with Ethereum (EIP-4361) message, valid ${siweNonceTtlSeconds} s.`,
    // Each is a row anyone may ask for: priced so a client's query-cost budget bounds how fast it can add them.
    complexity: authCost,
    resolve: (_root, _args, ctx) => issueSiweNonce(ctx.db, ctx.now()),
  }),
  signIn: t.field({
    type: Session,
    complexity: authCost,
    description:
      'Signs in with an EIP-4361 message and its EIP-191 signature (EIP-1271 contract accounts too). The message must name ' +
      "this server's domain and the deployment's chain id, carry a nonce from `siweNonce` (each signs in once), and be " +
      `within its Not Before / Expiration Time. The session lasts ${sessionMaxSeconds} s at most, less if the message expires sooner.`,
    args: {
      message: t.arg.string({ required: true }),
      signature: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      signIn({
        db: ctx.db,
        chainId: ctx.deployment.chainId,
        domain: ctx.domain,
        publicClient: ctx.publicClient,
        now: ctx.now(),
        message: args.message,
        signature: args.signature,
      }),
  }),
  signOut: t.boolean({
    description: 'Ends the session whose token this request carries as `Authorization: Bearer <token>`; false when there was none.',
    resolve: (_root, _args, ctx) => {
      const token = bearerTokenOf(ctx.request?.headers.get('authorization'))
      if (!token) throw new UserInputError('signOut needs the session token as Authorization: Bearer <token>')
      return signOut(ctx.db, token)
    },
  }),
}))
