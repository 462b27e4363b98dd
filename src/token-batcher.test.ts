import { describe, expect, it } from 'vitest';
import { createTokenBatcher } from './token-batcher.ts';

describe('createTokenBatcher', () => {
  it('delivers many tokens in one update per frame', () => {
    const frames: (() => void)[] = [];
    const got: [string, number][] = [];
    const b = createTokenBatcher((t, n) => got.push([t, n]), (cb) => frames.push(cb));
    b.push(' of');
    b.push(' the');
    b.push(' reign');
    expect(frames).toHaveLength(1);
    expect(got).toEqual([]);
    frames.shift()!();
    expect(got).toEqual([[' of the reign', 3]]);
    b.push(' of');
    expect(frames).toHaveLength(1);
    b.flush();
    expect(got).toEqual([[' of the reign', 3], [' of', 1]]);
    frames.shift()!(); // the frame after an explicit flush delivers nothing
    expect(got).toHaveLength(2);
  });
  it('hands on the arrival time of each token with its batch', () => {
    const got: number[][] = [];
    const b = createTokenBatcher((_t, _n, times) => got.push(times), () => {});
    b.push(' a', 10);
    b.push(' b', 12);
    b.flush();
    b.push(' c', 30);
    b.flush();
    expect(got).toEqual([[10, 12], [30]]);
  });
  it('counts empty pieces (an incomplete multi-byte character) as tokens', () => {
    const got: [string, number][] = [];
    const b = createTokenBatcher((t, n) => got.push([t, n]), () => {});
    b.push('');
    b.push('é');
    b.flush();
    expect(got).toEqual([['é', 2]]);
  });
});
