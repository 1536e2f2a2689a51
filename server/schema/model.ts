import { builder } from '../builder.ts'
import { findPublicModels, type PublicModel } from '../db/blobs.ts'
import { UserInputError } from '../errors.ts'

const maxModels = 200

const Model = builder.objectRef<PublicModel>('Model').implement({
  description:
    'A model anyone may run jobs on: uploaded with `PUT /blobs?kind=model&public=true`, which the server checked loads in onnxruntime. Its bytes are at `GET /blobs/<sha256>`.',
  fields: (t) => ({
    sha256: t.field({ type: 'Bytes32', description: 'The `modelHash` of its jobs.', resolve: (m) => m.sha256 as `0x${string}` }),
    size: t.field({ type: 'BigInt', description: 'Bytes.', resolve: (m) => m.size }),
    uploadedAt: t.field({
      type: 'BigInt',
      description: 'The latest public upload of it (unix s).',
      resolve: (m) => BigInt(Math.floor(m.uploadedAt.getTime() / 1000)),
    }),
    uploaders: t.exposeInt('uploaders', { description: 'Accounts that uploaded it public.' }),
  }),
})

builder.queryFields((t) => ({
  models: t.field({
    type: [Model],
    description: `The public models, the most recently uploaded first: what a requester may pick instead of uploading one. \`first\` ≤ ${maxModels}.`,
    args: { first: t.arg.int({ defaultValue: 50 }) },
    resolve: (_root, { first }, ctx) => {
      const n = first ?? 50
      if (!Number.isSafeInteger(n) || n < 1 || n > maxModels)
        throw new UserInputError(`first must be from 1 to ${maxModels}, got ${n}`, { details: 'Query.models' })
      return findPublicModels(ctx.db, n)
    },
  }),
}))
