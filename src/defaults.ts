/**
 * `defaults` overlaid with the options that are set: an option given as `undefined` keeps its default
 * (a plain spread would let it erase the default).
 */
export function withDefaults<T extends object>(defaults: Readonly<T>, options: Partial<T> = {}): T {
  const out = { ...defaults };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}
