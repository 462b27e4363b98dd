import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../api.ts';
import { plainText, trimOldestTurns } from './chat-prompt.ts';

const sys: ChatMessage = { role: 'system', content: 'S' };
const u = (n: number): ChatMessage => ({ role: 'user', content: `u${n}` });
const a = (n: number): ChatMessage => ({ role: 'assistant', content: `a${n}` });

describe('chat turns', () => {
  it('drops the oldest turns (a user message and its replies), keeping system messages and the last turn', () => {
    const conv = [sys, u(1), a(1), u(2), a(2), a(2), u(3)];
    expect(trimOldestTurns(conv, 1)).toEqual([sys, u(2), a(2), a(2), u(3)]);
    expect(trimOldestTurns(conv, 2)).toEqual([sys, u(3)]);
    expect(trimOldestTurns(conv, 9)).toEqual([sys, u(3)]);
    expect(trimOldestTurns(conv, 0)).toEqual(conv);
  });

  it('keeps a system message that sits between turns, and treats replies before any user message as a turn', () => {
    expect(trimOldestTurns([a(0), u(1), { role: 'system', content: 'mid' }, a(1), u(2)], 2)).toEqual([{ role: 'system', content: 'mid' }, u(2)]);
  });

  it('a model without a template reads the contents joined as they are', () => {
    expect(plainText([sys, u(1), a(1)])).toBe('Su1a1');
  });
});
