import type { Command } from 'commander'
import { printJson, progress, resolveSettings, settingsCommand } from './config.ts'

const buildSettings = ['modelsOut'] as const

/** Adds `build` to `tessera models`. */
export function addModelsCommands(models: Command): void {
  settingsCommand(
    models,
    'build',
    'write the model catalogue the tests, demo and benches use: each ONNX model, a sample input and catalogue.json, byte-identical on every run',
    buildSettings,
  ).action(async (_options, command: Command) => {
    const config = resolveSettings(command, buildSettings)
    const { writeModelCatalogue } = await import('../agent/models/writeModelCatalogue.ts')
    progress(`building the model catalogue into ${config.modelsOut}…`)
    const { files } = await writeModelCatalogue({ outDir: config.modelsOut })
    printJson({ out: config.modelsOut, files })
  })
}
