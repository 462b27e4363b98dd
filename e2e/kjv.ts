// What the e2e specs share about the embedded kjv-llama: its reference prompt, waiting on the app, greedy generation.
import { readFileSync } from 'node:fs';
import { expect, type Page } from '@playwright/test';

/** The first prompt of public/models/kjv-llama/reference.json, with its greedy continuation. */
export const REF = (
  JSON.parse(readFileSync(new URL('../public/models/kjv-llama/reference.json', import.meta.url), 'utf8')) as {
    prompts: { text: string; ids: number[]; greedy_ids: number[]; greedy_text: string }[];
  }
).prompts[0];

/** Waits for `ok`, or fails at once with the error banner's words when the app shows an error instead. */
export async function settle(page: Page, ok: ReturnType<Page['getByTestId']>, timeout = 120_000): Promise<void> {
  const error = page.getByTestId('error');
  await expect(ok.or(error).first()).toBeVisible({ timeout });
  if (await error.isVisible()) throw new Error(`the app shows an error: ${(await error.innerText()).replace(/\s+/g, ' ')}`);
}

/**
 * In a new chat, sends REF's prompt as the one user message and generates greedily for as many tokens as its
 * reference; returns the reply's text. kjv-llama has no chat template: the conversation reaches it as the messages'
 * contents joined, which for one message is the prompt itself.
 */
export async function generateGreedy(page: Page): Promise<string> {
  const newChat = page.getByTestId('new-chat');
  if (await newChat.isEnabled()) await newChat.click();
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('max-tokens').fill(String(REF.greedy_ids.length));
  await page.getByTestId('prompt').fill(REF.text);
  await page.getByTestId('generate-button').click();
  await settle(page, page.getByTestId('stat-stop'));
  await expect(page.getByTestId('stop-button')).toBeDisabled();
  return (await page.getByTestId('output').textContent()) ?? '';
}
