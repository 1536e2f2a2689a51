import { type Context, ponder } from 'ponder:registry'
import { gatewayTransfer } from 'ponder:schema'
import { type EventMeta, eventColumns } from './eventColumns.ts'

type Hex = `0x${string}`
type TransferEvent = EventMeta & { args: { from: Hex; to: Hex; value: bigint } }

/** Records a TesseraToken transfer to or from the gateway (the config's filters pick them); a self-transfer once. */
async function recordTransfer(db: Context['db'], event: TransferEvent) {
  const { from, to, value } = event.args
  await db
    .insert(gatewayTransfer)
    .values({ ...eventColumns(event), from: from.toLowerCase() as Hex, to: to.toLowerCase() as Hex, amount: value })
    .onConflictDoNothing()
}

ponder.on('GatewayDeposits:Transfer', ({ event, context }) => recordTransfer(context.db, event))
ponder.on('GatewayPayouts:Transfer', ({ event, context }) => recordTransfer(context.db, event))
