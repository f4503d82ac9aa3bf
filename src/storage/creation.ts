// Writes that can only create their item are tried with IF NOT EXISTS before anything is read.

/**
 * The decision for an absent item when the write can only create it: `absent()` decides a put,
 * and `bare()` (the same decision on an item holding just its key, so on any stored item) throws,
 * as a condition like attribute_not_exists(pk) does. Undefined otherwise. Only a guess at the
 * stored state: the caller writes the decision IF NOT EXISTS, which applies exactly when the item
 * is absent, and reads and decides as usual when refused.
 */
export function onlyCreates<D>(absent: () => D, bare: () => unknown, isPut: (d: D) => boolean): D | undefined {
  let decision: D;
  try {
    decision = absent();
  } catch {
    return undefined; // fails on an absent item: it needs the stored one
  }
  if (!isPut(decision)) return undefined;
  try {
    bare();
  } catch {
    return decision;
  }
  return undefined;
}
