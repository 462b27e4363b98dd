import { describe, expect, it } from 'vitest';
import step from '../../shaders/step.wgsl?raw';
import { STEP_UNIFORM_BYTES, withStep } from './step.ts';

describe('Step uniform', () => {
  it('has the byte size its WGSL declaration gives (four u32 fields)', () => {
    const body = /struct Step \{([^}]*)\}/.exec(step)?.[1] ?? '';
    const fields = body.split(',').map((f) => f.trim()).filter(Boolean);
    expect(fields.map((f) => f.split(':')[1].trim())).toEqual(['u32', 'u32', 'u32', 'u32']);
    expect(fields.length * 4).toBe(STEP_UNIFORM_BYTES);
  });

  it('puts the declaration in front of a kernel source', () => {
    const code = withStep('@compute @workgroup_size(1) fn main() {}');
    expect(code.indexOf('struct Step')).toBeLessThan(code.indexOf('fn main'));
  });
});
