import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Hex } from 'viem'
import type { BlobCredentials } from '../client/blobAuth.ts'
import { getBlob } from '../client/serverClient.ts'
import { sha256Hex } from '../protocol/fingerprint.ts'
import { heartbeatMaxModels } from '../protocol/heartbeat.ts'

/**
 * Models on disk under `<dataDir>/models/<sha256>.onnx`, fetched from the server once and verified.
 * A file found on disk is re-hashed the first time this process uses it, so a corrupt cache heals.
 */
export class ModelCache {
  readonly dir: string
  private readonly verified = new Set<string>()
  private readonly inflight = new Map<string, Promise<string>>()

  constructor(
    private readonly parameters: {
      dataDir: string
      serverUrl: string
      /** The agent's: it may read a job's model once assigned to the job (or any public model). */
      credentials?: BlobCredentials
    },
  ) {
    this.dir = path.join(parameters.dataDir, 'models')
  }

  /**
   * The models this process has verified on disk, ready to load without a download: what heartbeats report warm. At most
   * `limit` (default `heartbeatMaxModels`, what the server accepts), the most recently verified.
   */
  held(limit = heartbeatMaxModels): Hex[] {
    return [...this.verified].slice(Math.max(0, this.verified.size - limit)) as Hex[]
  }

  /** Path of the model file for `hash`, downloading it first if needed. */
  ensure(hash: Hex, signal?: AbortSignal): Promise<string> {
    const key = hash.toLowerCase()
    const running = this.inflight.get(key)
    if (running) return running
    const p = this.load(key as Hex, signal).finally(() => this.inflight.delete(key))
    this.inflight.set(key, p)
    return p
  }

  private async load(hash: Hex, signal?: AbortSignal): Promise<string> {
    const file = path.join(this.dir, `${hash.slice(2)}.onnx`)
    if (this.verified.has(hash)) return file
    const present = await access(file).then(
      () => true,
      () => false,
    )
    if (present && sha256Hex(await readFile(file)) === hash) {
      this.verified.add(hash)
      return file
    }
    const bytes = await getBlob({ serverUrl: this.parameters.serverUrl, hash, credentials: this.parameters.credentials, signal })
    await mkdir(this.dir, { recursive: true })
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
    await writeFile(tmp, bytes)
    await rename(tmp, file)
    this.verified.add(hash)
    return file
  }
}
