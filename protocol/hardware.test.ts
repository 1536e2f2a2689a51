import { describe, expect, test } from 'vitest'
import { capacityOf, clampHardware, gpuModelId, hardwareProblems, sameHardware } from './hardware.ts'
import { encodeRegion, InvalidRegionError, noRegion } from './region.ts'

const hw = { gpuModel: 1, gpuCount: 8, vramMiB: 143_771, cpuCores: 64, memoryMiB: 2_000_000, benchmarkScore: 1_000_000 }

describe('hardware', () => {
  test('clampHardware floors each field into its Solidity range', () => {
    expect(clampHardware({ ...hw, gpuCount: 70_000, benchmarkScore: 5e9, cpuCores: -3, vramMiB: 1.9 })).toEqual({
      ...hw,
      gpuCount: 0xffff,
      benchmarkScore: 0xffff_ffff,
      cpuCores: 0,
      vramMiB: 1,
    })
  })

  test('hardwareProblems names each field outside its Solidity range, numbers or bigints', () => {
    expect(hardwareProblems(hw)).toEqual([])
    expect(hardwareProblems({ ...hw, gpuCount: 0xffff, vramMiB: 0xffff_ffff })).toEqual([])
    expect(hardwareProblems({ ...hw, gpuCount: 70_000, vramMiB: -1n, memoryMiB: 2n ** 32n, cpuCores: 1.5 })).toEqual([
      { field: 'gpuCount', message: 'gpuCount must fit a uint16 (0 to 65535), got 70000' },
      { field: 'vramMiB', message: 'vramMiB must fit a uint32 (0 to 4294967295), got -1' },
      { field: 'cpuCores', message: 'cpuCores must fit a uint16 (0 to 65535), got 1.5' },
      { field: 'memoryMiB', message: 'memoryMiB must fit a uint32 (0 to 4294967295), got 4294967296' },
    ])
  })

  test('capacityOf multiplies without overflowing at the type maxima', () => {
    expect(capacityOf(hw)).toBe(8_000_000n)
    expect(capacityOf({ gpuCount: 0xffff, benchmarkScore: 0xffff_ffff })).toBe(65_535n * 4_294_967_295n)
  })

  test('sameHardware compares every field', () => {
    expect(sameHardware(hw, { ...hw })).toBe(true)
    expect(sameHardware(hw, { ...hw, memoryMiB: hw.memoryMiB + 1 })).toBe(false)
  })

  test('gpuModelId matches the most specific name first', () => {
    expect(gpuModelId('NVIDIA H100 80GB HBM3')).toBe(2)
    expect(gpuModelId('NVIDIA L40S')).toBe(4)
    expect(gpuModelId('NVIDIA L4')).toBe(5)
    expect(gpuModelId('Some Accelerator')).toBe(0)
  })
})

describe('encodeRegion', () => {
  test('pads a label to bytes32, keeps a bytes32, and names a label too long', () => {
    expect(encodeRegion('eu')).toBe(`0x6575${'00'.repeat(30)}`)
    expect(encodeRegion(undefined)).toBe(noRegion)
    expect(encodeRegion(`0x${'AB'.repeat(32)}`)).toBe(`0x${'ab'.repeat(32)}`)
    expect(() => encodeRegion('x'.repeat(33))).toThrow(InvalidRegionError)
    expect(encodeRegion('é'.repeat(16))).toHaveLength(66)
    expect(() => encodeRegion('é'.repeat(17))).toThrow('longer than 32 bytes')
  })
})
