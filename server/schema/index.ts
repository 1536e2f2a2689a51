import { type GraphQLSchema, lexicographicSortSchema } from 'graphql'
import { builder } from '../builder.ts'
import './scalars.ts'
import './job.ts'
import './provider.ts'
import './epoch.ts'
import './meta.ts'
import './heartbeat.ts'
import './jobAssignment.ts'
import './quote.ts'
import './checkJob.ts'
import './challenge.ts'
import './gateway.ts'
import './auth.ts'
import './preparedTransaction.ts'
import './account.ts'
import './jobOutput.ts'
import './model.ts'

/** The executable schema, built once. */
export const schema: GraphQLSchema = builder.toSchema()

/** The schema as committed in `schema.graphql`: types and fields sorted lexicographically. */
export const sortedSchema = (): GraphQLSchema => lexicographicSortSchema(schema)
