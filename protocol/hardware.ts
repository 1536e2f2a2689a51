/** ProviderRegistry's `Hardware` struct; the uint16/uint32 ranges are in {@link hardwareLimits}. */
export type Hardware = {
  /** Canonical id from {@link gpuModels}; 0 = unknown or CPU only. */
  gpuModel: number
  gpuCount: number
  vramMiB: number
  cpuCores: number
  memoryMiB: number
  /** Inference units one device serves per epoch. */
  benchmarkScore: number
}

const UINT16_MAX = 0xffff
const UINT32_MAX = 0xffff_ffff

/** The largest value each field holds on chain (its Solidity type's maximum). */
const hardwareLimits: { readonly [K in keyof Hardware]: number } = {
  gpuModel: UINT32_MAX,
  gpuCount: UINT16_MAX,
  vramMiB: UINT32_MAX,
  cpuCores: UINT16_MAX,
  memoryMiB: UINT32_MAX,
  benchmarkScore: UINT32_MAX,
}

/** Each field floored into its on-chain range (0 … its type's maximum). */
export function clampHardware(hardware: Hardware): Hardware {
  const clamp = (v: number, max: number) => Math.max(0, Math.min(max, Math.floor(v)))
  return Object.fromEntries(Object.entries(hardwareLimits).map(([k, max]) => [k, clamp(hardware[k as keyof Hardware], max)])) as Hardware
}

/**
 * What the registry's `Hardware` struct can't hold in `hardware`: one message per field outside its Solidity type's range
 * (0 … its maximum), starting with the field's name; none when every field fits.
 */
export function hardwareProblems(
  hardware: { readonly [K in keyof Hardware]: number | bigint },
): { field: keyof Hardware; message: string }[] {
  return (Object.keys(hardwareLimits) as (keyof Hardware)[]).flatMap((field) => {
    const value = hardware[field]
    const max = hardwareLimits[field]
    const fits = typeof value === 'bigint' ? value >= 0n && value <= BigInt(max) : Number.isInteger(value) && value >= 0 && value <= max
    const bits = max === UINT16_MAX ? 16 : 32
    return fits ? [] : [{ field, message: `${field} must fit a uint${bits} (0 to ${max}), got ${value}` }]
  })
}

/** Whether two hardware descriptions are the same on chain. */
export function sameHardware(a: Hardware, b: Hardware): boolean {
  return (Object.keys(hardwareLimits) as (keyof Hardware)[]).every((k) => a[k] === b[k])
}

/** Units per epoch a provider declares: `gpuCount × benchmarkScore`, as the registry's `capacityOf`. */
export function capacityOf(hardware: Pick<Hardware, 'gpuCount' | 'benchmarkScore'>): bigint {
  return BigInt(hardware.gpuCount) * BigInt(hardware.benchmarkScore)
}

/**
 * Canonical GPU model ids (0 = unknown or CPU only). Matched against a device name in order, so more specific names
 * come first. Ids are part of the on-chain interface: append, never renumber.
 */
const gpuModels: readonly { id: number; match: RegExp; name: string }[] = [
  { id: 1, match: /H200/i, name: 'NVIDIA H200' },
  { id: 2, match: /H100/i, name: 'NVIDIA H100' },
  { id: 3, match: /A100/i, name: 'NVIDIA A100' },
  { id: 4, match: /L40S/i, name: 'NVIDIA L40S' },
  { id: 5, match: /L4\b/i, name: 'NVIDIA L4' },
  { id: 6, match: /A10G?\b/i, name: 'NVIDIA A10' },
  { id: 7, match: /RTX\s*4090/i, name: 'NVIDIA GeForce RTX 4090' },
  { id: 8, match: /RTX\s*3090/i, name: 'NVIDIA GeForce RTX 3090' },
  { id: 9, match: /T4\b/i, name: 'NVIDIA T4' },
  { id: 10, match: /V100/i, name: 'NVIDIA V100' },
  { id: 11, match: /B200/i, name: 'NVIDIA B200' },
]

/** Every GPU model this build knows, by canonical id (what a requester may ask for). */
export const knownGpuModels: readonly { id: number; name: string }[] = gpuModels.map(({ id, name }) => ({ id, name }))

/** The canonical id for a GPU name, 0 when unknown. */
export function gpuModelId(name: string): number {
  return gpuModels.find((m) => m.match.test(name))?.id ?? 0
}

/** The name of a canonical GPU model id; `CPU or unknown` for 0, `GPU model <id>` for an id this build doesn't know. */
export function gpuModelName(id: number | bigint): string {
  const n = Number(id)
  if (n === 0) return 'CPU or unknown'
  return gpuModels.find((m) => m.id === n)?.name ?? `GPU model ${n}`
}
