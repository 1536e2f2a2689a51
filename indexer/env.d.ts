// The root tsconfig excludes Ponder's generated ponder-env.d.ts; this pulls it in so `tsc` knows the
// `ponder:registry`, `ponder:schema` and `ponder:api` virtual modules. ponder-env.d.ts is committed: Ponder
// rewrites it with the same content on every start.
/// <reference path="./ponder-env.d.ts" />
