// The registry of CQL layouts; `serve --translator NAME` and the table tag pick one of these. The
// names come from here alone: a new layout is a folder beside these and one line below.
import type { Translator } from '../src/storage/translator.js';
import { cellsTranslator } from './cells/index.js';
import { documentTranslator } from './document/index.js';

export const translators = {
  document: documentTranslator,
  cells: cellsTranslator,
} satisfies Record<string, Translator>;

export type TranslatorName = keyof typeof translators;

export const TRANSLATOR_NAMES = Object.keys(translators) as TranslatorName[];
