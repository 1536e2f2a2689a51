// The indexer's own config, so the peer indexes the same chain, contracts, ABIs, start blocks and filters with the
// same chain settings (`disableCache`, `pollingInterval`), read from the same environment.
export { default } from '../../indexer/ponder.config.ts'
