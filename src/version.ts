export const VERSION = '0.1.0';

/** Versions that work together: the same minor (0.1.x with 0.1.y). */
export const sameMinor = (a: string, b: string): boolean => a.split('.').slice(0, 2).join('.') === b.split('.').slice(0, 2).join('.');
