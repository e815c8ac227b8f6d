export const VERSION = '0.1.0';

/** The image the release pipeline publishes for this version, fully qualified (a bare name would mean Docker Hub's library). */
export const PUBLISHED_IMAGE = `ghcr.io/envserve/envserve:${VERSION}`;

/** Versions that work together: the same minor (0.1.x with 0.1.y). */
export const sameMinor = (a: string, b: string): boolean => a.split('.').slice(0, 2).join('.') === b.split('.').slice(0, 2).join('.');
