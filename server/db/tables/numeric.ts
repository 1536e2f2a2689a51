/**
 * A `numeric(78,0)` column (every uint256, block number and timestamp the indexer stores): pg returns it as a
 * decimal string, and the repository turns it into a `bigint`.
 */
export type Numeric = string
