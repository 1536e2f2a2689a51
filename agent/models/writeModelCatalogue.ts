import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { sha256Hex } from '../../protocol/fingerprint.ts'
import { encodeTensorBlob } from '../../protocol/tensorBlob.ts'
import { catalogueInputs, modelCatalogue } from './modelCatalogue.ts'

export type WriteModelCatalogueParameters = { outDir: string }

/** One file written, its size and sha256 (the hash a job names it by). */
export type CatalogueFile = { path: string; bytes: number; sha256: string }

export type WriteModelCatalogueReturnType = { files: CatalogueFile[] }

/** Rows of each model's sample input. */
const sampleRows = 4

/**
 * Writes the repository's model catalogue to `outDir`: each model's ONNX bytes (`<name>.onnx`), a seeded sample input
 * of 4 rows as a tensor blob (`<name>.input.json`), and `catalogue.json` naming them with their shapes and sha256.
 * Byte-identical on every run and machine: the models and inputs are seeded, and nothing records when or where.
 */
export async function writeModelCatalogue(parameters: WriteModelCatalogueParameters): Promise<WriteModelCatalogueReturnType> {
  const { outDir } = parameters
  await mkdir(outDir, { recursive: true })
  const files: CatalogueFile[] = []
  const write = async (name: string, bytes: Uint8Array) => {
    const file = path.join(outDir, name)
    await writeFile(file, bytes)
    const written = { path: file, bytes: bytes.length, sha256: sha256Hex(bytes) }
    files.push(written)
    return written
  }
  const entries = []
  for (const model of modelCatalogue()) {
    const onnx = await write(`${model.name}.onnx`, model.bytes)
    const data = catalogueInputs({ model, count: sampleRows })[sampleRows - 1]
    const dims = [sampleRows, model.inputSize]
    const input = await write(`${model.name}.input.json`, encodeTensorBlob({ dims, data }))
    entries.push({
      name: model.name,
      shape: model.shape,
      inputSize: model.inputSize,
      model: { file: path.basename(onnx.path), bytes: onnx.bytes, sha256: onnx.sha256 },
      sampleInput: { file: path.basename(input.path), dims, sha256: input.sha256 },
    })
  }
  await write('catalogue.json', new TextEncoder().encode(`${JSON.stringify({ models: entries }, null, 2)}\n`))
  return { files }
}
