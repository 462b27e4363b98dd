import { describe, expect, it } from 'vitest';
import { StopStringFilter, findStopString, heldBackLength } from './stop-strings.ts';

describe('stop strings', () => {
  it('finds the earliest stop string, the longest at equal positions', () => {
    expect(findStopString('and the LORD said', ['said', 'LORD'])).toEqual({ index: 8, stop: 'LORD' });
    expect(findStopString('and the LORD said', ['LO', 'LORD'])).toEqual({ index: 8, stop: 'LORD' });
    expect(findStopString('and the LORD said', ['Moses', ''])).toBeNull();
  });

  it('holds back the longest suffix that could start a stop string', () => {
    expect(heldBackLength('and the LO', ['LORD'])).toBe(2);
    expect(heldBackLength('and the L', ['LORD', ' the Lamb'])).toBe(6);
    expect(heldBackLength('and the', ['LORD'])).toBe(0);
    // A whole stop string is found, not held.
    expect(heldBackLength('LORD', ['LORD'])).toBe(0);
  });

  it('catches a stop string split over several deltas and cuts it and what follows', () => {
    const f = new StopStringFilter(['\nAnd God']);
    expect(f.push('light.')).toEqual({ text: 'light.', stopped: false });
    expect(f.push('\n')).toEqual({ text: '', stopped: false });
    expect(f.push('And')).toEqual({ text: '', stopped: false });
    expect(f.push(' G')).toEqual({ text: '', stopped: false });
    expect(f.push('od saw')).toEqual({ text: '', stopped: true });
  });

  it('releases held text once it can no longer become a stop string', () => {
    const f = new StopStringFilter(['\nAnd God']);
    expect(f.push('day.\nAnd')).toEqual({ text: 'day.', stopped: false });
    expect(f.push(' the')).toEqual({ text: '\nAnd the', stopped: false });
    expect(f.push('\nAn')).toEqual({ text: '', stopped: false });
    expect(f.flush()).toBe('\nAn');
  });

  it('passes everything through with no stop strings', () => {
    const f = new StopStringFilter([]);
    expect(f.push('In the beginning')).toEqual({ text: 'In the beginning', stopped: false });
    expect(f.flush()).toBe('');
  });
});
