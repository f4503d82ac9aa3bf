// The registry of CQL layouts; `serve --translator NAME` and the table tag pick one of these.
import type { TranslatorName } from '../src/config.js';
import type { Translator } from '../src/storage/translator.js';
import { cellsTranslator } from './cells/index.js';
import { documentTranslator } from './document/index.js';

export const translators: Record<TranslatorName, Translator> = {
  document: documentTranslator,
  cells: cellsTranslator,
};
